package mem

import (
	"context"
	"testing"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/tributary/tributary/agent/agenttest"
)

func TestFields(t *testing.T) {
	vm := &mem.VirtualMemoryStat{Total: 1000, Available: 250, Used: 700, Free: 50, UsedPercent: 70, Buffers: 10, Cached: 200}
	f := fields(vm)
	want := map[string]any{
		"total": uint64(1000), "available": uint64(250), "used": uint64(700), "free": uint64(50),
		"available_percent": 25.0, "used_percent": 70.0, "buffered": uint64(10), "cached": uint64(200),
	}
	for k, w := range want {
		if f[k] != w {
			t.Errorf("%s = %v (%T), want %v", k, f[k], f[k], w)
		}
	}
	if len(f) != 34 {
		t.Errorf("%d fields, want Telegraf's 34 Linux fields", len(f))
	}
	if got := fields(&mem.VirtualMemoryStat{})["available_percent"]; got != 0.0 {
		t.Errorf("available_percent with zero total = %v", got)
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	m := acc.Find("mem", nil)
	if len(m) != 1 {
		t.Fatalf("%d mem points", len(m))
	}
	f := m[0].Fields
	total := f["total"].(uint64)
	if total == 0 || f["available"].(uint64) > total || f["used"].(uint64) > total {
		t.Errorf("implausible: %v", f)
	}
	if p := f["used_percent"].(float64); p <= 0 || p > 100 {
		t.Errorf("used_percent = %v", p)
	}
}

// TestGolden gathers from a fake /proc and compares the points with
// expected.out (go test -update rewrites it).
func TestGolden(t *testing.T) {
	agenttest.GatherGolden(t, "testdata/linux", New())
}
