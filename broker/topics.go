package broker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	plog "github.com/tributary/tributary/broker/log"
)

// partition is one open partition log.
type partition struct {
	topic string
	index int32
	log   *plog.Log
}

// topic is one topic: its id, explicit config overrides and partitions.
type topic struct {
	name       string
	id         [16]byte
	configs    map[string]string // explicit overrides only, Kafka names
	cfg        plog.Config       // effective
	partitions []*partition
}

// topicRegistry owns every topic and partition, and the broker's small
// persisted metadata (cluster id, topics, producer id blocks).
type topicRegistry struct {
	s   *Server
	dir string

	mu     sync.RWMutex
	topics map[string]*topic
	meta   metaFile

	pidMu   sync.Mutex
	nextPID int64 // next producer id to hand out
}

// metaFile is persisted as <data_dir>/meta.json, written atomically.
type metaFile struct {
	ClusterID string      `json:"cluster_id"`
	PIDBlock  int64       `json:"producer_id_block_end"` // producer ids below this may have been handed out
	Topics    []metaTopic `json:"topics"`
}

type metaTopic struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

const (
	metaFileName = "meta.json"
	pidBlockSize = 1000
	groupsDir    = "__groups"
)

func openTopicRegistry(s *Server, dir string) (*topicRegistry, error) {
	r := &topicRegistry{s: s, dir: dir, topics: make(map[string]*topic)}
	data, err := os.ReadFile(filepath.Join(dir, metaFileName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.meta.ClusterID = newClusterID()
	case err != nil:
		return nil, fmt.Errorf("broker: reading %s: %w", filepath.Join(dir, metaFileName), err)
	default:
		if err := json.Unmarshal(data, &r.meta); err != nil {
			return nil, fmt.Errorf("broker: %s is corrupt: %w", filepath.Join(dir, metaFileName), err)
		}
	}
	if s.opts.ClusterID != "" {
		r.meta.ClusterID = s.opts.ClusterID
	}
	// Producer ids handed out before a crash may be in the logs: start after
	// the last block that was reserved.
	r.nextPID = r.meta.PIDBlock

	known := make(map[string]bool)
	for _, mt := range r.meta.Topics {
		cfg, err := topicConfig(s.opts.TopicDefaults, mt.Configs)
		if err != nil {
			return nil, fmt.Errorf("broker: topic %q in %s: %w", mt.Name, metaFileName, err)
		}
		t := &topic{name: mt.Name, configs: mt.Configs, cfg: cfg}
		if _, err := hex.Decode(t.id[:], []byte(mt.ID)); err != nil {
			return nil, fmt.Errorf("broker: topic %q in %s: bad id %q", mt.Name, metaFileName, mt.ID)
		}
		for p := int32(0); p < mt.Partitions; p++ {
			part, err := r.openPartition(t, p)
			if err != nil {
				r.close()
				return nil, err
			}
			t.partitions = append(t.partitions, part)
			known[filepath.Base(partitionDir(dir, t.name, p))] = true
		}
		r.topics[t.name] = t
	}
	// Directories of topics deleted just before a crash are removed now.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && e.Name() != groupsDir && !known[e.Name()] && looksLikePartitionDir(e.Name()) {
			s.log.Info("removing directory of deleted topic", "dir", e.Name())
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	if err := r.saveLocked(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func looksLikePartitionDir(name string) bool {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return false
	}
	_, err := strconv.Atoi(name[i+1:])
	return err == nil || strings.Contains(name, ".deleted")
}

func partitionDir(dir, topic string, p int32) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d", topic, p))
}

func (r *topicRegistry) openPartition(t *topic, p int32) (*partition, error) {
	l, err := plog.Open(plog.Options{
		Dir:    partitionDir(r.dir, t.name, p),
		Config: t.cfg,
		Logger: r.s.log.With("partition", fmt.Sprintf("%s-%d", t.name, p)),
	})
	if err != nil {
		return nil, fmt.Errorf("broker: opening partition %s-%d: %w", t.name, p, err)
	}
	return &partition{topic: t.name, index: p, log: l}, nil
}

// saveLocked persists the metadata atomically (write, fsync, rename, fsync dir).
// Callers hold r.mu (or are single-threaded at start-up).
func (r *topicRegistry) saveLocked() error {
	r.meta.Topics = r.meta.Topics[:0]
	for _, t := range r.topics {
		r.meta.Topics = append(r.meta.Topics, metaTopic{
			Name: t.name, ID: hex.EncodeToString(t.id[:]), Partitions: int32(len(t.partitions)), Configs: t.configs,
		})
	}
	sort.Slice(r.meta.Topics, func(i, j int) bool { return r.meta.Topics[i].Name < r.meta.Topics[j].Name })
	data, err := json.MarshalIndent(&r.meta, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(r.dir, metaFileName), data)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("broker: writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("broker: writing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func newClusterID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (r *topicRegistry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.topics)
}

// get returns a topic or nil.
func (r *topicRegistry) get(name string) *topic {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.topics[name]
}

// getByID returns a topic by id or nil.
func (r *topicRegistry) getByID(id [16]byte) *topic {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.topics {
		if t.id == id {
			return t
		}
	}
	return nil
}

// partition returns an open partition or nil.
func (r *topicRegistry) partition(name string, p int32) *partition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := r.topics[name]
	if t == nil || p < 0 || int(p) >= len(t.partitions) {
		return nil
	}
	return t.partitions[p]
}

func (r *topicRegistry) partitionExists(name string, p int32) bool {
	return r.partition(name, p) != nil
}

// names lists topic names, sorted.
func (r *topicRegistry) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.topics))
	for n := range r.topics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// snapshot returns the partitions of a topic (a copy of the slice).
func (r *topicRegistry) partitions(name string) []*partition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := r.topics[name]
	if t == nil {
		return nil
	}
	return append([]*partition(nil), t.partitions...)
}

// validateTopicName applies Kafka's rules for topic names.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters long; the limit is 249", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q contains %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}

// create creates a topic. validateOnly checks without creating.
func (r *topicRegistry) create(name string, partitions int32, configs map[string]string, validateOnly bool) (*topic, error) {
	if err := validateTopicName(name); err != nil {
		return nil, fmt.Errorf("%v: %w", err, kerr.InvalidTopicException)
	}
	if partitions == -1 {
		partitions = r.s.opts.DefaultPartitions
	}
	if partitions <= 0 || partitions > 10000 {
		return nil, fmt.Errorf("number of partitions must be between 1 and 10000, got %d: %w", partitions, kerr.InvalidPartitions)
	}
	cfg, err := topicConfig(r.s.opts.TopicDefaults, configs)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.topics[name]; ok {
		return nil, fmt.Errorf("topic %q already exists: %w", name, kerr.TopicAlreadyExists)
	}
	t := &topic{name: name, configs: configs, cfg: cfg}
	rand.Read(t.id[:])
	if validateOnly {
		t.partitions = make([]*partition, partitions)
		return t, nil
	}
	for p := int32(0); p < partitions; p++ {
		part, err := r.openPartition(t, p)
		if err != nil {
			for _, done := range t.partitions {
				done.log.Delete()
			}
			return nil, err
		}
		t.partitions = append(t.partitions, part)
	}
	r.topics[name] = t
	if err := r.saveLocked(); err != nil {
		delete(r.topics, name)
		for _, done := range t.partitions {
			done.log.Delete()
		}
		return nil, err
	}
	r.s.log.Info("topic created", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

// ensure returns the topic, auto-creating it when allowed.
func (r *topicRegistry) ensure(name string, allowCreate bool) (*topic, error) {
	if t := r.get(name); t != nil {
		return t, nil
	}
	if !allowCreate || !r.s.opts.AutoCreateTopics {
		return nil, kerr.UnknownTopicOrPartition
	}
	t, err := r.create(name, -1, nil, false)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return r.get(name), nil
	}
	return t, err
}

// delete removes a topic: metadata first, then its files.
func (r *topicRegistry) delete(name string) error {
	r.mu.Lock()
	t := r.topics[name]
	if t == nil {
		r.mu.Unlock()
		return fmt.Errorf("topic %q does not exist: %w", name, kerr.UnknownTopicOrPartition)
	}
	delete(r.topics, name)
	if err := r.saveLocked(); err != nil {
		r.topics[name] = t
		r.mu.Unlock()
		return err
	}
	r.mu.Unlock()
	for _, p := range t.partitions {
		if err := p.log.Delete(); err != nil {
			r.s.log.Warn("removing partition files", "topic", name, "partition", p.index, "err", err)
		}
	}
	r.s.groups.DeleteTopic(name)
	r.s.metrics.forgetTopic(name)
	r.s.log.Info("topic deleted", "topic", name)
	return nil
}

// addPartitions grows a topic to count partitions.
func (r *topicRegistry) addPartitions(name string, count int32, validateOnly bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.topics[name]
	if t == nil {
		return fmt.Errorf("topic %q does not exist: %w", name, kerr.UnknownTopicOrPartition)
	}
	have := int32(len(t.partitions))
	if count <= have {
		return fmt.Errorf("topic %q has %d partitions; the new count %d must be larger: %w", name, have, count, kerr.InvalidPartitions)
	}
	if count > 10000 {
		return fmt.Errorf("number of partitions must be at most 10000, got %d: %w", count, kerr.InvalidPartitions)
	}
	if validateOnly {
		return nil
	}
	for p := have; p < count; p++ {
		part, err := r.openPartition(t, p)
		if err != nil {
			return err
		}
		t.partitions = append(t.partitions, part)
	}
	return r.saveLocked()
}

// alterConfigs replaces (incremental=false) or patches a topic's overrides.
func (r *topicRegistry) alterConfigs(name string, apply func(map[string]string) error, validateOnly bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.topics[name]
	if t == nil {
		return fmt.Errorf("topic %q does not exist: %w", name, kerr.UnknownTopicOrPartition)
	}
	next := make(map[string]string, len(t.configs))
	for k, v := range t.configs {
		next[k] = v
	}
	if err := apply(next); err != nil {
		return err
	}
	cfg, err := topicConfig(r.s.opts.TopicDefaults, next)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	old, oldCfg := t.configs, t.cfg
	t.configs, t.cfg = next, cfg
	if err := r.saveLocked(); err != nil {
		t.configs, t.cfg = old, oldCfg
		return err
	}
	for _, p := range t.partitions {
		p.log.SetConfig(cfg)
	}
	return nil
}

// allocateProducerID hands out a fresh producer id, reserving ids in
// persisted blocks so none is reused after a crash.
func (r *topicRegistry) allocateProducerID() (int64, error) {
	r.pidMu.Lock()
	defer r.pidMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nextPID >= r.meta.PIDBlock {
		r.meta.PIDBlock = r.nextPID + pidBlockSize
		if err := r.saveLocked(); err != nil {
			return 0, err
		}
	}
	id := r.nextPID
	r.nextPID++
	return id, nil
}

func (r *topicRegistry) enforceRetention() {
	r.mu.RLock()
	var parts []*partition
	for _, t := range r.topics {
		parts = append(parts, t.partitions...)
	}
	r.mu.RUnlock()
	for _, p := range parts {
		freed, err := p.log.EnforceRetention()
		if err != nil {
			r.s.log.Warn("retention failed", "topic", p.topic, "partition", p.index, "err", err)
		}
		if freed > 0 {
			r.s.log.Info("retention deleted segments", "topic", p.topic, "partition", p.index, "bytes", freed,
				"log_start_offset", p.log.LogStartOffset())
		}
	}
}

func (r *topicRegistry) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, t := range r.topics {
		for _, p := range t.partitions {
			if err := p.log.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %s-%d: %w", t.name, p.index, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Topic configs we implement, by Kafka name. Anything else is rejected with
// INVALID_CONFIG naming the key, rather than accepted and ignored.
var topicConfigNames = []string{
	"cleanup.policy", "compression.type", "index.interval.bytes", "max.message.bytes",
	"message.timestamp.type", "min.insync.replicas", "retention.bytes", "retention.ms",
	"segment.bytes", "segment.ms",
}

// topicConfig computes the effective log config from broker defaults and a
// topic's overrides.
func topicConfig(base plog.Config, configs map[string]string) (plog.Config, error) {
	cfg := base
	for k, v := range configs {
		bad := func(why string) error {
			return fmt.Errorf("topic config %s=%q: %s: %w", k, v, why, kerr.InvalidConfig)
		}
		num := func() (int64, error) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, bad("not an integer")
			}
			return n, nil
		}
		switch k {
		case "retention.ms":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < -1 {
				return cfg, bad("must be -1 (forever) or >= 0")
			}
			cfg.RetentionAge = time.Duration(n) * time.Millisecond
			if n == -1 {
				cfg.RetentionAge = -1
			}
		case "retention.bytes":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < -1 {
				return cfg, bad("must be -1 (unlimited) or >= 0")
			}
			cfg.RetentionBytes = n
		case "segment.bytes":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < 14 || n > 1<<31-1 {
				return cfg, bad("must be between 14 and 2147483647")
			}
			cfg.SegmentBytes = n
		case "segment.ms":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < 1 {
				return cfg, bad("must be >= 1")
			}
			cfg.SegmentAge = time.Duration(n) * time.Millisecond
		case "max.message.bytes":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < 0 || n > 1<<31-1 {
				return cfg, bad("must be between 0 and 2147483647")
			}
			cfg.MaxMessageBytes = int(n)
		case "index.interval.bytes":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < 0 || n > 1<<31-1 {
				return cfg, bad("must be between 0 and 2147483647")
			}
			cfg.IndexIntervalBytes = int(n)
		case "min.insync.replicas":
			n, err := num()
			if err != nil {
				return cfg, err
			}
			if n < 1 {
				return cfg, bad("must be >= 1")
			}
		case "cleanup.policy":
			if v != "delete" {
				return cfg, bad(`only "delete" is supported (log compaction is not implemented)`)
			}
		case "compression.type":
			if v != "producer" {
				return cfg, bad(`only "producer" is supported: batches are stored as the producer compressed them`)
			}
		case "message.timestamp.type":
			if v != "CreateTime" {
				return cfg, bad(`only "CreateTime" is supported`)
			}
		default:
			return cfg, fmt.Errorf("unknown topic config %q (supported: %s): %w", k, strings.Join(topicConfigNames, ", "), kerr.InvalidConfig)
		}
	}
	return cfg, nil
}

// effectiveTopicConfigs renders every supported config of a topic with its
// value and whether it was set explicitly on the topic.
func effectiveTopicConfigs(t *topic) []configEntry {
	c := t.cfg
	ms := func(d time.Duration) string {
		if d < 0 {
			return "-1"
		}
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	values := map[string]string{
		"cleanup.policy":         "delete",
		"compression.type":       "producer",
		"index.interval.bytes":   strconv.Itoa(c.IndexIntervalBytes),
		"max.message.bytes":      strconv.Itoa(c.MaxMessageBytes),
		"message.timestamp.type": "CreateTime",
		"min.insync.replicas":    "1",
		"retention.bytes":        strconv.FormatInt(c.RetentionBytes, 10),
		"retention.ms":           ms(c.RetentionAge),
		"segment.bytes":          strconv.FormatInt(c.SegmentBytes, 10),
		"segment.ms":             ms(c.SegmentAge),
	}
	out := make([]configEntry, 0, len(topicConfigNames))
	for _, name := range topicConfigNames {
		v := values[name]
		explicit := false
		if ov, ok := t.configs[name]; ok {
			v, explicit = ov, true
		}
		out = append(out, configEntry{name: name, value: v, explicit: explicit})
	}
	return out
}

type configEntry struct {
	name, value string
	explicit    bool
}
