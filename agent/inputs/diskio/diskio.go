// Package diskio is the diskio input: I/O counters per block device, with
// Telegraf's names (tag name; fields reads, writes, read_bytes, ...).
package diskio

import (
	"context"
	_ "embed"
	"fmt"
	"path"
	"sort"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
)

//go:embed sample.yaml
var sampleConfig string

// DiskIO gathers the diskio measurement.
type DiskIO struct {
	Devices []string // glob patterns of device names; empty means all

	counters func(ctx context.Context, names ...string) (map[string]disk.IOCountersStat, error)
}

// New returns a diskio input for every device.
func New() *DiskIO { return &DiskIO{counters: disk.IOCountersWithContext} }

func init() { inputs.Add("diskio", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*DiskIO) SampleConfig() string { return sampleConfig }

// Init implements agent.Initializer: the patterns must be valid globs.
func (d *DiskIO) Init() error {
	for _, p := range d.Devices {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("diskio: devices: %q: %w", p, err)
		}
	}
	return nil
}

// Gather implements agent.Input.
func (d *DiskIO) Gather(ctx context.Context, acc agent.Accumulator) error {
	all, err := d.counters(ctx)
	if err != nil {
		return fmt.Errorf("diskio: %w", err)
	}
	names := make([]string, 0, len(all))
	for n := range all {
		if d.wanted(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		acc.AddCounter("diskio", fields(all[n]), map[string]string{"name": n})
	}
	return nil
}

func (d *DiskIO) wanted(name string) bool {
	if len(d.Devices) == 0 {
		return true
	}
	for _, p := range d.Devices {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func fields(c disk.IOCountersStat) map[string]any {
	return map[string]any{
		"reads":            c.ReadCount,
		"writes":           c.WriteCount,
		"read_bytes":       c.ReadBytes,
		"write_bytes":      c.WriteBytes,
		"read_time":        c.ReadTime,
		"write_time":       c.WriteTime,
		"io_time":          c.IoTime,
		"weighted_io_time": c.WeightedIO,
		"iops_in_progress": c.IopsInProgress,
		"merged_reads":     c.MergedReadCount,
		"merged_writes":    c.MergedWriteCount,
	}
}
