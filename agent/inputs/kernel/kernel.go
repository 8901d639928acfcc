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
	"github.com/tributary/tributary/agent/inputs/internal/hostfs"
)

//go:embed sample.yaml
var sampleConfig string

// Kernel gathers the kernel measurement (no tags). Linux only.
type Kernel struct {
	stat    func(ctx context.Context) (procfs.Stat, error)
	entropy func(ctx context.Context) (*uint64, error)
}

// New returns a kernel input reading the host's /proc ($HOST_PROC honoured).
func New() *Kernel {
	return &Kernel{
		stat: func(ctx context.Context) (procfs.Stat, error) {
			fs, err := procfs.NewFS(hostfs.Proc(ctx))
			if err != nil {
				return procfs.Stat{}, err
			}
			return fs.Stat()
		},
		entropy: func(ctx context.Context) (*uint64, error) {
			fs, err := procfs.NewFS(hostfs.Proc(ctx))
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
	st, err := k.stat(ctx)
	if err != nil {
		return fmt.Errorf("kernel: /proc/stat: %w", err)
	}
	f := map[string]any{
		"boot_time":        st.BootTime,
		"context_switches": st.ContextSwitches,
		"interrupts":       st.IRQTotal,
		"processes_forked": st.ProcessCreated,
	}
	if e, err := k.entropy(ctx); err != nil {
		acc.AddError(fmt.Errorf("kernel: entropy: %w", err))
	} else if e != nil {
		f["entropy_avail"] = *e
	}
	acc.AddCounter("kernel", f, nil)
	return nil
}
