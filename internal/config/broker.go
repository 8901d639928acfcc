package config

import (
	"fmt"
	"math"
)

// Broker configures the Kafka-protocol broker. Keys mirror Kafka's broker
// configs; each field names the Kafka config it stands for.
type Broker struct {
	// Listen is the host:port Kafka clients connect to; port 0 picks a free
	// port. Kafka: listeners (without the "PLAINTEXT://" prefix).
	Listen string `yaml:"listen" default:"127.0.0.1:9092" kafka:"listeners"`
	// AdvertisedListener is the host:port given to clients in metadata
	// responses; "" means Listen. Required when Listen binds 0.0.0.0 or [::].
	// Kafka: advertised.listeners.
	AdvertisedListener string `yaml:"advertised_listener" kafka:"advertised.listeners"`
	// NodeID identifies this broker in metadata and, later, in the cluster.
	// Kafka: node.id.
	NodeID int32 `yaml:"node_id" default:"0" kafka:"node.id"`
	// DataDir holds the partition logs and group offsets. Kafka: log.dirs.
	DataDir string `yaml:"data_dir" default:"./data" kafka:"log.dirs"`
	// MetricsListen is the host:port serving Prometheus /metrics; "" disables
	// it. No Kafka equivalent.
	MetricsListen string `yaml:"metrics_listen" default:"127.0.0.1:9644"`
	// AutoCreateTopics creates a topic when a client first produces to or asks
	// metadata for it. Kafka: auto.create.topics.enable.
	AutoCreateTopics bool `yaml:"auto_create_topics" default:"true" kafka:"auto.create.topics.enable"`
	// DefaultPartitions is the partition count of auto-created topics.
	// Kafka: num.partitions.
	DefaultPartitions int32 `yaml:"default_partitions" default:"1" kafka:"num.partitions"`
	// SocketRequestMaxBytes is the largest request accepted; bigger ones close
	// the connection. Kafka: socket.request.max.bytes.
	SocketRequestMaxBytes ByteSize `yaml:"socket_request_max_bytes" default:"100MiB" kafka:"socket.request.max.bytes"`
	// MessageMaxBytes is the largest record batch accepted in a produce
	// request. Kafka: message.max.bytes.
	MessageMaxBytes ByteSize `yaml:"message_max_bytes" default:"1048588" kafka:"message.max.bytes"`
	// ConnectionsMaxIdle closes connections idle for this long.
	// Kafka: connections.max.idle.ms.
	ConnectionsMaxIdle Duration `yaml:"connections_max_idle" default:"10m" kafka:"connections.max.idle.ms"`
	// MaxConnections caps open client connections; more are refused.
	// Kafka: max.connections.
	MaxConnections int `yaml:"max_connections" default:"1000" kafka:"max.connections"`
	// RetentionCheckInterval is how often old segments are looked for and
	// deleted. Kafka: log.retention.check.interval.ms.
	RetentionCheckInterval Duration `yaml:"retention_check_interval" default:"5m" kafka:"log.retention.check.interval.ms"`
	// TopicDefaults are the topic configs of topics that do not set their own.
	TopicDefaults TopicDefaults `yaml:"topic_defaults"`
	// Groups configures the consumer-group coordinator.
	Groups Groups `yaml:"groups"`
}

// TopicDefaults are broker-wide defaults for per-topic configs (Kafka's
// log.* broker configs, overridable per topic by the topic configs named).
type TopicDefaults struct {
	// SegmentBytes rolls a new segment file when the active one reaches this
	// size. Kafka: log.segment.bytes / segment.bytes.
	SegmentBytes ByteSize `yaml:"segment_bytes" default:"1GiB" kafka:"log.segment.bytes,segment.bytes"`
	// SegmentTime rolls a new segment when the active one is this old, so
	// that retention can delete it. Kafka: log.roll.ms / segment.ms.
	SegmentTime Duration `yaml:"segment_ms" default:"7d" kafka:"log.roll.ms,segment.ms"`
	// RetentionTime deletes segments whose newest record is older than this;
	// -1 keeps them forever. Kafka: log.retention.ms / retention.ms.
	RetentionTime Duration `yaml:"retention_ms" default:"7d" kafka:"log.retention.ms,retention.ms"`
	// RetentionBytes deletes the oldest segments while a partition is larger
	// than this; -1 means no size limit. Kafka: log.retention.bytes / retention.bytes.
	RetentionBytes ByteSize `yaml:"retention_bytes" default:"-1" kafka:"log.retention.bytes,retention.bytes"`
	// IndexIntervalBytes is how many bytes of batches lie between two entries
	// of the sparse offset index. Kafka: log.index.interval.bytes / index.interval.bytes.
	IndexIntervalBytes ByteSize `yaml:"index_interval_bytes" default:"4096" kafka:"log.index.interval.bytes,index.interval.bytes"`
}

// Groups configures the consumer-group coordinator.
type Groups struct {
	// InitialRebalanceDelay is how long the first rebalance of an empty group
	// waits for more members to join. Kafka: group.initial.rebalance.delay.ms.
	InitialRebalanceDelay Duration `yaml:"initial_rebalance_delay" default:"3s" kafka:"group.initial.rebalance.delay.ms"`
	// MinSessionTimeout is the smallest session timeout a member may ask for.
	// Kafka: group.min.session.timeout.ms.
	MinSessionTimeout Duration `yaml:"min_session_timeout" default:"6s" kafka:"group.min.session.timeout.ms"`
	// MaxSessionTimeout is the largest session timeout a member may ask for.
	// Kafka: group.max.session.timeout.ms.
	MaxSessionTimeout Duration `yaml:"max_session_timeout" default:"30m" kafka:"group.max.session.timeout.ms"`
	// OffsetsRetention is how long committed offsets of an empty group are
	// kept. Kafka: offsets.retention.minutes.
	OffsetsRetention Duration `yaml:"offsets_retention" default:"7d" kafka:"offsets.retention.minutes"`
}

// maxKafkaSize is the largest size Kafka's int32 wire and index fields can hold.
const maxKafkaSize = math.MaxInt32

func (b *Broker) validate(report func(path, msg string)) {
	checkAddress(report, "listen", b.Listen, addrListen)
	if b.AdvertisedListener != "" {
		checkAddress(report, "advertised_listener", b.AdvertisedListener, addrAdvertised)
	} else if isUnspecifiedAddress(b.Listen) {
		report("advertised_listener", fmt.Sprintf(
			"required when listen (%q) binds all interfaces: clients need an address they can reach", b.Listen))
	}
	if b.NodeID < 0 {
		report("node_id", "must not be negative")
	}
	if isBlank(b.DataDir) {
		report("data_dir", "must not be empty")
	}
	if b.MetricsListen != "" {
		checkAddress(report, "metrics_listen", b.MetricsListen, addrListen)
		if b.MetricsListen == b.Listen && !hasPortZero(b.Listen) {
			report("metrics_listen", fmt.Sprintf("must differ from listen (both %q)", b.Listen))
		}
	}
	if b.DefaultPartitions < 1 {
		report("default_partitions", "must be at least 1")
	}
	sizeOK := positiveSize(report, "socket_request_max_bytes", b.SocketRequestMaxBytes, maxKafkaSize)
	if positiveSize(report, "message_max_bytes", b.MessageMaxBytes, maxKafkaSize) && sizeOK &&
		b.MessageMaxBytes > b.SocketRequestMaxBytes {
		report("message_max_bytes", fmt.Sprintf("must not exceed socket_request_max_bytes (%s): a batch must fit in a request",
			b.SocketRequestMaxBytes))
	}
	positiveDuration(report, "connections_max_idle", b.ConnectionsMaxIdle)
	if b.MaxConnections < 1 {
		report("max_connections", "must be at least 1")
	}
	positiveDuration(report, "retention_check_interval", b.RetentionCheckInterval)
}

func (t *TopicDefaults) validate(report func(path, msg string)) {
	positiveSize(report, "segment_bytes", t.SegmentBytes, maxKafkaSize)
	positiveDuration(report, "segment_ms", t.SegmentTime)
	if t.RetentionTime != Forever {
		positiveDuration(report, "retention_ms", t.RetentionTime)
	}
	if t.RetentionBytes != Unlimited {
		positiveSize(report, "retention_bytes", t.RetentionBytes, math.MaxInt64)
	}
	positiveSize(report, "index_interval_bytes", t.IndexIntervalBytes, maxKafkaSize)
}

func (g *Groups) validate(report func(path, msg string)) {
	if g.InitialRebalanceDelay < 0 {
		report("initial_rebalance_delay", "must not be negative (-1, forever, is not allowed here)")
	}
	minOK := positiveDuration(report, "min_session_timeout", g.MinSessionTimeout)
	if positiveDuration(report, "max_session_timeout", g.MaxSessionTimeout) && minOK &&
		g.MinSessionTimeout > g.MaxSessionTimeout {
		report("min_session_timeout", fmt.Sprintf("must not exceed max_session_timeout (%s)", g.MaxSessionTimeout))
	}
	positiveDuration(report, "offsets_retention", g.OffsetsRetention)
}
