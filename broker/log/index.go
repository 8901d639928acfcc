package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
)

// Index files follow Kafka's layout:
//
//	.index      entries of (relative offset uint32, file position uint32), 8 bytes
//	.timeindex  entries of (timestamp int64, relative offset uint32), 12 bytes
//
// Offset entries point at batch starts and are added every IndexIntervalBytes.
// A time entry (T, o) says that every record at offset <= base+o has a
// timestamp <= T; entries increase in T, except for the closing entry
// (max timestamp, last offset) written when the segment is sealed or closed. The active segment keeps its
// entries in memory only; they are written to disk (and fsynced) when the
// segment is sealed at roll or on Close. Sealed segments are searched with pread.
const (
	offsetEntrySize = 8
	timeEntrySize   = 12
)

// index is a sorted array of fixed-size entries, in memory (active segment) or
// in a file (sealed segment). Copies of an index are consistent read-only views:
// entries below n never change.
type index struct {
	width int
	mem   []byte   // entries, while the segment is active
	file  *os.File // entries, once sealed (mem is nil then)
	n     int
}

func (x *index) add(entry []byte) {
	x.mem = append(x.mem, entry...)
	x.n++
}

// entry reads entry i into buf (len >= width).
func (x index) entry(i int, buf []byte) ([]byte, error) {
	if x.file == nil {
		return x.mem[i*x.width : (i+1)*x.width], nil
	}
	if _, err := x.file.ReadAt(buf[:x.width], int64(i*x.width)); err != nil {
		return nil, fmt.Errorf("read index %s entry %d: %w", x.file.Name(), i, err)
	}
	return buf[:x.width], nil
}

// lastWhere returns the largest i such that pred(entry i) is true, assuming
// pred is true for a prefix of the entries, or -1 when it is true for none.
func (x index) lastWhere(pred func(e []byte) bool) (int, error) {
	var buf [timeEntrySize]byte
	var ferr error
	i := sort.Search(x.n, func(i int) bool {
		if ferr != nil {
			return true
		}
		e, err := x.entry(i, buf[:])
		if err != nil {
			ferr = err
			return true
		}
		return !pred(e)
	}) - 1
	if ferr != nil {
		return -1, ferr
	}
	return i, nil
}

// lookupOffset returns the position of the last indexed batch whose relative
// offset is <= rel (0 when none is).
func (x index) lookupOffset(rel int64) (int64, error) {
	i, err := x.lastWhere(func(e []byte) bool { return int64(binary.BigEndian.Uint32(e)) <= rel })
	return x.field(i, err, 4, 0)
}

// lookupPosition returns the position of the last indexed batch starting at or
// before pos (0 when none does).
func (x index) lookupPosition(pos int64) (int64, error) {
	i, err := x.lastWhere(func(e []byte) bool { return int64(binary.BigEndian.Uint32(e[4:])) <= pos })
	return x.field(i, err, 4, 0)
}

// lookupTimeBelow returns the relative offset of the last time entry whose
// timestamp is < ts, or -1 when there is none.
func (x index) lookupTimeBelow(ts int64) (int64, error) {
	i, err := x.lastWhere(func(e []byte) bool { return getInt64(e) < ts })
	return x.field(i, err, 8, -1)
}

// field decodes the uint32 at byte at of entry i, or returns def when i < 0.
func (x index) field(i int, err error, at int, def int64) (int64, error) {
	if err != nil || i < 0 {
		return def, err
	}
	var buf [timeEntrySize]byte
	e, err := x.entry(i, buf[:])
	if err != nil {
		return def, err
	}
	return int64(binary.BigEndian.Uint32(e[at:])), nil
}

func offsetEntry(rel, pos int64) [offsetEntrySize]byte {
	var e [offsetEntrySize]byte
	binary.BigEndian.PutUint32(e[0:], uint32(rel))
	binary.BigEndian.PutUint32(e[4:], uint32(pos))
	return e
}

func timeEntry(ts, rel int64) [timeEntrySize]byte {
	var e [timeEntrySize]byte
	putInt64(e[0:], ts)
	binary.BigEndian.PutUint32(e[8:], uint32(rel))
	return e
}

// checkIndexes reports whether the raw contents of an offset index and a time
// index are well formed for a segment of logSize bytes: whole entries, offsets
// and positions strictly increasing, positions inside the log, timestamps and
// offsets of time entries not decreasing.
func checkIndexes(offIdx, timeIdx []byte, logSize int64) error {
	if len(offIdx)%offsetEntrySize != 0 {
		return fmt.Errorf("offset index size %d is not a multiple of %d", len(offIdx), offsetEntrySize)
	}
	if len(timeIdx)%timeEntrySize != 0 {
		return fmt.Errorf("time index size %d is not a multiple of %d", len(timeIdx), timeEntrySize)
	}
	prevRel, prevPos := int64(-1), int64(0)
	for i := 0; i < len(offIdx); i += offsetEntrySize {
		rel := int64(binary.BigEndian.Uint32(offIdx[i:]))
		pos := int64(binary.BigEndian.Uint32(offIdx[i+4:]))
		if rel <= prevRel || pos <= prevPos || pos+batchHeaderSize > logSize {
			return fmt.Errorf("offset index entry %d (%d, %d) out of order or past the log end %d",
				i/offsetEntrySize, rel, pos, logSize)
		}
		prevRel, prevPos = rel, pos
	}
	prevTs, prevOff := int64(-1)<<63, int64(-1)
	for i := 0; i < len(timeIdx); i += timeEntrySize {
		ts := getInt64(timeIdx[i:])
		rel := int64(binary.BigEndian.Uint32(timeIdx[i+8:]))
		if ts < prevTs || rel < prevOff {
			return fmt.Errorf("time index entry %d (%d, %d) out of order", i/timeEntrySize, ts, rel)
		}
		prevTs, prevOff = ts, rel
	}
	return nil
}
