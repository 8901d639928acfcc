package processes

import (
	"context"
	"testing"

	"github.com/tributary/tributary/agent/agenttest"
)

func TestCount(t *testing.T) {
	got := count([]procState{
		{"R", 2}, {"S", 1}, {"S", 4}, {"D", 1}, {"Z", 1}, {"X", 1}, {"T", 1}, {"t", 1}, {"W", 1}, {"I", 1}, {"P", 1}, {"?", 1},
	})
	want := map[string]int64{
		"running": 1, "sleeping": 2, "blocked": 1, "zombies": 1, "dead": 1, "stopped": 2,
		"paging": 1, "idle": 1, "parked": 1, "unknown": 1, "total": 12, "total_threads": 16,
	}
	if len(got) != len(want) {
		t.Errorf("fields %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %d", k, got[k], w)
		}
	}
}

func TestParkedOnlyWhenSeen(t *testing.T) {
	if _, ok := count([]procState{{"S", 1}})["parked"]; ok {
		t.Error("parked field without parked processes")
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	f := acc.Find("processes", nil)[0].Fields
	// This test's own process is running.
	if f["total"].(int64) < 1 || f["running"].(int64) < 1 || f["total_threads"].(int64) < f["total"].(int64) {
		t.Errorf("fields %v", f)
	}
}

// TestGolden gathers from a fake /proc and compares the points with
// expected.out (go test -update rewrites it).
func TestGolden(t *testing.T) {
	agenttest.GatherGolden(t, "testdata/states", New())
}
