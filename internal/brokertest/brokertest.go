// Package brokertest starts real Tributary brokers for tests: in-process on a
// random loopback port, or as a separate `tributary broker` process that a
// test can SIGKILL and restart on the same data directory.
package brokertest

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/tributary/tributary/broker"
)

// Start runs a broker in this process on 127.0.0.1:0 with a fresh data
// directory, and closes it when the test ends. modify may adjust options.
// Group rebalances start without the initial delay, as tests want.
func Start(t testing.TB, modify ...func(*broker.Options)) *broker.Server {
	t.Helper()
	opts := broker.DefaultOptions()
	opts.Listen = "127.0.0.1:0"
	opts.DataDir = t.TempDir()
	opts.GroupInitialRebalanceDelay = 0
	opts.Logger = testLogger()
	for _, m := range modify {
		m(&opts)
	}
	s, err := broker.Start(opts)
	if err != nil {
		t.Fatalf("starting broker: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing broker: %v", err)
		}
	})
	return s
}

// Restart closes s and starts a broker on the same data directory and
// address, as a clean restart would.
func Restart(t testing.TB, s *broker.Server, modify ...func(*broker.Options)) *broker.Server {
	t.Helper()
	opts := s.Options()
	if err := s.Close(); err != nil {
		t.Fatalf("closing broker: %v", err)
	}
	opts.Listen = s.Addr().String()
	for _, m := range modify {
		m(&opts)
	}
	ns, err := broker.Start(opts)
	if err != nil {
		t.Fatalf("restarting broker: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// testLogger logs to stderr when TRIBUTARY_TEST_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
