// Package disk is the disk input: space and inodes per mounted file system,
// with Telegraf's names (tags path, device, fstype, mode).
package disk

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
)

//go:embed sample.yaml
var sampleConfig string

// DefaultIgnoreFS are Telegraf's default ignored file system types.
var DefaultIgnoreFS = []string{"tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs"}

// Disk gathers the disk measurement.
type Disk struct {
	MountPoints []string // only these mount points; empty means all
	IgnoreFS    []string // file system types left out

	partitions func(ctx context.Context, all bool) ([]disk.PartitionStat, error)
	usage      func(ctx context.Context, path string) (*disk.UsageStat, error)
}

// New returns a disk input with Telegraf's defaults.
func New() *Disk {
	return &Disk{IgnoreFS: slices.Clone(DefaultIgnoreFS), partitions: disk.PartitionsWithContext, usage: disk.UsageWithContext}
}

func init() { inputs.Add("disk", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*Disk) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (d *Disk) Gather(ctx context.Context, acc agent.Accumulator) error {
	parts, err := d.partitions(ctx, true)
	if err != nil {
		return fmt.Errorf("disk: partitions: %w", err)
	}
	seen := make(map[string]bool)
	for _, p := range parts {
		if slices.Contains(d.IgnoreFS, p.Fstype) || seen[p.Mountpoint] {
			continue
		}
		if len(d.MountPoints) > 0 && !slices.Contains(d.MountPoints, p.Mountpoint) {
			continue
		}
		seen[p.Mountpoint] = true
		u, err := d.usage(ctx, p.Mountpoint)
		if err != nil {
			acc.AddError(fmt.Errorf("disk: %s: %w", p.Mountpoint, err))
			continue
		}
		// Pseudo file systems (proc, cgroup, ...) have no size: Telegraf skips them too.
		if u.Total == 0 {
			continue
		}
		acc.AddGauge("disk", fields(u), tags(p))
	}
	return nil
}

func tags(p disk.PartitionStat) map[string]string {
	mode := "rw"
	if slices.Contains(p.Opts, "ro") {
		mode = "ro"
	}
	return map[string]string{
		"path":   p.Mountpoint,
		"device": strings.ReplaceAll(p.Device, "/dev/", ""),
		"fstype": p.Fstype,
		"mode":   mode,
	}
}

// fields computes used_percent as Telegraf does: of the space available to
// users (used + free), not of the total that includes reserved blocks.
func fields(u *disk.UsageStat) map[string]any {
	usedPercent, inodesUsedPercent := 0.0, 0.0
	if u.Used+u.Free > 0 {
		usedPercent = 100 * float64(u.Used) / float64(u.Used+u.Free)
	}
	if u.InodesTotal > 0 {
		inodesUsedPercent = 100 * float64(u.InodesUsed) / float64(u.InodesTotal)
	}
	return map[string]any{
		"total":               u.Total,
		"free":                u.Free,
		"used":                u.Used,
		"used_percent":        usedPercent,
		"inodes_total":        u.InodesTotal,
		"inodes_free":         u.InodesFree,
		"inodes_used":         u.InodesUsed,
		"inodes_used_percent": inodesUsedPercent,
	}
}
