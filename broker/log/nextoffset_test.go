package log

import (
	"fmt"
	"testing"

	"github.com/tributary/tributary/broker/log/logtest"
)

// Slice.NextOffset is the offset after the last record of the slice, for
// every start offset and size limit, across segment boundaries and up to the
// high watermark.
func TestReadNextOffset(t *testing.T) {
	cfg := Config{SegmentBytes: 4096, IndexIntervalBytes: 256}
	l := openLog(t, t.TempDir(), cfg, nil)
	for i := 0; i < 60; i++ {
		n := 1 + i%4
		vals := make([]string, n)
		for j := range vals {
			vals[j] = fmt.Sprintf("batch%03d-record%d-%s", i, j, "padding-padding-padding")
		}
		mustAppend(t, l, logtest.Batch(logtest.BatchOpts{}, logtest.Values(1_700_000_000_000, vals...)...))
	}
	waitDurable(t, l)
	hw := l.HighWatermark()
	for off := int64(0); off < hw; off += 3 {
		for _, max := range []int32{1, 200, 700, 3000, 1 << 20} {
			s, err := l.Read(off, max)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", off, max, err)
			}
			b, err := s.ReadBytes(nil)
			s.Release()
			if err != nil {
				t.Fatal(err)
			}
			batches, err := logtest.Decode(b)
			if err != nil || len(batches) == 0 {
				t.Fatalf("Read(%d, %d): %d batches, err %v", off, max, len(batches), err)
			}
			last := batches[len(batches)-1].Batch
			want := last.FirstOffset + int64(last.LastOffsetDelta) + 1
			if s.NextOffset != want {
				t.Fatalf("Read(%d, %d): NextOffset %d, want %d (after the slice's last record)", off, max, s.NextOffset, want)
			}
		}
	}
}
