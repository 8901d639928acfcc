// Package log stores one Kafka partition as an append-only, segmented log of
// record batches on disk.
//
// This file pins the API the broker's protocol layer builds against. Every
// error that a client should see is returned wrapped around a *kerr.Error
// (github.com/twmb/franz-go/pkg/kerr) so that the protocol layer maps it to a
// Kafka error code with errors.As.
package log

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Config holds the per-topic settings that shape a partition log. Names
// mirror Kafka's topic configs.
type Config struct {
	SegmentBytes       int64         // segment.bytes: roll the active segment past this size (default 1 GiB)
	SegmentAge         time.Duration // segment.ms: roll the active segment when its first batch is this old (default 7 days)
	RetentionAge       time.Duration // retention.ms: delete whole segments whose newest batch is older; <0 keeps forever (default 7 days)
	RetentionBytes     int64         // retention.bytes: delete oldest segments while the partition is larger; <0 unlimited (default)
	IndexIntervalBytes int           // index.interval.bytes: add a sparse index entry every this many bytes (default 4096)
	MaxMessageBytes    int           // max.message.bytes: largest record batch accepted (default 1 MiB)
}

// Defaults that zero SegmentBytes, SegmentAge, IndexIntervalBytes and
// MaxMessageBytes stand for. RetentionAge and RetentionBytes are taken
// literally, as Kafka does: 0 keeps nothing but the active segment, a negative
// value is unlimited; the broker passes its defaults (7 days, -1) explicitly.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentAge         = 7 * 24 * time.Hour
	DefaultIndexIntervalBytes = 4096
	DefaultMaxMessageBytes    = 1 << 20
)

// withDefaults fills zero fields. Segments are capped at 2 GiB because index
// entries hold 32-bit positions (Kafka caps segment.bytes the same way).
func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.SegmentAge <= 0 {
		c.SegmentAge = DefaultSegmentAge
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return c
}

// ErrClosed is returned (wrapped) by every method of a closed log. It wraps
// NOT_LEADER_OR_FOLLOWER so that clients refresh their metadata and retry.
var ErrClosed = fmt.Errorf("partition log closed: %w", kerr.NotLeaderForPartition)

// Options are the non-topic settings of a log.
type Options struct {
	Dir    string           // directory holding this partition's segments (created if missing)
	Config Config           // topic settings; may be changed later with SetConfig
	Logger *slog.Logger     // nil means slog.Default()
	Now    func() time.Time // clock for segment age and retention; nil means time.Now
}

// AppendResult describes where an appended (or de-duplicated) set of batches sits.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record of the first batch
	LastOffset     int64 // offset of the last record of the last batch
	LogStartOffset int64
	Duplicate      bool // the batches were a retry of batches already in the log; nothing was written
}

// Slice is a byte range of a segment file holding whole record batches.
// The protocol layer sends it to the socket (sendfile) or copies it.
// Release must be called once the bytes have been sent; until then the
// file stays open even if retention deletes the segment.
//
// Never use File's shared offset (Read, Seek, io.Copy from File, or Go's
// net sendfile which reads from the current offset): other readers share the
// descriptor. Use ReadBytes, WriteTo, or File.ReadAt / an io.SectionReader.
type Slice struct {
	File *os.File
	Pos  int64
	Len  int64
	// NextOffset is the offset after the last record in the slice (the
	// first batch may begin before the offset asked for).
	NextOffset int64

	ref *sliceRef
}

// sliceRef is one reader's reference on a segment; copies of a Slice share it
// so that Release is idempotent.
type sliceRef struct {
	seg      *segment
	released atomic.Bool
}

// Release lets go of the segment file. Safe on the zero Slice.
// Calling it more than once (also on copies of the Slice) is harmless.
func (s Slice) Release() {
	if s.ref != nil && s.ref.released.CompareAndSwap(false, true) {
		s.ref.seg.release()
	}
}

// ReadBytes appends the slice's bytes to dst (pread; no shared file offset).
func (s Slice) ReadBytes(dst []byte) ([]byte, error) { return s.readBytes(dst) }

// Log is one partition. All methods are safe for concurrent use.
type Log struct {
	dir    string
	logger *slog.Logger
	now    func() time.Time
	cfg    atomic.Pointer[Config]

	mu        sync.RWMutex
	segments  []*segment // oldest first, the last one is active; replaced, never modified in place, on removal
	leo       int64
	logStart  int64
	producers map[int64]*producerState
	hwBase    int64 // base offset of the segment holding the high watermark
	hwPos     int64 // byte position of the high watermark in that segment
	closed    bool
	failed    error // sticky storage failure: the log refuses further work

	// Sealed segments whose index files the flusher still has to fsync (each
	// holds a reference), and whether the directory needs an fsync for files
	// created by rolls.
	pendingSync []*segment
	dirDirty    bool
	snapshots   []int64 // offsets of the snapshot files on disk, oldest first
	maxTsMemo   struct {
		ts, offset int64
		valid      bool
	}

	hw   atomic.Int64
	hwCh atomic.Pointer[chan struct{}]
	dead atomic.Pointer[error] // ErrClosed or the storage failure, for lock-free waiters

	flushKick   chan struct{}
	stop        chan struct{}
	flusherDone chan struct{}
	fsyncs      atomic.Int64 // fsyncs done by the flusher
	beforeSync  func()       // test hook run by the flusher before each fsync
}

// Open opens or creates the partition log in opts.Dir, recovering from a crash:
// the tail of the last segment is scanned batch by batch and truncated at the
// first torn or CRC-failing batch; indexes are rebuilt when missing or
// inconsistent; idempotent-producer state is restored so retries of batches
// written before the restart are still recognised as duplicates.
func Open(opts Options) (*Log, error) { return open(opts, true) }

// Append validates and appends the record batches of one produce request
// partition (one or more v2 batches back to back). Each batch must have magic 2,
// a consistent length and a valid CRC-32C; batches are stored as received except
// that BaseOffset (and PartitionLeaderEpoch) are rewritten, which the CRC does not
// cover. Idempotent batches (producer id >= 0) are checked against the producer's
// state: an exact retry of one of the last 5 batches returns that batch's offsets
// with Duplicate set; a gap or regression in sequence is
// OUT_OF_ORDER_SEQUENCE_NUMBER; a stale epoch is INVALID_PRODUCER_EPOCH.
// Errors: CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, UNSUPPORTED_FOR_MESSAGE_FORMAT,
// INVALID_RECORD, and the sequence errors above; on error nothing is written.
// The data is in the OS page cache when Append returns; see WaitDurable.
//
// Append takes ownership of records for the duration of the call and modifies
// it in place (base offsets and leader epochs); it keeps no reference after
// returning.
func (l *Log) Append(records []byte) (AppendResult, error) { return l.append(records) }

// WaitDurable blocks until every record with offset <= offset is fsynced, or ctx
// ends. Concurrent waiters share one fsync (group commit): a background flusher
// per log fsyncs whatever was appended since its last fsync, then wakes all
// waiters it covered.
//
// It returns ctx.Err() when ctx ends, ErrClosed (wrapped) when the log is
// closed first, and a KAFKA_STORAGE_ERROR if an fsync failed.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error { return l.waitDurable(ctx, offset) }

// HighWatermark is the offset after the last durable (fsynced) record. Readers
// never see records at or above it.
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}

// LogStartOffset is the first offset still stored.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logStart
}

// Read returns whole batches starting with the batch that contains offset, up to
// maxBytes in total but always at least one whole batch if one is available
// (KIP-74), and never past the high watermark. offset == HighWatermark returns an
// empty Slice and no error. offset outside [LogStartOffset, HighWatermark] is
// OFFSET_OUT_OF_RANGE.
//
// The caller must Release the returned Slice (a no-op on the empty one).
func (l *Log) Read(offset int64, maxBytes int32) (Slice, error) { return l.read(offset, maxBytes) }

// HighWatermarkChanged returns a channel closed the next time the high
// watermark moves (for Fetch long polling). Take a new one after it fires.
//
// After Close the returned channel is already closed.
func (l *Log) HighWatermarkChanged() <-chan struct{} { return *l.hwCh.Load() }

// OffsetForTimestamp returns the offset and timestamp of the first record whose
// timestamp is >= ts (record-exact: decompresses the one batch that straddles ts),
// or ok=false when no such record exists below the high watermark.
//
// ts is a real timestamp (ms); the special ListOffsets values -1 (latest),
// -2 (earliest) and -3 (max timestamp) are for the caller to map to
// HighWatermark, LogStartOffset and MaxTimestamp. Records below LogStartOffset
// are not considered.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	return l.offsetForTimestamp(ts)
}

// MaxTimestamp returns the offset and timestamp of the record with the largest
// timestamp (ListOffsets -3), ok=false on an empty log.
//
// It covers every appended batch, also those not yet below the high watermark
// (like Kafka, which does not bound ListOffsets -3 by the high watermark).
func (l *Log) MaxTimestamp() (offset, timestamp int64, ok bool) { return l.maxTimestamp() }

// SetConfig changes the topic settings of an open log.
// Zero SegmentBytes, SegmentAge, IndexIntervalBytes and MaxMessageBytes take
// their defaults; see the Default constants.
func (l *Log) SetConfig(cfg Config) {
	c := cfg.withDefaults()
	l.cfg.Store(&c)
}

// EnforceRetention deletes whole segments that are past retention by age or size
// (never the active segment) and rolls the active segment when it is past
// segment.ms. Returns the number of bytes freed. Called periodically by the broker.
func (l *Log) EnforceRetention() (int64, error) { return l.enforceRetention() }

// DeleteRecordsBefore advances the log start offset (DeleteRecords API); whole
// segments below it are deleted.
//
// offset must lie in [0, HighWatermark] (else OFFSET_OUT_OF_RANGE); one at or
// below LogStartOffset changes nothing, like Kafka. The caller maps
// DeleteRecords' -1 to HighWatermark. The new log start offset is persisted
// before DeleteRecordsBefore returns.
func (l *Log) DeleteRecordsBefore(offset int64) error { return l.deleteRecordsBefore(offset) }

// Size is the total bytes of all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segments {
		n += s.size
	}
	return n
}

// Close flushes (fsync) and closes the log; the flusher goroutine exits.
// It also writes the indexes of the active segment and a producer snapshot so
// that the next Open needs no scan. Close is idempotent; later calls return nil.
// Slices still held by readers stay valid until released.
func (l *Log) Close() error { return l.close() }

// Delete closes the log and removes its directory.
func (l *Log) Delete() error { return l.delete() }
