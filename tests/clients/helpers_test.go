// Package clients_test proves that unmodified Kafka clients work against the
// Tributary broker: segmentio/kafka-go, franz-go (kgo/kadm) and librdkafka
// (confluent-kafka-go), each talking over loopback sockets to a broker the
// test starts in-process. See README.md.
package clients_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/broker"
	"github.com/tributary/tributary/internal/brokertest"
)

// startBroker starts a broker on a random loopback port and returns it with
// its address.
func startBroker(t *testing.T, modify ...func(*broker.Options)) (*broker.Server, string) {
	t.Helper()
	s := brokertest.Start(t, modify...)
	return s, s.Addr().String()
}

// testContext bounds a test in time; it is cancelled when the test ends.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond every 10 ms until it reports true, failing the test when
// ctx ends first. It is the only way these tests wait for a state.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// newKgo returns a franz-go client closed when the test ends.
func newKgo(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client for the broker.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newKgo(t, addr))
}

// createTopic creates a topic with configs and fails the test on any error.
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	var cfg map[string]*string
	if len(configs) > 0 {
		cfg = make(map[string]*string, len(configs))
		for k, v := range configs {
			cfg[k] = kadm.StringPtr(v)
		}
	}
	resp, err := adm.CreateTopic(ctx, partitions, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s (%d partitions, %v): %v", topic, partitions, configs, err)
	}
	if resp.NumPartitions != partitions {
		t.Fatalf("creating topic %s: broker says %d partitions, asked for %d", topic, resp.NumPartitions, partitions)
	}
}

// listOffsets returns the start (earliest=true) or end offsets of a topic's
// partitions as the broker reports them.
func listOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, earliest bool) map[int32]int64 {
	t.Helper()
	m, err := listOffsetsErr(ctx, adm, topic, earliest)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func listOffsetsErr(ctx context.Context, adm *kadm.Client, topic string, earliest bool) (map[int32]int64, error) {
	list := adm.ListEndOffsets
	if earliest {
		list = adm.ListStartOffsets
	}
	lo, err := list(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s (earliest=%v): %w", topic, earliest, err)
	}
	out := make(map[int32]int64)
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// Records carry their identity: the value is the producer's sequence number
// and the key is derived from it, so any record read back tells which
// produced record it is.

const numKeys = 997

func recKey(seq int) string { return fmt.Sprintf("k%03d", seq%numKeys) }

// recValue is short but compressible: the padding makes every codec shrink a
// batch, so producers cannot fall back to sending it uncompressed.
func recValue(seq int) string { return fmt.Sprintf("v%07d|tributary", seq) }

func seqOf(value string) (int, error) {
	num, _, ok := strings.Cut(strings.TrimPrefix(value, "v"), "|")
	if !ok || !strings.HasPrefix(value, "v") {
		return 0, fmt.Errorf("value %q was not produced by this test", value)
	}
	return strconv.Atoi(num)
}

func seqRange(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// ack is a record a producer reported as stored. Offset is -1 when the
// producer cannot know it (acks=0).
type ack struct {
	Seq       int
	Partition int32
	Offset    int64
}

// got is a record a consumer returned.
type got struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Timestamp time.Time
}

func (g got) String() string {
	return fmt.Sprintf("p%d@%d key=%s value=%s", g.Partition, g.Offset, g.Key, g.Value)
}

// endsOf returns, per partition, the offset after the last acknowledged record.
func endsOf(acks []ack) map[int32]int64 {
	ends := make(map[int32]int64)
	for _, a := range acks {
		ends[a.Partition] = max(ends[a.Partition], a.Offset+1)
	}
	return ends
}

// checkExact asserts that every partition holds exactly the acknowledged
// records for it, in the order produced, none missing, none duplicated, and
// that every key stayed on one partition. When offsetsKnown, each record must
// also sit at the offset the producer was told.
func checkExact(t *testing.T, acks []ack, consumed map[int32][]got, offsetsKnown bool) {
	t.Helper()
	want := make(map[int32][]ack)
	for _, a := range acks {
		want[a.Partition] = append(want[a.Partition], a)
	}
	for p, as := range want {
		if offsetsKnown {
			sort.Slice(as, func(i, j int) bool { return as[i].Offset < as[j].Offset })
			for i := 1; i < len(as); i++ {
				if as[i].Offset == as[i-1].Offset {
					t.Errorf("partition %d: producer was told seq %d and seq %d both sit at offset %d", p, as[i-1].Seq, as[i].Seq, as[i].Offset)
				}
				if as[i].Seq < as[i-1].Seq {
					t.Errorf("partition %d: producer order broken: seq %d at offset %d but seq %d at offset %d", p, as[i-1].Seq, as[i-1].Offset, as[i].Seq, as[i].Offset)
					break
				}
			}
		} else {
			sort.Slice(as, func(i, j int) bool { return as[i].Seq < as[j].Seq })
		}
	}

	seen := make(map[int]int)
	keyPartition := make(map[string]int32)
	for p, gs := range consumed {
		for i, g := range gs {
			seq, err := seqOf(g.Value)
			if err != nil {
				t.Errorf("partition %d: %v", p, err)
				continue
			}
			seen[seq]++
			if g.Key != recKey(seq) {
				t.Errorf("%v: key %q does not belong to seq %d (want %q)", g, g.Key, seq, recKey(seq))
			}
			if kp, ok := keyPartition[g.Key]; ok && kp != p {
				t.Errorf("key %s found on partitions %d and %d", g.Key, kp, p)
			}
			keyPartition[g.Key] = p
			if i > 0 && g.Offset <= gs[i-1].Offset {
				t.Errorf("partition %d: offsets not increasing: %v after %v", p, g, gs[i-1])
			}
		}
	}
	var dups []int
	for seq, n := range seen {
		if n > 1 {
			dups = append(dups, seq)
		}
	}
	var missing []int
	for _, a := range acks {
		if seen[a.Seq] == 0 {
			missing = append(missing, a.Seq)
		}
	}
	sort.Ints(dups)
	sort.Ints(missing)
	if len(dups) > 0 {
		t.Errorf("%d records read more than once, first seqs: %v", len(dups), head(dups, 10))
	}
	if len(missing) > 0 {
		t.Errorf("%d acknowledged records never read, first seqs: %v", len(missing), head(missing, 10))
	}

	parts := make(map[int32]bool)
	for p := range want {
		parts[p] = true
	}
	for p := range consumed {
		parts[p] = true
	}
	for p := range parts {
		w, g := want[p], consumed[p]
		if len(w) != len(g) {
			t.Errorf("partition %d: read %d records, %d acknowledged", p, len(g), len(w))
		}
		for i := range min(len(w), len(g)) {
			exp := w[i]
			if g[i].Value != recValue(exp.Seq) || (offsetsKnown && g[i].Offset != exp.Offset) {
				t.Errorf("partition %d record #%d: read %v, want seq %d at offset %d", p, i, g[i], exp.Seq, exp.Offset)
				break
			}
		}
	}
}

func head[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// codecs are the compression codecs of the Kafka record batch, by attribute value.
var codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

func codecID(name string) int8 {
	for i, c := range codecs {
		if c == name {
			return int8(i)
		}
	}
	panic("unknown codec " + name)
}

// batchInfo describes one stored record batch.
type batchInfo struct {
	BaseOffset int64
	Codec      int8
	Records    int32
	ProducerID int64
}

// rawBatches fetches a whole partition with a raw Fetch request and returns its
// batches as stored, so a test can see which codec a producer really used.
func rawBatches(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, partition int32, from int64) ([]batchInfo, int16) {
	t.Helper()
	var out []batchInfo
	for {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MinBytes = 0
		req.MaxBytes = 64 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = partition
		rp.FetchOffset = from
		rp.PartitionMaxBytes = 64 << 20
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("raw fetch %s/%d@%d: %v", topic, partition, from, err)
		}
		resp := kresp.(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("raw fetch %s/%d@%d: %v", topic, partition, from, kerr.ErrorForCode(resp.ErrorCode))
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("raw fetch %s/%d@%d: response has %d topics", topic, partition, from, len(resp.Topics))
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			return out, sp.ErrorCode
		}
		data := sp.RecordBatches
		if len(data) == 0 {
			return out, 0
		}
		// Batches back to back: base offset (8 bytes), length of the rest
		// (4 bytes), then at least a 49-byte header.
		for len(data) >= 12+49 {
			var b kmsg.RecordBatch
			n := 12 + int(int32(binary.BigEndian.Uint32(data[8:12])))
			if n > len(data) {
				break // a partial batch at the end of the response
			}
			if err := b.ReadFrom(data[:n]); err != nil {
				t.Fatalf("raw fetch %s/%d: decoding batch at offset %d: %v", topic, partition, from, err)
			}
			out = append(out, batchInfo{BaseOffset: b.FirstOffset, Codec: int8(b.Attributes & 7), Records: b.NumRecords, ProducerID: b.ProducerID})
			from = b.FirstOffset + int64(b.LastOffsetDelta) + 1
			data = data[n:]
		}
		if sp.HighWatermark <= from {
			return out, 0
		}
	}
}

// checkCodec asserts that the batches of a topic were stored with the codec
// the producer was configured with. Producers may send a batch uncompressed
// when compressing does not make it smaller, so a codec other than none
// requires most records to sit in batches of that codec and none in batches
// of a third codec.
func checkCodec(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, partitions int32, codec string) {
	t.Helper()
	want := codecID(codec)
	var inCodec, total int32
	for p := range partitions {
		batches, code := rawBatches(ctx, t, cl, topic, p, 0)
		if code != 0 {
			t.Fatalf("raw fetch %s/%d: %v", topic, p, kerr.ErrorForCode(code))
		}
		for _, b := range batches {
			total += b.Records
			switch b.Codec {
			case want:
				inCodec += b.Records
			case 0:
			default:
				t.Errorf("%s/%d batch at %d: codec %s, producer was set to %s", topic, p, b.BaseOffset, codecs[b.Codec], codec)
			}
		}
	}
	if want != 0 && inCodec*2 < total {
		t.Errorf("%s: only %d of %d records stored %s-compressed", topic, inCodec, total, codec)
	}
}

// producer and consumer adapters let the cross-client tests run any pair.

type produceOpts struct {
	codec     string              // one of codecs; "" is none
	acks      int                 // -1 (all), 0 or 1
	timestamp func(int) time.Time // record timestamp by seq; nil leaves it to the client
}

type client struct {
	name string
	// produce sends the records seqs, keyed, to topic with the client's own
	// partitioner and returns what the client reported for each.
	produce func(ctx context.Context, t *testing.T, addr, topic string, seqs []int, o produceOpts) []ack
	// consume reads every partition in ends from its first offset until the
	// offset before ends[p], and returns the records per partition.
	consume func(ctx context.Context, t *testing.T, addr, topic string, ends map[int32]int64) map[int32][]got
}

var clients = []client{
	{name: "kafka-go", produce: kafkaGoProduce, consume: kafkaGoConsume},
	{name: "kgo", produce: kgoProduce, consume: kgoConsume},
	{name: "librdkafka", produce: rdkafkaProduce, consume: rdkafkaConsume},
}

// produceConsume is the round trip every client must pass: n keyed records
// across partitions with acks=all, read back exactly by the same client.
func produceConsume(t *testing.T, c client, n int, partitions int32) {
	ctx := testContext(t, 90*time.Second)
	_, addr := startBroker(t)
	adm := newAdmin(t, addr)
	topic := "roundtrip-" + strings.ReplaceAll(c.name, "-", "")
	createTopic(ctx, t, adm, topic, partitions, nil)

	start := time.Now()
	acks := c.produce(ctx, t, addr, topic, seqRange(0, n), produceOpts{acks: -1})
	produced := time.Since(start)
	ends := endsOf(acks)
	if len(ends) != int(partitions) {
		t.Errorf("records went to %d partitions, want all %d", len(ends), partitions)
	}
	if got := listOffsets(ctx, t, adm, topic, false); !equalOffsets(got, ends) {
		t.Fatalf("broker end offsets %v, producer acknowledgements end at %v", got, ends)
	}
	start = time.Now()
	consumed := c.consume(ctx, t, addr, topic, ends)
	t.Logf("%s: produced %d records in %v, consumed in %v", c.name, n, produced.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	checkExact(t, acks, consumed, true)
}

func equalOffsets(a, b map[int32]int64) bool {
	for p, o := range a {
		if b[p] != o {
			return false
		}
	}
	for p, o := range b {
		if a[p] != o {
			return false
		}
	}
	return true
}

// isKafkaErr reports whether err wraps the Kafka error want.
func isKafkaErr(err error, want *kerr.Error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke.Code == want.Code
}
