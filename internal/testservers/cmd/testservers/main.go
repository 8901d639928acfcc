// Command testservers starts real InfluxDB, Elasticsearch and Apache Kafka
// servers once for a whole test run (scripts/test.sh), writes their addresses
// as shell exports to a file, and stops them on SIGINT or SIGTERM, or when its
// parent process goes away.
//
//	testservers -env-file FILE
//
// FILE then holds the TRIBUTARY_TEST_* variables that internal/testservers
// reads, so every test package shares these servers instead of starting its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tributary/tributary/internal/testservers"
)

type server struct {
	env     string
	timeout time.Duration
	start   func(context.Context) (*testservers.Server, error)
}

var servers = []server{
	{testservers.EnvInfluxDB, 60 * time.Second, testservers.StartInfluxDB},
	{testservers.EnvElasticsearch, 180 * time.Second, testservers.StartElasticsearch},
	{testservers.EnvKafka, 120 * time.Second, testservers.StartKafka},
}

func main() {
	envFile := flag.String("env-file", "", "write the servers' addresses here as shell exports (required)")
	flag.Parse()
	if *envFile == "" {
		fmt.Fprintln(os.Stderr, "testservers: -env-file is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	started := make([]*testservers.Server, len(servers))
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	begin := time.Now()
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			t0 := time.Now()
			started[i], errs[i] = s.start(sctx)
			if errs[i] == nil {
				fmt.Fprintf(os.Stderr, "testservers: %s at %s (ready in %.1fs)\n", started[i].Name, started[i].Addr, time.Since(t0).Seconds())
			}
		}()
	}
	wg.Wait()
	failed := false
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(os.Stderr, "testservers: %v\n", err)
			failed = true
		}
	}
	if !failed {
		if err := writeEnv(*envFile, started); err != nil {
			fmt.Fprintf(os.Stderr, "testservers: %v\n", err)
			failed = true
		}
	}
	if !failed {
		fmt.Fprintf(os.Stderr, "testservers: all ready in %.1fs\n", time.Since(begin).Seconds())
		waitForEnd(ctx)
	}
	stopAll(started)
	if failed {
		os.Exit(1)
	}
}

// writeEnv writes the exports to a temporary file and renames it into place,
// so a reader never sees half of it.
func writeEnv(path string, started []*testservers.Server) error {
	var b strings.Builder
	for i, s := range servers {
		fmt.Fprintf(&b, "export %s='%s'\n", s.env, started[i].Addr)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitForEnd returns on a signal or once the parent has exited (this process
// is then re-parented), so servers never outlive the test run.
func waitForEnd(ctx context.Context) {
	parent := os.Getppid()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if os.Getppid() != parent {
				return
			}
		}
	}
}

func stopAll(started []*testservers.Server) {
	var wg sync.WaitGroup
	for _, s := range started {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "testservers: %v\n", err)
			}
		}()
	}
	wg.Wait()
}
