package crash

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/internal/brokertest"
)

// TestCrashKeepsMetadataAndGroupOffsets checks that what the broker confirmed
// about topics (creation with configs, added partitions, altered configs,
// deletion) and group offsets (committed by a standalone client and by a
// group member) survives a SIGKILL right after the confirmations.
func TestCrashKeepsMetadataAndGroupOffsets(t *testing.T) {
	dir := t.TempDir()
	dataDir := dir + "/data"
	cfg := writeConfig(t, dir, 0)

	proc := brokertest.StartProcess(t, dataDir, "-c", cfg)
	cl := adminClient(t, proc)
	ordersConfigs := map[string]string{"retention.ms": "3600000", "segment.bytes": "65536", "max.message.bytes": "200000"}
	createTopic(t, cl, "orders", 3, ordersConfigs)
	createTopic(t, cl, "grown", 1, nil)
	createPartitions(t, cl, "grown", 4)
	createTopic(t, cl, "altered", 2, nil)
	setTopicConfig(t, cl, "altered", "retention.bytes", "1000000")
	createTopic(t, cl, "doomed", 2, nil)
	deleteTopic(t, cl, "doomed")

	// Records, so that committed offsets point inside the log.
	for part := range int32(3) {
		var recs []*kgo.Record
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: part, Value: fmt.Appendf(nil, "order %d-%d", part, i)})
		}
		pcl, err := kgo.NewClient(kgo.SeedBrokers(proc.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := requestCtx()
		err = pcl.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		pcl.Close()
		if err != nil {
			t.Fatalf("producing to orders-%d: %v", part, err)
		}
	}

	standalone := map[int32]int64{0: 3, 1: 4, 2: 5}
	commitOffsets(t, cl, "standalone", -1, "", "orders", standalone, "")
	gen, member := joinAsOnlyMember(t, cl, "members", "orders")
	members := map[int32]int64{0: 7, 1: 8, 2: 10}
	commitOffsets(t, cl, "members", gen, member, "orders", members, "checkpoint-1")
	cl.Close()

	proc.Kill()
	proc = brokertest.StartProcess(t, dataDir, "-c", cfg)
	cl = adminClient(t, proc)
	defer cl.Close()

	parts := topicPartitions(t, cl)
	want := map[string]int{"orders": 3, "grown": 4, "altered": 2}
	for topic, n := range want {
		if parts[topic] != n {
			t.Errorf("after SIGKILL: topic %q has %d partitions, want %d", topic, parts[topic], n)
		}
	}
	if _, ok := parts["doomed"]; ok {
		t.Errorf("after SIGKILL: deleted topic %q is back", "doomed")
	}
	for topic, n := range parts {
		if _, ok := want[topic]; !ok {
			t.Errorf("after SIGKILL: unexpected topic %q with %d partitions", topic, n)
		}
	}

	explicit := topicConfigs(t, cl, "orders")
	for k, v := range ordersConfigs {
		if explicit[k] != v {
			t.Errorf("after SIGKILL: orders config %s = %q (explicitly set: %v), want %q", k, explicit[k], explicit, v)
		}
	}
	if got := topicConfigs(t, cl, "altered")["retention.bytes"]; got != "1000000" {
		t.Errorf("after SIGKILL: altered config retention.bytes = %q, want %q", got, "1000000")
	}
	if ends := endOffsets(t, cl, "orders", 3); ends[0] != 10 || ends[1] != 10 || ends[2] != 10 {
		t.Errorf("after SIGKILL: orders end offsets %v, want 10 each", ends)
	}

	checkCommitted(t, cl, "standalone", "orders", standalone, "")
	checkCommitted(t, cl, "members", "orders", members, "checkpoint-1")

	// The restarted broker keeps working on that state.
	commitOffsets(t, cl, "standalone", -1, "", "orders", map[int32]int64{0: 9}, "")
	proc.Stop()
}

func createPartitions(t *testing.T, cl *kgo.Client, topic string, count int32) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("CreatePartitions %s: %v", topic, err)
	}
	for _, st := range resp.Topics {
		if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
			t.Fatalf("CreatePartitions %s: %v (%s)", topic, err, deref(st.ErrorMessage))
		}
	}
}

func setTopicConfig(t *testing.T, cl *kgo.Client, topic, key, value string) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = key, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value)
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("IncrementalAlterConfigs %s: %v", topic, err)
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("IncrementalAlterConfigs %s %s=%s: %v (%s)", topic, key, value, err, deref(r.ErrorMessage))
		}
	}
}

func deleteTopic(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("DeleteTopics %s: %v", topic, err)
	}
	for _, st := range resp.Topics {
		if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
			t.Fatalf("DeleteTopics %s: %v (%s)", topic, err, deref(st.ErrorMessage))
		}
	}
}

// topicPartitions lists every topic with its partition count (Metadata).
func topicPartitions(t *testing.T, cl *kgo.Client) map[string]int {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrMetadataRequest() // nil topics: all of them
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	out := make(map[string]int)
	for _, st := range resp.Topics {
		if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
			t.Errorf("Metadata: topic %s: %v", deref(st.Topic), err)
			continue
		}
		out[deref(st.Topic)] = len(st.Partitions)
	}
	return out
}

// topicConfigs returns the configs DescribeConfigs reports as set on the
// topic (source DYNAMIC_TOPIC_CONFIG).
func topicConfigs(t *testing.T, cl *kgo.Client, topic string) map[string]string {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("DescribeConfigs %s: %v", topic, err)
	}
	out := make(map[string]string)
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("DescribeConfigs %s: %v (%s)", topic, err, deref(r.ErrorMessage))
		}
		for _, c := range r.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				out[c.Name] = deref(c.Value)
			}
		}
	}
	return out
}

// joinAsOnlyMember joins group as its only member (and so its leader),
// assigns itself every partition of topic and returns generation and member id.
func joinAsOnlyMember(t *testing.T, cl *kgo.Client, group, topic string) (int32, string) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = group
	join.SessionTimeoutMillis = 30000
	join.RebalanceTimeoutMillis = 30000
	join.ProtocolType = "consumer"
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name, proto.Metadata = "range", meta.AppendTo(nil)
	join.Protocols = append(join.Protocols, proto)
	var jr *kmsg.JoinGroupResponse
	for range 2 { // v4+: the first join only hands out a member id (KIP-394)
		var err error
		if jr, err = join.RequestWith(ctx, cl); err != nil {
			t.Fatalf("JoinGroup %s: %v", group, err)
		}
		if jr.ErrorCode != kerr.MemberIDRequired.Code {
			break
		}
		join.MemberID = jr.MemberID
	}
	if err := kerr.ErrorForCode(jr.ErrorCode); err != nil {
		t.Fatalf("JoinGroup %s: %v", group, err)
	}
	if jr.LeaderID != jr.MemberID {
		t.Fatalf("JoinGroup %s: leader %q, but the only member is %q", group, jr.LeaderID, jr.MemberID)
	}

	assign := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = topic, []int32{0, 1, 2}
	assign.Topics = append(assign.Topics, at)
	syncReq := kmsg.NewPtrSyncGroupRequest()
	syncReq.Group, syncReq.Generation, syncReq.MemberID = group, jr.Generation, jr.MemberID
	syncReq.ProtocolType, syncReq.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID, ga.MemberAssignment = jr.MemberID, assign.AppendTo(nil)
	syncReq.GroupAssignment = append(syncReq.GroupAssignment, ga)
	sr, err := syncReq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("SyncGroup %s: %v", group, err)
	}
	if err := kerr.ErrorForCode(sr.ErrorCode); err != nil {
		t.Fatalf("SyncGroup %s: %v", group, err)
	}
	return jr.Generation, jr.MemberID
}

// commitOffsets commits offsets of topic for group; generation -1 and an
// empty member id commit as a standalone (non-member) client, as admin tools do.
func commitOffsets(t *testing.T, cl *kgo.Client, group string, generation int32, member, topic string, offsets map[int32]int64, metadata string) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = group, generation, member
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = p, o, kmsg.StringPtr(metadata)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("OffsetCommit %s: %v", group, err)
	}
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
				t.Fatalf("OffsetCommit %s %s-%d: %v", group, st.Topic, sp.Partition, err)
			}
		}
	}
}

// checkCommitted fetches group's committed offsets of topic and compares.
func checkCommitted(t *testing.T, cl *kgo.Client, group, topic string, want map[int32]int64, metadata string) {
	t.Helper()
	ctx, cancel := requestCtx()
	defer cancel()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	req.Groups = append(req.Groups, rg) // v8+; Group above for older versions
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	got := make(map[int32]int64)
	check := func(code int16, tp string, p int32, off int64, md *string) {
		if err := kerr.ErrorForCode(code); err != nil {
			t.Errorf("after SIGKILL: OffsetFetch %s %s-%d: %v", group, tp, p, err)
			return
		}
		if tp != topic {
			t.Errorf("after SIGKILL: group %s has an offset for unexpected topic %s", group, tp)
			return
		}
		if deref(md) != metadata {
			t.Errorf("after SIGKILL: group %s %s-%d: metadata %q, want %q", group, tp, p, deref(md), metadata)
		}
		got[p] = off
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			check(sp.ErrorCode, st.Topic, sp.Partition, sp.Offset, sp.Metadata)
		}
	}
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			t.Fatalf("OffsetFetch %s: %v", g.Group, err)
		}
		for _, st := range g.Topics {
			for _, sp := range st.Partitions {
				check(sp.ErrorCode, st.Topic, sp.Partition, sp.Offset, sp.Metadata)
			}
		}
	}
	for p, o := range want {
		if got[p] != o {
			t.Errorf("after SIGKILL: group %s %s-%d committed offset %d, want %d (all: %v)", group, topic, p, got[p], o, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("after SIGKILL: group %s offsets %v, want %v", group, got, want)
	}
}
