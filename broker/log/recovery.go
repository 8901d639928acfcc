package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Recovery at Open:
//
//   - Sealed segments (all but the last) were fsynced with their indexes at
//     roll. Their indexes are trusted when well formed and when the batch
//     headers after the last index entry chain up to the next segment's base.
//     Otherwise the segment is scanned like the last one.
//   - The last segment is trusted the same way only if the newest producer
//     snapshot was written by a clean Close for exactly this segment and size.
//     Otherwise it is scanned batch by batch (framing, offsets, CRC-32C) and
//     truncated at the first batch that fails; the loss is logged.
//   - A scanned sealed segment that had to be truncated (or overlaps the next
//     one) cuts the log there: later segments are deleted, as Kafka does.
//   - Producer state is the newest snapshot plus the idempotent batch headers
//     after it.
//
// What survives is fsynced and becomes the high watermark.

const logStartFile = "log-start-offset"

// open opens the log; without flusher (fuzz tests, for deterministic
// coverage) nothing fsyncs in the background and callers run flushOnce.
func open(opts Options, flusher bool) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("open partition log: empty directory")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	l := &Log{
		dir:         opts.Dir,
		logger:      logger.With("subsystem", "log", "dir", opts.Dir),
		now:         now,
		producers:   make(map[int64]*producerState),
		flushKick:   make(chan struct{}, 1),
		stop:        make(chan struct{}),
		flusherDone: make(chan struct{}),
	}
	l.SetConfig(opts.Config)
	ch := make(chan struct{})
	l.hwCh.Store(&ch)
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open partition log: %w", err)
	}
	if err := l.load(); err != nil {
		for _, s := range l.segments {
			s.release()
		}
		return nil, fmt.Errorf("open partition log %s: %w", opts.Dir, err)
	}
	if flusher {
		go l.flushLoop()
	} else {
		close(l.flusherDone)
	}
	return l, nil
}

func (l *Log) load() error {
	nowMs := l.now().UnixMilli()
	interval := int64(l.cfg.Load().IndexIntervalBytes)
	if err := removeStrays(l.dir); err != nil {
		return err
	}
	bases, err := listOffsets(l.dir, logSuffix)
	if err != nil {
		return err
	}
	persistedStart, err := readLogStart(l.dir)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		seg, err := createSegment(l.dir, max(persistedStart, 0), nowMs)
		if err != nil {
			return err
		}
		l.segments = []*segment{seg}
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	newest := loadSnapshot(l.dir, math.MaxInt64)

	for i, base := range bases {
		f, err := os.OpenFile(segmentPath(l.dir, base, logSuffix), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		seg := newSegment(l.dir, base, f, nowMs)
		fi, err := f.Stat()
		if err != nil {
			seg.release()
			return err
		}
		last := i == len(bases)-1
		if !last && fi.Size() == 0 {
			l.logger.Warn("removing empty sealed segment", "base", base)
			seg.release()
			if err := seg.remove(); err != nil {
				return err
			}
			continue
		}
		l.segments = append(l.segments, seg)

		if !last {
			if l.trustIndexes(seg, fi.Size(), bases[i+1], false) {
				if err := seg.useIndexFiles(); err != nil {
					return err
				}
				seg.sealed = true
				continue
			}
			truncated, err := l.recoverSegment(seg, fi.Size(), interval)
			if err != nil {
				return err
			}
			if truncated || seg.next > bases[i+1] {
				l.logger.Error("sealed segment damaged; deleting the segments after it",
					"base", base, "end_offset", seg.next, "next_base", bases[i+1], "deleted", len(bases)-i-1)
				for _, b := range bases[i+1:] {
					s := &segment{dir: l.dir, base: b}
					if err := s.remove(); err != nil {
						return err
					}
				}
				if err := syncDir(l.dir); err != nil {
					return err
				}
				break // seg is now the last, already scanned
			}
			if seg.next < bases[i+1] {
				l.logger.Warn("offset gap between segments", "base", base, "end_offset", seg.next, "next_base", bases[i+1])
			}
			if err := seg.seal(true); err != nil {
				return err
			}
			continue
		}

		clean := newest != nil && newest.cleanBase == base && newest.cleanSize == fi.Size()
		if clean && l.trustIndexes(seg, fi.Size(), newest.offset, true) {
			continue
		}
		if _, err := l.recoverSegment(seg, fi.Size(), interval); err != nil {
			return err
		}
	}

	active := l.active()
	if err := fsync(active.log); err != nil {
		return fmt.Errorf("fsync %s: %w", active.log.Name(), err)
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.leo = active.next
	l.logStart = min(max(persistedStart, l.segments[0].base), l.leo)
	l.hw.Store(l.leo)
	l.hwBase, l.hwPos = active.base, active.size

	if err := l.loadProducers(); err != nil {
		return err
	}
	// Snapshots past the end describe data that is gone.
	offsets, err := listOffsets(l.dir, snapshotSuffix)
	if err != nil {
		return err
	}
	for _, off := range offsets {
		if off > l.leo {
			os.Remove(segmentPath(l.dir, off, snapshotSuffix))
		} else {
			l.snapshots = append(l.snapshots, off)
		}
	}
	l.logger.Info("opened partition log", "segments", len(l.segments), "log_start_offset", l.logStart,
		"log_end_offset", l.leo, "producers", len(l.producers))
	return nil
}

// removeStrays deletes temporary files and index files without a segment.
func removeStrays(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	logs := make(map[string]bool)
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), logSuffix); ok {
			logs[name] = true
		}
	}
	for _, e := range entries {
		name := e.Name()
		stray := strings.HasSuffix(name, ".tmp")
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if stem, ok := strings.CutSuffix(name, suffix); ok && !logs[stem] {
				stray = true
			}
		}
		if stray {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// trustIndexes loads the segment's state from its index files if they are well
// formed and the batch headers after the last index entry lead exactly to
// wantNext. For the active segment the indexes are kept in memory.
func (l *Log) trustIndexes(seg *segment, size, wantNext int64, active bool) bool {
	oi, err1 := os.ReadFile(seg.path(indexSuffix))
	ti, err2 := os.ReadFile(seg.path(timeIndexSuffix))
	if err1 != nil || err2 != nil || checkIndexes(oi, ti, size) != nil || size == 0 {
		return false
	}
	var buf [batchHeaderSize]byte
	first, err := seg.headerAt(0, size, buf[:])
	if err != nil || first.baseOffset != seg.base {
		return false
	}
	pos, next := int64(0), seg.base
	if n := len(oi); n > 0 {
		next = seg.base + int64(binary.BigEndian.Uint32(oi[n-offsetEntrySize:]))
		pos = int64(binary.BigEndian.Uint32(oi[n-offsetEntrySize+4:]))
	}
	indexPos := pos
	for pos < size {
		h, err := seg.headerAt(pos, size, buf[:])
		if err != nil || h.baseOffset != next {
			return false
		}
		next = h.lastOffset() + 1
		pos += h.size
	}
	// The time index must end with the closing entry for the last offset
	// (finishTimeIndex): then its timestamp is the segment's max.
	n := len(ti)
	if next != wantNext || n == 0 || seg.base+int64(binary.BigEndian.Uint32(ti[n-4:])) != next-1 {
		return false
	}
	maxTs := getInt64(ti[n-timeEntrySize:])
	lastTimeTs, maxTsOffset := maxTs, next-1
	for i := 0; i < n; i += timeEntrySize {
		if getInt64(ti[i:]) == maxTs {
			maxTsOffset = seg.base + int64(binary.BigEndian.Uint32(ti[i+8:]))
			break
		}
	}
	seg.size, seg.next = size, next
	seg.maxTs, seg.maxTsOffset, seg.lastTimeTs = maxTs, maxTsOffset, lastTimeTs
	seg.firstTs = first.maxTimestamp
	seg.sinceIndex = size - indexPos
	seg.offIdx = index{width: offsetEntrySize, n: len(oi) / offsetEntrySize}
	seg.timeIdx = index{width: timeEntrySize, n: len(ti) / timeEntrySize}
	if active {
		seg.offIdx.mem, seg.timeIdx.mem = oi, ti
	}
	return true
}

// recoverSegment scans the whole segment, rebuilding its in-memory indexes,
// and truncates it at the first batch that is torn, misnumbered or fails its
// CRC. It reports whether anything was cut.
func (l *Log) recoverSegment(seg *segment, size, interval int64) (bool, error) {
	seg.size, seg.next, seg.sinceIndex = 0, seg.base, 0
	seg.maxTs, seg.maxTsOffset, seg.firstTs, seg.lastTimeTs = -1, -1, -1, -1
	seg.offIdx = index{width: offsetEntrySize}
	seg.timeIdx = index{width: timeEntrySize}

	br := bufio.NewReaderSize(io.NewSectionReader(seg.log, 0, size), 1<<20)
	pos := int64(0)
	var reason error
	for pos < size {
		hdr, err := br.Peek(batchHeaderSize)
		if err != nil {
			reason = fmt.Errorf("batch at byte %d: %d bytes left, torn header", pos, size-pos)
			break
		}
		h, err := checkFraming(hdr, size-pos, pos)
		if err != nil {
			reason = err
			break
		}
		if h.baseOffset != seg.next {
			reason = fmt.Errorf("batch at byte %d: base offset %d, expected %d", pos, h.baseOffset, seg.next)
			break
		}
		want := binary.BigEndian.Uint32(hdr[offCRC:])
		sum := crc32.Update(0, castagnoli, hdr[offAttributes:])
		if _, err := br.Discard(batchHeaderSize); err != nil {
			return false, err
		}
		for rest := h.size - batchHeaderSize; rest > 0; {
			chunk, _ := br.Peek(int(min(rest, int64(br.Size()))))
			if len(chunk) == 0 {
				break
			}
			sum = crc32.Update(sum, castagnoli, chunk)
			br.Discard(len(chunk))
			rest -= int64(len(chunk))
		}
		if sum != want {
			reason = fmt.Errorf("batch at byte %d: crc mismatch", pos)
			break
		}
		seg.noteBatch(pos, &h, interval)
		pos += h.size
	}
	seg.size = pos
	if pos == size {
		return false, nil
	}
	l.logger.Warn("truncating damaged segment tail", "base", seg.base, "valid_bytes", pos,
		"truncated_bytes", size-pos, "reason", reason.Error())
	if err := seg.log.Truncate(pos); err != nil {
		return true, fmt.Errorf("truncate %s: %w", seg.log.Name(), err)
	}
	if err := fsync(seg.log); err != nil {
		return true, fmt.Errorf("fsync %s: %w", seg.log.Name(), err)
	}
	return true, nil
}

// loadProducers restores producer state from the newest usable snapshot and
// replays the idempotent batches after it.
func (l *Log) loadProducers() error {
	from := l.segments[0].base
	if snap := loadSnapshot(l.dir, l.leo); snap != nil {
		l.producers = snap.producers
		from = max(from, snap.offset)
	}
	var buf [batchHeaderSize]byte
	for _, seg := range l.segments {
		if seg.next <= from {
			continue
		}
		pos := int64(0)
		if from > seg.base {
			p, err := seg.offIdx.lookupOffset(from - seg.base)
			if err != nil {
				return err
			}
			pos = p
		}
		for pos < seg.size {
			h, err := seg.headerAt(pos, seg.size, buf[:])
			if err != nil {
				return err
			}
			if h.baseOffset >= from {
				l.noteProducerLocked(&h)
			}
			pos += h.size
		}
	}
	l.evictProducersLocked()
	return nil
}

// evictProducersLocked forgets producers none of whose batches is left.
func (l *Log) evictProducersLocked() {
	for pid, p := range l.producers {
		if p.n == 0 || p.last().lastOffset < l.logStart {
			delete(l.producers, pid)
		}
	}
}

func readLogStart(dir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, logStartFile))
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", logStartFile, err)
	}
	return v, nil
}

func writeLogStart(dir string, offset int64) error {
	return writeFileAtomic(filepath.Join(dir, logStartFile), []byte(strconv.FormatInt(offset, 10)+"\n"), true)
}
