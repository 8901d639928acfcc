package log

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tributary/tributary/broker/log/logtest"
)

type offsetTs struct{ off, ts int64 }

func TestOffsetForTimestamp(t *testing.T) {
	codecs := []struct {
		name string
		opts logtest.BatchOpts
	}{
		{"none", logtest.BatchOpts{}},
		{"gzip", logtest.BatchOpts{Codec: logtest.Gzip}},
		{"snappy xerial", logtest.BatchOpts{Codec: logtest.Snappy}},
		{"snappy raw", logtest.BatchOpts{Codec: logtest.Snappy, RawSnappy: true}},
		{"lz4", logtest.BatchOpts{Codec: logtest.LZ4}},
		{"zstd", logtest.BatchOpts{Codec: logtest.Zstd}},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			dir := t.TempDir()
			cfg := Config{SegmentBytes: 3000, IndexIntervalBytes: 200, RetentionAge: -1}
			l := openLog(t, dir, cfg, nil)
			var all []offsetTs
			base := int64(1_000_000)
			for b := range 40 {
				n := 1 + rng.IntN(8)
				recs := make([]logtest.Record, n)
				for i := range recs {
					// Mostly increasing with jitter, so batches overlap in time.
					ts := base + int64(b)*100 + rng.Int64N(300) - 100
					recs[i] = logtest.Record{Value: []byte(fmt.Sprintf("%d/%d", b, i)), Timestamp: ts}
					all = append(all, offsetTs{int64(len(all)), ts})
				}
				mustAppend(t, l, logtest.Batch(c.opts, recs...))
			}
			waitDurable(t, l)
			check := func(l *Log) {
				t.Helper()
				queries := []int64{0, base - 200, base, base + 1, base + 1234, base + 2000, base + 3999, base + 4100, base + 5000}
				for range 100 {
					queries = append(queries, base-150+rng.Int64N(4300))
				}
				for _, q := range queries {
					want, wantOk := firstAtOrAfter(all, q)
					off, ts, ok, err := l.OffsetForTimestamp(q)
					if err != nil {
						t.Fatalf("OffsetForTimestamp(%d): %v", q, err)
					}
					if ok != wantOk || (ok && (off != want.off || ts != want.ts)) {
						t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v", q, off, ts, ok, want.off, want.ts, wantOk)
					}
				}
				wantMax := all[0]
				for _, r := range all {
					if r.ts > wantMax.ts {
						wantMax = r
					}
				}
				off, ts, ok := l.MaxTimestamp()
				if !ok || off != wantMax.off || ts != wantMax.ts {
					t.Fatalf("MaxTimestamp = %d, %d, %v; want %d, %d", off, ts, ok, wantMax.off, wantMax.ts)
				}
			}
			check(l)
			if len(segmentFiles(t, dir)) < 2 {
				t.Fatal("test wants several segments")
			}
			l.Close()
			check(openLog(t, dir, cfg, nil))
			check(openLog(t, crashImage(t, dir), cfg, nil))
		})
	}
}

func firstAtOrAfter(all []offsetTs, q int64) (offsetTs, bool) {
	for _, r := range all {
		if r.ts >= q {
			return r, true
		}
	}
	return offsetTs{}, false
}

func TestOffsetForTimestampLimits(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{}, nil)
	if _, _, ok := l.MaxTimestamp(); ok {
		t.Fatal("MaxTimestamp on an empty log")
	}
	if _, _, ok, err := l.OffsetForTimestamp(0); ok || err != nil {
		t.Fatalf("OffsetForTimestamp on an empty log: %v, %v", ok, err)
	}
	mustAppend(t, l, logtest.Batch(logtest.BatchOpts{}, logtest.Values(100, "a", "b")...))
	mustAppend(t, l, logtest.Batch(logtest.BatchOpts{LogAppendTime: true},
		logtest.Record{Value: []byte("c"), Timestamp: 300}, logtest.Record{Value: []byte("d"), Timestamp: 200}))
	waitDurable(t, l)
	// A log-append-time batch stamps every record with its max timestamp.
	if off, ts, ok, err := l.OffsetForTimestamp(150); err != nil || !ok || off != 2 || ts != 300 {
		t.Fatalf("OffsetForTimestamp(150) = %d, %d, %v, %v", off, ts, ok, err)
	}
	if _, _, ok, _ := l.OffsetForTimestamp(301); ok {
		t.Fatal("found a record newer than all")
	}
	if err := l.DeleteRecordsBefore(1); err != nil {
		t.Fatal(err)
	}
	if off, _, ok, _ := l.OffsetForTimestamp(0); !ok || off != 1 {
		t.Fatalf("OffsetForTimestamp(0) after DeleteRecords(1) = %d, %v; want 1", off, ok)
	}
}
