package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/agent/inputs/cpu"
	"github.com/tributary/tributary/agent/inputs/disk"
	"github.com/tributary/tributary/agent/inputs/net"
	"github.com/tributary/tributary/internal/brokertest"
	"github.com/tributary/tributary/internal/config"
)

func TestAgentInputsFromConfig(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte(`
agent:
  inputs:
    cpu: {percpu: false, report_active: true, tags: {team: a}, interval: 1m}
    swap: {enabled: false}
    disk: {mount_points: [/]}
    net: {interfaces: [lo]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := agentInputs(cfg.Agent.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ic := range ins {
		names = append(names, ic.Name)
		switch p := ic.Input.(type) {
		case *cpu.CPU:
			if p.PerCPU || !p.TotalCPU || !p.ReportActive || ic.Interval != time.Minute || ic.Tags["team"] != "a" {
				t.Errorf("cpu: %+v %+v", p, ic)
			}
		case *disk.Disk:
			if len(p.MountPoints) != 1 || len(p.IgnoreFS) == 0 {
				t.Errorf("disk: %+v", p)
			}
		case *net.Net:
			if len(p.Interfaces) != 1 || p.Interfaces[0] != "lo" {
				t.Errorf("net: %+v", p)
			}
		}
	}
	if got := strings.Join(names, ","); got != "cpu,mem,disk,diskio,net,system,processes,kernel" {
		t.Errorf("inputs %s", got)
	}
}

// syncBuffer is a buffer safe for concurrent use that closes ready when
// the text written contains readyText.
type syncBuffer struct {
	mu        sync.Mutex
	b         bytes.Buffer
	readyText string
	ready     chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.ready != nil && strings.Contains(s.b.String(), s.readyText) {
		close(s.ready)
		s.ready = nil
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAgentCommand runs "tributary agent" in-process against a broker,
// waits for points in topic metrics, and stops it with SIGTERM.
func TestAgentCommand(t *testing.T) {
	srv := brokertest.Start(t)
	addr := srv.Addr().String()
	ready := make(chan struct{})
	stdout := syncBuffer{readyText: "tributary agent started", ready: ready}
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"agent", "--brokers", addr, "--interval", "200ms", "--hostname", "cmd-test",
			"--metrics-listen", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	select {
	case <-ready:
	case c := <-code:
		t.Fatalf("agent exited with %d: %s", c, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no readiness line; stderr:\n%s", stderr.String())
	}

	if r := firstMetricsRecord(t, addr, &stderr); string(r.Key) != "cmd-test" || !bytes.Contains(r.Value, []byte("host=cmd-test")) {
		t.Errorf("record key %q value %q", r.Key, r.Value)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("agent did not stop on SIGTERM; stderr:\n%s", stderr.String())
	}
}

func TestAgentCommandBadConfig(t *testing.T) {
	var stdout, stderr syncBuffer
	if c := run([]string{"agent", "--brokers", "kafka"}, &stdout, &stderr); c != 2 {
		t.Errorf("exit code %d, want 2", c)
	}
	if !strings.Contains(stderr.String(), "agent.brokers[0]") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// TestRunAll runs "tributary run" in-process: the embedded broker receives
// the agent's points, and SIGTERM stops both cleanly.
func TestRunAll(t *testing.T) {
	ready := make(chan struct{})
	stdout := syncBuffer{readyText: "tributary agent started", ready: ready}
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"run", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--metrics-listen", "",
			"--agent-metrics-listen", "", "--interval", "200ms", "--hostname", "all-in-one"}, &stdout, &stderr)
	}()
	select {
	case <-ready:
	case c := <-code:
		t.Fatalf("run exited with %d: %s", c, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no readiness line; stdout %q stderr:\n%s", stdout.String(), stderr.String())
	}
	var addr string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if a, ok := strings.CutPrefix(line, "tributary broker listening on "); ok {
			addr = a
		}
	}
	if addr == "" {
		t.Fatalf("no broker address in %q", stdout.String())
	}
	if r := firstMetricsRecord(t, addr, &stderr); string(r.Key) != "all-in-one" {
		t.Errorf("record key %q", r.Key)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not stop on SIGTERM; stderr:\n%s", stderr.String())
	}
}

// firstMetricsRecord reads the first record of the metrics topic at addr,
// failing the test (with the command's stderr) if none arrives in 15 s.
func firstMetricsRecord(t *testing.T, addr string, stderr fmt.Stringer) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("metrics"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	fs := cl.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil {
		t.Fatalf("no record in metrics: %v; stderr:\n%s", err, stderr.String())
	}
	return fs.Records()[0]
}
