package servers_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/internal/testservers"
)

const kafkaRecords = 1000

type record struct{ Key, Value string }

func kafkaWant(prefix string) []record {
	out := make([]record, kafkaRecords)
	for i := range out {
		out[i] = record{Key: fmt.Sprintf("host-%d", i%7), Value: fmt.Sprintf("%s record %d", prefix, i)}
	}
	return out
}

// createTopic makes a one-partition topic, so records come back in order.
func createTopic(t *testing.T, ctx context.Context, bootstrap, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
}

// TestKafkaFranzGoProduceKafkaGoConsume produces with franz-go and consumes
// with kafka-go from the real Apache Kafka.
func TestKafkaFranzGoProduceKafkaGoConsume(t *testing.T) {
	bootstrap := testservers.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("smoke-kgo-%d", time.Now().UnixNano())
	createTopic(t, ctx, bootstrap, topic)
	want := kafkaWant("kgo")

	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	var recs []*kgo.Record
	for _, r := range want {
		recs = append(recs, &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value)})
	}
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("kgo produce: %v", err)
	}

	reader := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer reader.Close()
	var got []record
	for len(got) < kafkaRecords {
		m, err := reader.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read after %d records: %v", len(got), err)
		}
		if m.Offset != int64(len(got)) {
			t.Fatalf("kafka-go read offset %d, want %d", m.Offset, len(got))
		}
		got = append(got, record{Key: string(m.Key), Value: string(m.Value)})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kafka-go consumed records differ from those kgo produced")
	}
}

// TestKafkaKafkaGoProduceFranzGoConsume produces with kafka-go (acks=all) and
// consumes with franz-go from the real Apache Kafka.
func TestKafkaKafkaGoProduceFranzGoConsume(t *testing.T) {
	bootstrap := testservers.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("smoke-kafkago-%d", time.Now().UnixNano())
	createTopic(t, ctx, bootstrap, topic)
	want := kafkaWant("kafka-go")

	writer := &kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, RequiredAcks: kafka.RequireAll, BatchSize: 200, BatchTimeout: 10 * time.Millisecond}
	defer writer.Close()
	var msgs []kafka.Message
	for _, r := range want {
		msgs = append(msgs, kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)})
	}
	if err := writer.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []record
	for len(got) < kafkaRecords {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("kgo consumed %d of %d records: %v", len(got), kafkaRecords, err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("kgo fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(len(got)) {
				t.Fatalf("kgo read offset %d, want %d", r.Offset, len(got))
			}
			got = append(got, record{Key: string(r.Key), Value: string(r.Value)})
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kgo consumed records differ from those kafka-go produced")
	}
}
