package clients_test

import (
	"context"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSeek: every client starts reading a partition at its earliest offset,
// at a given offset, and at a timestamp, and the first record returned is
// exactly the expected one. Records are 10 ms apart and sent lz4-compressed
// in few large batches, so the timestamp lookup has to find the record inside
// a compressed batch, not just the batch.
func TestSeek(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	_, addr := startBroker(t)
	adm := newAdmin(t, addr)
	const topic, n = "seekable", 500
	createTopic(ctx, t, adm, topic, 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	tsOf := func(seq int) time.Time { return base.Add(time.Duration(seq) * 10 * time.Millisecond) }

	producer := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	rs := make([]*kgo.Record, n)
	for seq := range n {
		rs[seq] = kgoRecord(seq, produceOpts{timestamp: tsOf})
	}
	if err := producer.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	for seq, r := range rs {
		if r.Offset != int64(seq) {
			t.Fatalf("seq %d stored at offset %d, want %d", seq, r.Offset, seq)
		}
	}
	batches, _ := rawBatches(ctx, t, producer, topic, 0, 0)
	t.Logf("%d records in %d batches", n, len(batches))

	cases := []struct {
		name  string
		at    func() (offset int64, ts time.Time) // exactly one is set
		first int
	}{
		{"earliest", func() (int64, time.Time) { return -2, time.Time{} }, 0},
		{"offset 137", func() (int64, time.Time) { return 137, time.Time{} }, 137},
		{"last offset", func() (int64, time.Time) { return n - 1, time.Time{} }, n - 1},
		{"timestamp between records", func() (int64, time.Time) { return -1, tsOf(151).Add(-5 * time.Millisecond) }, 151},
		{"timestamp of a record", func() (int64, time.Time) { return -1, tsOf(300) }, 300},
		{"timestamp before all", func() (int64, time.Time) { return -1, base.Add(-time.Minute) }, 0},
	}

	type seeker struct {
		name  string
		first func(ctx context.Context, t *testing.T, offset int64, ts time.Time) got
	}
	seekers := []seeker{
		{"kgo", func(ctx context.Context, t *testing.T, offset int64, ts time.Time) got {
			at := kgo.NewOffset().At(offset)
			switch {
			case !ts.IsZero():
				at = kgo.NewOffset().AfterMilli(ts.UnixMilli())
			case offset == -2:
				at = kgo.NewOffset().AtStart()
			}
			return kgoFirst(ctx, t, addr, topic, 0, at)
		}},
		{"kadm+kgo", func(ctx context.Context, t *testing.T, offset int64, ts time.Time) got {
			// ListOffsets by timestamp through the admin API, then an
			// explicit offset: how `tributary replay --since` works.
			if !ts.IsZero() {
				lo, err := adm.ListOffsetsAfterMilli(ctx, ts.UnixMilli(), topic)
				if err == nil {
					err = lo.Error()
				}
				if err != nil {
					t.Fatalf("kadm: ListOffsetsAfterMilli: %v", err)
				}
				o, _ := lo.Lookup(topic, 0)
				offset = o.Offset
			} else if offset == -2 {
				offset = listOffsets(ctx, t, adm, topic, true)[0]
			}
			return kgoFirst(ctx, t, addr, topic, 0, kgo.NewOffset().At(offset))
		}},
		{"kafka-go", func(ctx context.Context, t *testing.T, offset int64, ts time.Time) got {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, MaxWait: 250 * time.Millisecond})
			defer r.Close()
			var err error
			switch {
			case !ts.IsZero():
				err = r.SetOffsetAt(ctx, ts)
			case offset == -2:
				err = r.SetOffset(kafka.FirstOffset)
			default:
				err = r.SetOffset(offset)
			}
			if err != nil {
				t.Fatalf("kafka-go: seeking: %v", err)
			}
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("kafka-go: %v", err)
			}
			return kafkaGoGot(m)
		}},
		{"librdkafka", func(ctx context.Context, t *testing.T, offset int64, ts time.Time) got {
			c := newRdkafkaConsumer(t, addr, nil)
			name := topic
			tp := ckafka.TopicPartition{Topic: &name, Partition: 0, Offset: ckafka.Offset(offset)}
			switch {
			case !ts.IsZero():
				tp.Offset = ckafka.Offset(ts.UnixMilli())
				found, err := c.OffsetsForTimes([]ckafka.TopicPartition{tp}, 10_000)
				if err != nil || len(found) != 1 || found[0].Error != nil {
					t.Fatalf("librdkafka: OffsetsForTimes: %v %v", err, found)
				}
				tp = found[0]
			case offset == -2:
				tp.Offset = ckafka.OffsetBeginning
			}
			if err := c.Assign([]ckafka.TopicPartition{tp}); err != nil {
				t.Fatalf("librdkafka: assign: %v", err)
			}
			m, err := c.ReadMessage(time.Until(deadline(ctx)))
			if err != nil {
				t.Fatalf("librdkafka: %v", err)
			}
			return rdkafkaGot(m)
		}},
	}

	for _, s := range seekers {
		for _, c := range cases {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				offset, ts := c.at()
				g := s.first(ctx, t, offset, ts)
				if g.Offset != int64(c.first) || g.Value != recValue(c.first) || g.Key != recKey(c.first) {
					t.Errorf("first record %v, want seq %d at offset %d", g, c.first, c.first)
				}
				if !g.Timestamp.Equal(tsOf(c.first)) {
					t.Errorf("first record has timestamp %v, want %v", g.Timestamp, tsOf(c.first))
				}
				if !ts.IsZero() && (g.Timestamp.Before(ts) || (c.first > 0 && !tsOf(c.first-1).Before(ts))) {
					t.Errorf("record %d is not the first with timestamp >= %v", c.first, ts)
				}
			})
		}
	}
}

// kgoFirst returns the first record a kgo consumer of topic/partition
// starting at at returns.
func kgoFirst(ctx context.Context, t *testing.T, addr, topic string, partition int32, at kgo.Offset) got {
	t.Helper()
	cl := newKgo(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: at}}))
	defer cl.Close()
	for {
		fs := cl.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			t.Fatalf("kgo: %v", ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("kgo: %v", err) })
		if rs := fs.Records(); len(rs) > 0 {
			return kgoGot(rs[0])
		}
	}
}

func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return d
}
