// Package mem is the mem input: memory use with Telegraf's field names.
package mem

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
)

//go:embed sample.yaml
var sampleConfig string

// Mem gathers the mem measurement (no tags).
type Mem struct {
	read func(context.Context) (*mem.VirtualMemoryStat, error)
}

// New returns a mem input.
func New() *Mem { return &Mem{read: mem.VirtualMemoryWithContext} }

func init() { inputs.Add("mem", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*Mem) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (m *Mem) Gather(ctx context.Context, acc agent.Accumulator) error {
	vm, err := m.read(ctx)
	if err != nil {
		return fmt.Errorf("mem: %w", err)
	}
	acc.AddGauge("mem", fields(vm), nil)
	return nil
}

// fields maps gopsutil's stat to Telegraf's Linux field names.
func fields(vm *mem.VirtualMemoryStat) map[string]any {
	availablePercent := 0.0
	if vm.Total > 0 {
		availablePercent = 100 * float64(vm.Available) / float64(vm.Total)
	}
	return map[string]any{
		"total":             vm.Total,
		"available":         vm.Available,
		"used":              vm.Used,
		"free":              vm.Free,
		"available_percent": availablePercent,
		"used_percent":      vm.UsedPercent,
		"active":            vm.Active,
		"inactive":          vm.Inactive,
		"buffered":          vm.Buffers,
		"cached":            vm.Cached,
		"commit_limit":      vm.CommitLimit,
		"committed_as":      vm.CommittedAS,
		"dirty":             vm.Dirty,
		"high_free":         vm.HighFree,
		"high_total":        vm.HighTotal,
		"huge_page_size":    vm.HugePageSize,
		"huge_pages_free":   vm.HugePagesFree,
		"huge_pages_total":  vm.HugePagesTotal,
		"low_free":          vm.LowFree,
		"low_total":         vm.LowTotal,
		"mapped":            vm.Mapped,
		"page_tables":       vm.PageTables,
		"shared":            vm.Shared,
		"slab":              vm.Slab,
		"sreclaimable":      vm.Sreclaimable,
		"sunreclaim":        vm.Sunreclaim,
		"swap_cached":       vm.SwapCached,
		"swap_free":         vm.SwapFree,
		"swap_total":        vm.SwapTotal,
		"vmalloc_chunk":     vm.VmallocChunk,
		"vmalloc_total":     vm.VmallocTotal,
		"vmalloc_used":      vm.VmallocUsed,
		"write_back":        vm.WriteBack,
		"write_back_tmp":    vm.WriteBackTmp,
	}
}
