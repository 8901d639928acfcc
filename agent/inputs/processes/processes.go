// Package processes is the processes input: process counts by state, with
// Telegraf's names.
//
// It reads /proc/<pid>/stat through prometheus/procfs, one small file per
// process, as Telegraf does on Linux: gopsutil's per-process API reads several
// files per process and costs far more for the same counts.
package processes

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

// Processes gathers the processes measurement (no tags). Linux only.
type Processes struct {
	states func(ctx context.Context) ([]procState, error)
}

type procState struct {
	state   string // one letter from /proc/<pid>/stat
	threads int
}

// New returns a processes input.
func New() *Processes { return &Processes{states: readStates} }

func init() { inputs.Add("processes", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*Processes) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (p *Processes) Gather(ctx context.Context, acc agent.Accumulator) error {
	states, err := p.states(ctx)
	if err != nil {
		return fmt.Errorf("processes: %w", err)
	}
	acc.AddGauge("processes", count(states), nil)
	return nil
}

// fieldOfState maps the state letters of proc(5) to Telegraf's fields.
var fieldOfState = map[string]string{
	"R": "running", "S": "sleeping", "D": "blocked", "Z": "zombies", "X": "dead",
	"T": "stopped", "t": "stopped", "W": "paging", "I": "idle", "P": "parked",
}

func count(states []procState) map[string]any {
	f := map[string]int64{
		"running": 0, "sleeping": 0, "blocked": 0, "zombies": 0, "dead": 0,
		"stopped": 0, "paging": 0, "idle": 0, "unknown": 0, "total": 0, "total_threads": 0, "parked": 0,
	}
	for _, s := range states {
		name, ok := fieldOfState[s.state]
		if !ok {
			name = "unknown"
		}
		f[name]++
		f["total"]++
		f["total_threads"] += int64(s.threads)
	}
	out := make(map[string]any, len(f))
	for k, v := range f {
		// Telegraf adds parked only when a process is parked.
		if k != "parked" || v > 0 {
			out[k] = v
		}
	}
	return out
}

// readStates reads the host's /proc ($HOST_PROC honoured).
func readStates(ctx context.Context) ([]procState, error) {
	fs, err := procfs.NewFS(hostfs.Proc(ctx))
	if err != nil {
		return nil, err
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return nil, err
	}
	out := make([]procState, 0, len(procs))
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil {
			continue // exited since the listing
		}
		out = append(out, procState{state: st.State, threads: st.NumThreads})
	}
	return out, nil
}
