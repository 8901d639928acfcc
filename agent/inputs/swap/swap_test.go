package swap

import (
	"context"
	"testing"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/agenttest"
)

func TestFields(t *testing.T) {
	g, c := fields(&mem.SwapMemoryStat{Total: 100, Used: 40, Free: 60, UsedPercent: 40, Sin: 7, Sout: 9})
	if g["total"] != uint64(100) || g["used"] != uint64(40) || g["free"] != uint64(60) || g["used_percent"] != 40.0 || len(g) != 4 {
		t.Errorf("gauge = %v", g)
	}
	if c["in"] != uint64(7) || c["out"] != uint64(9) || len(c) != 2 {
		t.Errorf("counter = %v", c)
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	m := acc.Find("swap", nil)
	if len(m) != 2 || m[0].Type != agent.Gauge || m[1].Type != agent.Counter {
		t.Fatalf("swap points: %+v", m)
	}
	if m[0].Fields["used"].(uint64) > m[0].Fields["total"].(uint64) {
		t.Errorf("used > total: %v", m[0].Fields)
	}
}
