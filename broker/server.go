// Package broker is Tributary's Kafka-protocol broker: the network layer, one
// handler file per API key, and the topic registry that ties partitions
// (package broker/log) and consumer groups (package broker/group) together.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tributary/tributary/broker/group"
	plog "github.com/tributary/tributary/broker/log"
)

// Options configure a broker. The zero value of a field means its default;
// DefaultOptions lists them.
type Options struct {
	Listen             string // host:port to listen on; port 0 picks a free one
	AdvertisedListener string // host:port told to clients in Metadata; "" = the bound address
	NodeID             int32
	ClusterID          string // "" = derived once and stored in the data directory
	DataDir            string
	AutoCreateTopics   bool
	DefaultPartitions  int32
	TopicDefaults      plog.Config // defaults for topics created without explicit configs

	SocketRequestMaxBytes  int32         // largest request frame accepted (socket.request.max.bytes)
	MessageMaxBytes        int32         // largest record batch accepted (message.max.bytes)
	ConnectionsMaxIdle     time.Duration // close a connection idle this long
	MaxConnections         int
	RetentionCheckInterval time.Duration

	GroupInitialRebalanceDelay time.Duration
	GroupMinSessionTimeout     time.Duration
	GroupMaxSessionTimeout     time.Duration
	OffsetsRetention           time.Duration

	Logger  *slog.Logger
	Metrics *Metrics // nil = a fresh registry-less set (see NewMetrics)
}

// DefaultOptions returns the defaults of every option, matching Kafka's.
func DefaultOptions() Options {
	return Options{
		Listen:            "127.0.0.1:9092",
		DataDir:           "./data",
		AutoCreateTopics:  true,
		DefaultPartitions: 1,
		TopicDefaults: plog.Config{
			SegmentBytes:       1 << 30,
			SegmentAge:         7 * 24 * time.Hour,
			RetentionAge:       7 * 24 * time.Hour,
			RetentionBytes:     -1,
			IndexIntervalBytes: 4096,
			MaxMessageBytes:    1048588,
		},
		SocketRequestMaxBytes:      100 << 20,
		MessageMaxBytes:            1048588,
		ConnectionsMaxIdle:         10 * time.Minute,
		MaxConnections:             1000,
		RetentionCheckInterval:     5 * time.Minute,
		GroupInitialRebalanceDelay: 3 * time.Second,
		GroupMinSessionTimeout:     6 * time.Second,
		GroupMaxSessionTimeout:     30 * time.Minute,
		OffsetsRetention:           7 * 24 * time.Hour,
	}
}

// Server is a running broker.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics

	lock   *dirLock
	ln     net.Listener
	host   string // advertised host
	port   int32  // advertised port
	topics *topicRegistry
	groups *group.Coordinator

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	connMu sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// Start opens the data directory (recovering every partition), binds the
// listener and starts serving. It returns once the broker accepts connections.
func Start(opts Options) (*Server, error) {
	opts = withDefaults(opts)
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "broker")
	metrics := opts.Metrics
	if metrics == nil {
		metrics = NewMetrics()
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir %s: %w", opts.DataDir, err)
	}
	lock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: logger, metrics: metrics, conns: make(map[*conn]struct{}), lock: lock}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	started := false
	defer func() {
		if !started {
			lock.release()
		}
	}()

	s.topics, err = openTopicRegistry(s, opts.DataDir)
	if err != nil {
		return nil, err
	}
	s.groups, err = group.New(group.Options{
		Dir:                   filepath.Join(opts.DataDir, "__groups"),
		Logger:                logger.With("subsystem", "groups"),
		InitialRebalanceDelay: opts.GroupInitialRebalanceDelay,
		MinSessionTimeout:     opts.GroupMinSessionTimeout,
		MaxSessionTimeout:     opts.GroupMaxSessionTimeout,
		OffsetsRetention:      opts.OffsetsRetention,
		PartitionExists:       s.topics.partitionExists,
	})
	if err != nil {
		s.topics.close()
		return nil, fmt.Errorf("broker: groups: %w", err)
	}

	s.ln, err = net.Listen("tcp", opts.Listen)
	if err != nil {
		s.groups.Close()
		s.topics.close()
		return nil, fmt.Errorf("broker: listen %s: %w", opts.Listen, err)
	}
	adv := opts.AdvertisedListener
	if adv == "" {
		adv = s.ln.Addr().String()
	}
	host, port, err := splitHostPort(adv)
	if err != nil {
		s.ln.Close()
		s.groups.Close()
		s.topics.close()
		return nil, fmt.Errorf("broker: advertised listener %q: %w", adv, err)
	}
	s.host, s.port = host, port
	metrics.register(s)
	started = true

	s.wg.Add(2)
	go s.acceptLoop()
	go s.retentionLoop()
	logger.Info("broker started", "listen", s.ln.Addr().String(), "advertised", adv,
		"data_dir", opts.DataDir, "node_id", opts.NodeID, "topics", s.topics.count())
	return s, nil
}

func withDefaults(o Options) Options {
	d := DefaultOptions()
	if o.Listen == "" {
		o.Listen = d.Listen
	}
	if o.DataDir == "" {
		o.DataDir = d.DataDir
	}
	if o.DefaultPartitions <= 0 {
		o.DefaultPartitions = d.DefaultPartitions
	}
	if o.TopicDefaults.SegmentBytes <= 0 {
		o.TopicDefaults.SegmentBytes = d.TopicDefaults.SegmentBytes
	}
	if o.TopicDefaults.SegmentAge <= 0 {
		o.TopicDefaults.SegmentAge = d.TopicDefaults.SegmentAge
	}
	if o.TopicDefaults.RetentionAge == 0 {
		o.TopicDefaults.RetentionAge = d.TopicDefaults.RetentionAge
	}
	if o.TopicDefaults.RetentionBytes == 0 {
		o.TopicDefaults.RetentionBytes = d.TopicDefaults.RetentionBytes
	}
	if o.TopicDefaults.IndexIntervalBytes <= 0 {
		o.TopicDefaults.IndexIntervalBytes = d.TopicDefaults.IndexIntervalBytes
	}
	if o.MessageMaxBytes <= 0 {
		o.MessageMaxBytes = d.MessageMaxBytes
	}
	if o.TopicDefaults.MaxMessageBytes <= 0 {
		o.TopicDefaults.MaxMessageBytes = int(o.MessageMaxBytes)
	}
	if o.SocketRequestMaxBytes <= 0 {
		o.SocketRequestMaxBytes = d.SocketRequestMaxBytes
	}
	if o.ConnectionsMaxIdle <= 0 {
		o.ConnectionsMaxIdle = d.ConnectionsMaxIdle
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = d.MaxConnections
	}
	if o.RetentionCheckInterval <= 0 {
		o.RetentionCheckInterval = d.RetentionCheckInterval
	}
	if o.GroupMinSessionTimeout <= 0 {
		o.GroupMinSessionTimeout = d.GroupMinSessionTimeout
	}
	if o.GroupMaxSessionTimeout <= 0 {
		o.GroupMaxSessionTimeout = d.GroupMaxSessionTimeout
	}
	if o.GroupInitialRebalanceDelay < 0 {
		o.GroupInitialRebalanceDelay = 0
	}
	if o.OffsetsRetention <= 0 {
		o.OffsetsRetention = d.OffsetsRetention
	}
	return o
}

// Addr is the address the broker listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// AdvertisedAddr is host:port as told to clients.
func (s *Server) AdvertisedAddr() string {
	return net.JoinHostPort(s.host, fmt.Sprint(s.port))
}

// Metrics returns the broker's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE, ...): back off, never spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-s.ctx.Done():
				return
			}
		}
		backoff = 0
		s.connMu.Lock()
		if s.closed || len(s.conns) >= s.opts.MaxConnections {
			full := !s.closed
			s.connMu.Unlock()
			if full {
				s.log.Warn("connection refused: max_connections reached", "remote", nc.RemoteAddr().String(), "max_connections", s.opts.MaxConnections)
			}
			nc.Close()
			continue
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.connMu.Unlock()
		s.metrics.connections.Inc()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.connMu.Lock()
			delete(s.conns, c)
			s.connMu.Unlock()
			s.metrics.connections.Dec()
		}()
	}
}

func (s *Server) retentionLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.topics.enforceRetention()
		}
	}
}

// Close stops accepting, closes every connection, and flushes and closes every
// partition and the group coordinator. It is what SIGTERM runs.
func (s *Server) Close() error {
	s.connMu.Lock()
	if s.closed {
		s.connMu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()

	s.ln.Close()
	s.cancel()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	errG := s.groups.Close()
	errT := s.topics.close()
	s.metrics.unregister()
	s.lock.release()
	s.log.Info("broker stopped")
	return errors.Join(errG, errT)
}

func splitHostPort(addr string) (string, int32, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	var port int32
	if _, err := fmt.Sscan(portStr, &port); err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", portStr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// Options returns the options the broker runs with (defaults filled in).
func (s *Server) Options() Options { return s.opts }
