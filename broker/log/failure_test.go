package log

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary/tributary/broker/log/logtest"
)

// TestFsyncFailure: after a failed fsync the page cache may have dropped the
// data, so the log must not advance the high watermark, and must refuse
// further work with KAFKA_STORAGE_ERROR instead of retrying.
func TestFsyncFailure(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	mustAppend(t, l, valueBatch("ok", 1, 0))
	waitDurable(t, l)

	saved := fsync
	fsync = func(*os.File) error { return errors.New("injected EIO") }
	defer func() { fsync = saved }()

	res := mustAppend(t, l, valueBatch("lost", 1, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitDurable(ctx, res.LastOffset); !isKerr(err, kerr.KafkaStorageError) {
		t.Fatalf("WaitDurable after a failed fsync = %v, want KAFKA_STORAGE_ERROR", err)
	}
	if hw := l.HighWatermark(); hw != 1 {
		t.Fatalf("HighWatermark = %d, want 1", hw)
	}
	if _, err := l.Append(valueBatch("more", 1, 0)); !isKerr(err, kerr.KafkaStorageError) {
		t.Fatalf("Append on a failed log = %v", err)
	}
	if _, err := l.Read(0, 100); !isKerr(err, kerr.KafkaStorageError) {
		t.Fatalf("Read on a failed log = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close on a failed log = %v", err)
	}
}

// TestCorruptCompressedRecords: the append path does not decompress, so a
// batch with a valid CRC around undecodable records is stored; decoding it
// later must fail cleanly with CORRUPT_MESSAGE.
func TestCorruptCompressedRecords(t *testing.T) {
	for _, codec := range []logtest.Codec{logtest.Gzip, logtest.Snappy, logtest.LZ4, logtest.Zstd, logtest.None} {
		t.Run(codec.String(), func(t *testing.T) {
			l := openLog(t, t.TempDir(), Config{}, nil)
			b := logtest.Batch(logtest.BatchOpts{Codec: codec}, logtest.Values(500, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")...)
			for i := batchHeaderSize + 2; i < len(b); i++ {
				b[i] = 0xf7
			}
			mustAppend(t, l, logtest.FixCRC(b))
			waitDurable(t, l)
			if _, _, _, err := l.OffsetForTimestamp(100); !isKerr(err, kerr.CorruptMessage) {
				t.Fatalf("OffsetForTimestamp over a corrupt %s batch = %v, want CORRUPT_MESSAGE", codec, err)
			}
			if off, ts, ok := l.MaxTimestamp(); !ok || ts != 500 || off != 1 {
				t.Fatalf("MaxTimestamp = %d, %d, %v; want the batch's last offset 1 at 500", off, ts, ok)
			}
		})
	}
}

// FuzzDecodeRecords feeds arbitrary record payloads for every codec to the
// record decoder used by OffsetForTimestamp: it must never panic or hang.
func FuzzDecodeRecords(f *testing.F) {
	for c := logtest.None; c <= logtest.Zstd; c++ {
		b := logtest.Batch(logtest.BatchOpts{Codec: c}, logtest.Values(7, "x", "yy", "zzz")...)
		f.Add(uint8(c), int32(3), b[batchHeaderSize:])
	}
	f.Fuzz(func(t *testing.T, codec uint8, n int32, records []byte) {
		b := logtest.Batch(logtest.BatchOpts{}, logtest.Values(7, "x")...)[:batchHeaderSize]
		b = append(b, records...)
		h := parseHeader(b)
		h.size = int64(len(b))
		h.attributes = int16(codec % 5)
		h.numRecords = n
		count := 0
		forEachRecord(b, &h, func(int32, int64) bool { count++; return true })
		if count > max(int(n), 0) {
			t.Fatalf("%d records reported for a count of %d", count, n)
		}
	})
}
