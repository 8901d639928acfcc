// Package agenttest has helpers for testing agent inputs: an Accumulator that
// records what was added.
package agenttest

import (
	"sync"
	"time"

	"github.com/tributary/tributary/agent"
)

// Accumulator records every point and error added to it. Safe for concurrent use.
type Accumulator struct {
	mu      sync.Mutex
	Metrics []agent.Metric
	Errors  []error
}

func (a *Accumulator) add(typ agent.ValueType, name string, fields map[string]any, tags map[string]string, t []time.Time) {
	m := agent.Metric{Name: name, Fields: fields, Tags: tags, Type: typ}
	if len(t) > 0 {
		m.Time = t[0]
	}
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	a.mu.Lock()
	a.Metrics = append(a.Metrics, m)
	a.mu.Unlock()
}

// AddFields implements agent.Accumulator.
func (a *Accumulator) AddFields(n string, f map[string]any, tags map[string]string, t ...time.Time) {
	a.add(agent.Untyped, n, f, tags, t)
}

// AddGauge implements agent.Accumulator.
func (a *Accumulator) AddGauge(n string, f map[string]any, tags map[string]string, t ...time.Time) {
	a.add(agent.Gauge, n, f, tags, t)
}

// AddCounter implements agent.Accumulator.
func (a *Accumulator) AddCounter(n string, f map[string]any, tags map[string]string, t ...time.Time) {
	a.add(agent.Counter, n, f, tags, t)
}

// AddError implements agent.Accumulator.
func (a *Accumulator) AddError(err error) {
	if err == nil {
		return
	}
	a.mu.Lock()
	a.Errors = append(a.Errors, err)
	a.mu.Unlock()
}

// Find returns the points named measurement whose tags include every tag given.
func (a *Accumulator) Find(measurement string, tags map[string]string) []agent.Metric {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []agent.Metric
next:
	for _, m := range a.Metrics {
		if m.Name != measurement {
			continue
		}
		for k, v := range tags {
			if m.Tags[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}
