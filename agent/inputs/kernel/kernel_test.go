package kernel

import (
	"context"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/tributary/tributary/agent/agenttest"
)

func TestGatherFields(t *testing.T) {
	e := uint64(256)
	k := &Kernel{
		stat: func(context.Context) (procfs.Stat, error) {
			return procfs.Stat{BootTime: 1700000000, ContextSwitches: 10, IRQTotal: 20, ProcessCreated: 30}, nil
		},
		entropy: func(context.Context) (*uint64, error) { return &e, nil },
	}
	acc := &agenttest.Accumulator{}
	if err := k.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"boot_time": 1700000000, "context_switches": 10, "interrupts": 20, "processes_forked": 30, "entropy_avail": 256}
	f := acc.Find("kernel", nil)[0].Fields
	if len(f) != len(want) {
		t.Errorf("fields %v", f)
	}
	for n, w := range want {
		if f[n] != w {
			t.Errorf("%s = %v, want %d", n, f[n], w)
		}
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	f := acc.Find("kernel", nil)[0].Fields
	if f["boot_time"].(uint64) < 1e9 || f["context_switches"].(uint64) == 0 || f["processes_forked"].(uint64) == 0 {
		t.Errorf("fields %v", f)
	}
}

// TestGolden gathers from a fake /proc and compares the points with
// expected.out (go test -update rewrites it).
func TestGolden(t *testing.T) {
	agenttest.GatherGolden(t, "testdata/linux", New())
}
