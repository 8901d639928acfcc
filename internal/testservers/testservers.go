// Package testservers starts the real servers that integration tests run
// against — InfluxDB 1.8, Elasticsearch 7.10 and Apache Kafka 4.1 (KRaft) —
// as child processes on free loopback ports, from the files that
// scripts/testdeps.sh installs into the repository's .cache directory.
//
// Tests call InfluxDB(t), Elasticsearch(t) or Kafka(t): each server starts at
// most once per test process and is stopped by Main when the tests end. With
// -short they skip, so that `go test -short` stays hermetic. When
// scripts/test.sh has already started a server for the whole run, its address
// comes from the environment (TRIBUTARY_TEST_INFLUXDB_URL,
// TRIBUTARY_TEST_ELASTICSEARCH_URL, TRIBUTARY_TEST_KAFKA_BOOTSTRAP) and nothing
// is started.
package testservers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Environment variables naming servers that are already running.
const (
	EnvInfluxDB      = "TRIBUTARY_TEST_INFLUXDB_URL"
	EnvElasticsearch = "TRIBUTARY_TEST_ELASTICSEARCH_URL"
	EnvKafka         = "TRIBUTARY_TEST_KAFKA_BOOTSTRAP"
)

// installCommand is what makes every server available.
const installCommand = "./scripts/testdeps.sh (from the repository root)"

// NotInstalledError reports that a server's files are missing from the cache.
type NotInstalledError struct {
	Server  string // "InfluxDB", ...
	Missing string // the file or tool that was looked for
}

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("%s is not installed (%s missing): run %s", e.Server, e.Missing, installCommand)
}

// Main runs the tests of a package that uses this package's servers, stops
// every server the process started, and exits with the tests' status. Use it
// as the package's TestMain:
//
//	func TestMain(m *testing.M) { testservers.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// shared is one server kind started at most once per process.
type shared struct {
	name    string
	env     string
	timeout time.Duration
	start   func(ctx context.Context) (*Server, error)

	once sync.Once
	srv  *Server
	err  error
}

var (
	influxDB = &shared{name: "InfluxDB", env: EnvInfluxDB, timeout: 60 * time.Second, start: StartInfluxDB}
	elastic  = &shared{name: "Elasticsearch", env: EnvElasticsearch, timeout: 180 * time.Second, start: StartElasticsearch}
	kafka    = &shared{name: "Kafka", env: EnvKafka, timeout: 120 * time.Second, start: StartKafka}
	all      = []*shared{influxDB, elastic, kafka}
)

// InfluxDB returns the base URL (http://127.0.0.1:PORT) of a running
// InfluxDB 1.8 with authentication off: the v1 API (/query, /write) and the
// v2 write API (/api/v2/write, bucket "db/rp", any token) both work.
func InfluxDB(t testing.TB) string { t.Helper(); return influxDB.get(t) }

// Elasticsearch returns the base URL (http://127.0.0.1:PORT) of a running
// single-node Elasticsearch 7.10 cluster without security.
func Elasticsearch(t testing.TB) string { t.Helper(); return elastic.get(t) }

// Kafka returns the bootstrap address (127.0.0.1:PORT) of a running one-node
// Apache Kafka cluster in KRaft mode, PLAINTEXT, topics auto-created.
func Kafka(t testing.TB) string { t.Helper(); return kafka.get(t) }

func (s *shared) get(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipping in -short mode: needs a real %s server", s.name)
	}
	if addr := os.Getenv(s.env); addr != "" {
		return addr
	}
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		s.srv, s.err = s.start(ctx)
	})
	if s.err != nil {
		var missing *NotInstalledError
		if errors.As(s.err, &missing) && os.Getenv("CI") == "" {
			t.Skipf("skipping: %v", s.err)
		}
		t.Fatalf("starting %s: %v", s.name, s.err)
	}
	return s.srv.Addr
}

// StopAll stops every server this process started through InfluxDB,
// Elasticsearch or Kafka. Main calls it; it is safe to call more than once.
func StopAll() {
	var wg sync.WaitGroup
	for _, s := range all {
		if s.srv == nil {
			continue
		}
		wg.Add(1)
		go func(srv *Server) {
			defer wg.Done()
			if err := srv.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "testservers: stopping %s: %v\n", srv.Name, err)
			}
		}(s.srv)
	}
	wg.Wait()
}
