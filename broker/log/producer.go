package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// producerBatches is how many recent batches per producer are remembered for
// de-duplicating retries (Kafka: max.in.flight.requests.per.connection <= 5).
const producerBatches = 5

// producerBatch is the metadata of one idempotent batch in the log.
type producerBatch struct {
	firstSeq, lastSeq      int32
	baseOffset, lastOffset int64
}

// producerState is what the log remembers about one producer id.
//
// A producer the log does not know (never seen, or its batches were all
// removed by retention) is accepted with any sequence number, like Kafka 2.5+
// (KIP-360): refusing it would wedge producers whose state aged out.
type producerState struct {
	epoch   int16
	batches [producerBatches]producerBatch // ring, oldest at head
	head, n int
}

func (p *producerState) last() *producerBatch {
	return &p.batches[(p.head+p.n-1)%producerBatches]
}

func (p *producerState) push(b producerBatch) {
	if p.n < producerBatches {
		p.batches[(p.head+p.n)%producerBatches] = b
		p.n++
		return
	}
	p.batches[p.head] = b
	p.head = (p.head + 1) % producerBatches
}

// record applies a batch already known to be valid (append or replay).
func (p *producerState) record(h *batchHeader) {
	if h.producerEpoch != p.epoch {
		*p = producerState{epoch: h.producerEpoch}
	}
	p.push(producerBatch{firstSeq: h.baseSequence, lastSeq: h.lastSequence(), baseOffset: h.baseOffset, lastOffset: h.lastOffset()})
}

// check decides whether the batch may follow the producer's state: it returns
// the matching earlier batch for an exact retry, or an error.
func (p *producerState) check(pid int64, epoch int16, firstSeq, lastSeq int32) (*producerBatch, error) {
	switch {
	case epoch < p.epoch:
		return nil, fmt.Errorf("producer %d: epoch %d is older than the current epoch %d: %w",
			pid, epoch, p.epoch, kerr.InvalidProducerEpoch)
	case epoch > p.epoch:
		if firstSeq != 0 {
			return nil, fmt.Errorf("producer %d: new epoch %d must start at sequence 0, got %d: %w",
				pid, epoch, firstSeq, kerr.OutOfOrderSequenceNumber)
		}
		return nil, nil
	}
	for i := 0; i < p.n; i++ {
		b := &p.batches[(p.head+i)%producerBatches]
		if b.firstSeq == firstSeq && b.lastSeq == lastSeq {
			return b, nil
		}
	}
	if p.n == 0 {
		return nil, nil
	}
	if want := seqAdd(p.last().lastSeq, 1); firstSeq != want {
		return nil, fmt.Errorf("producer %d epoch %d: sequence %d, expected %d: %w",
			pid, epoch, firstSeq, want, kerr.OutOfOrderSequenceNumber)
	}
	return nil, nil
}

// Snapshot files (<20-digit offset>.snapshot) hold the producer states as of
// an offset, so Open only replays batch headers after it. A snapshot written by
// Close also records the active segment's base and size: if they still match
// at Open, the segment was not written since and needs no CRC scan.
const (
	snapshotSuffix  = ".snapshot"
	snapshotMagic   = "TRPS"
	snapshotVersion = 1
	snapshotHeader  = 4 + 4 + 8 + 8 + 8 + 4
	snapshotEntry   = 8 + 2 + 1 + producerBatches*(4+4+8+8)
	snapshotsKept   = 2
)

type snapshot struct {
	offset    int64 // producer states cover every batch below offset
	cleanBase int64 // base of the active segment at clean close, -1 otherwise
	cleanSize int64 // its size then
	producers map[int64]*producerState
}

func encodeSnapshot(s *snapshot) []byte {
	b := make([]byte, 0, snapshotHeader+len(s.producers)*snapshotEntry+4)
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint32(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(s.offset))
	b = binary.BigEndian.AppendUint64(b, uint64(s.cleanBase))
	b = binary.BigEndian.AppendUint64(b, uint64(s.cleanSize))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.producers)))
	pids := make([]int64, 0, len(s.producers))
	for pid := range s.producers {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	for _, pid := range pids {
		p := s.producers[pid]
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(p.epoch))
		b = append(b, byte(p.n))
		for i := 0; i < producerBatches; i++ {
			var e producerBatch
			if i < p.n {
				e = p.batches[(p.head+i)%producerBatches]
			}
			b = binary.BigEndian.AppendUint32(b, uint32(e.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(e.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(e.baseOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(e.lastOffset))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSnapshot(b []byte) (*snapshot, error) {
	if len(b) < snapshotHeader+4 {
		return nil, errors.New("too short")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("checksum mismatch")
	}
	if string(body[:4]) != snapshotMagic || binary.BigEndian.Uint32(body[4:]) != snapshotVersion {
		return nil, errors.New("unknown format")
	}
	s := &snapshot{
		offset:    getInt64(body[8:]),
		cleanBase: getInt64(body[16:]),
		cleanSize: getInt64(body[24:]),
	}
	count := int(binary.BigEndian.Uint32(body[32:]))
	rest := body[snapshotHeader:]
	if count < 0 || len(rest) != count*snapshotEntry {
		return nil, fmt.Errorf("%d producers but %d bytes of entries", count, len(rest))
	}
	s.producers = make(map[int64]*producerState, count)
	for range count {
		pid := getInt64(rest)
		p := &producerState{epoch: int16(binary.BigEndian.Uint16(rest[8:])), n: int(rest[10])}
		if p.n > producerBatches {
			return nil, fmt.Errorf("producer %d: %d batches", pid, p.n)
		}
		e := rest[11:]
		for i := 0; i < p.n; i++ {
			p.batches[i] = producerBatch{
				firstSeq:   int32(binary.BigEndian.Uint32(e)),
				lastSeq:    int32(binary.BigEndian.Uint32(e[4:])),
				baseOffset: getInt64(e[8:]),
				lastOffset: getInt64(e[16:]),
			}
			e = e[24:]
		}
		s.producers[pid] = p
		rest = rest[snapshotEntry:]
	}
	return s, nil
}

// writeSnapshotLocked writes a snapshot file of the current producer state
// and removes all but the newest few. Correctness never depends on a snapshot
// (a torn or missing one is skipped and the log replayed), so only the one
// written at Close is fsynced.
func (l *Log) writeSnapshotLocked(cleanBase, cleanSize int64, sync bool) error {
	s := &snapshot{offset: l.leo, cleanBase: cleanBase, cleanSize: cleanSize, producers: l.producers}
	path := segmentPath(l.dir, s.offset, snapshotSuffix)
	if err := writeFileAtomic(path, encodeSnapshot(s), sync); err != nil {
		return fmt.Errorf("write producer snapshot: %w", err)
	}
	if n := len(l.snapshots); n == 0 || l.snapshots[n-1] != s.offset {
		l.snapshots = append(l.snapshots, s.offset)
	}
	for len(l.snapshots) > snapshotsKept {
		os.Remove(segmentPath(l.dir, l.snapshots[0], snapshotSuffix))
		l.snapshots = l.snapshots[1:]
	}
	return nil
}

// listOffsets returns the sorted base offsets of the files named
// <20 digits><suffix> in dir.
func listOffsets(dir, suffix string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		if off, ok := parseOffsetName(e.Name(), suffix); ok {
			out = append(out, off)
		}
	}
	slices.Sort(out)
	return out, nil
}

func parseOffsetName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || off < 0 || off == math.MaxInt64 {
		return 0, false
	}
	return off, true
}

// loadSnapshot returns the newest readable snapshot at or below maxOffset, or nil.
func loadSnapshot(dir string, maxOffset int64) *snapshot {
	offsets, err := listOffsets(dir, snapshotSuffix)
	if err != nil {
		return nil
	}
	for i := len(offsets) - 1; i >= 0; i-- {
		if offsets[i] > maxOffset {
			continue
		}
		b, err := os.ReadFile(segmentPath(dir, offsets[i], snapshotSuffix))
		if err != nil {
			continue
		}
		if s, err := decodeSnapshot(b); err == nil && s.offset == offsets[i] {
			return s
		}
	}
	return nil
}

// noteProducerLocked records an idempotent batch in its producer's state,
// creating the state on the producer's first batch. Non-idempotent batches
// are ignored.
func (l *Log) noteProducerLocked(h *batchHeader) {
	if !h.idempotent() {
		return
	}
	p := l.producers[h.producerID]
	if p == nil {
		p = &producerState{epoch: h.producerEpoch}
		l.producers[h.producerID] = p
	}
	p.record(h)
}
