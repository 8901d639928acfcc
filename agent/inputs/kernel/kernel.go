// Package kernel is the kernel input: boot time, context switches,
// interrupts, forks and entropy from /proc, with Telegraf's names.
//
// gopsutil does not expose the interrupt total or entropy, so this reads
// /proc/stat and /proc/sys/kernel/random through prometheus/procfs.
package kernel

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/prometheus/procfs"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
)

//go:embed sample.yaml
var sampleConfig string

// Kernel gathers the kernel measurement (no tags). Linux only.
type Kernel struct {
	stat    func() (procfs.Stat, error)
	entropy func() (*uint64, error)
}

// New returns a kernel input reading /proc.
func New() *Kernel {
	return &Kernel{
		stat: func() (procfs.Stat, error) {
			fs, err := procfs.NewDefaultFS()
			if err != nil {
				return procfs.Stat{}, err
			}
			return fs.Stat()
		},
		entropy: func() (*uint64, error) {
			fs, err := procfs.NewDefaultFS()
			if err != nil {
				return nil, err
			}
			r, err := fs.KernelRandom()
			return r.EntropyAvaliable, err
		},
	}
}

func init() { inputs.Add("kernel", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*Kernel) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (k *Kernel) Gather(ctx context.Context, acc agent.Accumulator) error {
	st, err := k.stat()
	if err != nil {
		return fmt.Errorf("kernel: /proc/stat: %w", err)
	}
	f := map[string]any{
		"boot_time":        st.BootTime,
		"context_switches": st.ContextSwitches,
		"interrupts":       st.IRQTotal,
		"processes_forked": st.ProcessCreated,
	}
	if e, err := k.entropy(); err != nil {
		acc.AddError(fmt.Errorf("kernel: entropy: %w", err))
	} else if e != nil {
		f["entropy_avail"] = *e
	}
	acc.AddCounter("kernel", f, nil)
	return nil
}
