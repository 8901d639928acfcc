package agent

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSerializerLines(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	tests := []struct {
		name  string
		point Metric
		extra map[string]string
		want  string
		err   bool
	}{
		{
			name:  "tags sorted, extra merged, own tag wins",
			point: Metric{Name: "cpu", Tags: map[string]string{"cpu": "cpu0", "env": "own"}, Fields: map[string]any{"usage_idle": 99.5, "usage_user": 0.5}, Time: ts},
			extra: map[string]string{"host": "h1", "env": "global", "dc": "eu"},
			want:  "cpu,cpu=cpu0,dc=eu,env=own,host=h1 usage_idle=99.5,usage_user=0.5 1700000000000000000\n",
		},
		{
			name:  "integers as Telegraf writes them; uint64 clamped",
			point: Metric{Name: "mem", Fields: map[string]any{"a": 1, "b": uint64(2), "c": uint64(math.MaxUint64), "d": int64(-3), "e": true, "f": "x y"}, Time: ts},
			extra: map[string]string{"host": "h"},
			want:  "mem,host=h a=1i,b=2i,c=9223372036854775807i,d=-3i,e=true,f=\"x y\" 1700000000000000000\n",
		},
		{
			name:  "escaping, NaN and unsupported types left out, empty tag left out",
			point: Metric{Name: "disk", Tags: map[string]string{"path": "/my disk,1", "label": ""}, Fields: map[string]any{"nan": math.NaN(), "bad": []int{1}, "ok": 1.0}, Time: ts},
			extra: map[string]string{"host": "h"},
			want:  "disk,host=h,path=/my\\ disk\\,1 ok=1 1700000000000000000\n",
		},
		{
			name:  "no valid field",
			point: Metric{Name: "x", Fields: map[string]any{"nan": math.NaN()}, Time: ts},
			err:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s serializer
			var errs []error
			recs, counts := s.encode([]Metric{tc.point}, tc.extra, func(err error) { errs = append(errs, err) })
			if tc.err {
				if len(errs) != 1 || len(recs) != 0 {
					t.Fatalf("errs %v records %q", errs, recs)
				}
				return
			}
			if len(errs) != 0 || len(recs) != 1 || counts[0] != 1 {
				t.Fatalf("errs %v records %q counts %v", errs, recs, counts)
			}
			if string(recs[0]) != tc.want {
				t.Errorf("got  %q\nwant %q", recs[0], tc.want)
			}
		})
	}
}

func TestSerializerCutsRecords(t *testing.T) {
	s := serializer{maxBytes: 100}
	var points []Metric
	for i := range 10 {
		points = append(points, Metric{Name: "m", Tags: map[string]string{"i": strings.Repeat("x", i)}, Fields: map[string]any{"v": i}, Time: time.Unix(1, 0)})
	}
	recs, counts := s.encode(points, map[string]string{"host": "h"}, func(err error) { t.Error(err) })
	total, lines := 0, 0
	for i, r := range recs {
		if len(r) > 100 {
			t.Errorf("record %d has %d bytes", i, len(r))
		}
		if n := strings.Count(string(r), "\n"); n != counts[i] {
			t.Errorf("record %d: %d lines, count %d", i, n, counts[i])
		}
		total += counts[i]
		lines += strings.Count(string(r), "\n")
	}
	if total != 10 || lines != 10 || len(recs) < 2 {
		t.Errorf("%d records, %d points", len(recs), total)
	}
	// One line larger than the limit is a record by itself.
	big := Metric{Name: "m", Fields: map[string]any{"s": strings.Repeat("y", 300)}, Time: time.Unix(1, 0)}
	recs, _ = s.encode([]Metric{points[0], big, points[1]}, nil, func(err error) { t.Error(err) })
	if len(recs) != 3 {
		t.Errorf("%d records around an oversized line, want 3", len(recs))
	}
}

func rec(input string, size int) Record {
	return Record{Input: input, Value: make([]byte, size), Points: 1}
}

func TestBufferDropsOldestAndKeepsInflight(t *testing.T) {
	var dropped []Record
	b := newBuffer(30, func(r Record) { dropped = append(dropped, r) })
	b.add(rec("a", 10))
	b.add(rec("b", 10))
	batch := b.peek(1, 100) // a is in flight
	b.add(rec("c", 10))
	b.add(rec("d", 10)) // over the limit: b goes, a is in flight
	if len(dropped) != 1 || dropped[0].Input != "b" {
		t.Fatalf("dropped %v", dropped)
	}
	b.done([]int{0}) // a failed: stays at the head
	got := b.peek(10, 100)
	if len(batch) != 1 || len(got) != 3 || got[0].Input != "a" || got[1].Input != "c" || got[2].Input != "d" {
		t.Fatalf("buffer %v", got)
	}
	b.done(nil)
	if n, bytes := b.len(); n != 0 || bytes != 0 {
		t.Errorf("after done: %d records %d bytes", n, bytes)
	}
	b.add(rec("huge", 31))
	if len(dropped) != 2 || dropped[1].Input != "huge" {
		t.Errorf("oversized record not dropped: %v", dropped)
	}
}

func TestBufferPeekLimits(t *testing.T) {
	b := newBuffer(0, nil)
	for range 5 {
		b.add(rec("a", 10))
	}
	if n := len(b.peek(3, 1000)); n != 3 {
		t.Errorf("max records: %d", n)
	}
	b.unpeek()
	if n := len(b.peek(10, 25)); n != 2 {
		t.Errorf("max bytes: %d", n)
	}
	b.unpeek()
	if n := len(b.peek(10, 5)); n != 1 {
		t.Errorf("a record larger than max bytes still goes alone: %d", n)
	}
}

func TestNextTick(t *testing.T) {
	base := time.Date(2026, 1, 1, 10, 0, 3, 500, time.UTC)
	tests := []struct {
		interval time.Duration
		round    bool
		want     time.Time
	}{
		{10 * time.Second, true, time.Date(2026, 1, 1, 10, 0, 10, 0, time.UTC)},
		{time.Minute, true, time.Date(2026, 1, 1, 10, 1, 0, 0, time.UTC)},
		{200 * time.Millisecond, true, time.Date(2026, 1, 1, 10, 0, 3, 200e6, time.UTC)},
		{10 * time.Second, false, base.Add(10 * time.Second)},
	}
	for _, tc := range tests {
		if got := nextTick(base, tc.interval, tc.round); !got.Equal(tc.want) {
			t.Errorf("nextTick(%v, %v, %v) = %v, want %v", base, tc.interval, tc.round, got, tc.want)
		}
	}
}

// fakeOutput records delivered records; fail decides each write's outcome.
type fakeOutput struct {
	mu        sync.Mutex
	delivered []Record
	writes    int
	fail      func(write int, records []Record) error
	closed    bool
	changed   chan struct{}
}

func newFakeOutput(fail func(int, []Record) error) *fakeOutput {
	return &fakeOutput{fail: fail, changed: make(chan struct{}, 1)}
}

func (o *fakeOutput) Write(ctx context.Context, records []Record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	var err error
	if o.fail != nil {
		err = o.fail(o.writes, records)
	}
	var pe *PartialError
	switch {
	case err == nil:
		o.delivered = append(o.delivered, records...)
	case errors.As(err, &pe):
		failed := map[int]bool{}
		for _, i := range pe.Failed {
			failed[i] = true
		}
		for i, r := range records {
			if !failed[i] {
				o.delivered = append(o.delivered, r)
			}
		}
	}
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return err
}

func (o *fakeOutput) Close() error { o.closed = true; return nil }

func (o *fakeOutput) snapshot() []Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Record(nil), o.delivered...)
}

// waitFor waits for cond, re-checking whenever the output changes.
func (o *fakeOutput) waitFor(t *testing.T, what string, cond func([]Record) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond(o.snapshot()) {
		select {
		case <-o.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; delivered %d records", what, len(o.snapshot()))
		}
	}
}

// counterInput adds one point per gather with its gather number.
type counterInput struct{ n int }

func (*counterInput) SampleConfig() string { return "" }
func (c *counterInput) Gather(_ context.Context, acc Accumulator) error {
	c.n++
	acc.AddCounter("count", map[string]any{"n": c.n}, nil)
	if c.n%2 == 0 {
		acc.AddError(errors.New("even"))
	}
	return nil
}

func ticks(records []Record) []time.Time {
	var out []time.Time
	for _, r := range records {
		if r.Input == "count" {
			out = append(out, r.Time)
		}
	}
	return out
}

func TestRetriesInOrderWithoutLossOrDuplicates(t *testing.T) {
	// Writes 1-4 fail, 5 delivers part of its batch, later writes succeed.
	out := newFakeOutput(func(w int, recs []Record) error {
		switch {
		case w <= 4:
			return errors.New("broker down")
		case w == 5 && len(recs) > 1:
			return &PartialError{Failed: []int{1}, Err: errors.New("not leader")}
		}
		return nil
	})
	const interval = 20 * time.Millisecond
	a, err := New(Options{Hostname: "h", Interval: interval, RoundInterval: true, Output: out,
		Inputs: []InputConfig{{Name: "count", Input: &counterInput{}}}, BatchTimeout: time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	out.waitFor(t, "10 intervals", func(r []Record) bool { return len(ticks(r)) >= 10 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !out.closed {
		t.Error("output not closed")
	}
	got := ticks(out.snapshot())
	seen := map[time.Time]bool{}
	for _, ts := range got {
		if seen[ts] {
			t.Errorf("tick %v delivered twice", ts)
		}
		seen[ts] = true
		if ts.UnixNano()%int64(interval) != 0 {
			t.Errorf("tick %v not aligned", ts)
		}
	}
	st := a.metrics.input("count")
	missing := 0
	for ts := got[0]; !ts.After(got[len(got)-1]); ts = ts.Add(interval) {
		if !seen[ts] {
			missing++
		}
	}
	// A tick is only missing when the runtime skipped it (late under load), counted.
	if missing > int(st.skipped.Load()) {
		t.Errorf("%d ticks missing, %d skipped", missing, st.skipped.Load())
	}
	if st.gathered.Load() != int64(len(got)) || st.sent.Load() != int64(len(got)) || st.errors.Load() < 1 {
		t.Errorf("self-metrics gathered %d sent %d errors %d; delivered %d", st.gathered.Load(), st.sent.Load(), st.errors.Load(), len(got))
	}
	if a.metrics.writeErrorsN.Load() < 5 {
		t.Errorf("write errors %d, want at least 5", a.metrics.writeErrorsN.Load())
	}
}

func TestBufferFullDropsAreCountedAndShutdownReportsLeftovers(t *testing.T) {
	out := newFakeOutput(func(int, []Record) error { return errors.New("broker down") })
	a, err := New(Options{Hostname: "h", Interval: 10 * time.Millisecond, RoundInterval: true, Output: out,
		Inputs: []InputConfig{{Name: "count", Input: &counterInput{}}}, BatchTimeout: time.Millisecond,
		RecordMaxBytes: 100, BufferLimit: 100, FlushTimeout: 50 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	st := a.metrics.input("count")
	out.waitFor(t, "drops", func([]Record) bool { return st.dropped.Load() >= 3 })
	cancel()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "not delivered before shutdown") {
		t.Fatalf("Run = %v, want undelivered points reported", err)
	}
	if st.gathered.Load() != st.dropped.Load()+st.sent.Load() || st.sent.Load() != 0 {
		t.Errorf("gathered %d != dropped %d + sent %d", st.gathered.Load(), st.dropped.Load(), st.sent.Load())
	}
}

func TestInternalPoints(t *testing.T) {
	m := newSelfMetrics()
	m.addGathered("cpu", 5)
	m.addSent("cpu", 4)
	m.addDropped("cpu", "buffer_full", 1)
	m.addError("cpu")
	pts := m.points(2, 100)
	var cpu, agent *Metric
	for i := range pts {
		switch pts[i].Tags["input"] {
		case "cpu":
			cpu = &pts[i]
		case "agent":
			agent = &pts[i]
		}
	}
	if cpu == nil || cpu.Name != "internal" || cpu.Fields["skipped"] != int64(0) || cpu.Fields["gathered"] != int64(5) || cpu.Fields["sent"] != int64(4) ||
		cpu.Fields["dropped"] != int64(1) || cpu.Fields["errors"] != int64(1) {
		t.Errorf("cpu point %+v", cpu)
	}
	if agent == nil || agent.Fields["buffer_records"] != 2 || agent.Fields["buffer_bytes"] != 100 {
		t.Errorf("agent point %+v", agent)
	}
}

func TestJitterKeepsTimestampsAligned(t *testing.T) {
	out := newFakeOutput(nil)
	const interval = 20 * time.Millisecond
	a, err := New(Options{Hostname: "h", Interval: interval, RoundInterval: true, Jitter: interval / 2, Output: out,
		Inputs: []InputConfig{{Name: "count", Input: &counterInput{}, Tags: map[string]string{"k": "v"}}}, BatchTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	out.waitFor(t, "5 intervals", func(r []Record) bool { return len(ticks(r)) >= 5 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, r := range out.snapshot() {
		if r.Time.UnixNano()%int64(interval) != 0 || string(r.Key) != "h" {
			t.Errorf("record at %v key %q", r.Time, r.Key)
		}
		if r.Input == "count" && !strings.Contains(string(r.Value), ",host=h,k=v ") {
			t.Errorf("record %q lacks its tags", r.Value)
		}
		if r.Input == "count" && !strings.HasSuffix(string(r.Value), strconv.FormatInt(r.Time.UnixNano(), 10)+"\n") {
			t.Errorf("record %q not stamped with its tick %v", r.Value, r.Time)
		}
	}
}
