package log

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

func (l *Log) append(records []byte) (AppendResult, error) {
	cfg := l.cfg.Load()
	// CRC and framing checks need no lock: concurrent producers verify in parallel.
	if _, _, err := validateBatches(records, cfg.MaxMessageBytes); err != nil {
		return AppendResult{}, fmt.Errorf("partition %s: %w", l.dir, err)
	}
	nowMs := l.now().UnixMilli()

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return AppendResult{}, err
	}
	dup, err := l.checkProducersLocked(records)
	if err != nil {
		return AppendResult{}, fmt.Errorf("partition %s: %w", l.dir, err)
	}
	if dup != nil {
		return AppendResult{BaseOffset: dup.baseOffset, LastOffset: dup.lastOffset, LogStartOffset: l.logStart, Duplicate: true}, nil
	}

	first := l.leo
	next := first
	for pos := 0; pos < len(records); {
		next += int64(int32(binary.BigEndian.Uint32(records[pos+offLastOffsetDelta:]))) + 1
		pos += int(int32(binary.BigEndian.Uint32(records[pos+offBatchLength:]))) + batchLengthPrefix
	}
	last := next - 1

	cfg = l.cfg.Load()
	seg := l.active()
	if seg.size > 0 && l.shouldRoll(seg, cfg, int64(len(records)), last, nowMs) {
		if err := l.rollLocked(nowMs); err != nil {
			return AppendResult{}, err
		}
		seg = l.active()
	}

	// Assign offsets in the caller's buffer; the CRC does not cover these fields.
	off := first
	for pos := 0; pos < len(records); {
		putInt64(records[pos+offBaseOffset:], off)
		binary.BigEndian.PutUint32(records[pos+offLeaderEpoch:], 0)
		off += int64(int32(binary.BigEndian.Uint32(records[pos+offLastOffsetDelta:]))) + 1
		pos += int(int32(binary.BigEndian.Uint32(records[pos+offBatchLength:]))) + batchLengthPrefix
	}

	start := seg.size
	if _, err := seg.log.WriteAt(records, start); err != nil {
		werr := fmt.Errorf("partition %s: write segment %d at byte %d: %w", l.dir, seg.base, start, err)
		if terr := seg.log.Truncate(start); terr != nil {
			return AppendResult{}, l.failLocked(fmt.Errorf("%w; undo failed: %w", werr, terr))
		}
		return AppendResult{}, storageError(werr)
	}

	interval := int64(cfg.IndexIntervalBytes)
	for pos := int64(0); pos < int64(len(records)); {
		h := parseHeader(records[pos:])
		seg.noteBatch(start+pos, &h, interval)
		l.noteProducerLocked(&h)
		pos += h.size
	}
	l.leo = next

	select {
	case l.flushKick <- struct{}{}:
	default:
	}
	return AppendResult{BaseOffset: first, LastOffset: last, LogStartOffset: l.logStart}, nil
}

// checkProducersLocked checks every idempotent batch against its producer's
// state (or against an earlier batch of the same producer in this request). It
// returns the earlier batch when the request is a retry.
func (l *Log) checkProducersLocked(records []byte) (*producerBatch, error) {
	for pos := int64(0); pos < int64(len(records)); {
		h := parseHeader(records[pos:])
		if h.idempotent() {
			if prev, ok := previousOfProducer(records[:pos], h.producerID); ok {
				if err := checkFollows(&prev, &h); err != nil {
					return nil, fmt.Errorf("batch at byte %d: %w", pos, err)
				}
			} else if p := l.producers[h.producerID]; p != nil {
				dup, err := p.check(h.producerID, h.producerEpoch, h.baseSequence, h.lastSequence())
				if err != nil {
					return nil, fmt.Errorf("batch at byte %d: %w", pos, err)
				}
				if dup != nil {
					// Like Kafka: a retried batch makes the whole request a retry.
					return dup, nil
				}
			}
		}
		pos += h.size
	}
	return nil, nil
}

// previousOfProducer finds the last batch of producer pid in records.
func previousOfProducer(records []byte, pid int64) (batchHeader, bool) {
	var prev batchHeader
	found := false
	for pos := int64(0); pos < int64(len(records)); {
		h := parseHeader(records[pos:])
		if h.producerID == pid {
			prev, found = h, true
		}
		pos += h.size
	}
	return prev, found
}

// checkFollows checks that h may follow prev from the same producer within one request.
func checkFollows(prev, h *batchHeader) error {
	p := producerState{epoch: prev.producerEpoch}
	p.record(prev)
	dup, err := p.check(h.producerID, h.producerEpoch, h.baseSequence, h.lastSequence())
	if err == nil && dup != nil {
		err = fmt.Errorf("producer %d: sequence %d repeated within one request: %w",
			h.producerID, h.baseSequence, kerr.OutOfOrderSequenceNumber)
	}
	return err
}

func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// shouldRoll reports whether appending n bytes ending at lastOffset must go to a new segment.
func (l *Log) shouldRoll(seg *segment, cfg *Config, n, lastOffset, nowMs int64) bool {
	return seg.size+n > cfg.SegmentBytes ||
		nowMs-seg.ageRefMs() > cfg.SegmentAge.Milliseconds() ||
		lastOffset-seg.base > math.MaxInt32
}

// rollLocked seals the active segment and starts a new one at the log end
// offset. The sealed segment's data is fsynced here, so the high watermark
// moves to its end; the fsyncs of its index files and of the directory (for
// the new file) are left to the flusher, which does them before the high
// watermark passes any data of the new segment. Keeping them off the append
// path matters with small segments.
func (l *Log) rollLocked(nowMs int64) error {
	old := l.active()
	if err := old.seal(false); err != nil {
		return l.failLocked(fmt.Errorf("roll segment %d: %w", old.base, err))
	}
	seg, err := createSegment(l.dir, l.leo, nowMs)
	if err != nil {
		return l.failLocked(err)
	}
	l.segments = append(l.segments, seg)
	old.acquire()
	l.pendingSync = append(l.pendingSync, old)
	l.dirDirty = true
	l.advanceHWLocked(old.next, seg.base, 0)
	if err := l.writeSnapshotLocked(-1, 0, false); err != nil {
		// Not fatal: Open rebuilds producer state from an older snapshot and the log.
		l.logger.Warn("producer snapshot at roll failed", "offset", l.leo, "err", err)
	}
	l.logger.Debug("rolled segment", "sealed", old.base, "sealed_bytes", old.size, "new", seg.base)
	return nil
}

// advanceHWLocked moves the high watermark forward (never back) and wakes
// everyone waiting on it.
func (l *Log) advanceHWLocked(hw, segBase, pos int64) {
	if hw <= l.hw.Load() {
		return
	}
	l.hwBase, l.hwPos = segBase, pos
	l.hw.Store(hw)
	l.notifyLocked()
}

// notifyLocked closes the current high watermark channel and installs a new one.
func (l *Log) notifyLocked() {
	ch := make(chan struct{})
	close(*l.hwCh.Swap(&ch))
}

// failLocked makes the log refuse further work after a storage failure it
// cannot undo (failed fsync, failed truncate of a partial write): after a
// failed fsync the page cache may have dropped the data, so retrying would lie.
func (l *Log) failLocked(err error) error {
	err = storageError(fmt.Errorf("partition %s: %w", l.dir, err))
	if l.failed == nil {
		l.failed = err
		l.dead.Store(&err)
		l.logger.Error("partition log failed; it refuses further writes and reads", "err", err)
		l.notifyLocked()
	}
	return err
}

func (l *Log) usableLocked() error {
	if l.closed {
		return fmt.Errorf("partition %s: %w", l.dir, ErrClosed)
	}
	return l.failed
}
