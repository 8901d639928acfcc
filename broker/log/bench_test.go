package log

import (
	"context"
	"testing"

	"github.com/tributary/tributary/broker/log/logtest"
)

// benchBatch is a ~16 KiB uncompressed batch of 1 KiB records.
func benchBatch() []byte {
	recs := make([]logtest.Record, 16)
	for i := range recs {
		v := make([]byte, 1024)
		for j := range v {
			v[j] = byte(i + j)
		}
		recs[i] = logtest.Record{Value: v, Timestamp: 1_700_000_000_000}
	}
	return logtest.Batch(logtest.BatchOpts{}, recs...)
}

var benchConfig = Config{SegmentBytes: 64 << 20, RetentionBytes: 256 << 20, RetentionAge: -1}

// BenchmarkAppend appends 16 KiB batches. "page-cache" returns as soon as the
// data is written; "durable" waits for the fsync after every append (one
// producer, acks=all); "durable-roll-every-append" adds a segment roll to
// each; "durable-parallel" has many producers share fsyncs.
//
//	go test ./broker/log/ -run '^$' -bench . -benchtime 2s
func BenchmarkAppend(b *testing.B) {
	batch := benchBatch()
	run := func(b *testing.B, wait bool) {
		l := openLog(b, b.TempDir(), benchConfig, nil)
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			res, err := l.Append(batch)
			if err != nil {
				b.Fatal(err)
			}
			if wait {
				if err := l.WaitDurable(context.Background(), res.LastOffset); err != nil {
					b.Fatal(err)
				}
			}
			if i%4096 == 4095 {
				l.EnforceRetention()
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(l.fsyncs.Load())/float64(b.N), "fsyncs/op")
	}
	b.Run("page-cache", func(b *testing.B) { run(b, false) })
	b.Run("durable", func(b *testing.B) { run(b, true) })
	b.Run("durable-roll-every-append", func(b *testing.B) {
		// Worst case for rolls: each append seals a segment (fsync, indexes, snapshot).
		l := openLog(b, b.TempDir(), Config{SegmentBytes: 1, RetentionAge: -1, RetentionBytes: -1}, nil)
		b.SetBytes(int64(len(batch)))
		b.ResetTimer()
		for range b.N {
			res, err := l.Append(batch)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.WaitDurable(context.Background(), res.LastOffset); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(l.fsyncs.Load())/float64(b.N), "fsyncs/op")
	})
	b.Run("durable-parallel", func(b *testing.B) {
		l := openLog(b, b.TempDir(), benchConfig, nil)
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			own := append([]byte(nil), batch...) // Append rewrites offsets in place
			for pb.Next() {
				res, err := l.Append(own)
				if err != nil {
					b.Error(err)
					return
				}
				if err := l.WaitDurable(context.Background(), res.LastOffset); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(l.fsyncs.Load())/float64(b.N), "fsyncs/op")
	})
}

// BenchmarkRead reads 1 MiB at a time from a 64 MiB log into a reused buffer.
func BenchmarkRead(b *testing.B) {
	l := openLog(b, b.TempDir(), benchConfig, nil)
	batch := benchBatch()
	for range (64 << 20) / len(batch) {
		if _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
	waitDurable(b, l)
	end := l.HighWatermark()
	buf := make([]byte, 0, 2<<20)
	var offset int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := l.Read(offset, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = s.ReadBytes(buf[:0]); err != nil {
			b.Fatal(err)
		}
		s.Release()
		b.SetBytes(s.Len)
		offset += 16 * int64(len(buf)/len(batch))
		if offset >= end {
			offset = 0
		}
	}
}
