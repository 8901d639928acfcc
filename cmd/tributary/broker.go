package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/tributary/tributary/broker"
	plog "github.com/tributary/tributary/broker/log"
	"github.com/tributary/tributary/internal/config"
)

// configFlags are the flags every long-running command shares: a config file
// and overrides of its most common keys, each named after its YAML key.
type configFlags struct {
	fs        *flag.FlagSet
	file      string
	overrides map[string]*string // YAML path → flag value
	flagOf    map[string]string  // YAML path → flag name
	order     []string
}

func addConfigFlags(fs *flag.FlagSet, keys map[string]string) *configFlags {
	cf := &configFlags{fs: fs, overrides: make(map[string]*string), flagOf: make(map[string]string)}
	fs.StringVar(&cf.file, "c", "", "config file (YAML); defaults apply to every key it does not set")
	for name, path := range keys {
		cf.overrides[path] = fs.String(name, "", "overrides "+path)
		cf.flagOf[path] = name
		cf.order = append(cf.order, path)
	}
	sort.Strings(cf.order)
	return cf
}

// load reads the config file (or the defaults) and applies the flags given.
func (cf *configFlags) load() (*config.Config, error) {
	cfg := config.Default()
	if cf.file != "" {
		var err error
		if cfg, err = config.Load(cf.file); err != nil {
			return nil, err
		}
	}
	// Only flags actually given override the file; an explicit empty value
	// counts (e.g. --metrics-listen "" disables metrics).
	given := make(map[string]bool)
	cf.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, path := range cf.order {
		if given[cf.flagOf[path]] {
			if err := cfg.Set(path, *cf.overrides[path]); err != nil {
				return nil, fmt.Errorf("flag --%s: %w", cf.flagOf[path], err)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// brokerOptions maps the config file's broker section onto broker.Options.
func brokerOptions(cfg *config.Config, logger *slog.Logger) broker.Options {
	b := cfg.Broker
	return broker.Options{
		Listen:             b.Listen,
		AdvertisedListener: b.AdvertisedListener,
		NodeID:             b.NodeID,
		DataDir:            b.DataDir,
		AutoCreateTopics:   b.AutoCreateTopics,
		DefaultPartitions:  b.DefaultPartitions,
		TopicDefaults: plog.Config{
			SegmentBytes:       int64(b.TopicDefaults.SegmentBytes),
			SegmentAge:         b.TopicDefaults.SegmentTime.Std(),
			RetentionAge:       b.TopicDefaults.RetentionTime.Std(),
			RetentionBytes:     int64(b.TopicDefaults.RetentionBytes),
			IndexIntervalBytes: int(b.TopicDefaults.IndexIntervalBytes),
			MaxMessageBytes:    int(b.MessageMaxBytes),
		},
		SocketRequestMaxBytes:      int32(b.SocketRequestMaxBytes),
		MessageMaxBytes:            int32(b.MessageMaxBytes),
		ConnectionsMaxIdle:         b.ConnectionsMaxIdle.Std(),
		MaxConnections:             int(b.MaxConnections),
		RetentionCheckInterval:     b.RetentionCheckInterval.Std(),
		GroupInitialRebalanceDelay: b.Groups.InitialRebalanceDelay.Std(),
		GroupMinSessionTimeout:     b.Groups.MinSessionTimeout.Std(),
		GroupMaxSessionTimeout:     b.Groups.MaxSessionTimeout.Std(),
		OffsetsRetention:           b.Groups.OffsetsRetention.Std(),
		Logger:                     logger,
	}
}

func runBroker(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tributary broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConfigFlags(fs, map[string]string{
		"listen":              "broker.listen",
		"advertised-listener": "broker.advertised_listener",
		"data-dir":            "broker.data_dir",
		"node-id":             "broker.node_id",
		"metrics-listen":      "broker.metrics_listen",
		"log-level":           "log.level",
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(stderr, "tributary broker:", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	// Catch signals before announcing readiness: a SIGTERM right after the
	// "listening" line must still shut down cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	srv, err := broker.Start(brokerOptions(cfg, logger))
	if err != nil {
		logger.Error("broker failed to start", "err", err)
		return 1
	}
	stopMetrics := serveMetrics(cfg.Broker.MetricsListen, srv.Metrics().Handler(), logger)
	// The one line scripts and tests wait for: where to connect.
	fmt.Fprintf(stdout, "tributary broker listening on %s\n", srv.Addr())

	s := <-sig
	logger.Info("shutting down", "signal", s.String())
	stopMetrics()
	if err := srv.Close(); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// serveMetrics serves Prometheus /metrics on addr ("" disables) and returns a stop func.
func serveMetrics(addr string, h http.Handler, logger *slog.Logger) func() {
	if addr == "" {
		return func() {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("metrics listener disabled", "addr", addr, "err", err)
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	// Profiles for operators ("go tool pprof http://ADDR/debug/pprof/profile");
	// the listener binds loopback unless configured otherwise.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String(), "paths", "/metrics /debug/pprof/")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}
