package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// fsync is (*os.File).Sync. Fuzz tests swap it for a no-op to run at memory
// speed; nothing else may change it.
var fsync = (*os.File).Sync

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// segment is one file of the log holding batches with offsets from base.
//
// Fields below "guarded by Log.mu" change only with the log's write lock held;
// a sealed segment's fields no longer change at all. The file itself is shared
// by readers through refs: the log holds one reference while the segment is
// part of it and every in-flight Slice holds one more; the files are closed
// when the count drops to zero, so retention can unlink a segment under a
// reader.
type segment struct {
	dir  string
	base int64
	log  *os.File

	// Guarded by Log.mu.
	size        int64 // bytes in the .log file
	next        int64 // offset after the last batch
	maxTs       int64 // largest batch max timestamp, -1 when none
	maxTsOffset int64 // last offset of the batch that set maxTs
	firstTs     int64 // max timestamp of the first batch, -1 when empty
	ageFloorMs  int64 // creation wall clock for segments made by this process, MinInt64 otherwise
	openedMs    int64 // wall clock when created or opened; age reference when batches carry no timestamp
	sinceIndex  int64 // bytes appended since the last offset index entry
	lastTimeTs  int64 // timestamp of the last time index entry, -1 when none
	offIdx      index
	timeIdx     index
	sealed      bool

	refs atomic.Int32
}

func newSegment(dir string, base int64, f *os.File, nowMs int64) *segment {
	s := &segment{
		dir:         dir,
		base:        base,
		log:         f,
		next:        base,
		maxTs:       -1,
		maxTsOffset: -1,
		firstTs:     -1,
		ageFloorMs:  math.MinInt64,
		openedMs:    nowMs,
		lastTimeTs:  -1,
		offIdx:      index{width: offsetEntrySize},
		timeIdx:     index{width: timeEntrySize},
	}
	s.refs.Store(1)
	return s
}

// createSegment makes a new, empty segment file; the caller fsyncs the directory.
func createSegment(dir string, base int64, nowMs int64) (*segment, error) {
	f, err := os.OpenFile(segmentPath(dir, base, logSuffix), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	s := newSegment(dir, base, f, nowMs)
	s.ageFloorMs = nowMs
	return s, nil
}

func (s *segment) path(suffix string) string { return segmentPath(s.dir, s.base, suffix) }

func (s *segment) acquire() { s.refs.Add(1) }

// release drops one reference and closes the files with the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.log.Close()
		if s.offIdx.file != nil {
			s.offIdx.file.Close()
		}
		if s.timeIdx.file != nil {
			s.timeIdx.file.Close()
		}
	}
}

// noteBatch updates the in-memory state after the batch h was written at pos.
func (s *segment) noteBatch(pos int64, h *batchHeader, interval int64) {
	indexed := false
	if pos > 0 && s.sinceIndex >= interval {
		e := offsetEntry(h.baseOffset-s.base, pos)
		s.offIdx.add(e[:])
		s.sinceIndex = 0
		indexed = true
	}
	s.sinceIndex += h.size
	if pos == 0 {
		s.firstTs = h.maxTimestamp
	}
	if h.maxTimestamp > s.maxTs {
		s.maxTs = h.maxTimestamp
		s.maxTsOffset = h.lastOffset()
	}
	if indexed {
		s.maybeAddTimeEntry()
	}
	s.next = h.lastOffset() + 1
	s.size = pos + h.size
}

func (s *segment) maybeAddTimeEntry() {
	if s.maxTs > s.lastTimeTs {
		e := timeEntry(s.maxTs, s.maxTsOffset-s.base)
		s.timeIdx.add(e[:])
		s.lastTimeTs = s.maxTs
	}
}

// finishTimeIndex appends the closing time entry (max timestamp, last offset)
// before the indexes are written at seal or Close. Open trusts a time index
// only if it ends with this entry: index files are not fsynced on the append
// path, and a crash may leave a prefix of one.
func (s *segment) finishTimeIndex() {
	if s.next == s.base {
		return
	}
	last := s.next - 1 - s.base
	if n := len(s.timeIdx.mem); n > 0 && getInt64(s.timeIdx.mem[n-timeEntrySize:]) == s.maxTs &&
		int64(binary.BigEndian.Uint32(s.timeIdx.mem[n-4:])) == last {
		return
	}
	e := timeEntry(s.maxTs, last)
	s.timeIdx.add(e[:])
	s.lastTimeTs = s.maxTs
}

// ageRefMs is the instant segment.ms counts from: the first batch's max
// timestamp like Kafka, but never earlier than the segment's creation by this
// process, so producers with stale clocks cannot make it roll on every append.
func (s *segment) ageRefMs() int64 {
	ref := s.firstTs
	if ref < 0 {
		ref = s.openedMs
	}
	return max(ref, s.ageFloorMs)
}

// largestTimestamp is what retention.ms compares: the newest batch timestamp,
// or the file's modification time when batches carry none.
func (s *segment) largestTimestamp() int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	if fi, err := s.log.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return math.MaxInt64 // unknown: keep it
}

// writeIndexFiles writes the in-memory indexes to disk, fsyncing them if sync.
func (s *segment) writeIndexFiles(sync bool) error {
	if err := writeFile(s.path(indexSuffix), s.offIdx.mem, sync); err != nil {
		return err
	}
	return writeFile(s.path(timeIndexSuffix), s.timeIdx.mem, sync)
}

// seal fsyncs a segment that stops being active, writes its indexes and
// switches them to file-backed lookups. Unless syncIndexes, the index files
// are left for the caller to fsync (the flusher does it off the append path:
// Open rebuilds indexes that did not make it to disk). The caller fsyncs the
// directory.
func (s *segment) seal(syncIndexes bool) error {
	if err := fsync(s.log); err != nil {
		return fmt.Errorf("fsync %s: %w", s.log.Name(), err)
	}
	s.finishTimeIndex()
	if err := s.writeIndexFiles(syncIndexes); err != nil {
		return err
	}
	if err := s.useIndexFiles(); err != nil {
		return err
	}
	s.sealed = true
	return nil
}

// syncIndexFiles fsyncs the index files of a sealed segment.
func (s *segment) syncIndexFiles() error {
	for _, f := range []*os.File{s.offIdx.file, s.timeIdx.file} {
		if err := fsync(f); err != nil {
			return fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// useIndexFiles opens the index files read-only and drops the in-memory copies.
func (s *segment) useIndexFiles() error {
	oi, err := os.Open(s.path(indexSuffix))
	if err != nil {
		return err
	}
	ti, err := os.Open(s.path(timeIndexSuffix))
	if err != nil {
		oi.Close()
		return err
	}
	s.offIdx = index{width: offsetEntrySize, file: oi, n: s.offIdx.n}
	s.timeIdx = index{width: timeEntrySize, file: ti, n: s.timeIdx.n}
	return nil
}

// remove unlinks the segment's files. Open descriptors stay valid until the
// last reference is released.
func (s *segment) remove() error {
	var errs []error
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := os.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// headerAt reads and checks the framing of the batch header at pos; end is the
// first byte past the region that may hold batches.
func (s *segment) headerAt(pos, end int64, buf []byte) (batchHeader, error) {
	if end-pos < batchHeaderSize {
		return batchHeader{}, fmt.Errorf("segment %s: batch at byte %d: only %d bytes before the end %d: %w",
			s.log.Name(), pos, end-pos, end, kerr.CorruptMessage)
	}
	if _, err := s.log.ReadAt(buf[:batchHeaderSize], pos); err != nil {
		return batchHeader{}, storageError(fmt.Errorf("segment %s: read batch header at byte %d: %w", s.log.Name(), pos, err))
	}
	h, err := checkFraming(buf[:batchHeaderSize], end-pos, pos)
	if err != nil {
		return h, fmt.Errorf("segment %s: %w", s.log.Name(), err)
	}
	return h, nil
}

// storageError marks err as a KAFKA_STORAGE_ERROR for clients, keeping its text.
func storageError(err error) error {
	return fmt.Errorf("%v: %w", err, kerr.KafkaStorageError)
}

// writeFile replaces path with data, fsyncing it if sync.
func writeFile(path string, data []byte, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if sync {
		if err := fsync(f); err != nil {
			f.Close()
			return fmt.Errorf("fsync %s: %w", path, err)
		}
	}
	return f.Close()
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so that readers see the old or the new content. With sync, the file and the
// directory are fsynced too.
func writeFileAtomic(path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	if err := writeFile(tmp, data, sync); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory so that file creations, renames and removals in
// it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
