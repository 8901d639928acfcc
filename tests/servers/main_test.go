// Package servers_test proves that the real servers in internal/testservers
// start and serve the clients Tributary uses: InfluxDB through
// influxdb-client-go's v2 write API, Elasticsearch through go-elasticsearch
// v8, Apache Kafka through franz-go and kafka-go.
package servers_test

import (
	"testing"

	"github.com/tributary/tributary/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }
