package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
	_ "github.com/tributary/tributary/agent/inputs/all"
	"github.com/tributary/tributary/agent/inputs/net"
	"github.com/tributary/tributary/agent/outputs/kafka"
	"github.com/tributary/tributary/internal/brokertest"
	"github.com/tributary/tributary/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// point is a parsed line.
type point struct {
	name   string
	tags   map[string]string
	fields map[string]any
	time   time.Time
}

func parseLines(t *testing.T, data []byte) []point {
	t.Helper()
	var out []point
	dec := lineprotocol.NewDecoderWithBytes(data)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			t.Fatalf("measurement: %v in %q", err, data)
		}
		p := point{name: string(m), tags: map[string]string{}, fields: map[string]any{}}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("tag: %v", err)
			}
			if k == nil {
				break
			}
			p.tags[string(k)] = string(v)
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("field: %v", err)
			}
			if k == nil {
				break
			}
			p.fields[string(k)] = v.Interface()
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			t.Fatalf("time: %v", err)
		}
		p.time = ts
		out = append(out, p)
	}
	return out
}

func testLogger() *slog.Logger {
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// TestAgentToBroker runs the agent against an in-process broker at a 200ms
// interval and checks what arrives in topic metrics: Telegraf's names, the
// host tag and key, aligned timestamps, and every interval exactly once.
func TestAgentToBroker(t *testing.T) {
	srv := brokertest.Start(t)
	checkDelivery(t, srv.Addr().String(), "metrics")
}

// TestAgentToApacheKafka is the same test against a real Apache Kafka (4.1,
// KRaft; skipped with -short or when it is not installed): the agent uses
// only the Kafka protocol.
func TestAgentToApacheKafka(t *testing.T) {
	bootstrap := testservers.Kafka(t)
	checkDelivery(t, bootstrap, fmt.Sprintf("metrics-agent-%d", time.Now().UnixNano()))
}

// checkDelivery runs the agent against the brokers at addr, producing to
// topic, and checks what a franz-go consumer reads back.
func checkDelivery(t *testing.T, addr, topic string) {
	const host, interval = "test-host", 200 * time.Millisecond

	var ins []agent.InputConfig
	for _, name := range []string{"cpu", "mem", "disk", "net", "system"} {
		in := inputs.Inputs[name]()
		if n, ok := in.(*net.Net); ok {
			n.Interfaces = []string{"*"} // loopback too: containers may have nothing else up
		}
		ic := agent.InputConfig{Name: name, Input: in}
		if name == "cpu" {
			ic.Tags = map[string]string{"role": "db"}
		}
		ins = append(ins, ic)
	}
	out, err := kafka.New(kafka.Options{Brokers: []string{addr}, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Options{
		Hostname: host, Interval: interval, RoundInterval: true,
		Tags: map[string]string{"env": "test"}, Inputs: ins, Output: out,
		BatchTimeout: 20 * time.Millisecond, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-runErr
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var points []point
	ends := map[int32]int64{} // next offset consumed per partition
	consume := func(deadline time.Time) {
		pctx, pcancel := context.WithDeadline(context.Background(), deadline)
		defer pcancel()
		fs := cl.PollFetches(pctx)
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded {
				t.Fatalf("fetch: %v", e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != host {
				t.Errorf("record key %q, want %q", r.Key, host)
			}
			points = append(points, parseLines(t, r.Value)...)
			ends[r.Partition] = r.Offset + 1
		})
	}
	systemTimes := func() int {
		seen := map[time.Time]bool{}
		for _, p := range points {
			if p.name == "system" {
				seen[p.time] = true
			}
		}
		return len(seen)
	}

	// Wait for five intervals of system points.
	deadline := time.Now().Add(20 * time.Second)
	for systemTimes() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d intervals of system points after 20s (%d points)", systemTimes(), len(points))
		}
		consume(time.Now().Add(time.Second))
	}
	// Stop the agent: Run delivers what it buffered before returning.
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	runErr <- nil
	adm := kadm.NewClient(cl)
	endOffsets, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	caughtUp := func() bool {
		done := true
		endOffsets.Each(func(o kadm.ListedOffset) {
			if ends[o.Partition] < o.Offset {
				done = false
			}
		})
		return done
	}
	for deadline := time.Now().Add(10 * time.Second); !caughtUp(); {
		if time.Now().After(deadline) {
			t.Fatalf("consumed up to %v, end offsets %+v", ends, endOffsets)
		}
		consume(time.Now().Add(time.Second))
	}

	// Every point: host and global tags, time on the interval.
	byName := map[string][]point{}
	for _, p := range points {
		byName[p.name] = append(byName[p.name], p)
		if p.tags["host"] != host || p.tags["env"] != "test" {
			t.Fatalf("%s point without host/env tags: %v", p.name, p.tags)
		}
		if p.time.UnixNano()%int64(interval) != 0 {
			t.Errorf("%s point at %v, not on a %v boundary", p.name, p.time, interval)
		}
	}
	wantFields := map[string][]string{
		"cpu":    {"usage_user", "usage_system", "usage_idle", "usage_iowait", "usage_steal", "usage_guest_nice"},
		"mem":    {"total", "available", "used", "free", "available_percent", "used_percent", "buffered", "cached"},
		"disk":   {"total", "free", "used", "used_percent", "inodes_total", "inodes_free", "inodes_used"},
		"net":    {"bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "err_in", "err_out", "drop_in", "drop_out"},
		"system": {"load1", "load5", "load15", "n_cpus"},
	}
	for name, fields := range wantFields {
		ps := byName[name]
		if len(ps) == 0 {
			t.Errorf("no %s points", name)
			continue
		}
		for _, f := range fields {
			found := false
			for _, p := range ps {
				if _, ok := p.fields[f]; ok {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: no field %s", name, f)
			}
		}
	}
	for _, p := range byName["cpu"] {
		if p.tags["role"] != "db" {
			t.Fatalf("cpu point without its input tag: %v", p.tags)
		}
	}
	for _, p := range byName["disk"] {
		for _, k := range []string{"path", "fstype", "mode"} {
			if p.tags[k] == "" {
				t.Errorf("disk point without %s: %v", k, p.tags)
			}
		}
	}
	if len(byName["internal"]) == 0 {
		t.Log("no internal points (interval too short to reach one)")
	}

	// Every interval exactly once: one point per timestamp for single-point
	// series, and no interval missing between the first and the last.
	// Intervals an input skipped (its gather or wake-up ran late under load)
	// were never gathered; every other interval must be there.
	skipped := func(input string) int {
		return int(scrape(t, a, `tributary_agent_ticks_skipped_total{input="`+input+`"`))
	}
	exactlyOnce := func(label, input string, match func(point) bool) {
		count := map[time.Time]int{}
		for _, p := range points {
			if match(p) {
				count[p.time]++
			}
		}
		var times []time.Time
		for ts, n := range count {
			if n != 1 {
				t.Errorf("%s: %d points at %v, want 1", label, n, ts)
			}
			times = append(times, ts)
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		if len(times) < 4 {
			t.Errorf("%s: only %d intervals", label, len(times))
			return
		}
		missing := 0
		for i := 1; i < len(times); i++ {
			missing += int(times[i].Sub(times[i-1])/interval) - 1
		}
		if s := skipped(input); missing > s {
			t.Errorf("%s: %d intervals missing between %v and %v, only %d skipped", label, missing, times[0], times[len(times)-1], s)
		}
	}
	has := func(f string) func(point) bool {
		return func(p point) bool { _, ok := p.fields[f]; return ok }
	}
	exactlyOnce("system load1", "system", func(p point) bool { return p.name == "system" && has("load1")(p) })
	exactlyOnce("system uptime", "system", func(p point) bool { return p.name == "system" && has("uptime")(p) })
	exactlyOnce("mem", "mem", func(p point) bool { return p.name == "mem" })
	exactlyOnce("cpu-total", "cpu", func(p point) bool { return p.name == "cpu" && p.tags["cpu"] == "cpu-total" })
	exactlyOnce("net lo", "net", func(p point) bool { return p.name == "net" && p.tags["interface"] == "lo" })
	t.Log(fmt.Sprintf("%d points in %d measurements", len(points), len(byName)))
}
