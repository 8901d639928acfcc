package group

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJoinSyncThreeMembers(t *testing.T) {
	for _, v := range []int16{0, 1, 3, 4, 5, 7, 9} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			c, clk := newTestCoordinator(t, "", nil)
			joins := formGroup(t, c, clk, "g", 3, v, nil)

			leaders := 0
			ids := map[string]bool{}
			for _, j := range joins {
				ids[j.MemberID] = true
				if j.Generation != 1 {
					t.Errorf("member %s generation %d, want 1", j.MemberID, j.Generation)
				}
				if j.LeaderID != joins[0].MemberID {
					t.Errorf("member %s sees leader %s, want the first member %s", j.MemberID, j.LeaderID, joins[0].MemberID)
				}
				if j.Protocol == nil || *j.Protocol != "range" {
					t.Errorf("protocol %v, want range", j.Protocol)
				}
				if j.LeaderID == j.MemberID {
					leaders++
					if len(j.Members) != 3 {
						t.Errorf("leader got %d members, want 3", len(j.Members))
					}
					for _, m := range j.Members {
						if string(m.ProtocolMetadata) != string(consumerMeta("t")) {
							t.Errorf("leader got metadata %q for %s", m.ProtocolMetadata, m.MemberID)
						}
					}
				} else if len(j.Members) != 0 {
					t.Errorf("follower got %d members", len(j.Members))
				}
			}
			if leaders != 1 || len(ids) != 3 {
				t.Fatalf("leaders=%d distinct ids=%d", leaders, len(ids))
			}
			if got := groupInfo(c, "g").state; got != stateCompletingRebalance {
				t.Fatalf("state after join %v", got)
			}
			if code := heartbeat(c, "g", joins[1].MemberID, 1, v); code != 0 {
				t.Fatalf("heartbeat while completing: %s", errName(code))
			}

			syncs := syncAll(t, c, "g", joins, v)
			for id, s := range syncs {
				if s.ErrorCode != 0 || string(s.MemberAssignment) != "assign-"+id {
					t.Errorf("sync %s: %s %q", id, errName(s.ErrorCode), s.MemberAssignment)
				}
				if v >= 5 && (s.Protocol == nil || *s.Protocol != "range" || *s.ProtocolType != "consumer") {
					t.Errorf("sync v5 protocol fields %v %v", s.ProtocolType, s.Protocol)
				}
			}
			if got := groupInfo(c, "g").state; got != stateStable {
				t.Fatalf("state after sync %v", got)
			}
			for _, j := range joins {
				if code := heartbeat(c, "g", j.MemberID, 1, v); code != 0 {
					t.Errorf("heartbeat %s: %s", j.MemberID, errName(code))
				}
			}
			// A late sync in Stable returns the member's assignment at once.
			s := c.SyncGroup(context.Background(), syncReq("g", joins[2].MemberID, 1, v))
			if s.ErrorCode != 0 || string(s.MemberAssignment) != "assign-"+joins[2].MemberID {
				t.Errorf("stable resync: %s %q", errName(s.ErrorCode), s.MemberAssignment)
			}
		})
	}
}

func TestInitialDelayExtendsButIsCapped(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	first := asyncJoin(c, joinReq("g", "", 3))
	waitFor(t, "first parked", func() bool { return groupInfo(c, "g").joining == 1 })
	clk.Advance(testDelay - time.Millisecond)
	if groupInfo(c, "g").state != statePreparingRebalance {
		t.Fatal("completed before the initial delay")
	}
	// Members keep arriving every 2s: each one extends the delay, but the
	// whole wait is capped at the rebalance timeout (20s).
	var chs []<-chan *kmsg.JoinGroupResponse
	elapsed := testDelay - time.Millisecond
	for groupInfo(c, "g").state == statePreparingRebalance {
		chs = append(chs, asyncJoin(c, joinReq("g", "", 3)))
		n := len(chs) + 1
		waitFor(t, "member parked", func() bool {
			in := groupInfo(c, "g")
			return in.joining == n || in.state != statePreparingRebalance
		})
		clk.Advance(2 * time.Second)
		elapsed += 2 * time.Second
	}
	if elapsed > testRebalance+2*time.Second {
		t.Fatalf("initial delay ran %v, want at most the rebalance timeout %v", elapsed, testRebalance)
	}
	if elapsed < 2*testDelay {
		t.Fatalf("initial delay was not extended: %v", elapsed)
	}
	r := recv(t, first)
	if r.ErrorCode != 0 || r.Generation != 1 {
		t.Fatalf("first: %s gen %d", errName(r.ErrorCode), r.Generation)
	}
	for _, ch := range chs {
		if r := recv(t, ch); r.ErrorCode != 0 && r.ErrorCode != kerr.RebalanceInProgress.Code {
			t.Fatalf("late joiner: %s", errName(r.ErrorCode))
		}
	}
}

func TestJoinValidation(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	formGroup(t, c, clk, "g", 1, 3, nil)
	tests := []struct {
		name string
		mod  func(r *kmsg.JoinGroupRequest)
		want *kerr.Error
	}{
		{"empty group id", func(r *kmsg.JoinGroupRequest) { r.Group = "" }, kerr.InvalidGroupID},
		{"session too short", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 5999 }, kerr.InvalidSessionTimeout},
		{"session too long", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 30*60*1000 + 1 }, kerr.InvalidSessionTimeout},
		{"unknown member of missing group", func(r *kmsg.JoinGroupRequest) { r.Group, r.MemberID = "nope", "m-1" }, kerr.UnknownMemberID},
		{"unknown member", func(r *kmsg.JoinGroupRequest) { r.MemberID = "m-1" }, kerr.UnknownMemberID},
		{"no protocols on new group", func(r *kmsg.JoinGroupRequest) { r.Group, r.Protocols = "new", nil }, kerr.InconsistentGroupProtocol},
		{"no protocol type on new group", func(r *kmsg.JoinGroupRequest) { r.Group, r.ProtocolType = "new", "" }, kerr.InconsistentGroupProtocol},
		{"other protocol type", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "connect" }, kerr.InconsistentGroupProtocol},
		{"no common protocol", func(r *kmsg.JoinGroupRequest) { r.Protocols[0].Name = "sticky" }, kerr.InconsistentGroupProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := joinReq("g", "", 3)
			tt.mod(req)
			resp := c.JoinGroup(context.Background(), req)
			if resp.ErrorCode != tt.want.Code {
				t.Fatalf("got %s, want %v", errName(resp.ErrorCode), tt.want)
			}
			if resp.Generation != -1 {
				t.Fatalf("error response generation %d, want -1", resp.Generation)
			}
		})
	}
	if in := groupInfo(c, "g"); in.members != 1 || in.state != stateCompletingRebalance {
		t.Fatalf("rejected joins disturbed the group: %+v", in)
	}
}

func TestSelectProtocolVote(t *testing.T) {
	tests := []struct {
		prefs [][]string
		want  string
	}{
		{[][]string{{"a"}}, "a"},
		{[][]string{{"a", "b"}, {"b", "a"}, {"b", "a"}}, "b"},
		{[][]string{{"a", "b"}, {"b", "a"}}, "a"}, // tie: first member's order
		{[][]string{{"a", "b", "c"}, {"c", "b"}, {"b", "c"}}, "b"},
		{[][]string{{"x", "a"}, {"a"}, {"x", "a"}}, "a"}, // x not supported by all
	}
	for _, tt := range tests {
		g := (&Coordinator{}).newGroup("g")
		for i, prefs := range tt.prefs {
			m := &member{id: fmt.Sprint(i)}
			for _, p := range prefs {
				m.protocols = append(m.protocols, kmsg.JoinGroupRequestProtocol{Name: p})
			}
			g.members[m.id] = m
			g.order = append(g.order, m)
		}
		if got := g.selectProtocol(); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.prefs, got, tt.want)
		}
	}
}

func leaveReq(group string, version int16, members ...kmsg.LeaveGroupRequestMember) *kmsg.LeaveGroupRequest {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = version
	req.Group = group
	if version < 3 {
		req.MemberID = members[0].MemberID
	} else {
		req.Members = members
	}
	return req
}

func TestLeaveTriggersRebalance(t *testing.T) {
	for _, v := range []int16{1, 5} {
		t.Run(fmt.Sprintf("leave v%d", v), func(t *testing.T) {
			c, clk := newTestCoordinator(t, "", nil)
			joins := formGroup(t, c, clk, "g", 3, 3, nil)
			syncAll(t, c, "g", joins, 3)

			// The leader leaves: the next member in join order leads.
			resp := c.LeaveGroup(leaveReq("g", v, kmsg.LeaveGroupRequestMember{MemberID: joins[0].MemberID}))
			if resp.ErrorCode != 0 || v >= 3 && (len(resp.Members) != 1 || resp.Members[0].ErrorCode != 0) {
				t.Fatalf("leave: %s %+v", errName(resp.ErrorCode), resp.Members)
			}
			for _, j := range joins[1:] {
				if code := heartbeat(c, "g", j.MemberID, 1, 3); code != kerr.RebalanceInProgress.Code {
					t.Fatalf("heartbeat after leave: %s", errName(code))
				}
			}
			if code := heartbeat(c, "g", joins[0].MemberID, 1, 3); code != kerr.UnknownMemberID.Code {
				t.Fatalf("heartbeat of the leaver: %s", errName(code))
			}
			// The survivors rejoin; no clock needed once all have.
			a := asyncJoin(c, joinReq("g", joins[1].MemberID, 3))
			b := asyncJoin(c, joinReq("g", joins[2].MemberID, 3))
			ra, rb := recv(t, a), recv(t, b)
			for _, r := range []*kmsg.JoinGroupResponse{ra, rb} {
				if r.ErrorCode != 0 || r.Generation != 2 || r.LeaderID != joins[1].MemberID {
					t.Fatalf("rejoin: %s gen %d leader %s", errName(r.ErrorCode), r.Generation, r.LeaderID)
				}
			}
			if len(ra.Members) != 2 {
				t.Fatalf("new leader got %d members", len(ra.Members))
			}
			syncAll(t, c, "g", []*kmsg.JoinGroupResponse{ra, rb}, 3)

			// Leaving twice, or as a stranger, is UNKNOWN_MEMBER_ID.
			resp = c.LeaveGroup(leaveReq("g", v, kmsg.LeaveGroupRequestMember{MemberID: joins[0].MemberID}))
			code := resp.ErrorCode
			if v >= 3 {
				code = resp.Members[0].ErrorCode
			}
			if code != kerr.UnknownMemberID.Code {
				t.Fatalf("second leave: %s", errName(code))
			}
			// Everyone leaves: Empty, one generation later.
			for _, r := range []*kmsg.JoinGroupResponse{ra, rb} {
				c.LeaveGroup(leaveReq("g", v, kmsg.LeaveGroupRequestMember{MemberID: r.MemberID}))
			}
			if in := groupInfo(c, "g"); in.state != stateEmpty || in.generation != 3 || in.members != 0 {
				t.Fatalf("after everyone left: %+v", in)
			}
		})
	}
}

func TestLeaveUnknownGroup(t *testing.T) {
	c, _ := newTestCoordinator(t, "", nil)
	if r := c.LeaveGroup(leaveReq("none", 0, kmsg.LeaveGroupRequestMember{MemberID: "x"})); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("v0: %s", errName(r.ErrorCode))
	}
	r := c.LeaveGroup(leaveReq("none", 4, kmsg.LeaveGroupRequestMember{MemberID: "x"}))
	if r.ErrorCode != 0 || len(r.Members) != 1 || r.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("v4: %s %+v", errName(r.ErrorCode), r.Members)
	}
}

func TestSessionExpiryRemovesMember(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	joins := formGroup(t, c, clk, "g", 2, 3, nil)
	syncAll(t, c, "g", joins, 3)
	alive, dead := joins[0].MemberID, joins[1].MemberID

	var code int16
	for step := 0; step < 10 && code == 0; step++ {
		clk.Advance(4 * time.Second)
		code = heartbeat(c, "g", alive, 1, 3)
	}
	if code != kerr.RebalanceInProgress.Code {
		t.Fatalf("live member heartbeat: %s, want REBALANCE_IN_PROGRESS", errName(code))
	}
	if code := heartbeat(c, "g", dead, 1, 3); code != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %s", errName(code))
	}
	r := join(c, joinReq("g", alive, 3))
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %s gen %d members %d", errName(r.ErrorCode), r.Generation, len(r.Members))
	}
}

func TestRebalanceTimeoutRemovesLaggard(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	joins := formGroup(t, c, clk, "g", 2, 3, nil)
	syncAll(t, c, "g", joins, 3)
	leader, laggard := joins[0], joins[1]

	// The leader rejoining forces a rebalance; the laggard keeps
	// heartbeating but never rejoins.
	ch := asyncJoin(c, joinReq("g", leader.MemberID, 3))
	waitFor(t, "leader parked", func() bool { return groupInfo(c, "g").joining == 1 })
	for i := 0; i < 4; i++ {
		clk.Advance(5*time.Second - time.Millisecond)
		if code := heartbeat(c, "g", laggard.MemberID, 1, 3); code != kerr.RebalanceInProgress.Code {
			t.Fatalf("laggard heartbeat %d: %s", i, errName(code))
		}
	}
	clk.Advance(time.Second)
	r := recv(t, ch)
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 1 || r.Members[0].MemberID != leader.MemberID {
		t.Fatalf("leader after timeout: %s gen %d members %+v", errName(r.ErrorCode), r.Generation, r.Members)
	}
	if code := heartbeat(c, "g", laggard.MemberID, 1, 3); code != kerr.UnknownMemberID.Code {
		t.Fatalf("laggard after timeout: %s", errName(code))
	}
}

func TestHeartbeatErrors(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	joins := formGroup(t, c, clk, "g", 1, 3, nil)
	syncAll(t, c, "g", joins, 3)
	id := joins[0].MemberID
	tests := []struct {
		name   string
		group  string
		member string
		gen    int32
		want   int16
	}{
		{"ok", "g", id, 1, 0},
		{"empty group", "", id, 1, kerr.InvalidGroupID.Code},
		{"unknown group", "x", id, 1, kerr.UnknownMemberID.Code},
		{"unknown member", "g", "who", 1, kerr.UnknownMemberID.Code},
		{"old generation", "g", id, 0, kerr.IllegalGeneration.Code},
	}
	for _, tt := range tests {
		if got := heartbeat(c, tt.group, tt.member, tt.gen, 4); got != tt.want {
			t.Errorf("%s: got %s want %s", tt.name, errName(got), errName(tt.want))
		}
	}
	s := c.SyncGroup(context.Background(), syncReq("g", id, 0, 3))
	if s.ErrorCode != kerr.IllegalGeneration.Code {
		t.Errorf("sync with old generation: %s", errName(s.ErrorCode))
	}
	s = c.SyncGroup(context.Background(), syncReq("nope", id, 1, 3))
	if s.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("sync unknown group: %s", errName(s.ErrorCode))
	}
	p := "roundrobin"
	sr := syncReq("g", id, 1, 5)
	sr.Protocol = &p
	if s := c.SyncGroup(context.Background(), sr); s.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("sync v5 wrong protocol: %s", errName(s.ErrorCode))
	}
}

func TestMemberIDRequired(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	first := c.JoinGroup(context.Background(), joinReq("g", "", 4))
	if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" || first.Generation != -1 {
		t.Fatalf("first join: %s id %q gen %d", errName(first.ErrorCode), first.MemberID, first.Generation)
	}
	if in := groupInfo(c, "g"); in.pending != 1 || in.members != 0 {
		t.Fatalf("after MEMBER_ID_REQUIRED: %+v", in)
	}
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- c.JoinGroup(context.Background(), joinReq("g", first.MemberID, 4)) }()
	waitFor(t, "joined", func() bool { return groupInfo(c, "g").joining == 1 })
	clk.Advance(testDelay)
	r := recv(t, ch)
	if r.ErrorCode != 0 || r.MemberID != first.MemberID || r.LeaderID != first.MemberID || r.Generation != 1 {
		t.Fatalf("second join: %s id %q leader %q gen %d", errName(r.ErrorCode), r.MemberID, r.LeaderID, r.Generation)
	}

	// A pending id that never comes back expires with the session timeout.
	abandoned := c.JoinGroup(context.Background(), joinReq("g", "", 6))
	if abandoned.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("second member: %s", errName(abandoned.ErrorCode))
	}
	if in := groupInfo(c, "g"); in.pending != 1 {
		t.Fatalf("pending: %+v", in)
	}
	clk.Advance(testSession)
	if in := groupInfo(c, "g"); in.pending != 0 {
		t.Fatalf("pending member did not expire: %+v", in)
	}
	if r := c.JoinGroup(context.Background(), joinReq("g", abandoned.MemberID, 6)); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("join with expired pending id: %s", errName(r.ErrorCode))
	}
}

func TestStaticMemberRejoin(t *testing.T) {
	for _, v := range []int16{5, 9} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			c, clk := newTestCoordinator(t, "", nil)
			instances := []string{"inst-a", "inst-b"}
			joins := formGroup(t, c, clk, "g", 2, v, func(i int, r *kmsg.JoinGroupRequest) { r.InstanceID = &instances[i] })
			syncAll(t, c, "g", joins, v)
			old := joins[0] // the leader

			// The leader restarts: same instance id, no member id.
			req := joinReq("g", "", v)
			req.InstanceID = &instances[0]
			r := c.JoinGroup(context.Background(), req)
			if r.ErrorCode != 0 || r.MemberID == old.MemberID || r.Generation != 1 {
				t.Fatalf("static rejoin: %s id %q gen %d", errName(r.ErrorCode), r.MemberID, r.Generation)
			}
			if r.LeaderID != old.MemberID {
				t.Fatalf("static rejoin leader %q: want the old id so the client does not reassign", r.LeaderID)
			}
			if v >= 9 && (!r.SkipAssignment || len(r.Members) != 2) {
				t.Fatalf("v9 leader: skip=%v members=%d", r.SkipAssignment, len(r.Members))
			}
			if v < 9 && (r.SkipAssignment || len(r.Members) != 0) {
				t.Fatalf("v%d: skip=%v members=%d", v, r.SkipAssignment, len(r.Members))
			}
			// No rebalance: the other member is undisturbed.
			if code := heartbeat(c, "g", joins[1].MemberID, 1, v); code != 0 {
				t.Fatalf("other member heartbeat: %s", errName(code))
			}
			if in := groupInfo(c, "g"); in.state != stateStable || in.members != 2 || in.leader != r.MemberID {
				t.Fatalf("after static rejoin: %+v", in)
			}
			// The new id gets the old assignment; the old id is fenced.
			s := c.SyncGroup(context.Background(), syncReq("g", r.MemberID, 1, v))
			if s.ErrorCode != 0 || string(s.MemberAssignment) != "assign-"+old.MemberID {
				t.Fatalf("sync with new id: %s %q", errName(s.ErrorCode), s.MemberAssignment)
			}
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Version, hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = 4, "g", old.MemberID, 1, &instances[0]
			if code := c.Heartbeat(hb).ErrorCode; code != kerr.FencedInstanceID.Code {
				t.Fatalf("old id heartbeat: %s", errName(code))
			}
			if code := heartbeat(c, "g", old.MemberID, 1, 0); code != kerr.UnknownMemberID.Code {
				t.Fatalf("old id v0 heartbeat: %s", errName(code))
			}

			// Administrative removal by instance id.
			resp := c.LeaveGroup(leaveReq("g", 5, kmsg.LeaveGroupRequestMember{InstanceID: &instances[1]}))
			if resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
				t.Fatalf("leave by instance: %s %+v", errName(resp.ErrorCode), resp.Members)
			}
			if in := groupInfo(c, "g"); in.members != 1 || in.state != statePreparingRebalance {
				t.Fatalf("after removing inst-b: %+v", in)
			}
		})
	}
}

func TestJoinCancelledRemovesNewMember(t *testing.T) {
	c, _ := newTestCoordinator(t, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- c.JoinGroup(ctx, joinReq("g", "", 3)) }()
	waitFor(t, "parked", func() bool { return groupInfo(c, "g").joining == 1 })
	cancel()
	if r := recv(t, ch); r.ErrorCode == 0 {
		t.Fatal("cancelled join succeeded")
	}
	if in := groupInfo(c, "g"); in.members != 0 {
		t.Fatalf("new member kept after its join was abandoned: %+v", in)
	}
}

func TestCloseWakesBlockedCalls(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	joins := formGroup(t, c, clk, "g", 2, 3, nil)
	// A follower parks in SyncGroup; a new member parks in JoinGroup.
	follower := joins[1]
	syncCh := make(chan *kmsg.SyncGroupResponse, 1)
	go func() {
		syncCh <- c.SyncGroup(context.Background(), syncReq("g", follower.MemberID, 1, 3))
	}()
	joinCh := asyncJoin(c, joinReq("other", "", 3))
	waitFor(t, "parked", func() bool {
		return groupInfo(c, "g").syncing == 1 && groupInfo(c, "other").joining == 1
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cna := kerr.CoordinatorNotAvailable.Code
	if r := recv(t, syncCh); r.ErrorCode != cna {
		t.Errorf("parked sync: %s", errName(r.ErrorCode))
	}
	if r := recv(t, joinCh); r.ErrorCode != cna {
		t.Errorf("parked join: %s", errName(r.ErrorCode))
	}
	if r := c.JoinGroup(context.Background(), joinReq("g", "", 3)); r.ErrorCode != cna {
		t.Errorf("join after close: %s", errName(r.ErrorCode))
	}
	if code := heartbeat(c, "g", follower.MemberID, 1, 3); code != cna {
		t.Errorf("heartbeat after close: %s", errName(code))
	}
	if codes := commitCodes(c.OffsetCommit(context.Background(), commitReq("g", "", -1, 8, "t", map[int32]int64{0: 1}))); codes[0] != cna {
		t.Errorf("commit after close: %v", codes)
	}
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version = 5
	f.Group = "g"
	if r := c.OffsetFetch(f); r.ErrorCode != cna {
		t.Errorf("fetch after close: %s", errName(r.ErrorCode))
	}
	if r := c.ListGroups(kmsg.NewPtrListGroupsRequest()); r.ErrorCode != cna {
		t.Errorf("list after close: %s", errName(r.ErrorCode))
	}
	if err := c.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestRealClockSmoke runs the join/sync/expiry cycle on real timers, to
// catch anything that only works with the fake clock's synchronous firing.
func TestRealClockSmoke(t *testing.T) {
	c, err := New(Options{
		Dir:                   t.TempDir(),
		Logger:                discard,
		InitialRebalanceDelay: 200 * time.Millisecond,
		MinSessionTimeout:     time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := func(id string) *kmsg.JoinGroupRequest {
		r := joinReq("g", id, 3)
		r.SessionTimeoutMillis = 300
		r.RebalanceTimeoutMillis = 2000
		return r
	}
	a := asyncJoin(c, req(""))
	waitFor(t, "first member parked", func() bool { return groupInfo(c, "g").joining == 1 })
	b := asyncJoin(c, req(""))
	joins := []*kmsg.JoinGroupResponse{recv(t, a), recv(t, b)}
	for _, j := range joins {
		if j.ErrorCode != 0 || j.Generation != 1 {
			t.Fatalf("join: %s gen %d", errName(j.ErrorCode), j.Generation)
		}
	}
	syncAll(t, c, "g", joins, 3)

	// Only the first member keeps heartbeating; the second expires.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for heartbeat(c, "g", joins[0].MemberID, 1, 3) == 0 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("second member never expired")
		}
	}
	r := join(c, req(joins[0].MemberID))
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %s gen %d members %d", errName(r.ErrorCode), r.Generation, len(r.Members))
	}
}
