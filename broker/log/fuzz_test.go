package log

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tributary/tributary/broker/log/logtest"
)

// validSegment is the byte image of a segment holding a few valid batches
// with offsets assigned, and the batch start positions (plus the end).
var validSegment = sync.OnceValues(func() ([]byte, []int64) {
	var seg []byte
	var pos []int64
	next := int64(0)
	codecs := []logtest.Codec{logtest.None, logtest.Gzip, logtest.None, logtest.Zstd, logtest.Snappy, logtest.LZ4, logtest.None}
	for i, c := range codecs {
		n := 1 + i%3
		b := logtest.Batch(logtest.BatchOpts{Codec: c, BaseOffset: next, Producer: &logtest.Producer{ID: 7, Seq: int32(next)}},
			logtest.Values(int64(1000+i), fmt.Sprint(next), fmt.Sprint(next+1), fmt.Sprint(next+2))[:n]...)
		pos = append(pos, int64(len(seg)))
		seg = append(seg, b...)
		next += int64(n)
	}
	return seg, append(pos, int64(len(seg)))
})

// Each input opens real files (~10 ms), so keep minimization short:
//
//	go test ./broker/log/ -run '^$' -fuzz '^FuzzAppend$' -fuzztime 1m -fuzzminimizetime 2s
//
// (likewise FuzzRecover and FuzzDecodeRecords). fsync is a no-op in these targets.

// FuzzRecover damages the tail of a valid segment and checks that Open keeps
// exactly the batches before the damage and that appends continue after them.
func FuzzRecover(f *testing.F) {
	seg, pos := validSegment()
	f.Add(uint8(0), uint16(0), []byte("garbage"))
	f.Add(uint8(1), uint16(pos[3]+30), []byte{0xff})
	f.Add(uint8(2), uint16(pos[4]+7), []byte{})
	f.Add(uint8(2), uint16(pos[2]), seg[pos[2]:pos[3]])
	f.Add(uint8(0), uint16(0), seg[pos[1]:pos[2]])
	f.Add(uint8(1), uint16(pos[5]+8), []byte{0, 0, 0, 0})
	withoutFsync(f)
	f.Fuzz(func(t *testing.T, mode uint8, at uint16, data []byte) {
		seg, pos := validSegment()
		img := bytes.Clone(seg)
		switch mode % 3 {
		case 0: // append
			img = append(img, data...)
		case 1: // overwrite
			copy(img[int(at)%len(img):], data)
		case 2: // truncate, then append
			img = append(img[:int(at)%(len(img)+1)], data...)
		}
		// The first byte that differs from the valid image.
		damage := int64(firstDiff(img, seg))
		if damage < 0 {
			damage = int64(min(len(img), len(seg)))
		}
		survivors := 0 // records in batches wholly before the damage
		for i := 0; i+1 < len(pos) && pos[i+1] <= damage; i++ {
			survivors += 1 + i%3
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000000.log"), img, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := open(Options{Dir: dir, Logger: quietLogger}, false)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		leo := l.LogEndOffset()
		if leo < int64(survivors) || l.HighWatermark() != leo {
			t.Fatalf("LEO %d HW %d, want at least the %d records before the damage at byte %d", leo, l.HighWatermark(), survivors, damage)
		}
		got := readBatches(t, l)
		for i := 0; i < len(got) && pos[i+1] <= damage; i++ {
			if !bytes.Equal(got[i], seg[pos[i]:pos[i+1]]) {
				t.Fatalf("batch %d changed by recovery", i)
			}
		}
		res, err := l.Append(valueBatch("next", 1, 0))
		if err != nil || res.BaseOffset != leo {
			t.Fatalf("append after recovery: %+v, %v; want offset %d", res, err, leo)
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// readBatches reads every batch below the high watermark and checks that each
// is well formed and that offsets are contiguous.
func readBatches(t testing.TB, l *Log) [][]byte {
	t.Helper()
	var out [][]byte
	next := l.LogStartOffset()
	for next < l.HighWatermark() {
		s, err := l.Read(next, 1<<20)
		if err != nil {
			t.Fatalf("Read(%d): %v", next, err)
		}
		b, err := s.ReadBytes(nil)
		s.Release()
		if err != nil || len(b) == 0 {
			t.Fatalf("Read(%d) below HW %d: %d bytes, %v", next, l.HighWatermark(), len(b), err)
		}
		for p := int64(0); p < int64(len(b)); {
			h, err := checkFraming(b[p:], int64(len(b))-p, p)
			if err == nil {
				err = checkCRC(b[p:p+h.size], p)
			}
			if err != nil {
				t.Fatalf("Read(%d): invalid batch: %v", next, err)
			}
			if h.baseOffset != next {
				t.Fatalf("batch at offset %d, want %d", h.baseOffset, next)
			}
			out = append(out, b[p:p+h.size])
			next = h.lastOffset() + 1
			p += h.size
		}
	}
	return out
}

// FuzzAppend feeds arbitrary bytes to Append between two valid batches. The
// log must stay readable, unchanged by rejected input, and identical after
// clean and crash reopens.
func FuzzAppend(f *testing.F) {
	seg, pos := validSegment()
	f.Add(false, seg)
	f.Add(false, seg[pos[1]:pos[2]])
	f.Add(true, seg[pos[3]:pos[5]])
	f.Add(true, seg[:pos[1]+20])
	f.Add(false, []byte{})
	f.Add(true, bytes.Repeat([]byte{0}, 70))
	withoutFsync(f)
	f.Fuzz(func(t *testing.T, fixCRC bool, data []byte) {
		data = bytes.Clone(data)
		if fixCRC {
			logtest.FixCRC(data)
		}
		dir := t.TempDir()
		// No background flusher: its timing would make coverage flaky.
		l, err := open(Options{Dir: dir, Logger: quietLogger, Config: Config{SegmentBytes: 2048, IndexIntervalBytes: 64}}, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		mustAppend(t, l, valueBatch("before", 2, 0))
		leo, size := l.LogEndOffset(), l.Size()
		res, err := l.Append(data)
		switch {
		case err != nil:
			if l.LogEndOffset() != leo || l.Size() != size {
				t.Fatalf("rejected append changed the log: %v", err)
			}
		case res.Duplicate:
			if l.LogEndOffset() != leo {
				t.Fatal("duplicate append changed the log")
			}
		default:
			if res.BaseOffset != leo || res.LastOffset < res.BaseOffset || l.LogEndOffset() != res.LastOffset+1 {
				t.Fatalf("append result %+v with LEO %d -> %d", res, leo, l.LogEndOffset())
			}
		}
		after := mustAppend(t, l, valueBatch("after", 1, 0))
		l.flushOnce()
		if l.HighWatermark() != l.LogEndOffset() {
			t.Fatalf("HW %d after a flush, LEO %d", l.HighWatermark(), l.LogEndOffset())
		}
		got := readBatches(t, l)
		if after.BaseOffset != l.LogEndOffset()-1 {
			t.Fatalf("trailing batch at %d, LEO %d", after.BaseOffset, l.LogEndOffset())
		}
		img := crashImage(t, dir)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, img} {
			l2, err := open(Options{Dir: d, Logger: quietLogger, Config: Config{SegmentBytes: 2048, IndexIntervalBytes: 64}}, false)
			if err != nil {
				t.Fatal(err)
			}
			again := readBatches(t, l2)
			l2.Close()
			if len(again) != len(got) {
				t.Fatalf("%s: %d batches after reopen, %d before", d, len(again), len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i], again[i]) {
					t.Fatalf("%s: batch %d differs after reopen", d, i)
				}
			}
		}
	})
}
