package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
	"github.com/tributary/tributary/agent/inputs/cpu"
	"github.com/tributary/tributary/agent/inputs/disk"
	"github.com/tributary/tributary/agent/inputs/diskio"
	"github.com/tributary/tributary/agent/inputs/net"
	"github.com/tributary/tributary/agent/outputs/kafka"
	"github.com/tributary/tributary/broker"
	"github.com/tributary/tributary/internal/config"

	_ "github.com/tributary/tributary/agent/inputs/all"
)

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tributary agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConfigFlags(fs, map[string]string{
		"brokers":        "agent.brokers",
		"hostname":       "agent.hostname",
		"interval":       "agent.interval",
		"metrics-topic":  "agent.metrics_topic",
		"metrics-listen": "agent.metrics_listen",
		"log-level":      "log.level",
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(stderr, "tributary agent:", err)
		return 2
	}
	logger := newLogger(cfg, stderr).With("component", "agent")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)

	a, host, err := newAgent(cfg, logger)
	if err != nil {
		logger.Error("agent failed to start", "err", err)
		return 1
	}
	stopMetrics := serveMetrics(cfg.Agent.MetricsListen, a.MetricsHandler(), logger)
	defer stopMetrics()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	// The one line scripts and tests wait for.
	fmt.Fprintf(stdout, "tributary agent started: host %s, brokers %s, topic %s\n",
		host, strings.Join(cfg.Agent.Brokers, ","), cfg.Agent.MetricsTopic)

	select {
	case s := <-sig:
		logger.Info("shutting down: delivering buffered points", "signal", s.String(), "flush_timeout", cfg.Agent.FlushTimeout.Std())
		cancel()
		err = <-done
	case err = <-done:
		cancel()
	}
	if err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// newAgent builds the agent of the config's agent section, with its Kafka
// output. It returns the host name used.
func newAgent(cfg *config.Config, logger *slog.Logger) (*agent.Agent, string, error) {
	ac := cfg.Agent
	host := ac.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, "", fmt.Errorf("host name: %w (set agent.hostname)", err)
		}
		host = h
	}
	ins, err := agentInputs(ac.Inputs)
	if err != nil {
		return nil, "", err
	}
	out, err := kafka.New(kafka.Options{
		Brokers:     ac.Brokers,
		Topic:       ac.MetricsTopic,
		Compression: ac.Compression,
		BatchBytes:  int(ac.BatchMaxBytes),
		Logger:      logger,
	})
	if err != nil {
		return nil, "", err
	}
	a, err := agent.New(agent.Options{
		Hostname:        host,
		Interval:        ac.Interval.Std(),
		RoundInterval:   ac.RoundInterval,
		Jitter:          ac.Jitter.Std(),
		Tags:            ac.Tags,
		Inputs:          ins,
		Output:          out,
		BatchMaxRecords: ac.BatchMaxRecords,
		BatchMaxBytes:   int(ac.BatchMaxBytes),
		BatchTimeout:    ac.BatchTimeout.Std(),
		RecordMaxBytes:  int(ac.RecordMaxBytes),
		BufferLimit:     int(ac.BufferLimit),
		FlushTimeout:    ac.FlushTimeout.Std(),
		Logger:          logger,
	})
	if err != nil {
		out.Close()
		return nil, "", err
	}
	return a, host, nil
}

// agentInputs creates the enabled inputs from the registry and applies
// their settings.
func agentInputs(c config.AgentInputs) ([]agent.InputConfig, error) {
	common := []struct {
		name string
		c    config.InputCommon
	}{
		{"cpu", c.CPU.InputCommon}, {"mem", c.Mem}, {"swap", c.Swap}, {"disk", c.Disk.InputCommon},
		{"diskio", c.DiskIO.InputCommon}, {"net", c.Net.InputCommon}, {"system", c.System},
		{"processes", c.Processes}, {"kernel", c.Kernel},
	}
	var out []agent.InputConfig
	for _, ic := range common {
		if !ic.c.Enabled {
			continue
		}
		create, ok := inputs.Inputs[ic.name]
		if !ok {
			return nil, fmt.Errorf("agent: input %s is not built in", ic.name)
		}
		in := create()
		switch p := in.(type) {
		case *cpu.CPU:
			p.PerCPU, p.TotalCPU = c.CPU.PerCPU, c.CPU.TotalCPU
			p.CollectCPUTime, p.ReportActive = c.CPU.CollectCPUTime, c.CPU.ReportActive
		case *disk.Disk:
			p.MountPoints, p.IgnoreFS = c.Disk.MountPoints, c.Disk.IgnoreFS
		case *diskio.DiskIO:
			p.Devices = c.DiskIO.Devices
		case *net.Net:
			p.Interfaces = c.Net.Interfaces
		}
		out = append(out, agent.InputConfig{Name: ic.name, Input: in, Interval: ic.c.Interval.Std(), Tags: ic.c.Tags})
	}
	return out, nil
}

// runAll is "tributary run": the broker and, pointed at it, the agent of this
// host, in one process on the config's (or embedded) defaults.
func runAll(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tributary run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConfigFlags(fs, map[string]string{
		"listen":               "broker.listen",
		"data-dir":             "broker.data_dir",
		"metrics-listen":       "broker.metrics_listen",
		"agent-metrics-listen": "agent.metrics_listen",
		"hostname":             "agent.hostname",
		"interval":             "agent.interval",
		"log-level":            "log.level",
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(stderr, "tributary run:", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)

	srv, err := broker.Start(brokerOptions(cfg, logger))
	if err != nil {
		logger.Error("broker failed to start", "err", err)
		return 1
	}
	stopBrokerMetrics := serveMetrics(cfg.Broker.MetricsListen, srv.Metrics().Handler(), logger)
	fmt.Fprintf(stdout, "tributary broker listening on %s\n", srv.Addr())

	// The agent produces to the embedded broker, wherever agent.brokers points.
	cfg.Agent.Brokers = []string{srv.Addr().String()}
	agentLog := logger.With("component", "agent")
	a, host, err := newAgent(cfg, agentLog)
	code := 0
	if err != nil {
		logger.Error("agent failed to start", "err", err)
		code = 1
	} else {
		stopAgentMetrics := serveMetrics(cfg.Agent.MetricsListen, a.MetricsHandler(), agentLog)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		fmt.Fprintf(stdout, "tributary agent started: host %s, brokers %s, topic %s\n", host, srv.Addr(), cfg.Agent.MetricsTopic)
		select {
		case s := <-sig:
			logger.Info("shutting down", "signal", s.String())
			cancel()
			err = <-done
		case err = <-done:
			cancel()
		}
		stopAgentMetrics()
		if err != nil {
			logger.Error("agent shutdown", "err", err)
			code = 1
		}
	}
	// The agent has delivered what it could into the broker: now close it.
	stopBrokerMetrics()
	if err := srv.Close(); err != nil {
		logger.Error("broker shutdown", "err", err)
		code = 1
	}
	return code
}
