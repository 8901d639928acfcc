package agent

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"net/http"
)

// inputStats are one input's self-metrics: kept as atomics for the internal
// points and mirrored in Prometheus counters.
type inputStats struct {
	gathered, sent, dropped, errors, skipped atomic.Int64
}

// selfMetrics owns the agent's counters and their Prometheus registry.
type selfMetrics struct {
	reg         *prometheus.Registry
	gathered    *prometheus.CounterVec
	sent        *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	writeErrors prometheus.Counter
	bufRecords  prometheus.Gauge
	bufBytes    prometheus.Gauge

	mu           sync.Mutex
	inputs       map[string]*inputStats
	writeErrorsN atomic.Int64
}

func newSelfMetrics() *selfMetrics {
	m := &selfMetrics{
		reg: prometheus.NewRegistry(),
		gathered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_agent_points_gathered_total",
			Help: "Points gathered, per input."}, []string{"input"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_agent_points_sent_total",
			Help: "Points acknowledged by the broker, per input."}, []string{"input"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_agent_points_dropped_total",
			Help: "Points dropped, per input and reason (buffer_full, shutdown)."}, []string{"input", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_agent_gather_errors_total",
			Help: "Errors while gathering, per input."}, []string{"input"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_agent_ticks_skipped_total",
			Help: "Intervals not gathered because the previous gather ran past them, per input."}, []string{"input"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_agent_write_errors_total",
			Help: "Failed writes to the broker (each is retried)."}),
		bufRecords: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_agent_buffer_records",
			Help: "Records waiting in the buffer for the broker."}),
		bufBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_agent_buffer_bytes",
			Help: "Bytes waiting in the buffer for the broker."}),
		inputs: make(map[string]*inputStats),
	}
	m.reg.MustRegister(m.gathered, m.sent, m.dropped, m.errors, m.skipped, m.writeErrors, m.bufRecords, m.bufBytes)
	return m
}

func (m *selfMetrics) input(name string) *inputStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.inputs[name]
	if !ok {
		s = &inputStats{}
		m.inputs[name] = s
	}
	return s
}

func (m *selfMetrics) addGathered(input string, n int) {
	m.input(input).gathered.Add(int64(n))
	m.gathered.WithLabelValues(input).Add(float64(n))
}

func (m *selfMetrics) addSent(input string, n int) {
	m.input(input).sent.Add(int64(n))
	m.sent.WithLabelValues(input).Add(float64(n))
}

func (m *selfMetrics) addDropped(input, reason string, n int) {
	m.input(input).dropped.Add(int64(n))
	m.dropped.WithLabelValues(input, reason).Add(float64(n))
}

func (m *selfMetrics) addError(input string) {
	m.input(input).errors.Add(1)
	m.errors.WithLabelValues(input).Inc()
}

func (m *selfMetrics) addSkipped(input string, n int) {
	m.input(input).skipped.Add(int64(n))
	m.skipped.WithLabelValues(input).Add(float64(n))
}

func (m *selfMetrics) addWriteError() {
	m.writeErrorsN.Add(1)
	m.writeErrors.Inc()
}

// Handler serves the counters in the Prometheus text format.
func (m *selfMetrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// points returns the internal measurement: one point per input with its
// cumulative counters, and one for the agent's buffer and writes.
func (m *selfMetrics) points(buffered, bufferedBytes int) []Metric {
	m.mu.Lock()
	var out []Metric
	for name, s := range m.inputs {
		out = append(out, Metric{Name: "internal", Type: Counter, Tags: map[string]string{"input": name}, Fields: map[string]any{
			"gathered": s.gathered.Load(), "sent": s.sent.Load(), "dropped": s.dropped.Load(), "errors": s.errors.Load(),
			"skipped": s.skipped.Load(),
		}})
	}
	m.mu.Unlock()
	out = append(out, Metric{Name: "internal", Type: Gauge, Tags: map[string]string{"input": "agent"}, Fields: map[string]any{
		"buffer_records": buffered, "buffer_bytes": bufferedBytes, "write_errors": m.writeErrorsN.Load(),
	}})
	return out
}
