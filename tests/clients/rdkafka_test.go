package clients_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestRdkafkaProduceConsume100k: librdkafka (through confluent-kafka-go, its
// bundled static build) with its default producer settings.
func TestRdkafkaProduceConsume100k(t *testing.T) {
	produceConsume(t, clientNamed("librdkafka"), 100_000, 6)
}

// watchRdkafkaLogs routes a librdkafka client's logs into the test: protocol
// errors fail it (librdkafka often recovers from them by retrying, which
// would hide a broker encoding bug), everything at warning level or worse is
// printed when the test ends. Register it before the client's Close so that
// it runs after it.
func watchRdkafkaLogs(t *testing.T, conf ckafka.ConfigMap) {
	t.Helper()
	logs := make(chan ckafka.LogEvent, 64)
	conf["go.logs.channel.enable"] = true
	conf["go.logs.channel"] = logs
	done := make(chan struct{})
	stopped := make(chan struct{})
	var lines, protoErrs []string
	go func() {
		defer close(stopped)
		for {
			select {
			case ev := <-logs:
				if ev.Level <= 4 {
					lines = append(lines, ev.String())
				}
				if ev.Tag == "PROTOERR" || ev.Tag == "PROTOUFLOW" {
					protoErrs = append(protoErrs, ev.String())
				}
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-stopped
		for _, l := range lines {
			t.Log("librdkafka:", l)
		}
		if len(protoErrs) > 0 {
			t.Errorf("librdkafka reported %d protocol errors from the broker, first: %s", len(protoErrs), protoErrs[0])
		}
	})
}

func rdkafkaProduce(ctx context.Context, t *testing.T, addr, topic string, seqs []int, o produceOpts) []ack {
	t.Helper()
	codec := o.codec
	if codec == "" {
		codec = "none"
	}
	conf := ckafka.ConfigMap{
		"bootstrap.servers": addr,
		"acks":              strconv.Itoa(o.acks),
		"compression.codec": codec,
	}
	watchRdkafkaLogs(t, conf)
	p, err := ckafka.NewProducer(&conf)
	if err != nil {
		t.Fatalf("librdkafka: new producer: %v", err)
	}
	defer p.Close()

	reports := make(chan ckafka.Event, len(seqs))
	for _, seq := range seqs {
		m := &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
			Key:            []byte(recKey(seq)),
			Value:          []byte(recValue(seq)),
		}
		if o.timestamp != nil {
			m.Timestamp = o.timestamp(seq)
		}
		for {
			err := p.Produce(m, reports)
			var ke ckafka.Error
			if errors.As(err, &ke) && ke.Code() == ckafka.ErrQueueFull {
				p.Flush(10) // let the queue drain, then retry this record
				if ctx.Err() != nil {
					t.Fatalf("librdkafka: producing to %s: queue stayed full: %v", topic, ctx.Err())
				}
				continue
			}
			if err != nil {
				t.Fatalf("librdkafka: producing seq %d to %s: %v", seq, topic, err)
			}
			break
		}
	}
	acks := make([]ack, 0, len(seqs))
	for len(acks) < len(seqs) {
		select {
		case ev := <-reports:
			m, ok := ev.(*ckafka.Message)
			if !ok {
				t.Fatalf("librdkafka: unexpected delivery event %v", ev)
			}
			if m.TopicPartition.Error != nil {
				t.Fatalf("librdkafka: delivery of %s failed: %v", m.Value, m.TopicPartition.Error)
			}
			seq, err := seqOf(string(m.Value))
			if err != nil {
				t.Fatal(err)
			}
			off := int64(m.TopicPartition.Offset)
			if o.acks == 0 {
				off = -1
			}
			acks = append(acks, ack{Seq: seq, Partition: m.TopicPartition.Partition, Offset: off})
		case <-ctx.Done():
			t.Fatalf("librdkafka: %d of %d delivery reports after %v", len(acks), len(seqs), ctx.Err())
		}
	}
	return acks
}

func newRdkafkaConsumer(t *testing.T, addr string, extra ckafka.ConfigMap) *ckafka.Consumer {
	t.Helper()
	conf := ckafka.ConfigMap{
		"bootstrap.servers":  addr,
		"group.id":           "tributary-tests-" + t.Name(),
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
		"fetch.wait.max.ms":  100,
	}
	for k, v := range extra {
		conf[k] = v
	}
	watchRdkafkaLogs(t, conf)
	c, err := ckafka.NewConsumer(&conf)
	if err != nil {
		t.Fatalf("librdkafka: new consumer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rdkafkaConsume(ctx context.Context, t *testing.T, addr, topic string, ends map[int32]int64) map[int32][]got {
	t.Helper()
	c := newRdkafkaConsumer(t, addr, nil)
	var tps []ckafka.TopicPartition
	for p, e := range ends {
		if e > 0 {
			tps = append(tps, ckafka.TopicPartition{Topic: &topic, Partition: p, Offset: ckafka.OffsetBeginning})
		}
	}
	if err := c.Assign(tps); err != nil {
		t.Fatalf("librdkafka: assign: %v", err)
	}
	out := rdkafkaReadUntil(ctx, t, c, ends)
	c.Close()
	return out
}

// rdkafkaReadUntil polls c until every partition p in ends has returned a
// record at offset ends[p]-1 or later; records at or past ends[p] are dropped.
func rdkafkaReadUntil(ctx context.Context, t *testing.T, c *ckafka.Consumer, ends map[int32]int64) map[int32][]got {
	t.Helper()
	out := make(map[int32][]got)
	pending := 0
	for _, e := range ends {
		if e > 0 {
			pending++
		}
	}
	for pending > 0 {
		if ctx.Err() != nil {
			t.Fatalf("librdkafka: consuming: %v with %d partitions unfinished; %s", ctx.Err(), pending, summarize(out))
		}
		switch ev := c.Poll(100).(type) {
		case *ckafka.Message:
			if ev.TopicPartition.Error != nil {
				t.Fatalf("librdkafka: consuming: %v", ev.TopicPartition.Error)
			}
			g := rdkafkaGot(ev)
			end := ends[g.Partition]
			if g.Offset >= end {
				continue
			}
			out[g.Partition] = append(out[g.Partition], g)
			if g.Offset == end-1 {
				pending--
			}
		case ckafka.Error:
			// Transient errors (a broker restart, a timeout) are retried by
			// librdkafka itself; only fatal ones end the test.
			if ev.IsFatal() {
				t.Fatalf("librdkafka: fatal: %v", ev)
			}
			t.Logf("librdkafka: %v", ev)
		}
	}
	return out
}

func rdkafkaGot(m *ckafka.Message) got {
	return got{
		Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset),
		Key: string(m.Key), Value: string(m.Value), Timestamp: m.Timestamp,
	}
}
