// Package swap is the swap input: swap space and paging with Telegraf's names.
package swap

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

// Swap gathers two swap points per interval, as Telegraf does: a gauge with
// total/used/free/used_percent and a counter with in/out (bytes swapped).
type Swap struct {
	read func(context.Context) (*mem.SwapMemoryStat, error)
}

// New returns a swap input.
func New() *Swap { return &Swap{read: mem.SwapMemoryWithContext} }

func init() { inputs.Add("swap", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*Swap) SampleConfig() string { return sampleConfig }

// Gather implements agent.Input.
func (s *Swap) Gather(ctx context.Context, acc agent.Accumulator) error {
	st, err := s.read(ctx)
	if err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	gauge, counter := fields(st)
	acc.AddGauge("swap", gauge, nil)
	acc.AddCounter("swap", counter, nil)
	return nil
}

func fields(st *mem.SwapMemoryStat) (gauge, counter map[string]any) {
	gauge = map[string]any{"total": st.Total, "used": st.Used, "free": st.Free, "used_percent": st.UsedPercent}
	counter = map[string]any{"in": st.Sin, "out": st.Sout}
	return gauge, counter
}
