package cpu

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/shirou/gopsutil/v4/cpu"

	"github.com/tributary/tributary/agent/agenttest"
)

func TestUsageFields(t *testing.T) {
	prev := cpu.TimesStat{CPU: "cpu0", User: 100, System: 50, Idle: 800, Nice: 10, Iowait: 20, Irq: 5, Softirq: 5, Steal: 10, Guest: 10, GuestNice: 0}
	tests := []struct {
		name string
		cur  cpu.TimesStat
		want map[string]float64
		ok   bool
	}{
		{
			name: "100 ticks split",
			// +40 user (10 of them guest), +10 system, +30 idle, +5 nice, +5 iowait, +2 irq, +3 softirq, +5 steal = 100
			cur: cpu.TimesStat{CPU: "cpu0", User: 140, System: 60, Idle: 830, Nice: 15, Iowait: 25, Irq: 7, Softirq: 8, Steal: 15, Guest: 20, GuestNice: 0},
			want: map[string]float64{
				"usage_user": 30, "usage_system": 10, "usage_idle": 30, "usage_nice": 5, "usage_iowait": 5,
				"usage_irq": 2, "usage_softirq": 3, "usage_steal": 5, "usage_guest": 10, "usage_guest_nice": 0,
				"usage_active": 70,
			},
			ok: true,
		},
		{name: "no time passed", cur: prev, ok: false},
		{name: "counters went backwards", cur: cpu.TimesStat{CPU: "cpu0", Idle: 1}, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := usageFields(prev, tc.cur, true)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %d fields, want %d: %v", len(got), len(tc.want), got)
			}
			for k, w := range tc.want {
				if g, _ := got[k].(float64); math.Abs(g-w) > 1e-9 {
					t.Errorf("%s = %v, want %v", k, got[k], w)
				}
			}
		})
	}
}

func TestGatherNamesAndFirstSample(t *testing.T) {
	samples := [][]cpu.TimesStat{
		{{CPU: "cpu0", User: 1, Idle: 9}, {CPU: "cpu1", User: 2, Idle: 8}},
		{{CPU: "cpu-total", User: 3, Idle: 17}},
		{{CPU: "cpu0", User: 2, Idle: 18}, {CPU: "cpu1", User: 12, Idle: 8}},
		{{CPU: "cpu-total", User: 14, Idle: 26}},
	}
	c := New()
	c.times = func(context.Context, bool) ([]cpu.TimesStat, error) {
		s := samples[0]
		samples = samples[1:]
		return s, nil
	}
	acc := &agenttest.Accumulator{}
	if err := c.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	if len(acc.Metrics) != 0 {
		t.Fatalf("first gather added %d points; percentages need two samples", len(acc.Metrics))
	}
	if err := c.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"cpu0": 10, "cpu1": 100, "cpu-total": 55}
	for tag, user := range want {
		m := acc.Find("cpu", map[string]string{"cpu": tag})
		if len(m) != 1 {
			t.Fatalf("cpu=%s: %d points", tag, len(m))
		}
		if got := m[0].Fields["usage_user"]; got != user {
			t.Errorf("cpu=%s usage_user = %v, want %v", tag, got, user)
		}
	}
}

func TestGatherHost(t *testing.T) {
	c := New()
	acc := &agenttest.Accumulator{}
	for range 2 {
		if err := c.Gather(context.Background(), acc); err != nil {
			t.Fatal(err)
		}
	}
	tot := acc.Find("cpu", map[string]string{"cpu": "cpu-total"})
	if len(tot) != 1 {
		// The second sample may come in the same clock tick; nothing to divide by.
		t.Skipf("cpu-total points: %d (no ticks between samples)", len(tot))
	}
	sum := 0.0
	for _, k := range []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal"} {
		v, ok := tot[0].Fields[k].(float64)
		if !ok || v < 0 || v > 100 {
			t.Errorf("%s = %v", k, tot[0].Fields[k])
		}
		sum += v
	}
	if math.Abs(sum-100) > 0.01 {
		t.Errorf("usage fields sum to %v, want 100", sum)
	}
	if len(acc.Find("cpu", map[string]string{"cpu": "cpu0"})) > 1 {
		t.Error("more than one cpu0 point")
	}
}

// TestGolden reads two /proc/stat samples per testdata case and compares the
// points with expected.out (go test -update rewrites it).
func TestGolden(t *testing.T) {
	dir := "testdata/two_cores"
	c := New()
	c.ReportActive = true
	acc := &agenttest.Accumulator{}
	for _, s := range []string{"sample1", "sample2"} {
		if err := c.Gather(agenttest.HostProc(filepath.Join(dir, s)), acc); err != nil {
			t.Fatal(err)
		}
	}
	agenttest.Golden(t, dir, agenttest.Lines(acc.Metrics))
}
