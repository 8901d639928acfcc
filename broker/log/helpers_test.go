package log

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary/tributary/broker/log/logtest"
)

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Ms() int64 { return c.Now().UnixMilli() }

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// openLog opens a log in dir and closes it at the end of the test.
func openLog(t testing.TB, dir string, cfg Config, clk *clock) *Log {
	t.Helper()
	opts := Options{Dir: dir, Config: cfg, Logger: quietLogger}
	if clk != nil {
		opts.Now = clk.Now
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, batch []byte) AppendResult {
	t.Helper()
	res, err := l.Append(batch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// waitDurable waits until everything appended so far is below the high watermark.
func waitDurable(t testing.TB, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitDurable(ctx, l.LogEndOffset()-1); err != nil {
		t.Fatalf("WaitDurable: %v", err)
	}
}

// valueBatch builds an uncompressed batch whose record values are
// "<tag>-<i>" for i in [0, n), all at timestamp ts.
func valueBatch(tag string, n int, ts int64) []byte {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf("%s-%d", tag, i)
	}
	return logtest.Batch(logtest.BatchOpts{}, logtest.Values(ts, vals...)...)
}

// readAll reads every record below the high watermark with the given maxBytes
// per Read and returns (offset, value) pairs in order.
func readAll(t testing.TB, l *Log, maxBytes int32) []offsetValue {
	t.Helper()
	var out []offsetValue
	next := l.LogStartOffset()
	for next < l.HighWatermark() {
		s, err := l.Read(next, maxBytes)
		if err != nil {
			t.Fatalf("Read(%d): %v", next, err)
		}
		if s.Len == 0 {
			t.Fatalf("Read(%d) below HW %d returned nothing", next, l.HighWatermark())
		}
		b, err := s.ReadBytes(nil)
		s.Release()
		if err != nil {
			t.Fatalf("ReadBytes: %v", err)
		}
		decoded, err := logtest.Decode(b)
		if err != nil {
			t.Fatalf("Read(%d) returned undecodable data: %v", next, err)
		}
		for _, d := range decoded {
			if d.Batch.PartitionLeaderEpoch != 0 {
				t.Fatalf("batch %d has leader epoch %d", d.Batch.FirstOffset, d.Batch.PartitionLeaderEpoch)
			}
			for _, r := range d.Records {
				off := d.Batch.FirstOffset + int64(r.OffsetDelta)
				if off >= next {
					out = append(out, offsetValue{off, string(r.Value)})
				}
			}
			next = d.Batch.FirstOffset + int64(d.Batch.LastOffsetDelta) + 1
		}
	}
	return out
}

type offsetValue struct {
	Offset int64
	Value  string
}

// checkContiguous asserts that records run from first without gaps and
// returns the values.
func checkContiguous(t testing.TB, got []offsetValue, first int64) []string {
	t.Helper()
	vals := make([]string, len(got))
	for i, ov := range got {
		if ov.Offset != first+int64(i) {
			t.Fatalf("record %d has offset %d, want %d", i, ov.Offset, first+int64(i))
		}
		vals[i] = ov.Value
	}
	return vals
}

// isKerr reports whether err wraps the Kafka error want.
func isKerr(err error, want *kerr.Error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke == want
}

// crashImage copies the files of a live log to a new directory, as a crash
// at this instant would leave them (without the effects of a clean Close).
func crashImage(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// segmentFiles lists the .log files in dir.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lastSegment returns the path of the newest .log file in dir.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	files := segmentFiles(t, dir)
	if len(files) == 0 {
		t.Fatalf("no segments in %s", dir)
	}
	return files[len(files)-1]
}

// withoutFsync turns fsync into a no-op for the rest of the test (fuzz
// targets: crash images are taken from the page cache anyway).
func withoutFsync(t testing.TB) {
	saved := fsync
	fsync = func(*os.File) error { return nil }
	t.Cleanup(func() { fsync = saved })
}
