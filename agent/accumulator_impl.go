package agent

import (
	"sync"
	"time"
)

// accumulator is the runtime's Accumulator: it collects one gather's points
// and stamps those without a time with the gather's tick.
type accumulator struct {
	input  string
	tick   time.Time
	onErr  func(error)
	mu     sync.Mutex
	points []Metric
}

func (a *accumulator) add(typ ValueType, name string, fields map[string]any, tags map[string]string, t []time.Time) {
	m := Metric{Name: name, Tags: tags, Fields: fields, Time: a.tick, Type: typ}
	if len(t) > 0 && !t[0].IsZero() {
		m.Time = t[0]
	}
	a.mu.Lock()
	a.points = append(a.points, m)
	a.mu.Unlock()
}

func (a *accumulator) AddFields(n string, f map[string]any, tags map[string]string, t ...time.Time) {
	a.add(Untyped, n, f, tags, t)
}

func (a *accumulator) AddGauge(n string, f map[string]any, tags map[string]string, t ...time.Time) {
	a.add(Gauge, n, f, tags, t)
}

func (a *accumulator) AddCounter(n string, f map[string]any, tags map[string]string, t ...time.Time) {
	a.add(Counter, n, f, tags, t)
}

func (a *accumulator) AddError(err error) {
	if err != nil {
		a.onErr(err)
	}
}

// take returns the points and forgets them.
func (a *accumulator) take() []Metric {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.points
	a.points = nil
	return p
}
