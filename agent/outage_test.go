package agent_test

import (
	"bufio"
	"context"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
	"github.com/tributary/tributary/agent/outputs/kafka"
	"github.com/tributary/tributary/broker"
	"github.com/tributary/tributary/internal/brokertest"
)

// scrape returns the sum of a Prometheus metric's series whose name and
// labels start with name (e.g. `x_total{input="system"`).
func scrape(t *testing.T, a *agent.Agent, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	a.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sum := 0.0
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") || strings.Contains(name, "{") && strings.HasPrefix(line, name) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// waitUntil polls cond every few milliseconds until it holds or the deadline.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// TestBrokerOutage stops the broker while the agent collects, starts it
// again on the same address and data, and checks that every interval
// gathered before, during and after the outage arrives, in one piece.
func TestBrokerOutage(t *testing.T) {
	srv := brokertest.Start(t)
	addr := srv.Addr().String()
	const interval = 100 * time.Millisecond
	out, err := kafka.New(kafka.Options{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Options{
		Hostname: "outage", Interval: interval, RoundInterval: true, Output: out,
		Inputs:       []agent.InputConfig{{Name: "system", Input: inputs.Inputs["system"]()}},
		BatchTimeout: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-runErr
		}
	}()

	// system adds two points per interval.
	sent := func() float64 { return scrape(t, a, `tributary_agent_points_sent_total{input="system"`) / 2 }
	gathered := func() float64 { return scrape(t, a, `tributary_agent_points_gathered_total{input="system"`) / 2 }
	waitUntil(t, "intervals sent before the outage", 10*time.Second, func() bool { return sent() >= 3 })

	opts := srv.Options()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	down := gathered()
	waitUntil(t, "failed writes and 10 intervals gathered during the outage", 10*time.Second, func() bool {
		return scrape(t, a, "tributary_agent_write_errors_total") >= 1 && gathered() >= down+10
	})
	opts.Listen = addr
	srv2, err := broker.Start(opts)
	if err != nil {
		t.Fatalf("restarting broker: %v", err)
	}
	t.Cleanup(func() { srv2.Close() })
	waitUntil(t, "the outage's intervals and more sent after it", 20*time.Second, func() bool {
		return sent() >= down+13
	})
	cancel()
	stopped = true
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := scrape(t, a, "tributary_agent_points_dropped_total"); d != 0 {
		t.Errorf("%v points dropped", d)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("metrics"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "metrics")
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	count := map[time.Time]int{}
	var got int64
	for deadline := time.Now().Add(15 * time.Second); got < want; {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d records", got, want)
		}
		pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			got++
			for _, p := range parseLines(t, r.Value) {
				if _, ok := p.fields["load1"]; ok && p.name == "system" {
					count[p.time]++
				}
			}
		})
	}
	var times []time.Time
	dups := 0
	for ts, n := range count {
		times = append(times, ts)
		dups += n - 1
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	// Intervals skipped under load were never gathered; all others arrived.
	missing := 0
	for i := 1; i < len(times); i++ {
		missing += int(times[i].Sub(times[i-1])/interval) - 1
	}
	if s := int(scrape(t, a, `tributary_agent_ticks_skipped_total{input="system"`)); missing > s {
		t.Errorf("%d intervals missing between %v and %v, only %d skipped", missing, times[0], times[len(times)-1], s)
	}
	// At-least-once: a write the broker persisted as it closed may be sent again.
	if dups > 1 {
		t.Errorf("%d duplicated intervals", dups)
	}
	if len(times) < 13 {
		t.Errorf("only %d intervals arrived", len(times))
	}
	t.Logf("%d intervals arrived, %d duplicated", len(times), dups)
}
