package log

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary/tributary/broker/log/logtest"
)

func idemBatch(pid int64, epoch int16, seq int32, n int) []byte {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf("p%d-e%d-s%d", pid, epoch, int64(seq)+int64(i))
	}
	return logtest.Batch(logtest.BatchOpts{Producer: &logtest.Producer{ID: pid, Epoch: epoch, Seq: seq}}, logtest.Values(0, vals...)...)
}

func TestSeqAdd(t *testing.T) {
	tests := []struct{ seq, delta, want int32 }{
		{0, 0, 0},
		{5, 3, 8},
		{math.MaxInt32, 0, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 1, 3, 1},
		{math.MaxInt32 - 2, 2, math.MaxInt32},
	}
	for _, tt := range tests {
		if got := seqAdd(tt.seq, tt.delta); got != tt.want {
			t.Errorf("seqAdd(%d, %d) = %d, want %d", tt.seq, tt.delta, got, tt.want)
		}
	}
}

// step is one append of an idempotence scenario.
type step struct {
	pid     int64
	epoch   int16
	seq     int32
	n       int
	wantErr *kerr.Error
	dupOf   int // 1-based index of the earlier step this retries; 0 for a new batch
}

func TestIdempotence(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{pid: 1, seq: 0, n: 3}, {pid: 1, seq: 3, n: 2}, {pid: 1, seq: 5, n: 1}}},
		{"retry of the last batch", []step{{pid: 1, seq: 0, n: 3}, {pid: 1, seq: 3, n: 2}, {pid: 1, seq: 3, n: 2, dupOf: 2}}},
		{"retry of an older batch", []step{
			{pid: 1, seq: 0, n: 1}, {pid: 1, seq: 1, n: 1}, {pid: 1, seq: 2, n: 1}, {pid: 1, seq: 3, n: 1}, {pid: 1, seq: 4, n: 1},
			{pid: 1, seq: 0, n: 1, dupOf: 1}, {pid: 1, seq: 2, n: 1, dupOf: 3},
		}},
		{"retry older than the last five", []step{
			{pid: 1, seq: 0, n: 1}, {pid: 1, seq: 1, n: 1}, {pid: 1, seq: 2, n: 1}, {pid: 1, seq: 3, n: 1}, {pid: 1, seq: 4, n: 1}, {pid: 1, seq: 5, n: 1},
			{pid: 1, seq: 0, n: 1, wantErr: kerr.OutOfOrderSequenceNumber},
		}},
		{"gap", []step{{pid: 1, seq: 0, n: 3}, {pid: 1, seq: 4, n: 1, wantErr: kerr.OutOfOrderSequenceNumber}}},
		{"overlap that is no exact retry", []step{{pid: 1, seq: 0, n: 3}, {pid: 1, seq: 1, n: 3, wantErr: kerr.OutOfOrderSequenceNumber}}},
		{"stale epoch", []step{{pid: 1, epoch: 2, seq: 0, n: 1}, {pid: 1, epoch: 1, seq: 1, n: 1, wantErr: kerr.InvalidProducerEpoch}}},
		{"new epoch at zero", []step{{pid: 1, epoch: 1, seq: 0, n: 2}, {pid: 1, epoch: 2, seq: 0, n: 1}, {pid: 1, epoch: 2, seq: 1, n: 1}}},
		{"new epoch not at zero", []step{{pid: 1, epoch: 1, seq: 0, n: 2}, {pid: 1, epoch: 2, seq: 2, n: 1, wantErr: kerr.OutOfOrderSequenceNumber}}},
		{"old epoch's batches forgotten", []step{{pid: 1, epoch: 1, seq: 0, n: 2}, {pid: 1, epoch: 2, seq: 0, n: 2}, {pid: 1, epoch: 2, seq: 0, n: 2, dupOf: 2}}},
		{"unknown producer mid-stream accepted", []step{{pid: 7, seq: 42, n: 1}, {pid: 7, seq: 43, n: 1}}},
		{"producers independent", []step{{pid: 1, seq: 0, n: 1}, {pid: 2, seq: 0, n: 1}, {pid: 1, seq: 1, n: 1}, {pid: 2, seq: 0, n: 1, dupOf: 2}}},
		{"sequence wraps", []step{{pid: 1, seq: math.MaxInt32 - 1, n: 3}, {pid: 1, seq: 1, n: 1}, {pid: 1, seq: math.MaxInt32 - 1, n: 3, dupOf: 1}}},
		{"after wrap sequence 0 is a gap", []step{{pid: 1, seq: math.MaxInt32 - 1, n: 3}, {pid: 1, seq: 0, n: 1, wantErr: kerr.OutOfOrderSequenceNumber}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Config{}, nil)
			runSteps(t, l, tt.steps)
		})
	}
}

func runSteps(t *testing.T, l *Log, steps []step) []AppendResult {
	t.Helper()
	results := make([]AppendResult, len(steps))
	for i, s := range steps {
		leo, size := l.LogEndOffset(), l.Size()
		res, err := l.Append(idemBatch(s.pid, s.epoch, s.seq, s.n))
		results[i] = res
		switch {
		case s.wantErr != nil:
			if !isKerr(err, s.wantErr) {
				t.Fatalf("step %d: err = %v, want %v", i+1, err, s.wantErr)
			}
		case err != nil:
			t.Fatalf("step %d: %v", i+1, err)
		case s.dupOf > 0:
			orig := results[s.dupOf-1]
			if !res.Duplicate || res.BaseOffset != orig.BaseOffset || res.LastOffset != orig.LastOffset {
				t.Fatalf("step %d: %+v, want a duplicate of step %d %+v", i+1, res, s.dupOf, orig)
			}
		default:
			if res.Duplicate || res.BaseOffset != leo || res.LastOffset != leo+int64(s.n)-1 {
				t.Fatalf("step %d: %+v, want new batch at %d", i+1, res, leo)
			}
		}
		if (s.wantErr != nil || s.dupOf > 0) && (l.LogEndOffset() != leo || l.Size() != size) {
			t.Fatalf("step %d: log changed by a rejected or duplicate batch", i+1)
		}
	}
	return results
}

func TestIdempotenceWithinOneRequest(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	mustAppend(t, l, idemBatch(1, 0, 0, 2))
	// Two batches of one producer in one request chain on each other.
	res := mustAppend(t, l, logtest.Concat(idemBatch(1, 0, 2, 2), idemBatch(1, 0, 4, 1)))
	if res.BaseOffset != 2 || res.LastOffset != 4 {
		t.Fatalf("%+v", res)
	}
	if _, err := l.Append(logtest.Concat(idemBatch(1, 0, 5, 1), idemBatch(1, 0, 7, 1))); !isKerr(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("gap inside a request: %v", err)
	}
	if _, err := l.Append(logtest.Concat(idemBatch(1, 0, 5, 1), idemBatch(1, 0, 5, 1))); !isKerr(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("repeat inside a request: %v", err)
	}
	if l.LogEndOffset() != 5 {
		t.Fatalf("LEO = %d after rejected requests, want 5", l.LogEndOffset())
	}
}

// TestIdempotenceSurvivesRestart checks duplicate detection after a clean
// reopen, after a crash with a roll snapshot, and after a crash with no
// snapshot at all.
func TestIdempotenceSurvivesRestart(t *testing.T) {
	build := func(t *testing.T, cfg Config) (string, *Log, []AppendResult) {
		dir := t.TempDir()
		l := openLog(t, dir, cfg, nil)
		var res []AppendResult
		for i := range 12 {
			res = append(res, mustAppend(t, l, idemBatch(5, 3, int32(2*i), 2)))
			mustAppend(t, l, valueBatch("noise", 3, 0))
		}
		waitDurable(t, l)
		return dir, l, res
	}
	check := func(t *testing.T, l *Log, res []AppendResult) {
		t.Helper()
		for i := 7; i < 12; i++ {
			got, err := l.Append(idemBatch(5, 3, int32(2*i), 2))
			if err != nil || !got.Duplicate || got.BaseOffset != res[i].BaseOffset || got.LastOffset != res[i].LastOffset {
				t.Fatalf("retry of batch %d after restart: %+v, %v; want duplicate of %+v", i, got, err, res[i])
			}
		}
		if _, err := l.Append(idemBatch(5, 3, 30, 1)); !isKerr(err, kerr.OutOfOrderSequenceNumber) {
			t.Fatalf("gap after restart: %v", err)
		}
		if _, err := l.Append(idemBatch(5, 2, 24, 1)); !isKerr(err, kerr.InvalidProducerEpoch) {
			t.Fatalf("stale epoch after restart: %v", err)
		}
		if _, err := l.Append(idemBatch(5, 3, 24, 1)); err != nil {
			t.Fatalf("next batch after restart: %v", err)
		}
	}
	t.Run("clean close", func(t *testing.T) {
		dir, l, res := build(t, Config{})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, openLog(t, dir, Config{}, nil), res)
	})
	t.Run("crash with roll snapshots", func(t *testing.T) {
		dir, _, res := build(t, Config{SegmentBytes: 600})
		check(t, openLog(t, crashImage(t, dir), Config{SegmentBytes: 600}, nil), res)
	})
	t.Run("crash without snapshot", func(t *testing.T) {
		dir, _, res := build(t, Config{SegmentBytes: 600})
		img := crashImage(t, dir)
		snaps, _ := listOffsets(img, snapshotSuffix)
		if len(snaps) == 0 {
			t.Fatal("no roll snapshots written")
		}
		for _, off := range snaps {
			if err := os.Remove(segmentPath(img, off, snapshotSuffix)); err != nil {
				t.Fatal(err)
			}
		}
		check(t, openLog(t, img, Config{SegmentBytes: 600}, nil), res)
	})
}

func TestSnapshotRoundTrip(t *testing.T) {
	p := &producerState{epoch: 4}
	for i := range 7 {
		p.push(producerBatch{firstSeq: int32(i), lastSeq: int32(i), baseOffset: int64(10 * i), lastOffset: int64(10*i + 1)})
	}
	s := &snapshot{offset: 99, cleanBase: 50, cleanSize: 1234, producers: map[int64]*producerState{9: p, 3: {epoch: 1}}}
	b := encodeSnapshot(s)
	got, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.offset != 99 || got.cleanBase != 50 || got.cleanSize != 1234 || len(got.producers) != 2 {
		t.Fatalf("decoded %+v", got)
	}
	g := got.producers[9]
	if g.epoch != 4 || g.n != 5 || g.last().firstSeq != 6 || g.batches[0].firstSeq != 2 {
		t.Fatalf("producer 9 decoded as %+v", g)
	}
	b[len(b)/2] ^= 1
	if _, err := decodeSnapshot(b); err == nil {
		t.Fatal("corrupt snapshot decoded")
	}
}
