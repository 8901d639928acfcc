package log

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

func (l *Log) read(offset int64, maxBytes int32) (Slice, error) {
	after := int64(math.MinInt64) // base of a segment that had nothing at or after offset
	for {
		l.mu.RLock()
		if err := l.usableLocked(); err != nil {
			l.mu.RUnlock()
			return Slice{}, err
		}
		hw := l.hw.Load()
		if offset < l.logStart || offset > hw {
			err := fmt.Errorf("partition %s: offset %d outside [%d, %d]: %w", l.dir, offset, l.logStart, hw, kerr.OffsetOutOfRange)
			l.mu.RUnlock()
			return Slice{}, err
		}
		var i int
		if after == math.MinInt64 {
			i = max(sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset })-1, 0)
		} else {
			i = sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > after })
		}
		if offset == hw || i >= len(l.segments) || l.segments[i].base >= hw {
			l.mu.RUnlock()
			return Slice{}, nil
		}
		seg := l.segments[i]
		limit := l.readLimitLocked(seg)
		// The offset of the batch at limit: the high watermark in its
		// segment, else the base of the next segment.
		limitOffset := hw
		if seg.base != l.hwBase && i+1 < len(l.segments) {
			limitOffset = l.segments[i+1].base
		}
		view := seg.offIdx
		seg.acquire()
		l.mu.RUnlock()

		start, end, next, err := seg.readRange(view, offset, maxBytes, limit, limitOffset)
		if err != nil {
			seg.release()
			return Slice{}, fmt.Errorf("partition %s: read offset %d: %w", l.dir, offset, err)
		}
		if start < end {
			return Slice{File: seg.log, Pos: start, Len: end - start, NextOffset: next, ref: &sliceRef{seg: seg}}, nil
		}
		// The offset lies past the last batch of this segment (a gap): the
		// next batch is at the start of a following segment.
		seg.release()
		after = seg.base
	}
}

// readLimitLocked is the byte position in seg up to which batches are below
// the high watermark.
func (l *Log) readLimitLocked(seg *segment) int64 {
	switch {
	case seg.base == l.hwBase:
		return l.hwPos
	case seg.base < l.hwBase:
		return seg.size
	default:
		return 0
	}
}

// readRange finds the batch holding offset and extends the range over whole
// batches up to maxBytes (at least the first batch), not past limit, whose
// batch starts at limitOffset. It also returns next, the offset after the
// last record in the range. An empty range means no batch below limit holds
// offset or a later one.
func (s *segment) readRange(view index, offset int64, maxBytes int32, limit, limitOffset int64) (start, end, next int64, err error) {
	var buf [batchHeaderSize]byte
	pos := int64(0)
	if offset > s.base {
		if pos, err = view.lookupOffset(offset - s.base); err != nil {
			return 0, 0, 0, storageError(err)
		}
	}
	var h batchHeader
	for {
		if pos >= limit {
			return 0, 0, 0, nil
		}
		if h, err = s.headerAt(pos, limit, buf[:]); err != nil {
			return 0, 0, 0, storageError(err)
		}
		if h.lastOffset() >= offset {
			break
		}
		pos += h.size
	}
	start, end = pos, pos+h.size
	target := start + int64(max(maxBytes, 0))
	if target >= limit {
		return start, limit, limitOffset, nil
	}
	if end >= target {
		return start, end, h.lastOffset() + 1, nil // KIP-74: one whole batch even if larger than maxBytes
	}
	p, err := view.lookupPosition(target)
	if err != nil {
		return 0, 0, 0, storageError(err)
	}
	next = h.lastOffset() + 1
	end = max(end, p)
	for end < limit {
		if h, err = s.headerAt(end, limit, buf[:]); err != nil {
			return 0, 0, 0, storageError(err)
		}
		next = h.baseOffset // the first batch left out, or the next one in
		if end+h.size > target {
			return start, end, next, nil
		}
		end += h.size
	}
	return start, end, limitOffset, nil
}

func (s Slice) readBytes(dst []byte) ([]byte, error) {
	if s.Len <= 0 {
		return dst, nil
	}
	n := len(dst)
	dst = slices.Grow(dst, int(s.Len))[:n+int(s.Len)]
	if _, err := s.File.ReadAt(dst[n:], s.Pos); err != nil {
		return dst[:n], storageError(fmt.Errorf("read %d bytes at %d: %w", s.Len, s.Pos, err))
	}
	return dst, nil
}

// WriteTo writes the slice's bytes to w. To a TCP connection on Linux it uses
// sendfile(2) with an explicit offset (the file's shared offset is never
// used); elsewhere it copies with pread. It does not Release the slice.
func (s Slice) WriteTo(w io.Writer) (int64, error) {
	if s.Len <= 0 {
		return 0, nil
	}
	if n, err, handled := sendfile(w, s.File, s.Pos, s.Len); handled {
		return n, err
	}
	return io.Copy(w, io.NewSectionReader(s.File, s.Pos, s.Len))
}

func (l *Log) offsetForTimestamp(ts int64) (int64, int64, bool, error) {
	return l.findTimestamp(ts, false)
}

// findTimestamp returns the first record at or after the log start offset with
// a timestamp >= ts, below the high watermark unless beyondHW.
func (l *Log) findTimestamp(ts int64, beyondHW bool) (offset, timestamp int64, ok bool, err error) {
	after := int64(math.MinInt64) // base of the last segment searched
	for {
		l.mu.RLock()
		if err := l.usableLocked(); err != nil {
			l.mu.RUnlock()
			return 0, 0, false, err
		}
		var seg *segment
		for _, s := range l.segments {
			if s.base > after && s.maxTs >= ts && s.next > l.logStart {
				seg = s
				break
			}
		}
		if seg == nil {
			l.mu.RUnlock()
			return 0, 0, false, nil
		}
		limit := seg.size
		if !beyondHW {
			limit = l.readLimitLocked(seg)
		}
		from := max(seg.base, l.logStart)
		offView, timeView := seg.offIdx, seg.timeIdx
		seg.acquire()
		l.mu.RUnlock()

		offset, timestamp, ok, err = seg.findTimestamp(offView, timeView, ts, from, limit)
		seg.release()
		if err != nil {
			return 0, 0, false, fmt.Errorf("partition %s: offset for timestamp %d: %w", l.dir, ts, err)
		}
		if ok {
			return offset, timestamp, true, nil
		}
		after = seg.base
	}
}

// findTimestamp searches one segment for the first record at or after offset
// from with a timestamp >= ts, decoding only the batch that holds it.
func (s *segment) findTimestamp(offView, timeView index, ts, from, limit int64) (int64, int64, bool, error) {
	rel, err := timeView.lookupTimeBelow(ts)
	if err != nil {
		return 0, 0, false, storageError(err)
	}
	if rel >= 0 {
		// Every record up to base+rel is older than ts.
		from = max(from, s.base+rel+1)
	}
	pos := int64(0)
	if from > s.base {
		if pos, err = offView.lookupOffset(from - s.base); err != nil {
			return 0, 0, false, storageError(err)
		}
	}
	var hdr [batchHeaderSize]byte
	var batch []byte
	for pos < limit {
		h, err := s.headerAt(pos, limit, hdr[:])
		if err != nil {
			return 0, 0, false, storageError(err)
		}
		if h.lastOffset() >= from && h.maxTimestamp >= ts {
			batch = slices.Grow(batch[:0], int(h.size))[:h.size]
			if _, err := s.log.ReadAt(batch, pos); err != nil {
				return 0, 0, false, storageError(fmt.Errorf("read batch at byte %d: %w", pos, err))
			}
			var found bool
			var foundOff, foundTs int64
			err := forEachRecord(batch, &h, func(offsetDelta int32, t int64) bool {
				off := h.baseOffset + int64(offsetDelta)
				if off >= from && t >= ts {
					found, foundOff, foundTs = true, off, t
					return false
				}
				return true
			})
			if err != nil {
				return 0, 0, false, fmt.Errorf("batch at byte %d of segment %d: %w", pos, s.base, err)
			}
			if found {
				return foundOff, foundTs, true, nil
			}
		}
		pos += h.size
	}
	return 0, 0, false, nil
}

func (l *Log) maxTimestamp() (int64, int64, bool) {
	l.mu.RLock()
	var best *segment
	for _, s := range l.segments {
		if s.maxTs >= 0 && (best == nil || s.maxTs > best.maxTs) {
			best = s
		}
	}
	if best == nil {
		l.mu.RUnlock()
		return 0, 0, false
	}
	ts, fallback, memo := best.maxTs, best.maxTsOffset, l.maxTsMemo
	l.mu.RUnlock()
	if memo.valid && memo.ts == ts {
		return memo.offset, ts, true
	}
	off, _, ok, err := l.findTimestamp(ts, true)
	if err != nil || !ok {
		// The batch's last offset: what Kafka answered before KIP-734's fix.
		return fallback, ts, true
	}
	l.mu.Lock()
	l.maxTsMemo.ts, l.maxTsMemo.offset, l.maxTsMemo.valid = ts, off, true
	l.mu.Unlock()
	return off, ts, true
}
