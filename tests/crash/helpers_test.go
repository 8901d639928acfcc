package crash

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/internal/brokertest"
)

// requestTimeout bounds every admin request and every wait on the broker.
const requestTimeout = 30 * time.Second

// writeConfig writes a broker config file into dir and returns its path.
// segmentBytes 0 keeps the default segment size.
func writeConfig(t *testing.T, dir string, segmentBytes int) string {
	t.Helper()
	cfg := "broker:\n  auto_create_topics: false\n  groups:\n    initial_rebalance_delay: 0s\n"
	if segmentBytes > 0 {
		cfg += fmt.Sprintf("  topic_defaults:\n    segment_bytes: %d\n", segmentBytes)
	}
	path := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// adminClient is a kgo client for raw kmsg requests to the process.
func adminClient(t *testing.T, p *brokertest.Process) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func requestCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}

// createTopic creates topic with partitions and configs and fails the test
// unless the broker says it did.
func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(configs[k])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(requestTimeout / time.Millisecond)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics %s: %d topics in the response", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("CreateTopics %s: %v (%s)", topic, err, deref(resp.Topics[0].ErrorMessage))
	}
}

// endOffsets asks ListOffsets for the latest offset (high watermark) of every
// partition of topic.
func endOffsets(t *testing.T, cl *kgo.Client, topic string, partitions int32) []int64 {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ListOffsets %s: %v", topic, err)
	}
	ends := make([]int64, partitions)
	seen := 0
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
				t.Fatalf("ListOffsets %s-%d: %v", topic, sp.Partition, err)
			}
			if sp.Partition < 0 || sp.Partition >= partitions {
				t.Fatalf("ListOffsets %s: unexpected partition %d", topic, sp.Partition)
			}
			ends[sp.Partition] = sp.Offset
			seen++
		}
	}
	if seen != int(partitions) {
		t.Fatalf("ListOffsets %s: %d partitions answered, want %d", topic, seen, partitions)
	}
	return ends
}

// consumeAll reads every record of every partition of topic from offset 0 up
// to the current end offsets, and returns them per partition in log order.
func consumeAll(t *testing.T, p *brokertest.Process, topic string, partitions int32) [][]*kgo.Record {
	t.Helper()
	admin := adminClient(t, p)
	ends := endOffsets(t, admin, topic, partitions)
	admin.Close()

	offsets := make(map[int32]kgo.Offset, partitions)
	for i := range partitions {
		offsets[i] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(p.Addr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	out := make([][]*kgo.Record, partitions)
	next := make([]int64, partitions)
	done := func() bool {
		for i := range partitions {
			if next[i] < ends[i] {
				return false
			}
		}
		return true
	}
	ctx, cancel := requestCtx()
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: timed out at offsets %v, end offsets %v", topic, next, ends)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consuming %s-%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
