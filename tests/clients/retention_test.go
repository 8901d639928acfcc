package clients_test

import (
	"context"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/broker"
)

// TestRetentionOutOfRange: a topic with small segments and a short
// retention.ms loses its old segments; consumers positioned before the new
// log start (by a committed group offset or an explicit offset) get
// OFFSET_OUT_OF_RANGE and their reset policy (earliest) moves them to the new
// log start, from where they read everything exactly.
func TestRetentionOutOfRange(t *testing.T) {
	ctx := testContext(t, 90*time.Second)
	_, addr := startBroker(t, func(o *broker.Options) { o.RetentionCheckInterval = 20 * time.Millisecond })
	adm := newAdmin(t, addr)
	const topic = "retained"
	const committedAt, explicitAt = 5, 10
	createTopic(ctx, t, adm, topic, 1, map[string]string{"segment.bytes": "1024", "retention.ms": "500"})
	producer := newKgo(t, addr, kgo.DefaultProduceTopic(topic))

	// 200 records in batches of 4: about 40 segments of 1 KiB.
	var acks []ack
	for from := 0; from < 200; from += 4 {
		acks = append(acks, produceToPartitions(ctx, t, producer, seqRange(from, from+4), 1)...)
	}
	groups := []string{"kafka-go", "kgo", "librdkafka"}
	offsets := make(kadm.Offsets)
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: committedAt, LeaderEpoch: -1})
	for _, g := range groups {
		if err := adm.CommitAllOffsets(ctx, "retention-"+g, offsets); err != nil {
			t.Fatalf("committing offset %d for group retention-%s: %v", committedAt, g, err)
		}
	}

	waitFor(ctx, t, "retention to delete old segments", func() (bool, error) {
		start, err := listOffsetsErr(ctx, adm, topic, true)
		return err == nil && start[0] >= 100, err
	})
	// Keep what is left from now on, so the log start stops moving.
	alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("-1")}}, topic)
	if err == nil {
		_, err = alter.On(topic, nil)
	}
	if err != nil {
		t.Fatalf("setting retention.ms=-1: %v", err)
	}
	acks = append(acks, produceToPartitions(ctx, t, producer, seqRange(200, 220), 1)...)
	end := int64(220)
	if got := listOffsets(ctx, t, adm, topic, false)[0]; got != end {
		t.Fatalf("end offset %d, want %d", got, end)
	}
	if _, code := rawBatches(ctx, t, producer, topic, 0, committedAt); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("raw fetch at offset %d: error %v, want OFFSET_OUT_OF_RANGE", committedAt, kerr.ErrorForCode(code))
	}

	// Each consumer reads from where its reset policy put it to the end.
	readers := map[string]func(t *testing.T) []got{
		"kgo/committed": func(t *testing.T) []got {
			return groupReadAll(ctx, t, kgoMember, addr, "retention-kgo", topic, end)
		},
		"kafka-go/committed": func(t *testing.T) []got {
			return groupReadAll(ctx, t, kafkaGoMember, addr, "retention-kafka-go", topic, end)
		},
		"librdkafka/committed": func(t *testing.T) []got {
			return groupReadAll(ctx, t, rdkafkaMember, addr, "retention-librdkafka", topic, end)
		},
		"kgo/explicit": func(t *testing.T) []got {
			cl := newKgo(t, addr,
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(explicitAt)}}),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			return kgoReadUntil(ctx, t, cl, map[int32]int64{0: end})[0]
		},
		"kafka-go/explicit": func(t *testing.T) []got {
			gs, err := kafkaGoReadPartition(ctx, addr, topic, 0, explicitAt, end)
			if err != nil {
				t.Fatalf("kafka-go: %v", err)
			}
			return gs
		},
		"librdkafka/explicit": func(t *testing.T) []got {
			c := newRdkafkaConsumer(t, addr, ckafka.ConfigMap{"auto.offset.reset": "earliest"})
			name := topic
			if err := c.Assign([]ckafka.TopicPartition{{Topic: &name, Partition: 0, Offset: explicitAt}}); err != nil {
				t.Fatalf("librdkafka: assign: %v", err)
			}
			return rdkafkaReadUntil(ctx, t, c, map[int32]int64{0: end})[0]
		},
	}
	for _, name := range []string{"kgo/committed", "kafka-go/committed", "librdkafka/committed", "kgo/explicit", "kafka-go/explicit", "librdkafka/explicit"} {
		t.Run(name, func(t *testing.T) {
			gs := readers[name](t)
			start := listOffsets(ctx, t, adm, topic, true)[0]
			if start <= explicitAt {
				t.Fatalf("log start %d: retention did not move it past the consumers", start)
			}
			if len(gs) == 0 || gs[0].Offset != start {
				t.Fatalf("first record read: %v, want the one at the log start %d", head(gs, 1), start)
			}
			var want []ack
			for _, a := range acks {
				if a.Offset >= start {
					want = append(want, a)
				}
			}
			checkExact(t, want, map[int32][]got{0: gs}, true)
			t.Logf("log start %d: read %d records from it", start, len(gs))
		})
	}
}

// groupReadAll joins group with one member and returns what it reads up to
// the record before end.
func groupReadAll(ctx context.Context, t *testing.T, start startMember, addr, group, topic string, end int64) []got {
	t.Helper()
	out := make(chan delivery, 10_000)
	stop := start(ctx, t, addr, group, topic, "reader", out)
	defer stop()
	var gs []got
	for len(gs) == 0 || gs[len(gs)-1].Offset < end-1 {
		select {
		case d := <-out:
			if d.err != nil {
				t.Fatalf("%s: %v", group, d.err)
			}
			if d.commitErr != nil {
				t.Errorf("%s: committing %v: %v", group, d.rec, d.commitErr)
			}
			gs = append(gs, d.rec)
		case <-ctx.Done():
			t.Fatalf("%s: %v after %d records", group, ctx.Err(), len(gs))
		}
	}
	return gs
}
