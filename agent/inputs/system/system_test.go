package system

import (
	"context"
	"os"
	"testing"

	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/agenttest"
)

func TestGatherFields(t *testing.T) {
	tests := []struct {
		name     string
		usersErr error
		want     map[string]any
	}{
		{"with utmp", nil, map[string]any{"load1": 1.5, "load5": 0.5, "load15": 0.25, "n_cpus": 4, "n_physical_cpus": 2, "n_users": 3, "n_unique_users": 2}},
		{"without utmp", os.ErrNotExist, map[string]any{"load1": 1.5, "load5": 0.5, "load15": 0.25, "n_cpus": 4, "n_physical_cpus": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &System{
				load: func(context.Context) (*load.AvgStat, error) {
					return &load.AvgStat{Load1: 1.5, Load5: 0.5, Load15: 0.25}, nil
				},
				users: func(context.Context) ([]host.UserStat, error) {
					return []host.UserStat{{User: "ann"}, {User: "ann"}, {User: "bob"}}, tc.usersErr
				},
				uptime: func(context.Context) (uint64, error) { return 3600, nil },
				nCPUs: func(_ context.Context, logical bool) (int, error) {
					if logical {
						return 4, nil
					}
					return 2, nil
				},
			}
			acc := &agenttest.Accumulator{}
			if err := s.Gather(context.Background(), acc); err != nil {
				t.Fatal(err)
			}
			if len(acc.Metrics) != 2 || len(acc.Errors) != 0 {
				t.Fatalf("points %+v errors %v", acc.Metrics, acc.Errors)
			}
			g, c := acc.Metrics[0], acc.Metrics[1]
			if g.Type != agent.Gauge || len(g.Fields) != len(tc.want) {
				t.Errorf("gauge = %+v", g)
			}
			for k, w := range tc.want {
				if g.Fields[k] != w {
					t.Errorf("%s = %v, want %v", k, g.Fields[k], w)
				}
			}
			if c.Type != agent.Counter || c.Fields["uptime"] != uint64(3600) {
				t.Errorf("counter = %+v", c)
			}
		})
	}
}

func TestGatherHost(t *testing.T) {
	acc := &agenttest.Accumulator{}
	if err := New().Gather(context.Background(), acc); err != nil {
		t.Fatal(err)
	}
	if len(acc.Metrics) != 2 {
		t.Fatalf("points %+v", acc.Metrics)
	}
	f := acc.Metrics[0].Fields
	if f["n_cpus"].(int) < 1 || f["load1"].(float64) < 0 {
		t.Errorf("gauge %v", f)
	}
	if acc.Metrics[1].Fields["uptime"].(uint64) == 0 {
		t.Errorf("uptime 0")
	}
}
