package net

import (
	"context"
	gonet "net"
	"path/filepath"
	"testing"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/tributary/tributary/agent/agenttest"

	"github.com/shirou/gopsutil/v4/common"
)

func fake(n *Net) {
	n.counters = func(context.Context, bool) ([]psnet.IOCountersStat, error) {
		return []psnet.IOCountersStat{
			{Name: "lo", BytesSent: 5},
			{Name: "eth0", BytesSent: 1, BytesRecv: 2, PacketsSent: 3, PacketsRecv: 4, Errin: 5, Errout: 6, Dropin: 7, Dropout: 8},
			{Name: "ifb0"},
		}, nil
	}
	n.interfaces = func() ([]gonet.Interface, error) {
		return []gonet.Interface{
			{Name: "lo", Flags: gonet.FlagUp | gonet.FlagLoopback},
			{Name: "eth0", Flags: gonet.FlagUp},
			{Name: "ifb0"},
		}, nil
	}
}

func TestGatherDefaultSkipsLoopbackAndDown(t *testing.T) {
	n := New()
	fake(n)
	acc := &agenttest.Accumulator{}
	if err := n.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	m := acc.Find("net", map[string]string{"interface": "eth0"})
	if len(acc.Metrics) != 1 || len(m) != 1 {
		t.Fatalf("points: %+v", acc.Metrics)
	}
	if m[0].Fields["speed"] == nil {
		t.Error("no speed field")
	}
	want := map[string]uint64{"bytes_sent": 1, "bytes_recv": 2, "packets_sent": 3, "packets_recv": 4, "err_in": 5, "err_out": 6, "drop_in": 7, "drop_out": 8}
	for k, w := range want {
		if m[0].Fields[k] != w {
			t.Errorf("%s = %v, want %d", k, m[0].Fields[k], w)
		}
	}
}

func TestGatherExplicitInterfaces(t *testing.T) {
	n := New()
	n.Interfaces = []string{"lo", "if*"}
	if err := n.Init(); err != nil {
		t.Fatal(err)
	}
	fake(n)
	acc := &agenttest.Accumulator{}
	n.Gather(context.Background(), acc)
	if len(acc.Metrics) != 2 || acc.Metrics[0].Tags["interface"] != "ifb0" || acc.Metrics[1].Tags["interface"] != "lo" {
		t.Errorf("points: %+v", acc.Metrics)
	}
}

func TestGatherHost(t *testing.T) {
	n := New()
	n.Interfaces = []string{"*"}
	acc := &agenttest.Accumulator{}
	if err := n.Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	if len(acc.Find("net", map[string]string{"interface": "lo"})) != 1 {
		t.Errorf("no lo point: %+v", acc.Metrics)
	}
}

// TestGolden reads a fake /proc/net/dev and compares the points with
// expected.out (go test -update rewrites it).
func TestGolden(t *testing.T) {
	dir := "testdata/three_interfaces"
	n := New()
	n.Interfaces = []string{"*"}
	acc := &agenttest.Accumulator{}
	ctx := context.WithValue(context.Background(), common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: filepath.Join(dir, "proc"), common.HostSysEnvKey: filepath.Join(dir, "sys")})
	if err := n.Gather(ctx, acc); err != nil {
		t.Fatal(err)
	}
	agenttest.Golden(t, dir, agenttest.Lines(acc.Metrics))
}
