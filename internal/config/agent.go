package config

import (
	"fmt"
	"math"
	"path"
	"regexp"
)

// Agent configures the agent: host inputs, their schedule and tags, and the
// producer that ships their points to the broker (or any Kafka cluster).
type Agent struct {
	// Interval is how often every input gathers, unless it sets its own.
	Interval Duration `yaml:"interval" default:"10s"`
	// RoundInterval gathers at multiples of the interval on the wall clock
	// (:00, :10, ...), as Telegraf's round_interval.
	RoundInterval bool `yaml:"round_interval" default:"true"`
	// Jitter delays each gather by a random time up to this, so that many
	// hosts do not gather at the same instant; timestamps stay on the interval.
	Jitter Duration `yaml:"jitter" default:"0s"`
	// Hostname is the host tag and record key; "" means the OS host name.
	Hostname string `yaml:"hostname"`
	// Tags are added to every point; an input's own tags win.
	Tags map[string]string `yaml:"tags"`
	// Brokers are the host:port of the brokers to bootstrap from.
	// Kafka: bootstrap.servers.
	Brokers []string `yaml:"brokers" kafka:"bootstrap.servers"`
	// MetricsTopic receives the points as InfluxDB line protocol, key = host.
	MetricsTopic string `yaml:"metrics_topic" default:"metrics"`
	// Compression of produced batches: none, gzip, snappy, lz4 or zstd.
	// Kafka: compression.type.
	Compression string `yaml:"compression" default:"zstd" kafka:"compression.type"`
	// BatchMaxRecords is the most records sent in one write.
	BatchMaxRecords int `yaml:"batch_max_records" default:"1000"`
	// BatchMaxBytes is the most bytes sent in one produce request.
	// Kafka: max.request.size.
	BatchMaxBytes ByteSize `yaml:"batch_max_bytes" default:"1MiB" kafka:"max.request.size"`
	// BatchTimeout is how long a record waits for its batch to fill. Kafka: linger.ms.
	BatchTimeout Duration `yaml:"batch_timeout" default:"1s" kafka:"linger.ms"`
	// RecordMaxBytes cuts one gather's lines into records of at most this.
	RecordMaxBytes ByteSize `yaml:"record_max_bytes" default:"256KiB"`
	// BufferLimit is the memory holding points while the broker is
	// unreachable; beyond it the oldest are dropped, counted and logged.
	BufferLimit ByteSize `yaml:"buffer_limit" default:"64MiB"`
	// FlushTimeout is how long shutdown keeps delivering buffered points.
	FlushTimeout Duration `yaml:"flush_timeout" default:"10s"`
	// MetricsListen is the host:port serving the agent's Prometheus
	// /metrics; "" disables it.
	MetricsListen string `yaml:"metrics_listen" default:"127.0.0.1:9645"`
	// Inputs configures each host input.
	Inputs AgentInputs `yaml:"inputs"`
}

// AgentInputs holds one section per input plugin.
type AgentInputs struct {
	CPU       CPUInput    `yaml:"cpu"`
	Mem       InputCommon `yaml:"mem"`
	Swap      InputCommon `yaml:"swap"`
	Disk      DiskInput   `yaml:"disk"`
	DiskIO    DiskIOInput `yaml:"diskio"`
	Net       NetInput    `yaml:"net"`
	System    InputCommon `yaml:"system"`
	Processes InputCommon `yaml:"processes"`
	Kernel    InputCommon `yaml:"kernel"`
}

// InputCommon are the settings every input has.
type InputCommon struct {
	// Enabled runs the input.
	Enabled bool `yaml:"enabled" default:"true"`
	// Interval overrides agent.interval for this input; 0s means agent.interval.
	Interval Duration `yaml:"interval" default:"0s"`
	// Tags are added to this input's points.
	Tags map[string]string `yaml:"tags"`
}

// setDefaults makes the empty map explicit, so that a default config and a
// file saying "tags: {}" are equal.
func (c *InputCommon) setDefaults() { c.Tags = map[string]string{} }

func (c *InputCommon) validate(report func(path, msg string)) {
	if c.Interval < 0 {
		report("interval", "must be 0 (agent.interval) or greater")
	}
}

// CPUInput configures the cpu input.
type CPUInput struct {
	InputCommon `yaml:",inline"`
	// PerCPU adds a point per core (cpu=cpu0, ...).
	PerCPU bool `yaml:"percpu" default:"true"`
	// TotalCPU adds a point for all cores (cpu=cpu-total).
	TotalCPU bool `yaml:"totalcpu" default:"true"`
	// CollectCPUTime adds time_* fields: cumulative seconds per state.
	CollectCPUTime bool `yaml:"collect_cpu_time" default:"false"`
	// ReportActive adds usage_active (100 - usage_idle).
	ReportActive bool `yaml:"report_active" default:"false"`
}

func (c *CPUInput) setDefaults() { c.InputCommon.setDefaults() }

func (c *CPUInput) validate(report func(path, msg string)) {
	if c.Enabled && !c.PerCPU && !c.TotalCPU {
		report("percpu", "percpu and totalcpu are both false: the input would add nothing (set enabled: false)")
	}
}

// DiskInput configures the disk input.
type DiskInput struct {
	InputCommon `yaml:",inline"`
	// MountPoints limits the input to these mount points; empty means all.
	MountPoints []string `yaml:"mount_points"`
	// IgnoreFS leaves out file systems of these types.
	IgnoreFS []string `yaml:"ignore_fs"`
}

func (d *DiskInput) setDefaults() {
	d.InputCommon.setDefaults()
	d.MountPoints = []string{}
	d.IgnoreFS = []string{"tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs"}
}

// DiskIOInput configures the diskio input.
type DiskIOInput struct {
	InputCommon `yaml:",inline"`
	// Devices are glob patterns of device names; empty means all.
	Devices []string `yaml:"devices"`
}

func (d *DiskIOInput) setDefaults() { d.InputCommon.setDefaults(); d.Devices = []string{} }

func (d *DiskIOInput) validate(report func(path, msg string)) {
	checkGlobs(report, "devices", d.Devices)
}

// NetInput configures the net input.
type NetInput struct {
	InputCommon `yaml:",inline"`
	// Interfaces are glob patterns of interface names; empty means every
	// interface that is up, except loopback.
	Interfaces []string `yaml:"interfaces"`
}

func (n *NetInput) setDefaults() { n.InputCommon.setDefaults(); n.Interfaces = []string{} }

func (n *NetInput) validate(report func(path, msg string)) {
	checkGlobs(report, "interfaces", n.Interfaces)
}

func checkGlobs(report func(path, msg string), key string, patterns []string) {
	for i, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			report(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("bad glob pattern %q: %v", p, err))
		}
	}
}

func (a *Agent) setDefaults() {
	a.Brokers = []string{"127.0.0.1:9092"}
	a.Tags = map[string]string{}
}

// kafkaTopicName is Kafka's rule for topic names.
var kafkaTopicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func (a *Agent) validate(report func(path, msg string)) {
	if positiveDuration(report, "interval", a.Interval) && (a.Jitter < 0 || a.Jitter >= a.Interval) {
		report("jitter", fmt.Sprintf("must be at least 0 and less than interval (%s)", a.Interval))
	}
	if len(a.Brokers) == 0 {
		report("brokers", "needs at least one host:port")
	}
	for i, b := range a.Brokers {
		checkAddress(report, fmt.Sprintf("brokers[%d]", i), b, addrAdvertised)
	}
	if !kafkaTopicName.MatchString(a.MetricsTopic) || a.MetricsTopic == "." || a.MetricsTopic == ".." {
		report("metrics_topic", fmt.Sprintf("%q is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)", a.MetricsTopic))
	}
	oneOf(report, "compression", a.Compression, "none", "gzip", "snappy", "lz4", "zstd")
	if a.BatchMaxRecords <= 0 {
		report("batch_max_records", "must be greater than 0")
	}
	positiveSize(report, "batch_max_bytes", a.BatchMaxBytes, math.MaxInt32)
	positiveDuration(report, "batch_timeout", a.BatchTimeout)
	if positiveSize(report, "record_max_bytes", a.RecordMaxBytes, math.MaxInt32) && a.RecordMaxBytes > a.BatchMaxBytes {
		report("record_max_bytes", fmt.Sprintf("must be at most batch_max_bytes (%s)", a.BatchMaxBytes))
	}
	if positiveSize(report, "buffer_limit", a.BufferLimit, math.MaxInt64) && a.BufferLimit < a.RecordMaxBytes {
		report("buffer_limit", fmt.Sprintf("must hold at least one record (record_max_bytes, %s)", a.RecordMaxBytes))
	}
	positiveDuration(report, "flush_timeout", a.FlushTimeout)
	if a.MetricsListen != "" {
		checkAddress(report, "metrics_listen", a.MetricsListen, addrListen)
	}
}
