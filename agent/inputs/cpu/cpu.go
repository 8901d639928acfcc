// Package cpu is the cpu input: CPU time percentages per core and in total,
// with Telegraf's names (measurement cpu, tag cpu=cpu0.. or cpu-total,
// fields usage_user, usage_system, ...).
package cpu

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/shirou/gopsutil/v4/cpu"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
)

//go:embed sample.yaml
var sampleConfig string

// CPU gathers CPU usage. Percentages are computed from the difference between
// two samples, so the first Gather adds nothing but the raw times when
// CollectCPUTime is set.
type CPU struct {
	PerCPU         bool // a point per core (tag cpu=cpuN)
	TotalCPU       bool // a point for all cores (tag cpu=cpu-total)
	CollectCPUTime bool // also add time_* fields: cumulative seconds
	ReportActive   bool // also add usage_active (100 - usage_idle)

	// times reads the OS; tests replace it.
	times func(ctx context.Context, perCPU bool) ([]cpu.TimesStat, error)
	last  map[string]cpu.TimesStat
}

// New returns a cpu input with Telegraf's defaults: per core and total.
func New() *CPU {
	return &CPU{PerCPU: true, TotalCPU: true, times: cpu.TimesWithContext}
}

func init() { inputs.Add("cpu", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*CPU) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (c *CPU) Gather(ctx context.Context, acc agent.Accumulator) error {
	var samples []cpu.TimesStat
	if c.PerCPU {
		per, err := c.times(ctx, true)
		if err != nil {
			return fmt.Errorf("cpu: per-core times: %w", err)
		}
		samples = append(samples, per...)
	}
	if c.TotalCPU {
		total, err := c.times(ctx, false)
		if err != nil {
			return fmt.Errorf("cpu: total times: %w", err)
		}
		samples = append(samples, total...)
	}
	next := make(map[string]cpu.TimesStat, len(samples))
	for _, s := range samples {
		next[s.CPU] = s
		tags := map[string]string{"cpu": s.CPU}
		if c.CollectCPUTime {
			acc.AddCounter("cpu", timeFields(s, c.ReportActive), tags)
		}
		prev, ok := c.last[s.CPU]
		if !ok {
			continue
		}
		if fields, ok := usageFields(prev, s, c.ReportActive); ok {
			acc.AddGauge("cpu", fields, tags)
		}
	}
	c.last = next
	return nil
}

// total is the sum of all times. Guest and guest_nice are already counted in
// user and nice by Linux, so they are left out, as Telegraf does.
func total(t cpu.TimesStat) float64 {
	return t.User + t.System + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal + t.Idle
}

// active is Telegraf's: everything but idle (iowait counts as active).
func active(t cpu.TimesStat) float64 { return total(t) - t.Idle }

func timeFields(s cpu.TimesStat, reportActive bool) map[string]any {
	f := map[string]any{
		"time_user": s.User, "time_system": s.System, "time_idle": s.Idle, "time_nice": s.Nice,
		"time_iowait": s.Iowait, "time_irq": s.Irq, "time_softirq": s.Softirq, "time_steal": s.Steal,
		"time_guest": s.Guest, "time_guest_nice": s.GuestNice,
	}
	if reportActive {
		f["time_active"] = active(s)
	}
	return f
}

// usageFields returns the usage_* percentages between two samples of one CPU.
// ok is false when no time passed (or the counters went backwards: a CPU
// hot-plugged or the counters reset), as there is nothing to divide by.
func usageFields(prev, cur cpu.TimesStat, reportActive bool) (map[string]any, bool) {
	dt := total(cur) - total(prev)
	if dt <= 0 {
		return nil, false
	}
	pct := func(a, b float64) float64 {
		v := 100 * (b - a) / dt
		if v < 0 {
			return 0
		}
		if v > 100 {
			return 100
		}
		return v
	}
	f := map[string]any{
		"usage_user":       pct(prev.User-prev.Guest, cur.User-cur.Guest),
		"usage_system":     pct(prev.System, cur.System),
		"usage_idle":       pct(prev.Idle, cur.Idle),
		"usage_nice":       pct(prev.Nice-prev.GuestNice, cur.Nice-cur.GuestNice),
		"usage_iowait":     pct(prev.Iowait, cur.Iowait),
		"usage_irq":        pct(prev.Irq, cur.Irq),
		"usage_softirq":    pct(prev.Softirq, cur.Softirq),
		"usage_steal":      pct(prev.Steal, cur.Steal),
		"usage_guest":      pct(prev.Guest, cur.Guest),
		"usage_guest_nice": pct(prev.GuestNice, cur.GuestNice),
	}
	if reportActive {
		f["usage_active"] = pct(active(prev), active(cur))
	}
	return f, true
}
