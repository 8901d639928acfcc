package diskio

import (
	"context"
	"testing"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/tributary/tributary/agent/agenttest"
)

func TestGatherNamesAndFilter(t *testing.T) {
	d := New()
	d.Devices = []string{"sd*"}
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	d.counters = func(context.Context, ...string) (map[string]disk.IOCountersStat, error) {
		return map[string]disk.IOCountersStat{
			"sda":   {Name: "sda", ReadCount: 1, WriteCount: 2, ReadBytes: 3, WriteBytes: 4, ReadTime: 5, WriteTime: 6, IoTime: 7, WeightedIO: 8, IopsInProgress: 9, MergedReadCount: 10, MergedWriteCount: 11},
			"loop0": {Name: "loop0"},
		}, nil
	}
	acc := &agenttest.Accumulator{}
	if err := d.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	m := acc.Find("diskio", map[string]string{"name": "sda"})
	if len(acc.Metrics) != 1 || len(m) != 1 {
		t.Fatalf("points: %+v", acc.Metrics)
	}
	want := map[string]uint64{"reads": 1, "writes": 2, "read_bytes": 3, "write_bytes": 4, "read_time": 5, "write_time": 6,
		"io_time": 7, "weighted_io_time": 8, "iops_in_progress": 9, "merged_reads": 10, "merged_writes": 11}
	for k, w := range want {
		if m[0].Fields[k] != w {
			t.Errorf("%s = %v, want %d", k, m[0].Fields[k], w)
		}
	}
}

func TestInitRejectsBadGlob(t *testing.T) {
	d := New()
	d.Devices = []string{"sd["}
	if d.Init() == nil {
		t.Error("Init accepted a bad pattern")
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	for _, m := range acc.Metrics {
		if m.Tags["name"] == "" || len(m.Fields) != 11 {
			t.Errorf("point %+v", m)
		}
	}
}

// TestGolden reads a fake /proc/diskstats and compares the points with
// expected.out (go test -update rewrites it).
func TestGolden(t *testing.T) {
	agenttest.GatherGolden(t, "testdata/disks", New())
}
