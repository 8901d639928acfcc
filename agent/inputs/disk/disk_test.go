package disk

import (
	"context"
	"errors"
	"testing"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/tributary/tributary/agent/agenttest"
)

func TestGatherFiltersAndNames(t *testing.T) {
	d := New()
	d.partitions = func(context.Context, bool) ([]disk.PartitionStat, error) {
		return []disk.PartitionStat{
			{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4", Opts: []string{"rw", "relatime"}},
			{Device: "/dev/sdb", Mountpoint: "/data", Fstype: "xfs", Opts: []string{"ro"}},
			{Device: "tmpfs", Mountpoint: "/run", Fstype: "tmpfs"},
			{Device: "proc", Mountpoint: "/proc", Fstype: "proc"},
			{Device: "/dev/sdc", Mountpoint: "/broken", Fstype: "ext4"},
			{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4"}, // bind mount listed twice
		}, nil
	}
	d.usage = func(_ context.Context, path string) (*disk.UsageStat, error) {
		switch path {
		case "/", "/data":
			return &disk.UsageStat{Total: 1000, Used: 300, Free: 600, InodesTotal: 100, InodesUsed: 25, InodesFree: 75}, nil
		case "/proc":
			return &disk.UsageStat{}, nil
		}
		return nil, errors.New("permission denied")
	}
	acc := &agenttest.Accumulator{}
	if err := d.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	if len(acc.Metrics) != 2 || len(acc.Errors) != 1 {
		t.Fatalf("points %+v errors %v", acc.Metrics, acc.Errors)
	}
	root := acc.Find("disk", map[string]string{"path": "/", "device": "sda1", "fstype": "ext4", "mode": "rw"})
	data := acc.Find("disk", map[string]string{"path": "/data", "device": "sdb", "fstype": "xfs", "mode": "ro"})
	if len(root) != 1 || len(data) != 1 {
		t.Fatalf("tags: %+v", acc.Metrics)
	}
	f := root[0].Fields
	want := map[string]any{
		"total": uint64(1000), "used": uint64(300), "free": uint64(600), "used_percent": 100 * 300.0 / 900,
		"inodes_total": uint64(100), "inodes_used": uint64(25), "inodes_free": uint64(75), "inodes_used_percent": 25.0,
	}
	for k, w := range want {
		if f[k] != w {
			t.Errorf("%s = %v, want %v", k, f[k], w)
		}
	}

	d.MountPoints = []string{"/data"}
	acc = &agenttest.Accumulator{}
	d.Gather(context.Background(), acc)
	if len(acc.Metrics) != 1 || acc.Metrics[0].Tags["path"] != "/data" {
		t.Errorf("mount_points filter: %+v", acc.Metrics)
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	if len(acc.Metrics) == 0 {
		t.Skip("no mounted file system outside the ignored types")
	}
	for _, m := range acc.Metrics {
		for _, k := range []string{"path", "device", "fstype", "mode"} {
			if m.Tags[k] == "" && k != "device" {
				t.Errorf("%v: no %s tag", m.Tags, k)
			}
		}
		if m.Fields["used"].(uint64) > m.Fields["total"].(uint64) {
			t.Errorf("%v: used > total", m.Fields)
		}
	}
}
