package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// writeBatches appends n batches of 1..4 records to a fresh log and returns
// its directory, the live log, each batch's start position in the (single)
// segment and the records per batch.
func writeBatches(t *testing.T, n int, cfg Config) (string, *Log, []int64, []int) {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, cfg, nil)
	var pos []int64
	var counts []int
	var at int64
	for i := range n {
		b := valueBatch(fmt.Sprintf("v%d", i), 1+i%4, int64(1000+i))
		pos = append(pos, at)
		counts = append(counts, 1+i%4)
		at += int64(len(b))
		mustAppend(t, l, b)
	}
	waitDurable(t, l)
	return dir, l, append(pos, at), counts
}

func TestCrashRecovery(t *testing.T) {
	const n = 20
	tests := []struct {
		name    string
		clean   bool                               // image after Close instead of a crash image
		corrupt func(f []byte, pos []int64) []byte // returns the new file contents
		keep    int                                // batches that must survive
	}{
		{"intact", false, func(f []byte, _ []int64) []byte { return f }, n},
		{"intact clean", true, func(f []byte, _ []int64) []byte { return f }, n},
		{"garbage appended", false, func(f []byte, _ []int64) []byte {
			return append(f, []byte("not a batch at all, just some bytes that go on and on for a while")...)
		}, n},
		{"garbage appended after clean close", true, func(f []byte, _ []int64) []byte { return append(f, bytes.Repeat([]byte{0xab}, 100)...) }, n},
		{"zeros appended", false, func(f []byte, _ []int64) []byte { return append(f, make([]byte, 4096)...) }, n},
		{"cut mid-batch", false, func(f []byte, p []int64) []byte { return f[:p[12]+(p[13]-p[12])/2] }, 12},
		{"cut mid-header", false, func(f []byte, p []int64) []byte { return f[:p[7]+20] }, 7},
		{"cut after clean close", true, func(f []byte, p []int64) []byte { return f[:p[15]+70] }, 15},
		{"cut at batch boundary", false, func(f []byte, p []int64) []byte { return f[:p[9]] }, 9},
		{"flip in records", false, func(f []byte, p []int64) []byte { f[p[5]+65] ^= 0x10; return f }, 5},
		{"flip in header crc", false, func(f []byte, p []int64) []byte { f[p[3]+18] ^= 1; return f }, 3},
		{"flip in attributes", false, func(f []byte, p []int64) []byte { f[p[17]+22] ^= 4; return f }, 17},
		{"flip in base offset", false, func(f []byte, p []int64) []byte { f[p[4]+7] ^= 1; return f }, 4},
		{"flip in batch length", false, func(f []byte, p []int64) []byte { f[p[8]+11] ^= 2; return f }, 8},
		{"flip in magic", false, func(f []byte, p []int64) []byte { f[p[0]+16] = 1; return f }, 0},
		{"huge length", false, func(f []byte, p []int64) []byte { binary.BigEndian.PutUint32(f[p[6]+8:], 0x7fffffff); return f }, 6},
		{"valid batch with a stale offset appended", false, func(f []byte, p []int64) []byte { return append(f, f[p[2]:p[3]]...) }, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, l, pos, counts := writeBatches(t, n, Config{IndexIntervalBytes: 150})
			want := readAll(t, l, 1<<20)
			if tt.clean {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			img := crashImage(t, dir)
			seg := lastSegment(t, img)
			f, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tt.corrupt(f, pos), 0o644); err != nil {
				t.Fatal(err)
			}

			l2 := openLog(t, img, Config{IndexIntervalBytes: 150}, nil)
			records := 0
			for _, c := range counts[:tt.keep] {
				records += c
			}
			if l2.LogEndOffset() != int64(records) || l2.HighWatermark() != int64(records) {
				t.Fatalf("LEO %d HW %d after recovery, want %d", l2.LogEndOffset(), l2.HighWatermark(), records)
			}
			if fi, _ := os.Stat(seg); fi.Size() != pos[tt.keep] {
				t.Fatalf("segment is %d bytes after recovery, want %d", fi.Size(), pos[tt.keep])
			}
			got := readAll(t, l2, 1000)
			if fmt.Sprint(got) != fmt.Sprint(want[:records]) {
				t.Fatalf("recovered records differ from the valid prefix")
			}
			res := mustAppend(t, l2, valueBatch("new", 2, 5000))
			if res.BaseOffset != int64(records) {
				t.Fatalf("append after recovery at %d, want %d", res.BaseOffset, records)
			}
			waitDurable(t, l2)
			if got := readAll(t, l2, 1<<20); len(got) != records+2 || got[records].Value != "new-0" {
				t.Fatalf("after appending: %d records", len(got))
			}
		})
	}
}

// TestSealedSegmentDamage corrupts a sealed segment whose indexes are lost:
// it is rescanned, truncated, and the segments after it are dropped.
func TestSealedSegmentDamage(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1500, IndexIntervalBytes: 100}
	l := openLog(t, dir, cfg, nil)
	for i := range 60 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 2, int64(i)))
	}
	waitDurable(t, l)
	want := readAll(t, l, 1<<20)
	img := crashImage(t, dir)
	segs := segmentFiles(t, img)
	if len(segs) < 4 {
		t.Fatalf("%d segments, want at least 4", len(segs))
	}
	victim := segs[1]
	f, _ := os.ReadFile(victim)
	cut := len(f) - 30
	os.WriteFile(victim, f[:cut], 0o644)
	os.Remove(victim[:len(victim)-len(".log")] + ".index")

	l2 := openLog(t, img, cfg, nil)
	if n := len(segmentFiles(t, img)); n != 2 {
		t.Fatalf("%d segments after recovery, want 2", n)
	}
	got := readAll(t, l2, 1<<20)
	if len(got) == 0 || len(got) >= len(want) || fmt.Sprint(got) != fmt.Sprint(want[:len(got)]) {
		t.Fatalf("recovered %d of %d records, want a strict prefix", len(got), len(want))
	}
	if l2.LogEndOffset() != int64(len(got)) {
		t.Fatalf("LEO %d, want %d", l2.LogEndOffset(), len(got))
	}
	if res := mustAppend(t, l2, valueBatch("new", 1, 0)); res.BaseOffset != int64(len(got)) {
		t.Fatalf("append at %d, want %d", res.BaseOffset, len(got))
	}
}

func TestStrayFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil)
	mustAppend(t, l, valueBatch("a", 1, 0))
	l.Close()
	for _, name := range []string{"00000000000000000500.index", "00000000000000000500.timeindex", "x.snapshot.tmp"} {
		os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644)
	}
	l2 := openLog(t, dir, Config{}, nil)
	for _, name := range []string{"00000000000000000500.index", "x.snapshot.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s not removed", name)
		}
	}
	if l2.LogEndOffset() != 1 {
		t.Fatalf("LEO %d", l2.LogEndOffset())
	}
}
