package broker

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the broker's Prometheus metrics, on a registry of their own so
// several brokers can run in one process (tests) without clashing.
type Metrics struct {
	Registry *prometheus.Registry

	connections   prometheus.Gauge
	bytesIn       *prometheus.CounterVec
	recordsInC    *prometheus.CounterVec
	bytesOut      *prometheus.CounterVec
	recordsOutC   *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	badRequests   *prometheus.CounterVec
	produceErrors *prometheus.CounterVec

	mu        sync.Mutex
	apiLabels map[int16]prometheus.Observer
	server    *Server
}

// NewMetrics creates the broker metrics on a new registry, which also carries
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_broker_connections", Help: "Open client connections."}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_broker_bytes_in_total", Help: "Record batch bytes appended, by topic."}, []string{"topic"}),
		recordsInC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_broker_records_in_total", Help: "Records appended, by topic."}, []string{"topic"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_broker_bytes_out_total", Help: "Record batch bytes sent to consumers, by topic."}, []string{"topic"}),
		recordsOutC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_broker_records_out_total", Help: "Records sent to consumers at or after their fetch offset, by topic."}, []string{"topic"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tributary_broker_request_duration_seconds", Help: "Time from reading a request to writing its response, by API.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"api"}),
		badRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_broker_bad_requests_total", Help: "Connections closed for malformed or oversized requests, by kind."}, []string{"kind"}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_broker_produce_errors_total", Help: "Partitions of produce requests refused, by topic and Kafka error."}, []string{"topic", "error"}),
		apiLabels: make(map[int16]prometheus.Observer),
	}
	reg.MustRegister(m.connections, m.bytesIn, m.recordsInC, m.bytesOut, m.recordsOutC, m.requestTime, m.badRequests, m.produceErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

func (m *Metrics) register(s *Server) {
	m.mu.Lock()
	m.server = s
	m.mu.Unlock()
	m.Registry.Register(&stateCollector{m: m})
}

func (m *Metrics) unregister() {
	m.mu.Lock()
	m.server = nil
	m.mu.Unlock()
}

func (m *Metrics) recordsIn(topic string, bytes int, records int64) {
	m.bytesIn.WithLabelValues(topic).Add(float64(bytes))
	m.recordsInC.WithLabelValues(topic).Add(float64(records))
}

func (m *Metrics) recordsOut(topic string, bytes, records int64) {
	m.bytesOut.WithLabelValues(topic).Add(float64(bytes))
	if records > 0 {
		m.recordsOutC.WithLabelValues(topic).Add(float64(records))
	}
}

func (m *Metrics) forgetTopic(topic string) {
	m.bytesIn.DeleteLabelValues(topic)
	m.recordsInC.DeleteLabelValues(topic)
	m.bytesOut.DeleteLabelValues(topic)
	m.recordsOutC.DeleteLabelValues(topic)
}

func (m *Metrics) observeRequest(key int16, d time.Duration) {
	m.mu.Lock()
	o, ok := m.apiLabels[key]
	if !ok {
		name := "unknown"
		if a := lookupAPI(key); a != nil {
			name = a.name
		}
		o = m.requestTime.WithLabelValues(name)
		m.apiLabels[key] = o
	}
	m.mu.Unlock()
	o.Observe(d.Seconds())
}

// stateCollector reports partition sizes, offsets and consumer lag at scrape time.
type stateCollector struct{ m *Metrics }

var (
	descLogSize = prometheus.NewDesc("tributary_broker_log_size_bytes", "Bytes of all segments of a partition.", []string{"topic", "partition"}, nil)
	descHW      = prometheus.NewDesc("tributary_broker_high_watermark", "Offset after the last durable record of a partition.", []string{"topic", "partition"}, nil)
	descStart   = prometheus.NewDesc("tributary_broker_log_start_offset", "First offset still stored in a partition.", []string{"topic", "partition"}, nil)
	descLag     = prometheus.NewDesc("tributary_broker_group_lag", "High watermark minus committed offset, by group and partition.", []string{"group", "topic", "partition"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLogSize
	ch <- descHW
	ch <- descStart
	ch <- descLag
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	s := c.m.server
	c.m.mu.Unlock()
	if s == nil {
		return
	}
	for _, name := range s.topics.names() {
		for _, p := range s.topics.partitions(name) {
			part := strconv.Itoa(int(p.index))
			ch <- prometheus.MustNewConstMetric(descLogSize, prometheus.GaugeValue, float64(p.log.Size()), name, part)
			ch <- prometheus.MustNewConstMetric(descHW, prometheus.GaugeValue, float64(p.log.HighWatermark()), name, part)
			ch <- prometheus.MustNewConstMetric(descStart, prometheus.GaugeValue, float64(p.log.LogStartOffset()), name, part)
		}
	}
	s.groups.EachCommitted(func(group, topic string, partition int32, offset int64) {
		p := s.topics.partition(topic, partition)
		if p == nil {
			return
		}
		lag := max(p.log.HighWatermark()-offset, 0)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), group, topic, strconv.Itoa(int(partition)))
	})
}
