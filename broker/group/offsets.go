package group

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) partitionExists(topic string, partition int32) bool {
	return c.opts.PartitionExists == nil || c.opts.PartitionExists(topic, partition)
}

// OffsetCommit (key 8, v0-v8) stores offsets durably: it returns only after
// they are fsynced (or ctx ends: REQUEST_TIMED_OUT, the commit may still
// land). Validation follows Kafka:
//
//   - unknown partitions get UNKNOWN_TOPIC_OR_PARTITION whatever else happens;
//   - generation -1 with an empty member id and no instance id is the
//     "simple"/admin path (kafka-consumer-groups.sh --reset-offsets): allowed
//     when the group is Empty or missing (it is then created Empty), else
//     UNKNOWN_MEMBER_ID, as Kafka's validateOffsetCommit does;
//   - otherwise the member (and v7+ instance id) must be current
//     (UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID) and the generation must match
//     (ILLEGAL_GENERATION; also for a generation >= 0 on a missing group);
//     a CompletingRebalance group answers REBALANCE_IN_PROGRESS;
//   - metadata longer than MaxMetadataBytes gets OFFSET_METADATA_TOO_LARGE.
//
// v0 has no generation or member id and is treated as the simple path.
// v1's per-partition Timestamp and v2-v4's RetentionTimeMillis are ignored:
// the commit time is the broker's clock and retention is OffsetsRetention.
// A store failure answers COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = req.Version
	type slot struct{ t, p int }
	var valid []slot
	closed := c.closed.Load()
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for ti, t := range req.Topics {
		rt := &resp.Topics[ti]
		*rt = kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for pi, p := range t.Partitions {
			rp := &rt.Partitions[pi]
			*rp = kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case closed:
				rp.ErrorCode = errCoordinatorNA
			case !c.partitionExists(t.Topic, p.Partition):
				rp.ErrorCode = errUnknownTopic
			default:
				valid = append(valid, slot{ti, pi})
			}
		}
	}
	if len(valid) == 0 {
		return resp
	}
	set := func(slots []slot, code int16) {
		for _, s := range slots {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = code
		}
	}

	generation, memberID, instanceID := req.Generation, req.MemberID, req.InstanceID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	if req.Version < 7 {
		instanceID = nil
	}
	g := c.lockGroup(req.Group, generation < 0)
	if g == nil {
		set(valid, errIllegalGeneration)
		return resp
	}
	if c.closed.Load() {
		g.mu.Unlock()
		set(valid, errCoordinatorNA)
		return resp
	}
	if code := g.validateCommit(generation, memberID, instanceID); code != errNone {
		g.mu.Unlock()
		set(valid, code)
		return resp
	}
	now := c.now().UnixMilli()
	ops := make([]op, 0, len(valid))
	stored := valid[:0:0]
	for _, s := range valid {
		t := &req.Topics[s.t]
		p := &t.Partitions[s.p]
		var md string
		if p.Metadata != nil {
			md = *p.Metadata
		}
		if len(md) > c.opts.MaxMetadataBytes {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = errMetadataTooLarge
			continue
		}
		epoch := int32(-1)
		if req.Version >= 6 {
			epoch = p.LeaderEpoch
		}
		ops = append(ops, op{
			kind:      opCommit,
			group:     g.id,
			topic:     strings.Clone(t.Topic),
			partition: p.Partition,
			val:       committed{offset: p.Offset, leaderEpoch: epoch, metadata: strings.Clone(md), commitTime: now},
		})
		stored = append(stored, s)
	}
	if len(ops) == 0 {
		g.mu.Unlock()
		return resp
	}
	// Enqueued under the group lock so that records are ordered like the
	// group's history (a DeleteGroups cannot slip between validation and
	// the record); the wait happens without it.
	done := c.store.enqueue(ops...)
	g.mu.Unlock()
	select {
	case err := <-done:
		if err != nil { // the store logged the cause
			set(stored, errCoordinatorNA)
		}
	case <-ctx.Done():
		set(stored, errRequestTimedOut)
	}
	return resp
}

// validateCommit is Kafka's validateOffsetCommit plus its state switch.
func (g *group) validateCommit(generation int32, memberID string, instanceID *string) int16 {
	if generation < 0 && memberID == "" && instanceID == nil {
		if g.state != stateEmpty {
			return errUnknownMember // only members may commit to a live group
		}
		return errNone
	}
	m, code := g.validateMember(instanceID, memberID)
	if code != errNone {
		return code
	}
	if generation != g.generation {
		return errIllegalGeneration
	}
	switch g.state {
	case stateCompletingRebalance:
		return errRebalancing
	case stateStable, statePreparingRebalance:
		g.resetSession(m)
	}
	return errNone
}

type fetchedPartition struct {
	partition int32
	val       committed
	found     bool
}

type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

// fetchOffsets reads a group's committed offsets: the requested partitions
// (missing ones marked not found) or, when all is set, every one.
func (c *Coordinator) fetchOffsets(group string, all bool, topics []fetchedTopic) []fetchedTopic {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	state := c.store.state[group]
	if all {
		byTopic := make(map[string][]fetchedPartition)
		for k, v := range state {
			byTopic[k.topic] = append(byTopic[k.topic], fetchedPartition{partition: k.partition, val: v, found: true})
		}
		topics = make([]fetchedTopic, 0, len(byTopic))
		for t, ps := range byTopic {
			slices.SortFunc(ps, func(a, b fetchedPartition) int { return cmp.Compare(a.partition, b.partition) })
			topics = append(topics, fetchedTopic{topic: t, partitions: ps})
		}
		slices.SortFunc(topics, func(a, b fetchedTopic) int { return strings.Compare(a.topic, b.topic) })
		return topics
	}
	for i := range topics {
		for j := range topics[i].partitions {
			p := &topics[i].partitions[j]
			p.val, p.found = state[topicPartition{topics[i].topic, p.partition}]
		}
	}
	return topics
}

func (f *fetchedPartition) answer() (offset int64, epoch int32, metadata *string) {
	if !f.found {
		empty := ""
		return -1, -1, &empty
	}
	md := f.val.metadata
	return f.val.offset, f.val.leaderEpoch, &md
}

// OffsetFetch (key 9, v0-v8) returns committed offsets; a partition without
// one gets offset -1, leader epoch -1, empty metadata and no error.
// v0-v7 ask for one Group (v2+ answer group-wide errors in the top-level
// ErrorCode, v0-v1 per partition); v8+ ask for several Groups, each answered
// with its own ErrorCode. Nil Topics (v2+) means every committed partition
// of the group. RequireStable (v7+) is ignored: there are no transactions.
func (c *Coordinator) OffsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = req.Version
	closed := c.closed.Load()
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group = rg.Group
			if closed {
				out.ErrorCode = errCoordinatorNA
				resp.Groups = append(resp.Groups, out)
				continue
			}
			var want []fetchedTopic
			for _, t := range rg.Topics {
				want = append(want, requested(t.Topic, t.Partitions))
			}
			for _, ft := range c.fetchOffsets(rg.Group, rg.Topics == nil, want) {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = ft.topic
				for i := range ft.partitions {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition = ft.partitions[i].partition
					op.Offset, op.LeaderEpoch, op.Metadata = ft.partitions[i].answer()
					ot.Partitions = append(ot.Partitions, op)
				}
				out.Topics = append(out.Topics, ot)
			}
			resp.Groups = append(resp.Groups, out)
		}
		return resp
	}

	var want []fetchedTopic
	for _, t := range req.Topics {
		want = append(want, requested(t.Topic, t.Partitions))
	}
	all := req.Topics == nil && req.Version >= 2
	if closed {
		if req.Version >= 2 {
			resp.ErrorCode = errCoordinatorNA
			return resp
		}
		all = false // v0-v1: the error goes in every requested partition
	} else {
		want = c.fetchOffsets(req.Group, all, want)
	}
	for _, ft := range want {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = ft.topic
		for i := range ft.partitions {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition = ft.partitions[i].partition
			op.Offset, op.LeaderEpoch, op.Metadata = ft.partitions[i].answer()
			if closed {
				op.ErrorCode = errCoordinatorNA
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

func requested(topic string, partitions []int32) fetchedTopic {
	ft := fetchedTopic{topic: topic, partitions: make([]fetchedPartition, len(partitions))}
	for i, p := range partitions {
		ft.partitions[i].partition = p
	}
	return ft
}

// OffsetDelete (key 47, v0) deletes committed offsets of a group. Like
// Kafka: an Empty group may delete any; a live "consumer" group may delete
// offsets of topics none of its members subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC otherwise); other live groups get
// NON_EMPTY_GROUP; a missing group GROUP_ID_NOT_FOUND. Waits for one fsync.
func (c *Coordinator) OffsetDelete(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = req.Version
	if c.closed.Load() {
		resp.ErrorCode = errCoordinatorNA
		return resp
	}
	if req.Group == "" {
		resp.ErrorCode = errInvalidGroupID
		return resp
	}
	g := c.lockGroup(req.Group, false)
	if g == nil {
		resp.ErrorCode = errGroupNotFound
		return resp
	}
	if g.state != stateEmpty && g.protocolType != "consumer" {
		g.mu.Unlock()
		resp.ErrorCode = errNonEmptyGroup
		return resp
	}
	type slot struct{ t, p int }
	var deleted []slot
	var ops []op
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		subscribed := g.state != stateEmpty && (g.subscribed == nil || g.subscribed[t.Topic])
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !c.partitionExists(t.Topic, p.Partition):
				rp.ErrorCode = errUnknownTopic
			case subscribed:
				rp.ErrorCode = errSubscribedToTopic
			default:
				ops = append(ops, op{kind: opDeletePartition, group: g.id, topic: strings.Clone(t.Topic), partition: p.Partition})
				deleted = append(deleted, slot{ti, len(rt.Partitions)})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(ops) == 0 {
		g.mu.Unlock()
		return resp
	}
	done := c.store.enqueue(ops...)
	g.mu.Unlock()
	if err := <-done; err != nil { // the store logged the cause
		for _, s := range deleted {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = errCoordinatorNA
		}
	}
	return resp
}

// EachCommitted calls fn for every committed offset (in no particular
// order) from a snapshot, so fn may call back into the coordinator.
func (c *Coordinator) EachCommitted(fn func(group, topic string, partition int32, offset int64)) {
	type entry struct {
		group, topic string
		partition    int32
		offset       int64
	}
	c.store.mu.Lock()
	var all []entry
	for g, m := range c.store.state {
		for k, v := range m {
			all = append(all, entry{g, k.topic, k.partition, v.offset})
		}
	}
	c.store.mu.Unlock()
	for _, e := range all {
		fn(e.group, e.topic, e.partition, e.offset)
	}
}

// DeleteTopic drops every group's committed offsets for topic, durably
// (waits for one fsync). A no-op after Close.
func (c *Coordinator) DeleteTopic(topic string) {
	if c.closed.Load() {
		return
	}
	// A failure is logged by the store, which then refuses all writes.
	<-c.store.enqueue(op{kind: opDeleteTopic, topic: strings.Clone(topic)})
}

func (c *Coordinator) scheduleCleanupLocked() {
	if c.closed.Load() {
		return
	}
	c.cleanup = c.clock.AfterFunc(c.opts.OffsetsRetentionCheckInterval, func() {
		if c.closed.Load() {
			return
		}
		c.expireOffsets()
		c.mu.Lock()
		c.scheduleCleanupLocked()
		c.mu.Unlock()
	})
}

// expireOffsets deletes offsets of Empty groups older than OffsetsRetention
// (measured from the later of the group becoming Empty and the commit) and
// then forgets Empty groups left without offsets, as Kafka's periodic
// cleanup does. Offsets of live groups never expire here.
func (c *Coordinator) expireOffsets() {
	now := c.now()
	var waits []<-chan error
	if c.opts.OffsetsRetention > 0 {
		for _, g := range c.snapshotGroups() {
			g.mu.Lock()
			if g.state == stateEmpty {
				var ops []op
				for k, v := range c.store.groupOffsets(g.id) {
					base := time.UnixMilli(v.commitTime)
					if g.stateSince.After(base) {
						base = g.stateSince
					}
					if now.Sub(base) >= c.opts.OffsetsRetention {
						ops = append(ops, op{kind: opDeletePartition, group: g.id, topic: k.topic, partition: k.partition})
					}
				}
				if len(ops) > 0 {
					c.log.Info("expiring committed offsets", "group", g.id, "partitions", len(ops))
					waits = append(waits, c.store.enqueue(ops...))
				}
			}
			g.mu.Unlock()
		}
	}
	for _, w := range waits {
		if err := <-w; err != nil { // the store logged the cause
			return
		}
	}
	for _, g := range c.snapshotGroups() {
		g.mu.Lock()
		if g.state == stateEmpty && len(g.pending) == 0 && !c.store.inUse(g.id) {
			c.removeGroupLocked(g)
		}
		g.mu.Unlock()
	}
}

// removeGroupLocked marks g Dead and drops it from the coordinator; the
// caller holds g.mu (g.mu before c.mu is the lock order).
func (c *Coordinator) removeGroupLocked(g *group) {
	g.shutdown()
	g.state = stateDead
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}
