package log

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestRetentionByAge(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1000, RetentionAge: time.Hour, RetentionBytes: -1}
	l := openLog(t, dir, cfg, clk)
	// Ten minutes of batches per step; each segment holds a few batches.
	for i := range 40 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 3, clk.Ms()))
		if i%4 == 3 {
			clk.Advance(10 * time.Minute)
		}
	}
	waitDurable(t, l)
	segsBefore := len(segmentFiles(t, dir))
	sizeBefore := l.Size()
	freed, err := l.EnforceRetention()
	if err != nil {
		t.Fatal(err)
	}
	if freed <= 0 || l.Size() != sizeBefore-freed {
		t.Fatalf("freed %d bytes, size %d -> %d", freed, sizeBefore, l.Size())
	}
	if len(segmentFiles(t, dir)) >= segsBefore {
		t.Fatal("no segment deleted")
	}
	start := l.LogStartOffset()
	if start == 0 {
		t.Fatal("log start offset did not move")
	}
	// Everything left is at most an hour older than now.
	got := readAll(t, l, 1<<20)
	if got[0].Offset != start {
		t.Fatalf("first record %d, log start %d", got[0].Offset, start)
	}
	for _, s := range l.segments[:len(l.segments)-1] {
		if clk.Ms()-s.maxTs > time.Hour.Milliseconds() {
			t.Fatalf("segment %d with max timestamp %d kept", s.base, s.maxTs)
		}
	}
	if _, err := l.Read(start-1, 100); !isKerr(err, kerr.OffsetOutOfRange) {
		t.Fatalf("Read below log start: %v", err)
	}
	if freed, _ := l.EnforceRetention(); freed != 0 {
		t.Fatalf("second pass freed %d", freed)
	}

	// Everything expires: the active segment is rolled and deleted too.
	clk.Advance(2 * time.Hour)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	if l.LogStartOffset() != leo || l.Size() != 0 || len(segmentFiles(t, dir)) != 1 {
		t.Fatalf("after full expiry: start %d LEO %d size %d segments %d", l.LogStartOffset(), leo, l.Size(), len(segmentFiles(t, dir)))
	}
	if s, err := l.Read(leo, 100); err != nil || s.Len != 0 {
		t.Fatalf("Read at the end of an emptied log: %v, %d", err, s.Len)
	}
	// An empty log stays as it is.
	clk.Advance(2 * time.Hour)
	if freed, err := l.EnforceRetention(); err != nil || freed != 0 {
		t.Fatalf("retention on an empty log: %d, %v", freed, err)
	}
	if res := mustAppend(t, l, valueBatch("again", 1, clk.Ms())); res.BaseOffset != leo {
		t.Fatalf("append at %d, want %d", res.BaseOffset, leo)
	}
	l.Close()
	l2 := openLog(t, dir, cfg, clk)
	if l2.LogStartOffset() != leo || l2.LogEndOffset() != leo+1 {
		t.Fatalf("after reopen: start %d LEO %d, want %d %d", l2.LogStartOffset(), l2.LogEndOffset(), leo, leo+1)
	}
}

func TestRetentionByBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1000, RetentionBytes: 3000, RetentionAge: -1}
	l := openLog(t, dir, cfg, nil)
	for i := range 60 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 3, 0))
	}
	waitDurable(t, l)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	// Like Kafka: the oldest segment goes while the rest still holds retention.bytes.
	if size, first := l.Size(), l.segments[0].size; size-first >= 3000 || size < 3000 {
		t.Fatalf("size %d (oldest segment %d) after retention, want the smallest size >= 3000", size, first)
	}
	got := readAll(t, l, 1<<20)
	checkContiguous(t, got, l.LogStartOffset())
	if got[len(got)-1].Offset != l.LogEndOffset()-1 {
		t.Fatal("newest records lost")
	}
}

func TestSegmentAgeRoll(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	cfg := Config{SegmentAge: time.Hour, RetentionAge: -1, RetentionBytes: -1}
	l := openLog(t, dir, cfg, clk)
	mustAppend(t, l, valueBatch("a", 1, clk.Ms()))
	clk.Advance(30 * time.Minute)
	mustAppend(t, l, valueBatch("b", 1, clk.Ms()))
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("%d segments before segment.ms, want 1", n)
	}
	clk.Advance(31 * time.Minute)
	mustAppend(t, l, valueBatch("c", 1, clk.Ms()))
	if n := len(segmentFiles(t, dir)); n != 2 {
		t.Fatalf("%d segments after segment.ms, want 2", n)
	}
	// EnforceRetention rolls an old active segment too.
	clk.Advance(61 * time.Minute)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir)); n != 3 {
		t.Fatalf("%d segments after EnforceRetention past segment.ms, want 3", n)
	}
	// A producer with a stale clock does not make every append roll.
	mustAppend(t, l, valueBatch("old1", 1, clk.Ms()-100*time.Hour.Milliseconds()))
	mustAppend(t, l, valueBatch("old2", 1, clk.Ms()-100*time.Hour.Milliseconds()))
	if n := len(segmentFiles(t, dir)); n != 3 {
		t.Fatalf("%d segments after stale-timestamp appends, want 3", n)
	}
	waitDurable(t, l)
	if got := checkContiguous(t, readAll(t, l, 1<<20), 0); fmt.Sprint(got) != "[a-0 b-0 c-0 old1-0 old2-0]" {
		t.Fatalf("read %v", got)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1000, RetentionAge: -1}
	l := openLog(t, dir, cfg, nil)
	for i := range 40 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 2, 0))
	}
	waitDurable(t, l)
	segs := len(segmentFiles(t, dir))
	if err := l.DeleteRecordsBefore(81); !isKerr(err, kerr.OffsetOutOfRange) {
		t.Fatalf("past HW: %v", err)
	}
	if err := l.DeleteRecordsBefore(33); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 33 || len(segmentFiles(t, dir)) >= segs {
		t.Fatalf("start %d, segments %d -> %d", l.LogStartOffset(), segs, len(segmentFiles(t, dir)))
	}
	if _, err := l.Read(32, 100); !isKerr(err, kerr.OffsetOutOfRange) {
		t.Fatalf("Read below the new start: %v", err)
	}
	if err := l.DeleteRecordsBefore(10); err != nil || l.LogStartOffset() != 33 {
		t.Fatalf("below start: %v, start %d; want a no-op", err, l.LogStartOffset())
	}
	if err := l.DeleteRecordsBefore(-2); !isKerr(err, kerr.OffsetOutOfRange) {
		t.Fatalf("negative: %v", err)
	}
	got := readAll(t, l, 1<<20)
	if got[0].Offset != 33 || got[0].Value != "16-1" {
		t.Fatalf("first record after DeleteRecords: %+v", got[0])
	}
	l.Close()
	l = openLog(t, crashImage(t, dir), cfg, nil)
	if l.LogStartOffset() != 33 {
		t.Fatalf("log start %d after reopen, want 33", l.LogStartOffset())
	}
	// Deleting everything rolls the active segment away.
	if err := l.DeleteRecordsBefore(80); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 80 || l.Size() != 0 {
		t.Fatalf("start %d size %d", l.LogStartOffset(), l.Size())
	}
	if res := mustAppend(t, l, valueBatch("x", 1, 0)); res.BaseOffset != 80 || res.LogStartOffset != 80 {
		t.Fatalf("%+v", res)
	}
}

// TestReadAcrossDeletion keeps a Slice across the deletion of its segment.
func TestReadAcrossDeletion(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1000, RetentionAge: -1, RetentionBytes: 1}
	l := openLog(t, dir, cfg, nil)
	for i := range 30 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 2, 0))
	}
	waitDurable(t, l)
	s, err := l.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	seg := s.ref.seg
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() == 0 {
		t.Fatal("first segment not deleted")
	}
	b, err := s.ReadBytes(nil)
	if err != nil || int64(len(b)) != s.Len {
		t.Fatalf("ReadBytes after deletion: %d bytes, %v", len(b), err)
	}
	if seg.refs.Load() != 1 {
		t.Fatalf("refs = %d with one reader left, want 1", seg.refs.Load())
	}
	s.Release()
	if seg.refs.Load() != 0 {
		t.Fatalf("refs = %d after release", seg.refs.Load())
	}
	if _, err := s.File.Stat(); err == nil {
		t.Fatal("file still open after the last release")
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		in, want Config
	}{
		{Config{}, Config{SegmentBytes: DefaultSegmentBytes, SegmentAge: DefaultSegmentAge, IndexIntervalBytes: DefaultIndexIntervalBytes, MaxMessageBytes: DefaultMaxMessageBytes}},
		{Config{SegmentBytes: 1 << 40, RetentionAge: -1, RetentionBytes: -1}, Config{SegmentBytes: 1<<31 - 1, SegmentAge: DefaultSegmentAge, RetentionAge: -1, RetentionBytes: -1, IndexIntervalBytes: DefaultIndexIntervalBytes, MaxMessageBytes: DefaultMaxMessageBytes}},
		{Config{SegmentBytes: 14, SegmentAge: time.Millisecond, RetentionAge: time.Hour, RetentionBytes: 5, IndexIntervalBytes: 1, MaxMessageBytes: 100}, Config{SegmentBytes: 14, SegmentAge: time.Millisecond, RetentionAge: time.Hour, RetentionBytes: 5, IndexIntervalBytes: 1, MaxMessageBytes: 100}},
	}
	for _, tt := range tests {
		if got := tt.in.withDefaults(); got != tt.want {
			t.Errorf("%+v.withDefaults() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestZeroRetention: retention.ms=0 keeps nothing once a millisecond passed.
func TestZeroRetention(t *testing.T) {
	clk := newClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 1000, RetentionBytes: -1}, clk)
	for i := range 20 {
		mustAppend(t, l, valueBatch(fmt.Sprint(i), 2, clk.Ms()))
	}
	clk.Advance(time.Millisecond)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 0 || l.LogStartOffset() != 40 || l.HighWatermark() != 40 {
		t.Fatalf("size %d start %d HW %d, want an empty log at 40", l.Size(), l.LogStartOffset(), l.HighWatermark())
	}
}
