package testservers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is one running server process with its own temporary directory.
type Server struct {
	Name string // "InfluxDB", "Elasticsearch", "Kafka"
	Addr string // what tests connect to: a URL, or host:port for Kafka

	cmd     *exec.Cmd
	dir     string
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// stopGrace is how long a server gets to shut down after SIGTERM before its
// process group is killed.
const stopGrace = 15 * time.Second

// Stop ends the server's process group (SIGTERM, then SIGKILL after a grace
// period) and removes its directory.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		pgid := s.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.exited
			s.stopErr = fmt.Errorf("%s did not stop within %v after SIGTERM: killed", s.Name, stopGrace)
		}
		// Children the server left behind in its group, if any.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if err := os.RemoveAll(s.dir); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// LogTail returns the last lines of the server's output, for error messages.
func (s *Server) LogTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(bytes.TrimSpace(data))
}

// startProcess runs name args in dir as the leader of a new process group,
// with its output in dir/server.log (and on stderr when TRIBUTARY_TEST_LOG is
// set). The process is killed if this test process dies (Linux).
func startProcess(serverName, dir string, name string, args ...string) (*Server, error) {
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	var out io.Writer = logFile
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		out = io.MultiWriter(logFile, os.Stderr)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := spawn(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s := &Server{Name: serverName, cmd: cmd, dir: dir, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	return s, nil
}

// spawnRequests go to one goroutine locked to its own OS thread that never
// exits: Pdeathsig fires when the thread that started a child ends, so
// children must not be started from threads the Go runtime may retire.
var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for r := range spawnRequests {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnRequests <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// waitReady calls ready until it succeeds, the context ends, or the process
// exits; on failure the error carries the end of the server's log.
func waitReady(ctx context.Context, s *Server, ready func(ctx context.Context) error) error {
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(attempt)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready (%v); its log:\n%s", s.Name, s.waitErr, s.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last check: %v); its log:\n%s", s.Name, ctx.Err(), last, s.LogTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cacheDir is the repository's .cache directory (TRIBUTARY_CACHE_DIR
// overrides it), found by walking up from the working directory to this
// module's go.mod.
func cacheDir() (string, error) {
	if dir := os.Getenv("TRIBUTARY_CACHE_DIR"); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(mod), "module github.com/tributary/tributary\n") {
			return filepath.Join(dir, ".cache"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no github.com/tributary/tributary go.mod above the working directory: set TRIBUTARY_CACHE_DIR")
		}
		dir = parent
	}
}

// requireFiles returns a NotInstalledError for the first pattern that
// matches no file.
func requireFiles(server string, patterns ...string) error {
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		if len(m) == 0 {
			return &NotInstalledError{Server: server, Missing: p}
		}
	}
	return nil
}

// javaPath finds java, or reports it missing.
func javaPath(server string) (string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", &NotInstalledError{Server: server, Missing: "java (Java 17) on PATH"}
	}
	return java, nil
}

// startFailed stops a half-started server and returns err.
func startFailed(s *Server, err error) (*Server, error) {
	_ = s.Stop()
	return nil, err
}
