package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary/tributary/broker/log/logtest"
)

func TestAppendReadAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4096, IndexIntervalBytes: 256}
	l := openLog(t, dir, cfg, nil)

	var want []string
	for i := range 300 {
		n := 1 + i%7
		tag := fmt.Sprintf("b%d", i)
		res := mustAppend(t, l, valueBatch(tag, n, int64(i)))
		if res.BaseOffset != int64(len(want)) || res.LastOffset != int64(len(want)+n-1) {
			t.Fatalf("batch %d: offsets [%d, %d], want [%d, %d]", i, res.BaseOffset, res.LastOffset, len(want), len(want)+n-1)
		}
		for j := range n {
			want = append(want, fmt.Sprintf("%s-%d", tag, j))
		}
	}
	waitDurable(t, l)
	if got := l.HighWatermark(); got != int64(len(want)) {
		t.Fatalf("HighWatermark = %d, want %d", got, len(want))
	}
	if n := len(segmentFiles(t, dir)); n < 5 {
		t.Fatalf("%d segments, want several rolls", n)
	}
	check := func(l *Log) {
		t.Helper()
		for _, maxBytes := range []int32{1, 100, 1000, 5000, 1 << 20} {
			got := checkContiguous(t, readAll(t, l, maxBytes), 0)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("maxBytes %d: read back %d records, want %d", maxBytes, len(got), len(want))
			}
		}
		// Reads starting in the middle of a batch return the whole batch.
		for _, off := range []int64{1, 17, 500, int64(len(want) - 1)} {
			s, err := l.Read(off, 1)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			b, _ := s.ReadBytes(nil)
			s.Release()
			d, err := logtest.Decode(b)
			if err != nil || len(d) != 1 {
				t.Fatalf("Read(%d, 1): %d batches, %v; want exactly one", off, len(d), err)
			}
			first, last := d[0].Batch.FirstOffset, d[0].Batch.FirstOffset+int64(d[0].Batch.LastOffsetDelta)
			if off < first || off > last {
				t.Fatalf("Read(%d) returned batch [%d, %d]", off, first, last)
			}
		}
	}
	check(l)
	size := l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, cfg, nil)
	if l2.LogEndOffset() != int64(len(want)) || l2.HighWatermark() != int64(len(want)) || l2.Size() != size {
		t.Fatalf("after reopen: LEO %d HW %d size %d, want %d %d %d", l2.LogEndOffset(), l2.HighWatermark(), l2.Size(), len(want), len(want), size)
	}
	check(l2)
	res := mustAppend(t, l2, valueBatch("after", 1, 0))
	if res.BaseOffset != int64(len(want)) {
		t.Fatalf("append after reopen at %d, want %d", res.BaseOffset, len(want))
	}
}

func TestReadBounds(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{IndexIntervalBytes: 100}, nil)
	var sizes []int
	for i := range 10 {
		b := valueBatch(fmt.Sprint(i), 3, 0)
		sizes = append(sizes, len(b))
		mustAppend(t, l, b)
	}
	waitDurable(t, l)

	tests := []struct {
		name     string
		offset   int64
		maxBytes int32
		wantLen  int64
		wantErr  *kerr.Error
	}{
		{"at high watermark", 30, 100, 0, nil},
		{"past high watermark", 31, 100, 0, kerr.OffsetOutOfRange},
		{"negative", -1, 100, 0, kerr.OffsetOutOfRange},
		{"maxBytes below one batch", 0, 1, int64(sizes[0]), nil},
		{"maxBytes zero", 4, 0, int64(sizes[1]), nil},
		{"exactly two batches", 3, int32(sizes[1] + sizes[2]), int64(sizes[1] + sizes[2]), nil},
		{"two and a half batches", 3, int32(sizes[1] + sizes[2] + sizes[3]/2), int64(sizes[1] + sizes[2]), nil},
		{"everything", 0, 1 << 20, int64(sumInts(sizes)), nil},
		{"tail", 29, 1 << 20, int64(sizes[9]), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := l.Read(tt.offset, tt.maxBytes)
			defer s.Release()
			if tt.wantErr != nil {
				if !isKerr(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len != tt.wantLen {
				t.Fatalf("Len = %d, want %d", s.Len, tt.wantLen)
			}
		})
	}
}

func sumInts(v []int) (n int) {
	for _, x := range v {
		n += x
	}
	return n
}

// TestReadStopsAtHighWatermark holds the flusher so that appended data stays
// above the high watermark, and checks that readers cannot see it.
func TestReadStopsAtHighWatermark(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	mustAppend(t, l, valueBatch("durable", 2, 0))
	waitDurable(t, l)

	entered, release := make(chan struct{}), make(chan struct{})
	l.mu.Lock()
	l.beforeSync = func() { entered <- struct{}{}; <-release }
	l.mu.Unlock()
	changed := l.HighWatermarkChanged()
	mustAppend(t, l, valueBatch("pending", 2, 0))
	<-entered // the flusher noted the end offset and is about to fsync

	if hw := l.HighWatermark(); hw != 2 {
		t.Fatalf("HighWatermark = %d before the fsync, want 2", hw)
	}
	if _, err := l.Read(2, 1000); err != nil {
		t.Fatalf("Read at HW: %v", err)
	}
	if _, err := l.Read(3, 1000); !isKerr(err, kerr.OffsetOutOfRange) {
		t.Fatalf("Read above HW: err = %v, want OFFSET_OUT_OF_RANGE", err)
	}
	s, err := l.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.ReadBytes(nil)
	s.Release()
	if d, _ := logtest.Decode(b); len(d) != 1 {
		t.Fatalf("Read(0) returned %d batches, want only the durable one", len(d))
	}
	select {
	case <-changed:
		t.Fatal("HighWatermarkChanged fired before the fsync")
	default:
	}
	close(release)
	<-changed
	if hw := l.HighWatermark(); hw != 4 {
		t.Fatalf("HighWatermark = %d after the fsync, want 4", hw)
	}
}

func TestAppendRejects(t *testing.T) {
	good := valueBatch("ok", 3, 1)
	mutate := func(f func(b []byte) []byte) []byte {
		b := bytes.Clone(good)
		return f(b)
	}
	tests := []struct {
		name  string
		input []byte
		want  *kerr.Error
	}{
		{"empty", nil, kerr.InvalidRecord},
		{"short header", good[:40], kerr.CorruptMessage},
		{"tiny", good[:10], kerr.CorruptMessage},
		{"magic 1", mutate(func(b []byte) []byte { b[16] = 1; return b }), kerr.UnsupportedForMessageFormat},
		{"magic 0 short", mutate(func(b []byte) []byte { b[16] = 0; return b[:30] }), kerr.UnsupportedForMessageFormat},
		{"crc mismatch", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }), kerr.CorruptMessage},
		{"crc field flipped", mutate(func(b []byte) []byte { b[18] ^= 1; return b }), kerr.CorruptMessage},
		{"truncated", good[:len(good)-1], kerr.CorruptMessage},
		{"trailing bytes", append(bytes.Clone(good), 1, 2, 3), kerr.CorruptMessage},
		{"length too small", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 10); return b }), kerr.CorruptMessage},
		{"negative length", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffff00); return b }), kerr.CorruptMessage},
		{"count mismatch", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 5); return logtest.FixCRC(b) }), kerr.InvalidRecord},
		{"zero records", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], 0)
			binary.BigEndian.PutUint32(b[23:], 0xffffffff)
			return logtest.FixCRC(b)
		}), kerr.InvalidRecord},
		{"unknown codec", mutate(func(b []byte) []byte { b[22] |= 6; return logtest.FixCRC(b) }), kerr.CorruptMessage},
		{"transactional", logtest.Batch(logtest.BatchOpts{Transactional: true, Producer: &logtest.Producer{ID: 1}}, logtest.Values(0, "x")...), kerr.InvalidRecord},
		{"control", logtest.Batch(logtest.BatchOpts{Control: true}, logtest.Values(0, "x")...), kerr.InvalidRecord},
		{"producer without sequence", logtest.Batch(logtest.BatchOpts{Producer: &logtest.Producer{ID: 1, Seq: -1}}, logtest.Values(0, "x")...), kerr.InvalidRecord},
		{"too large", logtest.Batch(logtest.BatchOpts{}, logtest.Record{Value: make([]byte, 2000)}), kerr.MessageTooLarge},
		{"second batch corrupt", logtest.Concat(good, mutate(func(b []byte) []byte { b[70] ^= 1; return b })), kerr.CorruptMessage},
		{"second batch too large", logtest.Concat(good, logtest.Batch(logtest.BatchOpts{}, logtest.Record{Value: make([]byte, 2000)})), kerr.MessageTooLarge},
	}
	dir := t.TempDir()
	l := openLog(t, dir, Config{MaxMessageBytes: 1024}, nil)
	mustAppend(t, l, valueBatch("first", 2, 0))
	waitDurable(t, l)
	size, leo := l.Size(), l.LogEndOffset()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.input)
			_, err := l.Append(in)
			if !isKerr(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(in, tt.input) {
				t.Fatal("a rejected Append modified its input")
			}
			if l.Size() != size || l.LogEndOffset() != leo {
				t.Fatalf("rejected Append changed the log: size %d->%d, LEO %d->%d", size, l.Size(), leo, l.LogEndOffset())
			}
		})
	}
	if fi, err := os.Stat(lastSegment(t, dir)); err != nil || fi.Size() != size {
		t.Fatalf("segment file size %v (%v), want %d", fi.Size(), err, size)
	}
}

func TestAppendAssignsOffsetsInPlace(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil)
	mustAppend(t, l, valueBatch("a", 5, 0))
	in := logtest.Concat(
		logtest.Batch(logtest.BatchOpts{BaseOffset: 999, LeaderEpoch: 7}, logtest.Values(1, "x", "y")...),
		logtest.Batch(logtest.BatchOpts{BaseOffset: 999, LeaderEpoch: 7, Codec: logtest.Zstd}, logtest.Values(2, "z")...),
	)
	res := mustAppend(t, l, in)
	if res.BaseOffset != 5 || res.LastOffset != 7 || res.Duplicate || res.LogStartOffset != 0 {
		t.Fatalf("AppendResult = %+v", res)
	}
	d, err := logtest.Decode(in)
	if err != nil {
		t.Fatalf("input no longer decodes after Append: %v", err)
	}
	if d[0].Batch.FirstOffset != 5 || d[1].Batch.FirstOffset != 7 || d[0].Batch.PartitionLeaderEpoch != 0 {
		t.Fatalf("input batches rewritten to offsets %d, %d (epoch %d), want 5, 7 (0)",
			d[0].Batch.FirstOffset, d[1].Batch.FirstOffset, d[0].Batch.PartitionLeaderEpoch)
	}
	waitDurable(t, l)
	got := checkContiguous(t, readAll(t, l, 1<<20), 0)
	if fmt.Sprint(got) != "[a-0 a-1 a-2 a-3 a-4 x y z]" {
		t.Fatalf("read %v", got)
	}
}

func TestGroupCommit(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	l.mu.Lock()
	l.beforeSync = func() {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
	}
	l.mu.Unlock()

	mustAppend(t, l, valueBatch("first", 1, 0))
	<-entered // the first fsync is in progress (held)

	const writers = 50
	errs := make(chan error, writers)
	for i := range writers {
		res := mustAppend(t, l, valueBatch(fmt.Sprint(i), 2, 0))
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs <- l.WaitDurable(ctx, res.LastOffset)
		}()
	}
	close(release)
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if hw := l.HighWatermark(); hw != 1+2*writers {
		t.Fatalf("HighWatermark = %d, want %d", hw, 1+2*writers)
	}
	// One fsync for the first append, one shared by all the others.
	if n := l.fsyncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for %d appends, want 2", n, writers+1)
	}
}

func TestWaitDurableEnds(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.WaitDurable(ctx, 100); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitDurable with a canceled ctx = %v", err)
	}
	done := make(chan error)
	go func() { done <- l.WaitDurable(context.Background(), 100) }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) || !isKerr(err, kerr.NotLeaderForPartition) {
		t.Fatalf("WaitDurable across Close = %v, want ErrClosed", err)
	}
}

func TestClosedLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil)
	mustAppend(t, l, valueBatch("a", 1, 0))
	s, err := l.Read(0, 100)
	if err == nil && s.Len == 0 {
		waitDurable(t, l)
		s, err = l.Read(0, 100)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A slice taken before Close stays readable until released.
	if b, err := s.ReadBytes(nil); err != nil || len(b) != int(s.Len) {
		t.Fatalf("ReadBytes after Close: %d bytes, %v", len(b), err)
	}
	s.Release()
	s.Release()
	if _, err := l.Append(valueBatch("b", 1, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := l.Read(0, 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
	select {
	case <-l.HighWatermarkChanged():
	default:
		t.Fatal("HighWatermarkChanged after Close is not closed")
	}
	l2 := openLog(t, dir, Config{}, nil)
	if err := l2.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there after Delete: %v", err)
	}
}

func TestSliceWriteTo(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	for i := range 20 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 10, 0))
	}
	waitDurable(t, l)
	s, err := l.Read(30, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	want, err := s.ReadBytes(nil)
	if err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if n, err := s.WriteTo(&buf); err != nil || n != s.Len || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteTo(buffer) = %d, %v", n, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b := make([]byte, len(want))
		_, err = io.ReadFull(c, b)
		if err != nil {
			b = nil
		}
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Move the shared file offset to prove it is not used.
	if _, err := s.File.Seek(3, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.WriteTo(c); err != nil || n != s.Len {
		t.Fatalf("WriteTo(tcp) = %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatal("bytes sent over TCP differ from ReadBytes")
	}
}

func TestMissingIndexesRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 2048, IndexIntervalBytes: 200}
	l := openLog(t, dir, cfg, nil)
	for i := range 100 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 3, int64(i)))
	}
	waitDurable(t, l)
	want := readAll(t, l, 1000)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage the indexes of every segment in turn: missing, garbage, and a
	// time index cut to a prefix (as a crash before its fsync may leave it).
	for i, seg := range segmentFiles(t, dir) {
		stem := seg[:len(seg)-len(".log")]
		switch i % 3 {
		case 0:
			os.Remove(stem + ".index")
		case 1:
			os.WriteFile(stem+".timeindex", []byte("garbage"), 0o644)
		case 2:
			ti, _ := os.ReadFile(stem + ".timeindex")
			if len(ti) < timeEntrySize {
				t.Fatalf("%s.timeindex has no entries", stem)
			}
			os.WriteFile(stem+".timeindex", ti[:len(ti)-timeEntrySize], 0o644)
		}
	}
	l2 := openLog(t, dir, cfg, nil)
	if off, ts, ok := l2.MaxTimestamp(); !ok || ts != 99 || off != 297 {
		t.Fatalf("MaxTimestamp after rebuilding indexes = %d, %d, %v; want 297, 99", off, ts, ok)
	}
	if got := readAll(t, l2, 1000); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("records differ after rebuilding indexes")
	}
	for ts := range int64(100) {
		off, _, ok, err := l2.OffsetForTimestamp(ts)
		if err != nil || !ok || off != 3*ts {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %v, %v; want %d", ts, off, ok, err, 3*ts)
		}
	}
}
