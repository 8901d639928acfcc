package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Byte layout of a v2 record batch header (Kafka's DefaultRecordBatch).
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// batchHeaderSize is the size of the header before the first record.
	batchHeaderSize = 61
	// batchLengthPrefix is the number of bytes not counted by batchLength.
	batchLengthPrefix = 12
	// minBatchLength is the smallest legal batchLength (header after the prefix).
	minBatchLength = batchHeaderSize - batchLengthPrefix

	magicV2 = 2

	// minRecordSize is the smallest encoded record: one-byte varints for the
	// length, timestamp delta, offset delta, key and value lengths and header
	// count, and the attributes byte.
	minRecordSize = 7
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// Compression codecs in the low attribute bits.
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeader is the decoded fixed header of one v2 batch.
type batchHeader struct {
	baseOffset      int64
	size            int64 // whole batch in bytes, including the 12-byte prefix
	attributes      int16
	lastOffsetDelta int32
	firstTimestamp  int64
	maxTimestamp    int64
	producerID      int64
	producerEpoch   int16
	baseSequence    int32
	numRecords      int32
}

func (h *batchHeader) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }
func (h *batchHeader) idempotent() bool  { return h.producerID >= 0 }
func (h *batchHeader) lastSequence() int32 {
	return seqAdd(h.baseSequence, h.lastOffsetDelta)
}

// parseHeader decodes the fixed header; b must hold at least batchHeaderSize bytes.
func parseHeader(b []byte) batchHeader {
	_ = b[batchHeaderSize-1]
	return batchHeader{
		baseOffset:      int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		size:            int64(int32(binary.BigEndian.Uint32(b[offBatchLength:]))) + batchLengthPrefix,
		attributes:      int16(binary.BigEndian.Uint16(b[offAttributes:])),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		firstTimestamp:  int64(binary.BigEndian.Uint64(b[offFirstTimestamp:])),
		maxTimestamp:    int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		producerID:      int64(binary.BigEndian.Uint64(b[offProducerID:])),
		producerEpoch:   int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		baseSequence:    int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		numRecords:      int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
}

// checkFraming validates what can be checked from the header alone: magic,
// length (against avail, the bytes available from the batch start) and the
// record count. It does not verify the CRC. pos only names the place in errors.
func checkFraming(b []byte, avail int64, pos int64) (batchHeader, error) {
	if len(b) <= offMagic {
		return batchHeader{}, fmt.Errorf("batch at byte %d: %d bytes, shorter than the %d-byte header: %w",
			pos, len(b), batchHeaderSize, kerr.CorruptMessage)
	}
	if m := int8(b[offMagic]); m != magicV2 {
		return batchHeader{}, fmt.Errorf("batch at byte %d: magic %d, only v2 batches are supported: %w",
			pos, m, kerr.UnsupportedForMessageFormat)
	}
	if len(b) < batchHeaderSize {
		return batchHeader{}, fmt.Errorf("batch at byte %d: %d bytes, shorter than the %d-byte header: %w",
			pos, len(b), batchHeaderSize, kerr.CorruptMessage)
	}
	h := parseHeader(b)
	if h.size < batchHeaderSize || h.size > avail {
		return h, fmt.Errorf("batch at byte %d: batch length %d inconsistent with the %d bytes available: %w",
			pos, h.size-batchLengthPrefix, avail, kerr.CorruptMessage)
	}
	if h.numRecords <= 0 || h.lastOffsetDelta != h.numRecords-1 {
		return h, fmt.Errorf("batch at byte %d: %d records but last offset delta %d: %w",
			pos, h.numRecords, h.lastOffsetDelta, kerr.InvalidRecord)
	}
	codec := h.attributes & attrCodecMask
	if codec > codecZstd {
		return h, fmt.Errorf("batch at byte %d: unknown compression codec %d: %w", pos, codec, kerr.CorruptMessage)
	}
	// Without per-record work, bound the count: an uncompressed record takes
	// at least minRecordSize bytes, so a tiny batch cannot claim (and burn)
	// billions of offsets.
	if codec == codecNone && int64(h.numRecords)*minRecordSize > h.size-batchHeaderSize {
		return h, fmt.Errorf("batch at byte %d: %d records cannot fit in %d bytes: %w",
			pos, h.numRecords, h.size-batchHeaderSize, kerr.CorruptMessage)
	}
	if h.attributes&attrControl != 0 {
		return h, fmt.Errorf("batch at byte %d: control batches cannot be produced: %w", pos, kerr.InvalidRecord)
	}
	if h.attributes&attrTransactional != 0 {
		return h, fmt.Errorf("batch at byte %d: transactional batches are not supported: %w", pos, kerr.InvalidRecord)
	}
	if h.producerID >= 0 && (h.baseSequence < 0 || h.producerEpoch < 0) {
		return h, fmt.Errorf("batch at byte %d: producer %d with sequence %d epoch %d: %w",
			pos, h.producerID, h.baseSequence, h.producerEpoch, kerr.InvalidRecord)
	}
	return h, nil
}

// checkCRC verifies the CRC-32C over attributes..end of the batch b[:size].
func checkCRC(b []byte, pos int64) error {
	want := binary.BigEndian.Uint32(b[offCRC:])
	if got := crc32.Checksum(b[offAttributes:], castagnoli); got != want {
		return fmt.Errorf("batch at byte %d: crc mismatch (stored %08x, computed %08x): %w",
			pos, want, got, kerr.CorruptMessage)
	}
	return nil
}

// validateBatches checks every batch of a produce request without modifying
// it and returns the number of batches and the number of records. maxBatch <= 0
// disables the size check.
func validateBatches(records []byte, maxBatch int) (batches int, count int64, err error) {
	if len(records) == 0 {
		return 0, 0, fmt.Errorf("no record batches: %w", kerr.InvalidRecord)
	}
	for pos := int64(0); pos < int64(len(records)); {
		b := records[pos:]
		h, err := checkFraming(b, int64(len(b)), pos)
		if err != nil {
			return 0, 0, err
		}
		if maxBatch > 0 && h.size > int64(maxBatch) {
			return 0, 0, fmt.Errorf("batch at byte %d: %d bytes exceeds max.message.bytes %d: %w",
				pos, h.size, maxBatch, kerr.MessageTooLarge)
		}
		if err := checkCRC(b[:h.size], pos); err != nil {
			return 0, 0, err
		}
		batches++
		count += int64(h.numRecords)
		pos += h.size
	}
	return batches, count, nil
}

// seqAdd adds delta to a producer sequence number, wrapping past MaxInt32 to 0
// like Kafka's DefaultRecordBatch.incrementSequence.
func seqAdd(seq, delta int32) int32 {
	if seq > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - seq) - 1
	}
	return seq + delta
}

func putInt64(b []byte, v int64) { binary.BigEndian.PutUint64(b, uint64(v)) }
func getInt64(b []byte) int64    { return int64(binary.BigEndian.Uint64(b)) }
