// Package system is the system input: load averages, CPU and user counts and
// uptime, with Telegraf's names.
package system

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
)

//go:embed sample.yaml
var sampleConfig string

// System gathers two system points per interval, as Telegraf does: a gauge
// with load1, load5, load15, n_cpus, n_physical_cpus, n_users and a counter with uptime
// (seconds). n_users is left out where the OS keeps no login records.
type System struct {
	load   func(context.Context) (*load.AvgStat, error)
	users  func(context.Context) ([]host.UserStat, error)
	uptime func(context.Context) (uint64, error)
	nCPUs  func(ctx context.Context, logical bool) (int, error)
}

// New returns a system input.
func New() *System {
	return &System{load: load.AvgWithContext, users: host.UsersWithContext, uptime: host.UptimeWithContext, nCPUs: cpu.CountsWithContext}
}

func init() { inputs.Add("system", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*System) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (s *System) Gather(ctx context.Context, acc agent.Accumulator) error {
	avg, err := s.load(ctx)
	if err != nil {
		return fmt.Errorf("system: load: %w", err)
	}
	gauge := map[string]any{"load1": avg.Load1, "load5": avg.Load5, "load15": avg.Load15}
	// The host's logical CPUs, as Telegraf: not limited by this process's affinity or cgroup.
	if n, err := s.nCPUs(ctx, true); err != nil {
		acc.AddError(fmt.Errorf("system: cpu count: %w", err))
	} else {
		gauge["n_cpus"] = n
	}
	if n, err := s.nCPUs(ctx, false); err == nil {
		gauge["n_physical_cpus"] = n
	}
	users, err := s.users(ctx)
	switch {
	case err == nil:
		gauge["n_users"] = len(users)
		unique := make(map[string]bool)
		for _, u := range users {
			unique[u.User] = true
		}
		gauge["n_unique_users"] = len(unique)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		// No utmp (containers): Telegraf leaves the field out too.
	default:
		acc.AddError(fmt.Errorf("system: users: %w", err))
	}
	up, err := s.uptime(ctx)
	if err != nil {
		return fmt.Errorf("system: uptime: %w", err)
	}
	acc.AddGauge("system", gauge, nil)
	acc.AddCounter("system", map[string]any{"uptime": up}, nil)
	return nil
}
