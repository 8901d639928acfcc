package agent

import "time"

// Accumulator collects the points an Input gathers during one Gather call.
//
// Contract: the runtime hands a fresh Accumulator to every Gather call; it is
// safe for concurrent use by goroutines the input starts inside Gather, and
// it must not be used after Gather returns. The maps passed in are owned by
// the accumulator from then on: the caller must not modify them afterwards.
// Field values are int, int32, int64, uint, uint32, uint64, float64, bool or
// string; others are reported as an error and the field dropped.
type Accumulator interface {
	// AddFields adds a point of untyped fields. t is the point's time; when
	// omitted the runtime uses the gather's scheduled (interval-aligned) time,
	// so every point of one interval shares a timestamp.
	AddFields(measurement string, fields map[string]any, tags map[string]string, t ...time.Time)
	// AddGauge adds a point whose fields are instantaneous values.
	AddGauge(measurement string, fields map[string]any, tags map[string]string, t ...time.Time)
	// AddCounter adds a point whose fields are monotonic counters.
	AddCounter(measurement string, fields map[string]any, tags map[string]string, t ...time.Time)
	// AddError reports a problem that did not stop the gather. It is counted
	// in the input's self-metrics and logged; nil is ignored.
	AddError(err error)
}
