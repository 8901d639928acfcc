package agent

import "time"

// ValueType says how a point's fields behave over time.
type ValueType int

// Value types, as in Telegraf.
const (
	Untyped ValueType = iota
	Gauge
	Counter
)

// Metric is one point: a measurement with tags, fields and a time.
type Metric struct {
	Name   string
	Tags   map[string]string
	Fields map[string]any
	Time   time.Time
	Type   ValueType
}
