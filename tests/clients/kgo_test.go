package clients_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKgoProduceConsume100k: franz-go with its default idempotent producer.
func TestKgoProduceConsume100k(t *testing.T) {
	produceConsume(t, clientNamed("kgo"), 100_000, 6)
}

func clientNamed(name string) client {
	for _, c := range clients {
		if c.name == name {
			return c
		}
	}
	panic("no client " + name)
}

func kgoCodec(name string) kgo.CompressionCodec {
	switch name {
	case "", "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	panic("unknown codec " + name)
}

// kgoAcks returns the options for an acks level. Below acks=all the
// idempotent producer (kgo's default) must be turned off, as kgo requires.
func kgoAcks(acks int) []kgo.Opt {
	switch acks {
	case 0:
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}
	case 1:
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}
	}
	return nil // default: acks=all, idempotent
}

func kgoRecord(seq int, o produceOpts) *kgo.Record {
	r := &kgo.Record{Key: []byte(recKey(seq)), Value: []byte(recValue(seq))}
	if o.timestamp != nil {
		r.Timestamp = o.timestamp(seq)
	}
	return r
}

func kgoProduce(ctx context.Context, t *testing.T, addr, topic string, seqs []int, o produceOpts) []ack {
	t.Helper()
	opts := append([]kgo.Opt{
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgoCodec(o.codec)),
	}, kgoAcks(o.acks)...)
	cl := newKgo(t, addr, opts...)
	defer cl.Close()

	acks := make([]ack, len(seqs))
	var mu sync.Mutex
	var firstErr error
	for i, seq := range seqs {
		cl.Produce(ctx, kgoRecord(seq, o), func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			off := r.Offset
			if o.acks == 0 {
				off = -1
			}
			acks[i] = ack{Seq: seq, Partition: r.Partition, Offset: off}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("kgo: flushing %d records to %s: %v", len(seqs), topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		t.Fatalf("kgo: producing to %s: %v", topic, firstErr)
	}
	return acks
}

func kgoConsume(ctx context.Context, t *testing.T, addr, topic string, ends map[int32]int64) map[int32][]got {
	t.Helper()
	start := make(map[int32]kgo.Offset)
	for p, e := range ends {
		if e > 0 {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	cl := newKgo(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchMaxWait(250*time.Millisecond))
	defer cl.Close()
	return kgoReadUntil(ctx, t, cl, ends)
}

// kgoReadUntil polls cl until every partition p in ends has returned a record
// at offset ends[p]-1 or later; records at or past ends[p] are dropped.
func kgoReadUntil(ctx context.Context, t *testing.T, cl *kgo.Client, ends map[int32]int64) map[int32][]got {
	t.Helper()
	out := make(map[int32][]got)
	pending := 0
	for _, e := range ends {
		if e > 0 {
			pending++
		}
	}
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("kgo: consuming: %v with %d partitions unfinished; read so far: %s", ctx.Err(), pending, summarize(out))
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("kgo: fetching %s/%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			end := ends[r.Partition]
			if r.Offset >= end {
				return
			}
			out[r.Partition] = append(out[r.Partition], kgoGot(r))
			if r.Offset == end-1 {
				pending--
			}
		})
	}
	return out
}

func kgoGot(r *kgo.Record) got {
	return got{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Timestamp: r.Timestamp}
}

// summarize describes what was read per partition, for failure messages.
func summarize(out map[int32][]got) string {
	s := ""
	for p, gs := range out {
		if len(gs) > 0 {
			s += " " + gs[len(gs)-1].String()
		} else {
			s += fmt.Sprintf(" p%d:none", p)
		}
	}
	return "last per partition:" + s
}
