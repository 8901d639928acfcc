package brokertest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listeningPrefix is the line `tributary broker` prints on stdout once it
// accepts connections (cmd/tributary/broker.go).
const listeningPrefix = "tributary broker listening on "

// Deadlines of the process helpers. Start-up includes crash recovery of every
// partition, hence the generous one.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	killTimeout  = 10 * time.Second
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BuildBinary builds ./cmd/tributary once per test process, into a temporary
// directory, and returns the path of the binary. Call RemoveBinary from
// TestMain after m.Run to delete it.
func BuildBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			build.err = err
			return
		}
		build.dir, err = os.MkdirTemp("", "tributary-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(build.dir, "tributary")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/tributary")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/tributary in %s: %w\n%s", root, err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("building the tributary binary: %v", build.err)
	}
	return build.path
}

// RemoveBinary deletes the binary BuildBinary built, if any. It is meant for
// TestMain, after m.Run.
func RemoveBinary() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// repoRoot finds the module root from this source file's directory, so tests
// of any package can build the binary.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("brokertest: cannot locate source file")
	}
	cmd := exec.Command("go", "env", "GOMOD")
	cmd.Dir = filepath.Dir(file)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("brokertest: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("brokertest: %s is not inside a module", filepath.Dir(file))
	}
	return filepath.Dir(gomod), nil
}

// Process is a `tributary broker` running as a child process.
type Process struct {
	t       testing.TB
	cmd     *exec.Cmd
	addr    string
	dataDir string
	stderr  *syncBuffer
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // valid after exited is closed
}

// StartProcess runs `tributary broker` on 127.0.0.1:0 with dataDir, waits
// until it prints the address it listens on and returns. extraArgs are
// appended to the command line (e.g. "-c", configFile); flags given there win
// over the ones set here. The metrics listener is put on a free port so that
// several brokers can run at once. The process is killed when the test ends
// if it still runs, and its stderr is logged if the test failed.
func StartProcess(t testing.TB, dataDir string, extraArgs ...string) *Process {
	t.Helper()
	bin := BuildBinary(t)
	args := append([]string{"broker",
		"--listen", "127.0.0.1:0",
		"--data-dir", dataDir,
		// "" would mean "flag not given" to the command; port 0 avoids
		// clashes on the default port instead.
		"--metrics-listen", "127.0.0.1:0",
	}, extraArgs...)
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		args = append(args, "--log-level", "debug")
	}
	p := &Process{
		t:       t,
		cmd:     exec.Command(bin, args...),
		dataDir: dataDir,
		stderr:  &syncBuffer{echo: os.Getenv("TRIBUTARY_TEST_LOG") != ""},
		exited:  make(chan struct{}),
	}
	addrCh := make(chan string, 1)
	p.cmd.Stdout = &lineWriter{fn: func(line string) {
		if addr, ok := strings.CutPrefix(line, listeningPrefix); ok {
			select {
			case addrCh <- strings.TrimSpace(addr):
			default:
			}
		}
	}}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("stderr of broker process %d (data dir %s):\n%s", p.cmd.Process.Pid, dataDir, p.stderr.String())
		}
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case p.addr = <-addrCh:
		return p
	case <-p.exited:
		t.Fatalf("broker process exited before listening: %v\nstderr:\n%s", p.waitErr, p.stderr.String())
	case <-timer.C:
		t.Fatalf("broker process did not print %q within %v\nstderr:\n%s", listeningPrefix, startTimeout, p.stderr.String())
	}
	return nil
}

// Addr is the host:port the process listens on.
func (p *Process) Addr() string { return p.addr }

// DataDir is the data directory the process was started with.
func (p *Process) DataDir() string { return p.dataDir }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stderr returns everything the process wrote to stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Kill sends SIGKILL and waits for the process to be gone: nothing it did not
// write to the OS before is kept, exactly as in a crash.
func (p *Process) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("killing broker process %d: %v", p.cmd.Process.Pid, err)
	}
	p.wait(killTimeout, "SIGKILL")
}

// Stop sends SIGTERM, waits for the process to exit and fails the test unless
// it exited with status 0.
func (p *Process) Stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("stopping broker process %d: %v", p.cmd.Process.Pid, err)
	}
	p.wait(stopTimeout, "SIGTERM")
	if p.waitErr != nil {
		p.t.Errorf("broker process %d did not exit cleanly after SIGTERM: %v\nstderr:\n%s", p.cmd.Process.Pid, p.waitErr, p.stderr.String())
	}
}

func (p *Process) wait(timeout time.Duration, sig string) {
	p.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.t.Fatalf("broker process %d still running %v after %s\nstderr:\n%s", p.cmd.Process.Pid, timeout, sig, p.stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and the
// test reading it, optionally echoing to os.Stderr.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	echo bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.echo {
		os.Stderr.Write(p)
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWriter calls fn with every complete line written to it.
type lineWriter struct {
	partial []byte
	fn      func(line string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}
