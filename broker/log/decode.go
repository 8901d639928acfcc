package log

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Decoding records is needed only off the hot path (OffsetForTimestamp and
// MaxTimestamp). Records are streamed: only the fields up to the offset delta
// are read, keys, values and headers are skipped, so a well-compressed batch
// never has to fit in memory at once.

// maxDecompressedBatch bounds the decompressed size of one batch so that a
// hostile batch cannot make a ListOffsets request spin for long.
const maxDecompressedBatch = 1 << 30

// maxZstdWindow bounds the memory a zstd frame may ask for; producers use
// windows of a few MiB.
const maxZstdWindow = 64 << 20

// xerialMagic opens snappy data framed the way the Java client writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// forEachRecord calls fn with the offset delta and timestamp of each record
// of the batch (batch[:h.size]) in order, until fn returns false.
func forEachRecord(batch []byte, h *batchHeader, fn func(offsetDelta int32, timestamp int64) bool) error {
	raw, closeFn, err := recordsReader(batch[batchHeaderSize:h.size], int(h.attributes&attrCodecMask))
	if err != nil {
		return corrupt(err)
	}
	defer closeFn()
	r := bufio.NewReader(io.LimitReader(raw, maxDecompressedBatch))
	for i := int32(0); i < h.numRecords; i++ {
		length, _, err := readVarint(r)
		if err != nil || length < 0 || length > maxDecompressedBatch {
			return corrupt(fmt.Errorf("record %d: bad length %d: %v", i, length, err))
		}
		if _, err := r.ReadByte(); err != nil { // attributes
			return corrupt(fmt.Errorf("record %d: %w", i, err))
		}
		tsDelta, n1, err := readVarint(r)
		if err != nil {
			return corrupt(fmt.Errorf("record %d: timestamp delta: %w", i, err))
		}
		offDelta, n2, err := readVarint(r)
		if err != nil || int64(int32(offDelta)) != offDelta {
			return corrupt(fmt.Errorf("record %d: offset delta: %v", i, err))
		}
		rest := length - 1 - int64(n1) - int64(n2)
		if rest < 0 {
			return corrupt(fmt.Errorf("record %d: length %d shorter than its fields", i, length))
		}
		if _, err := r.Discard(int(rest)); err != nil {
			return corrupt(fmt.Errorf("record %d: %w", i, err))
		}
		ts := h.firstTimestamp + tsDelta
		if h.attributes&attrLogAppendTime != 0 {
			ts = h.maxTimestamp
		}
		if !fn(int32(offDelta), ts) {
			return nil
		}
	}
	return nil
}

func corrupt(err error) error {
	return fmt.Errorf("decode records: %w: %w", err, kerr.CorruptMessage)
}

// readVarint reads a zigzag varint (Kafka's varint and varlong) and returns
// the number of bytes it took.
func readVarint(r io.ByteReader) (int64, int, error) {
	var ux uint64
	for i, shift := 0, uint(0); i < binary.MaxVarintLen64; i, shift = i+1, shift+7 {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && i > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, i, err
		}
		ux |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int64(ux>>1) ^ -int64(ux&1), i + 1, nil
		}
	}
	return 0, binary.MaxVarintLen64, errors.New("varint overflows 64 bits")
}

// recordsReader returns the decompressed record bytes of a batch.
func recordsReader(data []byte, codec int) (io.Reader, func(), error) {
	noop := func() {}
	switch codec {
	case codecNone:
		return bytes.NewReader(data), noop, nil
	case codecGzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, noop, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case codecSnappy:
		if bytes.HasPrefix(data, xerialMagic) {
			if len(data) < 16 {
				return nil, noop, errors.New("snappy: short xerial header")
			}
			return &xerialReader{src: data[16:]}, noop, nil
		}
		if n, err := snappy.DecodedLen(data); err != nil || n > maxDecompressedBatch {
			return nil, noop, fmt.Errorf("snappy: decoded length %d: %v", n, err)
		}
		out, err := snappy.Decode(nil, data)
		if err != nil {
			return nil, noop, fmt.Errorf("snappy: %w", err)
		}
		return bytes.NewReader(out), noop, nil
	case codecLZ4:
		return lz4.NewReader(bytes.NewReader(data)), noop, nil
	case codecZstd:
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(maxDecompressedBatch), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, noop, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return nil, noop, fmt.Errorf("unknown compression codec %d", codec)
}

// xerialReader decodes snappy-java's framing: after the 16-byte header, blocks
// of a 4-byte big-endian length and a raw snappy block.
type xerialReader struct {
	src []byte
	buf []byte
	out []byte
}

func (x *xerialReader) Read(p []byte) (int, error) {
	for len(x.out) == 0 {
		if len(x.src) == 0 {
			return 0, io.EOF
		}
		if len(x.src) < 4 {
			return 0, errors.New("snappy: torn xerial block length")
		}
		n := binary.BigEndian.Uint32(x.src)
		if uint64(n) > uint64(len(x.src)-4) {
			return 0, fmt.Errorf("snappy: xerial block of %d bytes, %d left", n, len(x.src)-4)
		}
		block := x.src[4 : 4+n]
		x.src = x.src[4+n:]
		dl, err := snappy.DecodedLen(block)
		if err != nil || dl > maxDecompressedBatch {
			return 0, fmt.Errorf("snappy: decoded length %d: %v", dl, err)
		}
		if x.buf, err = snappy.Decode(x.buf[:cap(x.buf)], block); err != nil {
			return 0, fmt.Errorf("snappy: %w", err)
		}
		x.out = x.buf
	}
	n := copy(p, x.out)
	x.out = x.out[n:]
	return n, nil
}
