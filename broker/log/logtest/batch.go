// Package logtest builds and decodes Kafka v2 record batches for tests of the
// broker's log and of the packages above it.
package logtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Codec is a Kafka compression codec (the low bits of a batch's attributes).
type Codec int8

// Codecs.
const (
	None Codec = iota
	Gzip
	Snappy
	LZ4
	Zstd
)

func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Producer makes a batch idempotent.
type Producer struct {
	ID    int64
	Epoch int16
	Seq   int32 // sequence of the batch's first record
}

// BatchOpts shape a batch built by Batch. The zero value is an uncompressed,
// non-idempotent batch at base offset 0.
type BatchOpts struct {
	Codec         Codec
	RawSnappy     bool      // snappy as one raw block instead of the xerial framing Java clients send
	BaseOffset    int64     // brokers overwrite it
	LeaderEpoch   int32     // brokers overwrite it
	Producer      *Producer // nil: producer id -1, no sequence
	LogAppendTime bool
	Transactional bool
	Control       bool
	Magic         int8 // 0 means 2
}

// Record is one record to put in a batch.
type Record struct {
	Key       []byte
	Value     []byte
	Headers   []kmsg.Header
	Timestamp int64 // absolute, in ms
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Batch encodes records as one v2 record batch with a valid CRC-32C. The
// batch's first timestamp is the first record's, its max timestamp the largest.
// It panics on an empty record list or a compression failure (test input).
func Batch(opts BatchOpts, records ...Record) []byte {
	if len(records) == 0 {
		panic("logtest.Batch: no records")
	}
	first, maxTs := records[0].Timestamp, records[0].Timestamp
	var raw []byte
	for i, r := range records {
		maxTs = max(maxTs, r.Timestamp)
		raw = appendRecord(raw, kmsg.Record{
			TimestampDelta64: r.Timestamp - first,
			OffsetDelta:      int32(i),
			Key:              r.Key,
			Value:            r.Value,
			Headers:          r.Headers,
		})
	}
	body, err := compress(opts.Codec, opts.RawSnappy, raw)
	if err != nil {
		panic(fmt.Sprintf("logtest.Batch: %v", err))
	}
	attrs := int16(opts.Codec)
	if opts.LogAppendTime {
		attrs |= 0x08
	}
	if opts.Transactional {
		attrs |= 0x10
	}
	if opts.Control {
		attrs |= 0x20
	}
	magic := opts.Magic
	if magic == 0 {
		magic = 2
	}
	b := kmsg.RecordBatch{
		FirstOffset:          opts.BaseOffset,
		Length:               int32(49 + len(body)),
		PartitionLeaderEpoch: opts.LeaderEpoch,
		Magic:                magic,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(records) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(records)),
		Records:              body,
	}
	if p := opts.Producer; p != nil {
		b.ProducerID, b.ProducerEpoch, b.FirstSequence = p.ID, p.Epoch, p.Seq
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// Values builds records with the given values, all at timestamp ts.
func Values(ts int64, values ...string) []Record {
	out := make([]Record, len(values))
	for i, v := range values {
		out[i] = Record{Value: []byte(v), Timestamp: ts}
	}
	return out
}

// Concat joins batches into one produce payload.
func Concat(batches ...[]byte) []byte {
	return bytes.Join(batches, nil)
}

// FixCRC recomputes the CRC of every batch in b in place and returns b; bytes
// after the last whole batch are left alone.
func FixCRC(b []byte) []byte {
	for pos := 0; pos+61 <= len(b); {
		size := int(int32(binary.BigEndian.Uint32(b[pos+8:]))) + 12
		if size < 61 || pos+size > len(b) {
			break
		}
		binary.BigEndian.PutUint32(b[pos+17:], crc32.Checksum(b[pos+21:pos+size], castagnoli))
		pos += size
	}
	return b
}

func appendRecord(dst []byte, r kmsg.Record) []byte {
	r.Length = 0
	body := r.AppendTo(nil)[1:] // a zero length is a one-byte varint
	r.Length = int32(len(body))
	return r.AppendTo(dst)
}

func compress(c Codec, rawSnappy bool, raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch c {
	case None:
		return raw, nil
	case Gzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case Snappy:
		if rawSnappy {
			return snappy.Encode(nil, raw), nil
		}
		buf.Write([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1})
		for len(raw) > 0 {
			n := min(len(raw), 32<<10)
			block := snappy.Encode(nil, raw[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			buf.Write(block)
			raw = raw[n:]
		}
	case LZ4:
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case Zstd:
		w, err := zstd.NewWriter(nil)
		if err != nil {
			return nil, err
		}
		defer w.Close()
		return w.EncodeAll(raw, nil), nil
	default:
		return nil, fmt.Errorf("unknown codec %d", c)
	}
	return buf.Bytes(), nil
}

// Decoded is one batch split out of a log or fetch payload, with its records
// decompressed.
type Decoded struct {
	Batch   kmsg.RecordBatch
	Records []kmsg.Record
}

// Decode splits b into whole batches and decodes their records. It fails on a
// trailing partial batch, a CRC mismatch or undecodable records.
func Decode(b []byte) ([]Decoded, error) {
	var out []Decoded
	for pos := 0; pos < len(b); {
		if len(b)-pos < 61 {
			return out, fmt.Errorf("byte %d: %d trailing bytes", pos, len(b)-pos)
		}
		size := int(int32(binary.BigEndian.Uint32(b[pos+8:]))) + 12
		if size < 61 || pos+size > len(b) {
			return out, fmt.Errorf("byte %d: bad batch length", pos)
		}
		var d Decoded
		if err := d.Batch.ReadFrom(b[pos : pos+size]); err != nil {
			return out, fmt.Errorf("byte %d: %w", pos, err)
		}
		if got := crc32.Checksum(b[pos+21:pos+size], castagnoli); got != uint32(d.Batch.CRC) {
			return out, fmt.Errorf("byte %d: crc mismatch", pos)
		}
		raw, err := decompress(Codec(d.Batch.Attributes&7), d.Batch.Records)
		if err != nil {
			return out, fmt.Errorf("byte %d: %w", pos, err)
		}
		for i := int32(0); i < d.Batch.NumRecords; i++ {
			length, n := binary.Varint(raw)
			if n <= 0 || length < 0 || int64(len(raw)-n) < length {
				return out, fmt.Errorf("byte %d: record %d: bad length", pos, i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(raw[:n+int(length)]); err != nil {
				return out, fmt.Errorf("byte %d: record %d: %w", pos, i, err)
			}
			d.Records = append(d.Records, r)
			raw = raw[n+int(length):]
		}
		out = append(out, d)
		pos += size
	}
	return out, nil
}

func decompress(c Codec, data []byte) ([]byte, error) {
	var r io.Reader
	switch c {
	case None:
		return data, nil
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr
	case Snappy:
		if !bytes.HasPrefix(data, []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}) {
			return snappy.Decode(nil, data)
		}
		var out []byte
		for data = data[16:]; len(data) >= 4; {
			n := int(binary.BigEndian.Uint32(data))
			if n > len(data)-4 {
				return nil, fmt.Errorf("xerial block too long")
			}
			block, err := snappy.Decode(nil, data[4:4+n])
			if err != nil {
				return nil, err
			}
			out = append(out, block...)
			data = data[4+n:]
		}
		return out, nil
	case LZ4:
		r = lz4.NewReader(bytes.NewReader(data))
	case Zstd:
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(data, nil)
	default:
		return nil, fmt.Errorf("unknown codec %d", c)
	}
	return io.ReadAll(r)
}
