package clients_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestKafkaGoProduceConsume100k: segmentio/kafka-go, the client the rest of
// Tributary uses (Writer with the Hash balancer, one Reader per partition).
func TestKafkaGoProduceConsume100k(t *testing.T) {
	produceConsume(t, clientNamed("kafka-go"), 100_000, 6)
}

func kafkaGoCodec(name string) kafka.Compression {
	switch name {
	case "", "none":
		return 0
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	}
	panic("unknown codec " + name)
}

// recordingBalancer is kafka-go's Hash balancer, remembering where it sent
// each record: with acks=0 the Writer reports no partition.
type recordingBalancer struct {
	kafka.Hash
	mu  sync.Mutex
	got map[int]int32
	err error
}

func (b *recordingBalancer) Balance(msg kafka.Message, partitions ...int) int {
	p := b.Hash.Balance(msg, partitions...)
	seq, err := seqOf(string(msg.Value))
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.err = err
	}
	b.got[seq] = int32(p)
	return p
}

func kafkaGoProduce(ctx context.Context, t *testing.T, addr, topic string, seqs []int, o produceOpts) []ack {
	t.Helper()
	bal := &recordingBalancer{got: make(map[int]int32, len(seqs))}
	var mu sync.Mutex
	reported := make(map[int]kafka.Message, len(seqs))
	var firstErr error
	// A Transport of its own: kafka-go's DefaultTransport is shared by every
	// Writer in the process and answers metadata from a cache refreshed every
	// few seconds, so a topic that another client just created would be
	// UNKNOWN_TOPIC_OR_PARTITION to it (client behaviour, also against Kafka).
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Transport:    tr,
		Topic:        topic,
		Balancer:     bal,
		RequiredAcks: kafka.RequiredAcks(o.acks),
		Compression:  kafkaGoCodec(o.codec),
		BatchSize:    1000,
		BatchTimeout: 5 * time.Millisecond,
		Completion: func(msgs []kafka.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			for _, m := range msgs {
				if seq, err := seqOf(string(m.Value)); err == nil {
					reported[seq] = m
				}
			}
		},
	}
	msgs := make([]kafka.Message, len(seqs))
	for i, seq := range seqs {
		msgs[i] = kafka.Message{Key: []byte(recKey(seq)), Value: []byte(recValue(seq))}
		if o.timestamp != nil {
			msgs[i].Time = o.timestamp(seq)
		}
	}
	err := w.WriteMessages(ctx, msgs...)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = firstErr
	}
	if err == nil {
		err = bal.err
	}
	if err != nil {
		t.Fatalf("kafka-go: writing %d records to %s: %v", len(seqs), topic, err)
	}
	acks := make([]ack, len(seqs))
	for i, seq := range seqs {
		a := ack{Seq: seq, Partition: bal.got[seq], Offset: -1}
		if o.acks != 0 {
			m, ok := reported[seq]
			if !ok {
				t.Fatalf("kafka-go: no completion for seq %d", seq)
			}
			if int32(m.Partition) != a.Partition {
				t.Fatalf("kafka-go: seq %d balanced to partition %d but written to %d", seq, a.Partition, m.Partition)
			}
			a.Offset = m.Offset
		}
		acks[i] = a
	}
	return acks
}

func kafkaGoConsume(ctx context.Context, t *testing.T, addr, topic string, ends map[int32]int64) map[int32][]got {
	t.Helper()
	type result struct {
		p   int32
		gs  []got
		err error
	}
	results := make(chan result, len(ends))
	for p, end := range ends {
		go func() {
			gs, err := kafkaGoReadPartition(ctx, addr, topic, p, kafka.FirstOffset, end)
			results <- result{p, gs, err}
		}()
	}
	out := make(map[int32][]got)
	var errs []error
	for range ends {
		r := <-results
		out[r.p] = r.gs
		errs = append(errs, r.err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("kafka-go: %v", err)
	}
	return out
}

// kafkaGoReadPartition reads one partition from offset (or kafka.FirstOffset)
// until the record before end.
func kafkaGoReadPartition(ctx context.Context, addr, topic string, p int32, offset, end int64) ([]got, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{addr},
		Topic:     topic,
		Partition: int(p),
		MinBytes:  1,
		MaxBytes:  8 << 20,
		MaxWait:   250 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		return nil, err
	}
	var gs []got
	for end > 0 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return gs, fmt.Errorf("reading %s/%d after %d records: %w", topic, p, len(gs), err)
		}
		if m.Offset < end {
			gs = append(gs, kafkaGoGot(m))
		}
		if m.Offset >= end-1 {
			break
		}
	}
	return gs, nil
}

func kafkaGoGot(m kafka.Message) got {
	return got{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Time}
}
