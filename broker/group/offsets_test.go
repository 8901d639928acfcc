package group

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func stableGroup(t *testing.T, c *Coordinator, clk *fakeClock, group string, n int) []*kmsg.JoinGroupResponse {
	t.Helper()
	joins := formGroup(t, c, clk, group, n, 5, nil)
	syncAll(t, c, group, joins, 5)
	return joins
}

func TestCommitFetchAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	joins := stableGroup(t, c, clk, "g", 1)
	m := joins[0]
	ctx := context.Background()

	if codes := commitCodes(c.OffsetCommit(ctx, commitReq("g", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 10, 1: 20}))); !slices.Equal(codes, []int16{0, 0}) {
		t.Fatalf("member commit: %v", codes)
	}
	if codes := commitCodes(c.OffsetCommit(ctx, commitReq("g", m.MemberID, m.Generation, 2, "u", map[int32]int64{3: 30}))); !slices.Equal(codes, []int16{0}) {
		t.Fatalf("member commit v2: %v", codes)
	}
	if codes := commitCodes(c.OffsetCommit(ctx, commitReq("simple", "", -1, 0, "t", map[int32]int64{0: 5}))); !slices.Equal(codes, []int16{0}) {
		t.Fatalf("v0 commit: %v", codes)
	}
	// Overwrite, then restart.
	c.OffsetCommit(ctx, commitReq("g", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 11}))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, _ := newTestCoordinator(t, dir, nil)

	if got := fetchOne(t, c2, "g", "t", 0); got != 11 {
		t.Fatalf("t/0 after restart: %d", got)
	}
	if got := fetchOne(t, c2, "simple", "t", 0); got != 5 {
		t.Fatalf("simple t/0 after restart: %d", got)
	}
	if got := fetchOne(t, c2, "g", "t", 9); got != -1 {
		t.Fatalf("never committed: %d", got)
	}
	if got := fetchOne(t, c2, "nope", "t", 0); got != -1 {
		t.Fatalf("unknown group: %d", got)
	}

	// v5, all topics (nil), with leader epoch and metadata.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 5
	req.Group = "g"
	resp := c2.OffsetFetch(req)
	var got []string
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			got = append(got, fmt.Sprintf("%s/%d=%d e%d %s", tp.Topic, p.Partition, p.Offset, p.LeaderEpoch, *p.Metadata))
		}
	}
	want := []string{"t/0=11 e7 md-11", "t/1=20 e7 md-20", "u/3=30 e-1 md-30"}
	if !slices.Equal(got, want) {
		t.Fatalf("fetch all:\n got %v\nwant %v", got, want)
	}

	// v8: several groups at once.
	req = kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1, 2}}}},
		{Group: "simple"},
	}
	resp = c2.OffsetFetch(req)
	if len(resp.Groups) != 2 {
		t.Fatalf("v8 groups: %+v", resp.Groups)
	}
	g0 := resp.Groups[0].Topics[0].Partitions
	if g0[0].Offset != 20 || g0[1].Offset != -1 || g0[1].LeaderEpoch != -1 {
		t.Fatalf("v8 g: %+v", g0)
	}
	if s := resp.Groups[1].Topics; len(s) != 1 || s[0].Partitions[0].Offset != 5 {
		t.Fatalf("v8 simple: %+v", s)
	}

	var each []string
	c2.EachCommitted(func(g, topic string, p int32, off int64) {
		each = append(each, fmt.Sprintf("%s:%s/%d=%d", g, topic, p, off))
	})
	slices.Sort(each)
	if want := []string{"g:t/0=11", "g:t/1=20", "g:u/3=30", "simple:t/0=5"}; !slices.Equal(each, want) {
		t.Fatalf("EachCommitted: %v", each)
	}
	// The Stable group comes back Stable with its member (persist_test.go);
	// the simple group comes back Empty.
	if in := groupInfo(c2, "g"); !in.exists || in.state != stateStable || in.members != 1 || in.leader != m.MemberID {
		t.Fatalf("restored group: %+v", in)
	}
	if in := groupInfo(c2, "simple"); !in.exists || in.state != stateEmpty {
		t.Fatalf("restored simple group: %+v", in)
	}
}

func TestCommitValidation(t *testing.T) {
	c, clk := newTestCoordinator(t, "", func(o *Options) {
		o.PartitionExists = func(topic string, p int32) bool { return topic != "missing" && p < 10 }
	})
	joins := stableGroup(t, c, clk, "live", 1)
	m := joins[0]
	ctx := context.Background()
	big := strings.Repeat("x", 4097)

	tests := []struct {
		name string
		req  *kmsg.OffsetCommitRequest
		want []int16
	}{
		{"admin commit creates an Empty group", commitReq("idle", "", -1, 8, "t", map[int32]int64{0: 1}), []int16{0}},
		{"admin commit on an Empty group", commitReq("idle", "", -1, 5, "t", map[int32]int64{0: 2}), []int16{0}},
		{"admin commit on a live group", commitReq("live", "", -1, 8, "t", map[int32]int64{0: 1}), []int16{kerr.UnknownMemberID.Code}},
		{"v0 on a live group", commitReq("live", "", -1, 0, "t", map[int32]int64{0: 1}), []int16{kerr.UnknownMemberID.Code}},
		{"generation on a missing group", commitReq("ghost", "m", 3, 8, "t", map[int32]int64{0: 1}), []int16{kerr.IllegalGeneration.Code}},
		{"unknown member", commitReq("live", "who", m.Generation, 8, "t", map[int32]int64{0: 1}), []int16{kerr.UnknownMemberID.Code}},
		{"wrong generation", commitReq("live", m.MemberID, m.Generation+1, 8, "t", map[int32]int64{0: 1}), []int16{kerr.IllegalGeneration.Code}},
		{"member commit", commitReq("live", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 1, 1: 2}), []int16{0, 0}},
		{"unknown partition", commitReq("live", m.MemberID, m.Generation, 8, "t", map[int32]int64{1: 1, 10: 1}), []int16{0, kerr.UnknownTopicOrPartition.Code}},
		{"unknown topic beats group errors", commitReq("live", "who", 0, 8, "missing", map[int32]int64{0: 1}), []int16{kerr.UnknownTopicOrPartition.Code}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commitCodes(c.OffsetCommit(ctx, tt.req)); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
	t.Run("metadata too large", func(t *testing.T) {
		req := commitReq("live", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 7, 1: 8})
		req.Topics[0].Partitions[1].Metadata = &big
		if got := commitCodes(c.OffsetCommit(ctx, req)); !slices.Equal(got, []int16{0, kerr.OffsetMetadataTooLarge.Code}) {
			t.Fatalf("got %v", got)
		}
		if fetchOne(t, c, "live", "t", 0) != 7 || fetchOne(t, c, "live", "t", 1) != 1 {
			t.Fatal("metadata-too-large partition was stored or the other was not")
		}
	})
	t.Run("static member fencing", func(t *testing.T) {
		inst := "i"
		req := commitReq("live", m.MemberID, m.Generation, 7, "t", map[int32]int64{0: 1})
		req.InstanceID = &inst
		if got := commitCodes(c.OffsetCommit(ctx, req)); got[0] != kerr.UnknownMemberID.Code {
			t.Fatalf("unknown instance: %v", got)
		}
	})
	t.Run("rebalance in progress", func(t *testing.T) {
		// A second member joins: the group goes through CompletingRebalance.
		ch := asyncJoin(c, joinReq("live", "", 3))
		waitFor(t, "rebalancing", func() bool { return groupInfo(c, "live").state == statePreparingRebalance })
		// Still allowed while PreparingRebalance.
		if got := commitCodes(c.OffsetCommit(ctx, commitReq("live", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 9}))); got[0] != 0 {
			t.Fatalf("commit while preparing: %v", got)
		}
		r := join(c, joinReq("live", m.MemberID, 3))
		recv(t, ch)
		if got := commitCodes(c.OffsetCommit(ctx, commitReq("live", r.MemberID, r.Generation, 8, "t", map[int32]int64{0: 9}))); got[0] != kerr.RebalanceInProgress.Code {
			t.Fatalf("commit while completing: %v", got)
		}
	})
}

func TestConcurrentCommitsAllDurable(t *testing.T) {
	dir := t.TempDir()
	c, _ := newTestCoordinator(t, dir, nil)
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				req := commitReq(fmt.Sprintf("g%d", w%4), "", -1, 8, "t", map[int32]int64{int32(w): int64(i)})
				if codes := commitCodes(c.OffsetCommit(context.Background(), req)); codes[0] != 0 {
					t.Errorf("writer %d commit %d: %s", w, i, errName(codes[0]))
				}
			}
		})
	}
	wg.Wait()
	c.Close()
	c2, _ := newTestCoordinator(t, dir, nil)
	for w := range writers {
		if got := fetchOne(t, c2, fmt.Sprintf("g%d", w%4), "t", int32(w)); got != each-1 {
			t.Errorf("writer %d: offset %d after restart, want %d", w, got, each-1)
		}
	}
}

func TestOnlineCompactionBoundsTheFile(t *testing.T) {
	dir := t.TempDir()
	c, _ := newTestCoordinator(t, dir, func(o *Options) { o.storeCompactSlack = 1 << 10 })
	const writers, each = 8, 60
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				req := commitReq("g", "", -1, 8, "t", map[int32]int64{int32(w): int64(i)})
				if codes := commitCodes(c.OffsetCommit(context.Background(), req)); codes[0] != 0 {
					t.Errorf("commit %d/%d: %s", w, i, errName(codes[0]))
				}
			}
		})
	}
	wg.Wait()
	c.Close()
	fi, err := os.Stat(filepath.Join(dir, storeFileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 4<<10 {
		t.Fatalf("file is %d bytes after %d commits to %d partitions", fi.Size(), writers*each, writers)
	}
	c2, _ := newTestCoordinator(t, dir, nil)
	for w := range writers {
		if got := fetchOne(t, c2, "g", "t", int32(w)); got != each-1 {
			t.Errorf("t/%d = %d, want %d", w, got, each-1)
		}
	}
}

func TestDeleteGroups(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	stableGroup(t, c, clk, "live", 1)
	ctx := context.Background()
	c.OffsetCommit(ctx, commitReq("idle", "", -1, 8, "t", map[int32]int64{0: 4}))
	c.OffsetCommit(ctx, commitReq("keep", "", -1, 8, "t", map[int32]int64{0: 5}))

	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Version = 2
	req.Groups = []string{"live", "idle", "nope"}
	resp := c.DeleteGroups(req)
	var got []string
	for _, g := range resp.Groups {
		got = append(got, g.Group+"="+errName(g.ErrorCode))
	}
	want := []string{"live=" + errName(kerr.NonEmptyGroup.Code), "idle=NONE", "nope=" + errName(kerr.GroupIDNotFound.Code)}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if fetchOne(t, c, "idle", "t", 0) != -1 || groupInfo(c, "idle").exists {
		t.Fatal("deleted group still has offsets or exists")
	}
	// Committing again recreates it from scratch.
	c.OffsetCommit(ctx, commitReq("idle", "", -1, 8, "t", map[int32]int64{1: 6}))
	c.Close()
	c2, _ := newTestCoordinator(t, dir, nil)
	if fetchOne(t, c2, "idle", "t", 0) != -1 || fetchOne(t, c2, "idle", "t", 1) != 6 || fetchOne(t, c2, "keep", "t", 0) != 5 {
		t.Fatal("group deletion not durable or too broad")
	}
}

func TestOffsetDelete(t *testing.T) {
	c, clk := newTestCoordinator(t, "", func(o *Options) {
		o.PartitionExists = func(topic string, p int32) bool { return topic != "missing" }
	})
	joins := stableGroup(t, c, clk, "live", 1) // subscribed to "t"
	m := joins[0]
	ctx := context.Background()
	c.OffsetCommit(ctx, commitReq("live", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 1}))
	c.OffsetCommit(ctx, commitReq("live", m.MemberID, m.Generation, 8, "u", map[int32]int64{0: 2}))
	c.OffsetCommit(ctx, commitReq("idle", "", -1, 8, "t", map[int32]int64{0: 3, 1: 4}))

	del := func(group string, topics ...string) *kmsg.OffsetDeleteResponse {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = group
		for _, tp := range topics {
			req.Topics = append(req.Topics, kmsg.OffsetDeleteRequestTopic{Topic: tp, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}})
		}
		return c.OffsetDelete(req)
	}
	r := del("live", "t", "u", "missing")
	codes := []int16{r.Topics[0].Partitions[0].ErrorCode, r.Topics[1].Partitions[0].ErrorCode, r.Topics[2].Partitions[0].ErrorCode}
	if r.ErrorCode != 0 || !slices.Equal(codes, []int16{kerr.GroupSubscribedToTopic.Code, 0, kerr.UnknownTopicOrPartition.Code}) {
		t.Fatalf("live group: %s %v", errName(r.ErrorCode), codes)
	}
	if fetchOne(t, c, "live", "t", 0) != 1 || fetchOne(t, c, "live", "u", 0) != -1 {
		t.Fatal("wrong offsets deleted in live group")
	}
	if r := del("idle", "t"); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("idle: %+v", r)
	}
	if fetchOne(t, c, "idle", "t", 0) != -1 || fetchOne(t, c, "idle", "t", 1) != 4 {
		t.Fatal("wrong offsets deleted in idle group")
	}
	if r := del("nope", "t"); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("unknown group: %s", errName(r.ErrorCode))
	}
}

func TestDeleteTopicDropsOffsets(t *testing.T) {
	dir := t.TempDir()
	c, _ := newTestCoordinator(t, dir, nil)
	ctx := context.Background()
	c.OffsetCommit(ctx, commitReq("a", "", -1, 8, "t", map[int32]int64{0: 1}))
	c.OffsetCommit(ctx, commitReq("a", "", -1, 8, "u", map[int32]int64{0: 2}))
	c.OffsetCommit(ctx, commitReq("b", "", -1, 8, "t", map[int32]int64{3: 3}))
	c.DeleteTopic("t")
	c.Close()
	c2, _ := newTestCoordinator(t, dir, nil)
	if fetchOne(t, c2, "a", "t", 0) != -1 || fetchOne(t, c2, "b", "t", 3) != -1 || fetchOne(t, c2, "a", "u", 0) != 2 {
		t.Fatal("DeleteTopic did not drop exactly topic t")
	}
}

func TestOffsetsExpireForEmptyGroups(t *testing.T) {
	c, clk := newTestCoordinator(t, "", func(o *Options) { o.OffsetsRetention = 24 * time.Hour })
	ctx := context.Background()
	c.OffsetCommit(ctx, commitReq("idle", "", -1, 8, "t", map[int32]int64{0: 1}))
	joins := stableGroup(t, c, clk, "live", 1)
	m := joins[0]
	c.OffsetCommit(ctx, commitReq("live", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 2}))

	// Keep "live" alive for longer than the retention.
	for elapsed := time.Duration(0); elapsed < 24*time.Hour-20*time.Minute; elapsed += 5 * time.Second {
		clk.Advance(5 * time.Second)
		if code := heartbeat(c, "live", m.MemberID, m.Generation, 4); code != 0 {
			t.Fatalf("heartbeat: %s", errName(code))
		}
	}
	if fetchOne(t, c, "idle", "t", 0) != 1 {
		t.Fatal("offset expired early")
	}
	for elapsed := time.Duration(0); elapsed < 40*time.Minute; elapsed += 5 * time.Second {
		clk.Advance(5 * time.Second)
		heartbeat(c, "live", m.MemberID, m.Generation, 4)
	}
	if fetchOne(t, c, "idle", "t", 0) != -1 {
		t.Fatal("offset of an Empty group did not expire")
	}
	if groupInfo(c, "idle").exists {
		t.Fatal("empty group without offsets was not forgotten")
	}
	if fetchOne(t, c, "live", "t", 0) != 2 {
		t.Fatal("offset of a live group expired")
	}

	// Once "live" becomes Empty, its offsets expire a retention later.
	c.LeaveGroup(leaveReq("live", 3, kmsg.LeaveGroupRequestMember{MemberID: m.MemberID}))
	clk.Advance(23 * time.Hour)
	if fetchOne(t, c, "live", "t", 0) != 2 {
		t.Fatal("expired before a retention since the group emptied")
	}
	clk.Advance(time.Hour + 10*time.Minute)
	if fetchOne(t, c, "live", "t", 0) != -1 {
		t.Fatal("did not expire a retention after the group emptied")
	}
}

func TestStoreWriteFailureRefusesCommits(t *testing.T) {
	c, _ := newTestCoordinator(t, "", nil)
	ctx := context.Background()
	if codes := commitCodes(c.OffsetCommit(ctx, commitReq("g", "", -1, 8, "t", map[int32]int64{0: 1}))); codes[0] != 0 {
		t.Fatalf("first commit: %v", codes)
	}
	// Break the file under the idle syncer: the next write fails.
	c.store.f.Close()
	cna := kerr.CoordinatorNotAvailable.Code
	for i := range 2 {
		if codes := commitCodes(c.OffsetCommit(ctx, commitReq("g", "", -1, 8, "t", map[int32]int64{0: 2}))); codes[0] != cna {
			t.Fatalf("commit %d after failure: %s", i, errName(codes[0]))
		}
	}
	if got := fetchOne(t, c, "g", "t", 0); got != 1 {
		t.Fatalf("fetch shows %d, want the last durable offset 1", got)
	}
	if err := c.Close(); err == nil {
		t.Fatal("Close did not report the write failure")
	}
}
