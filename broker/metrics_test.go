package broker_test

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/internal/brokertest"
)

// The /metrics endpoint reports what an operator watches: records and bytes
// in and out per topic, request latency per API, connections, partition
// sizes and offsets, and consumer lag per group and partition.
func TestMetricsEndpoint(t *testing.T) {
	s := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := s.Addr().String()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("m"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 250
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte("value-" + strconv.Itoa(i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("m"), kgo.ConsumerGroup("g"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var read []*kgo.Record
	for len(read) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(read), n)
		}
		read = append(read, fs.Records()...)
	}
	// Commit 100 of the 250: lag must be 150.
	adm := kadm.NewClient(cons)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "m", Partition: 0, At: 100, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "admin-g", offs); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	s.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	value := func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(regexp.QuoteMeta(series) + ` ([0-9.e+]+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("metric %s missing from /metrics", series)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	if got := value(`tributary_broker_records_in_total{topic="m"}`); got != n {
		t.Errorf("records in = %v, want %d", got, n)
	}
	if got := value(`tributary_broker_records_out_total{topic="m"}`); got != n {
		t.Errorf("records out = %v, want %d", got, n)
	}
	if got := value(`tributary_broker_bytes_in_total{topic="m"}`); got <= 0 {
		t.Errorf("bytes in = %v", got)
	}
	if got := value(`tributary_broker_bytes_out_total{topic="m"}`); got <= 0 {
		t.Errorf("bytes out = %v", got)
	}
	if got := value(`tributary_broker_high_watermark{partition="0",topic="m"}`); got != n {
		t.Errorf("high watermark = %v, want %d", got, n)
	}
	if got := value(`tributary_broker_log_size_bytes{partition="0",topic="m"}`); got <= 0 {
		t.Errorf("log size = %v", got)
	}
	if got := value(`tributary_broker_group_lag{group="admin-g",partition="0",topic="m"}`); got != n-100 {
		t.Errorf("lag = %v, want %d", got, n-100)
	}
	if got := value(`tributary_broker_request_duration_seconds_count{api="Produce"}`); got < 1 {
		t.Errorf("Produce requests observed = %v", got)
	}
	if got := value(`tributary_broker_connections`); got < 2 {
		t.Errorf("connections = %v, want at least the 2 clients", got)
	}
}
