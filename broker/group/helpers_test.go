package group

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeClock fires timers only from Advance, synchronously and in time order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	when  time.Time
	seq   int
	f     func()
	state int // 0 pending, 1 stopped, 2 fired
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.state != 0 {
		return false
	}
	t.state = 1
	return true
}

// Advance moves time forward by d, running every timer that falls due
// (including timers those callbacks schedule) at its own instant.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t.state != 0 })
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.when.After(target) && (next == nil || t.when.Before(next.when) || t.when.Equal(next.when) && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.state = 2
		if next.when.After(c.now) {
			c.now = next.when
		}
		c.mu.Unlock()
		next.f()
	}
}

const (
	testSession   = 10 * time.Second
	testRebalance = 20 * time.Second
	testDelay     = 3 * time.Second
)

func newTestCoordinator(t testing.TB, dir string, mod func(*Options)) (*Coordinator, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if dir == "" {
		dir = t.TempDir()
	}
	opts := Options{
		Dir:                   dir,
		Logger:                slog.New(slog.DiscardHandler),
		Clock:                 clk,
		InitialRebalanceDelay: testDelay,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// info is a consistent view of one group, for assertions.
type info struct {
	exists     bool
	state      groupState
	generation int32
	members    int
	joining    int
	syncing    int
	pending    int
	leader     string
}

func groupInfo(c *Coordinator, id string) info {
	c.mu.Lock()
	g := c.groups[id]
	c.mu.Unlock()
	if g == nil {
		return info{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	in := info{exists: g.state != stateDead, state: g.state, generation: g.generation, members: len(g.members), pending: len(g.pending), leader: g.leader}
	for _, m := range g.order {
		if m.joinCh != nil {
			in.joining++
		}
		if m.syncCh != nil {
			in.syncing++
		}
	}
	return in
}

func consumerMeta(topics ...string) []byte {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	return md.AppendTo(nil)
}

func joinReq(group, memberID string, version int16, protocols ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = version
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = int32(testSession / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(testRebalance / time.Millisecond)
	req.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	for _, p := range protocols {
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: consumerMeta("t")})
	}
	return req
}

// join runs a JoinGroup, completing the v4+ MEMBER_ID_REQUIRED handshake.
func join(c *Coordinator, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	ctx := WithClient(context.Background(), "client", "/127.0.0.1")
	resp := c.JoinGroup(ctx, req)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		again := *req
		again.MemberID = resp.MemberID
		resp = c.JoinGroup(ctx, &again)
	}
	return resp
}

func asyncJoin(c *Coordinator, req *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- join(c, req) }()
	return ch
}

func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a response")
		panic("unreachable")
	}
}

func syncVersion(v int16) int16      { return min(v, 5) }
func heartbeatVersion(v int16) int16 { return min(v, 4) }

// formGroup joins n members concurrently, runs the initial delay out and
// returns the join responses in request order.
func formGroup(t testing.TB, c *Coordinator, clk *fakeClock, group string, n int, version int16, mod func(i int, r *kmsg.JoinGroupRequest)) []*kmsg.JoinGroupResponse {
	t.Helper()
	chs := make([]<-chan *kmsg.JoinGroupResponse, n)
	for i := range n {
		req := joinReq(group, "", version)
		if mod != nil {
			mod(i, req)
		}
		chs[i] = asyncJoin(c, req)
		// Join in order so that the first request is the first member.
		waitFor(t, fmt.Sprintf("member %d parked", i), func() bool { return groupInfo(c, group).joining == i+1 })
	}
	for groupInfo(c, group).state == statePreparingRebalance {
		clk.Advance(time.Second)
	}
	out := make([]*kmsg.JoinGroupResponse, n)
	for i, ch := range chs {
		out[i] = recv(t, ch)
		if out[i].ErrorCode != 0 {
			t.Fatalf("join %d: %v", i, kerr.ErrorForCode(out[i].ErrorCode))
		}
	}
	return out
}

func syncReq(group, memberID string, generation int32, version int16) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = syncVersion(version)
	req.Group = group
	req.MemberID = memberID
	req.Generation = generation
	return req
}

// syncAll syncs followers first (they park), then the leader, which assigns
// "assign-<member id>" to everyone; returns the sync responses by member.
func syncAll(t testing.TB, c *Coordinator, group string, joins []*kmsg.JoinGroupResponse, version int16) map[string]*kmsg.SyncGroupResponse {
	t.Helper()
	type res struct {
		id   string
		resp *kmsg.SyncGroupResponse
	}
	ch := make(chan res, len(joins))
	var leader *kmsg.JoinGroupResponse
	followers := 0
	for _, j := range joins {
		if j.LeaderID == j.MemberID {
			leader = j
			continue
		}
		followers++
		go func() {
			ch <- res{j.MemberID, c.SyncGroup(context.Background(), syncReq(group, j.MemberID, j.Generation, version))}
		}()
	}
	waitFor(t, "followers parked in sync", func() bool { return groupInfo(c, group).syncing == followers })
	req := syncReq(group, leader.MemberID, leader.Generation, version)
	for _, m := range leader.Members {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{
			MemberID: m.MemberID, MemberAssignment: []byte("assign-" + m.MemberID),
		})
	}
	go func() { ch <- res{leader.MemberID, c.SyncGroup(context.Background(), req)} }()
	out := make(map[string]*kmsg.SyncGroupResponse)
	for range joins {
		r := recv(t, ch)
		out[r.id] = r.resp
	}
	return out
}

func heartbeat(c *Coordinator, group, memberID string, generation int32, version int16) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = heartbeatVersion(version)
	req.Group = group
	req.MemberID = memberID
	req.Generation = generation
	return c.Heartbeat(req).ErrorCode
}

func commitReq(group, memberID string, generation int32, version int16, topic string, offsets map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = version
	req.Group = group
	req.MemberID = memberID
	req.Generation = generation
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p
		rp.Offset = offsets[p]
		rp.LeaderEpoch = 7
		md := fmt.Sprintf("md-%d", offsets[p])
		rp.Metadata = &md
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func commitCodes(resp *kmsg.OffsetCommitResponse) []int16 {
	var out []int16
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.ErrorCode)
		}
	}
	return out
}

// fetchOne reads one committed offset with OffsetFetch v5.
func fetchOne(t testing.TB, c *Coordinator, group, topic string, partition int32) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 5
	req.Group = group
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{partition}}}
	resp := c.OffsetFetch(req)
	if resp.ErrorCode != 0 {
		t.Fatalf("offset fetch: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.Topics[0].Partitions[0].Offset
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}
