package group

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describe(t *testing.T, c *Coordinator, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{group}
	resp := c.DescribeGroups(req)
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		t.Fatalf("describe %s: %+v", group, resp.Groups)
	}
	return resp.Groups[0]
}

// restart closes c and opens a coordinator on the same directory.
func restart(t *testing.T, c *Coordinator, dir string) (*Coordinator, *fakeClock) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return newTestCoordinator(t, dir, nil)
}

// rejoinAll rejoins every member (by id) concurrently, then syncs them.
// The first rejoin must start a rebalance (the group is rebalancing or the
// first id is the leader); the others wait until it has.
func rejoinAll(t *testing.T, c *Coordinator, group string, ids []string) []*kmsg.JoinGroupResponse {
	t.Helper()
	chs := make([]<-chan *kmsg.JoinGroupResponse, len(ids))
	for i, id := range ids {
		chs[i] = asyncJoin(c, joinReq(group, id, 5))
		if i < len(ids)-1 {
			waitFor(t, "rebalance", func() bool {
				in := groupInfo(c, group)
				return in.state == statePreparingRebalance && in.joining == i+1
			})
		}
	}
	joins := make([]*kmsg.JoinGroupResponse, len(ids))
	for i, ch := range chs {
		if joins[i] = recv(t, ch); joins[i].ErrorCode != 0 {
			t.Fatalf("rejoin %s: %s", ids[i], errName(joins[i].ErrorCode))
		}
	}
	for id, r := range syncAll(t, c, group, joins, 5) {
		if r.ErrorCode != 0 || string(r.MemberAssignment) != "assign-"+id {
			t.Fatalf("sync %s: %s %q", id, errName(r.ErrorCode), r.MemberAssignment)
		}
	}
	return joins
}

func TestStableGroupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	joins := stableGroup(t, c, clk, "g", 3)
	gen := joins[0].Generation
	ctx := context.Background()
	if codes := commitCodes(c.OffsetCommit(ctx, commitReq("g", joins[1].MemberID, gen, 8, "t", map[int32]int64{0: 10}))); !slices.Equal(codes, []int16{0}) {
		t.Fatalf("commit before restart: %v", codes)
	}
	before := describe(t, c, "g")
	if before.State != "Stable" || len(before.Members) != 3 {
		t.Fatalf("before restart: %+v", before)
	}

	c, clk = restart(t, c, dir)
	after := describe(t, c, "g")
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("described after restart:\n%+v\nwant\n%+v", after, before)
	}
	for _, m := range after.Members {
		if string(m.MemberAssignment) != "assign-"+m.MemberID || m.ClientID != "client" || m.ClientHost != "/127.0.0.1" || len(m.ProtocolMetadata) == 0 {
			t.Fatalf("restored member: %+v", m)
		}
	}
	if in := groupInfo(c, "g"); in.generation != gen || in.leader != joins[0].LeaderID {
		t.Fatalf("restored group: %+v, want generation %d leader %s", in, gen, joins[0].LeaderID)
	}
	for _, j := range joins {
		if code := heartbeat(c, "g", j.MemberID, gen, 4); code != 0 {
			t.Fatalf("heartbeat %s after restart: %s", j.MemberID, errName(code))
		}
	}
	if codes := commitCodes(c.OffsetCommit(ctx, commitReq("g", joins[1].MemberID, gen, 8, "t", map[int32]int64{0: 11}))); !slices.Equal(codes, []int16{0}) {
		t.Fatalf("commit after restart: %v", codes)
	}
	if got := fetchOne(t, c, "g", "t", 0); got != 11 {
		t.Fatalf("committed after restart: %d", got)
	}
	// A follower's SyncGroup in the Stable group returns its assignment.
	if r := c.SyncGroup(ctx, syncReq("g", joins[2].MemberID, gen, 5)); r.ErrorCode != 0 || string(r.MemberAssignment) != "assign-"+joins[2].MemberID {
		t.Fatalf("sync after restart: %s %q", errName(r.ErrorCode), r.MemberAssignment)
	}

	// Members 0 and 1 keep heartbeating; member 2 never comes back and
	// expires one session timeout after the restart (its last heartbeat
	// above was at the restart instant).
	stay := []string{joins[0].MemberID, joins[1].MemberID}
	clk.Advance(testSession / 2)
	for _, id := range stay {
		if code := heartbeat(c, "g", id, gen, 4); code != 0 {
			t.Fatalf("heartbeat %s: %s", id, errName(code))
		}
	}
	clk.Advance(testSession / 2)
	if in := groupInfo(c, "g"); in.state != statePreparingRebalance || in.members != 2 {
		t.Fatalf("after member 2's session: %+v", in)
	}
	for _, id := range stay {
		if code := heartbeat(c, "g", id, gen, 4); code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat %s during the rebalance: %s", id, errName(code))
		}
	}
	rejoined := rejoinAll(t, c, "g", stay)
	if in := groupInfo(c, "g"); in.state != stateStable || in.members != 2 || in.generation != gen+1 || rejoined[0].Generation != gen+1 {
		t.Fatalf("after rejoining: %+v", in)
	}

	// The new generation is what the next restart restores.
	c, _ = restart(t, c, dir)
	if in := groupInfo(c, "g"); in.state != stateStable || in.members != 2 || in.generation != gen+1 {
		t.Fatalf("after the second restart: %+v", in)
	}
	if got := fetchOne(t, c, "g", "t", 0); got != 11 {
		t.Fatalf("committed after the second restart: %d", got)
	}
}

func TestEmptyGroupRestartsEmpty(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	joins := stableGroup(t, c, clk, "g", 1)
	m := joins[0]
	if codes := commitCodes(c.OffsetCommit(context.Background(), commitReq("g", m.MemberID, m.Generation, 8, "t", map[int32]int64{0: 7}))); !slices.Equal(codes, []int16{0}) {
		t.Fatalf("commit: %v", codes)
	}
	if r := c.LeaveGroup(leaveReq("g", 3, kmsg.LeaveGroupRequestMember{MemberID: m.MemberID})); r.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %s", errName(r.Members[0].ErrorCode))
	}
	if in := groupInfo(c, "g"); in.state != stateEmpty {
		t.Fatalf("after leave: %+v", in)
	}
	c, _ = restart(t, c, dir)
	if in := groupInfo(c, "g"); !in.exists || in.state != stateEmpty || in.members != 0 {
		t.Fatalf("after restart: %+v", in)
	}
	if got := fetchOne(t, c, "g", "t", 0); got != 7 {
		t.Fatalf("committed after restart: %d", got)
	}
	if code := heartbeat(c, "g", m.MemberID, m.Generation, 4); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of the departed member: %s", errName(code))
	}
	s := c.store.groupMetas()
	if _, ok := s["g"]; ok {
		t.Fatal("an Empty group kept its persisted membership")
	}
}

// A crash mid-rebalance restores the last Stable state, as Kafka does.
func TestRebalancingGroupRestartsAsLastStable(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	joins := stableGroup(t, c, clk, "g", 2)
	before := describe(t, c, "g")
	ch := asyncJoin(c, joinReq("g", "", 5))
	waitFor(t, "rebalance", func() bool { return groupInfo(c, "g").state == statePreparingRebalance })
	c, _ = restart(t, c, dir)
	if r := recv(t, ch); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join parked at close: %s", errName(r.ErrorCode))
	}
	if after := describe(t, c, "g"); !reflect.DeepEqual(after, before) {
		t.Fatalf("after restart:\n%+v\nwant\n%+v", after, before)
	}
	for _, j := range joins {
		if code := heartbeat(c, "g", j.MemberID, j.Generation, 4); code != 0 {
			t.Fatalf("heartbeat %s: %s", j.MemberID, errName(code))
		}
	}
}

// A torn tail in the middle of the newest group-state record falls back to
// the group's previous Stable state.
func TestTornGroupStateKeepsEarlierState(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	joins := stableGroup(t, c, clk, "g", 2)
	gen := joins[0].Generation
	ids := []string{joins[0].MemberID, joins[1].MemberID}
	path := filepath.Join(dir, storeFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	firstEnd := fi.Size()
	// A rejoin by the leader moves the group to the next generation.
	rejoinAll(t, c, "g", ids)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(full)) <= firstEnd+recordHeader {
		t.Fatalf("no second group-state record: %d bytes, first ended at %d", len(full), firstEnd)
	}
	if err := os.WriteFile(path, full[:firstEnd+recordHeader+(int64(len(full))-firstEnd)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ = newTestCoordinator(t, dir, nil)
	if in := groupInfo(c, "g"); in.state != stateStable || in.generation != gen || in.members != 2 {
		t.Fatalf("after a torn group-state record: %+v, want Stable generation %d", in, gen)
	}
	for _, id := range ids {
		if code := heartbeat(c, "g", id, gen, 4); code != 0 {
			t.Fatalf("heartbeat %s at generation %d: %s", id, gen, errName(code))
		}
	}
}

// A static member that rejoins a Stable group with a new member id is
// persisted under the new id.
func TestStaticReplacementSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	instances := []string{"i0", "i1"}
	joins := formGroup(t, c, clk, "g", 2, 5, func(i int, r *kmsg.JoinGroupRequest) { r.InstanceID = &instances[i] })
	syncAll(t, c, "g", joins, 5)
	req := joinReq("g", "", 5)
	req.InstanceID = &instances[1]
	r := join(c, req)
	if r.ErrorCode != 0 || r.MemberID == joins[1].MemberID {
		t.Fatalf("static rejoin: %s %s", errName(r.ErrorCode), r.MemberID)
	}
	c, _ = restart(t, c, dir)
	if code := heartbeat(c, "g", r.MemberID, joins[0].Generation, 4); code != 0 {
		t.Fatalf("heartbeat with the replacement id: %s", errName(code))
	}
	if code := heartbeat(c, "g", joins[1].MemberID, joins[0].Generation, 4); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat with the replaced id: %s", errName(code))
	}
}

// A restored member keeps its session timeout: it expires exactly then.
func TestRestoredSessionStartsAtOpen(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	stableGroup(t, c, clk, "g", 1)
	c, clk = restart(t, c, dir)
	clk.Advance(testSession - time.Millisecond)
	if in := groupInfo(c, "g"); in.state != stateStable || in.members != 1 {
		t.Fatalf("before the session ends: %+v", in)
	}
	clk.Advance(time.Millisecond)
	if in := groupInfo(c, "g"); in.state != stateEmpty || in.members != 0 {
		t.Fatalf("after the session ends: %+v", in)
	}
}

// A membership too large for one store record is not persisted (an Empty
// record is written instead, so no older state comes back): the group does
// not survive a restart; other groups do.
func TestOversizedMembershipIsNotPersisted(t *testing.T) {
	dir := t.TempDir()
	c, clk := newTestCoordinator(t, dir, nil)
	stableGroup(t, c, clk, "small", 1)
	big := make([]byte, maxRecordSize)
	joins := formGroup(t, c, clk, "big", 1, 5, func(_ int, r *kmsg.JoinGroupRequest) { r.Protocols[0].Metadata = big })
	syncAll(t, c, "big", joins, 5)
	if in := groupInfo(c, "big"); in.state != stateStable {
		t.Fatalf("big group: %+v", in)
	}
	c, _ = restart(t, c, dir)
	if in := groupInfo(c, "big"); in.exists {
		t.Fatalf("oversized group restored: %+v", in)
	}
	if in := groupInfo(c, "small"); in.state != stateStable {
		t.Fatalf("small group: %+v", in)
	}
}
