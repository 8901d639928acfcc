package group

import (
	"bytes"
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup (key 11, v0-v9) adds or refreshes a member and blocks until the
// rebalance completes, ctx ends or the coordinator closes.
//
//   - v0 has no rebalance timeout: the session timeout is used.
//   - v4+ with an empty member id: the id is generated, parked as pending and
//     returned with MEMBER_ID_REQUIRED (KIP-394); the client rejoins with it.
//   - v5+ static members (InstanceID): a rejoin with an empty member id
//     replaces the old member id; if the group is Stable and the selected
//     protocol would not change, it answers at once with the current
//     generation and the old leader id (so a pre-v9 leader does not reassign),
//     and v9+ leaders get SkipAssignment.
//   - v7+ ProtocolType/Protocol are null on errors.
//
// If ctx ends while parked, a member that has never completed a join is
// removed; others stay until their session expires.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = req.Version
	fill := func(r joinResult) *kmsg.JoinGroupResponse {
		resp.ErrorCode = r.err
		resp.MemberID = r.memberID
		if r.err != errNone {
			resp.Generation = -1
			return resp
		}
		resp.Generation = r.generation
		resp.ProtocolType = &r.protocolType
		resp.Protocol = &r.protocol
		resp.LeaderID = r.leader
		resp.Members = r.members
		if resp.Members == nil {
			resp.Members = []kmsg.JoinGroupResponseMember{}
		}
		resp.SkipAssignment = r.skipAssignment
		return resp
	}
	fail := func(code int16) *kmsg.JoinGroupResponse {
		return fill(joinResult{err: code, memberID: req.MemberID})
	}
	if c.closed.Load() {
		return fail(errCoordinatorNA)
	}
	if req.Group == "" {
		return fail(errInvalidGroupID)
	}
	session := millis(req.SessionTimeoutMillis)
	if session < c.opts.MinSessionTimeout || session > c.opts.MaxSessionTimeout {
		return fail(errInvalidSession)
	}
	rebalance := millis(req.RebalanceTimeoutMillis)
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	ci := clientFrom(ctx)
	p := &joinParams{
		version:          req.Version,
		memberID:         strings.Clone(req.MemberID),
		clientID:         strings.Clone(ci.id),
		clientHost:       strings.Clone(ci.host),
		protocolType:     strings.Clone(req.ProtocolType),
		protocols:        cloneProtocols(req.Protocols),
		sessionTimeout:   session,
		rebalanceTimeout: rebalance,
	}
	if req.Version >= 5 {
		p.instanceID = cloneStringPtr(req.InstanceID)
	}

	g := c.lockGroup(req.Group, p.memberID == "")
	if g == nil {
		return fail(errUnknownMember)
	}
	if c.closed.Load() { // Close may have swept this group already
		g.mu.Unlock()
		return fail(errCoordinatorNA)
	}
	m, ch, res := g.join(p)
	g.mu.Unlock()
	if ch == nil {
		return fill(res)
	}
	select {
	case r := <-ch:
		return fill(r)
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.abandonJoin(m, ch)
	g.mu.Unlock()
	select {
	case r := <-ch: // answered before we gave up
		return fill(r)
	default:
		return fill(joinResult{err: errRebalancing, memberID: m.id})
	}
}

// join runs Kafka's handleJoinGroup under the group lock. It returns either
// an immediate result (ch == nil) or the channel the answer will arrive on.
func (g *group) join(p *joinParams) (*member, chan joinResult, joinResult) {
	fail := func(code int16, id string) (*member, chan joinResult, joinResult) {
		return nil, nil, joinResult{err: code, memberID: id}
	}
	if p.memberID == "" {
		var old *member // a static member this join replaces
		if p.instanceID != nil {
			old = g.static[*p.instanceID]
		}
		if !g.supportsProtocols(old, p) {
			return fail(errInconsistentProto, "")
		}
		id := g.c.newMemberID(p.clientID, p.instanceID)
		if old != nil {
			return g.replaceStaticMember(old, id, p)
		}
		if p.instanceID != nil {
			return g.addMemberAndRebalance(id, p)
		}
		if p.version >= 4 {
			g.addPending(id, p.sessionTimeout)
			return fail(errMemberIDRequired, id)
		}
		return g.addMemberAndRebalance(id, p)
	}
	if _, ok := g.pending[p.memberID]; ok {
		if !g.supportsProtocols(nil, p) {
			return fail(errInconsistentProto, p.memberID)
		}
		if p.instanceID != nil && g.static[*p.instanceID] != nil {
			return fail(errFencedInstance, p.memberID)
		}
		g.removePending(p.memberID)
		return g.addMemberAndRebalance(p.memberID, p)
	}
	m, code := g.validateMember(p.instanceID, p.memberID)
	if code != errNone {
		return fail(code, p.memberID)
	}
	if !g.supportsProtocols(m, p) {
		return fail(errInconsistentProto, p.memberID)
	}
	switch g.state {
	case statePreparingRebalance:
		return g.updateMemberAndRebalance(m, p)
	case stateCompletingRebalance:
		if m.sameProtocols(p.protocols) {
			// The member lost our answer; repeat it.
			var members []kmsg.JoinGroupResponseMember
			if g.isLeader(m) {
				members = g.memberMetadata()
			}
			g.resetSession(m)
			return m, nil, g.joinResultFor(m, members)
		}
		return g.updateMemberAndRebalance(m, p)
	case stateStable:
		if g.isLeader(m) || !m.sameProtocols(p.protocols) {
			return g.updateMemberAndRebalance(m, p)
		}
		g.resetSession(m)
		return m, nil, g.joinResultFor(m, nil)
	default:
		return fail(errUnknownMember, p.memberID)
	}
}

func (g *group) addMemberAndRebalance(id string, p *joinParams) (*member, chan joinResult, joinResult) {
	m, ch := g.addMember(id, p)
	g.maybePrepareRebalance()
	g.tryCompleteJoin()
	return m, ch, joinResult{}
}

func (g *group) updateMemberAndRebalance(m *member, p *joinParams) (*member, chan joinResult, joinResult) {
	if m.joinCh != nil { // a duplicate join supersedes the parked one
		m.joinCh <- joinResult{err: errRebalancing, memberID: m.id, generation: -1}
	}
	m.update(p)
	if len(g.members) == 1 {
		g.protocolType = p.protocolType
	}
	ch := make(chan joinResult, 1)
	m.joinCh = ch
	g.resetSession(m)
	g.maybePrepareRebalance()
	g.tryCompleteJoin()
	return m, ch, joinResult{}
}

// replaceStaticMember gives a rejoining static member (same instance id,
// empty member id) a new member id in place of the old one (KIP-345).
func (g *group) replaceStaticMember(m *member, newID string, p *joinParams) (*member, chan joinResult, joinResult) {
	if m.joinCh != nil {
		m.joinCh <- joinResult{err: errFencedInstance, memberID: m.id, generation: -1}
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- syncResult{err: errFencedInstance}
		m.syncCh = nil
	}
	oldLeader := g.leader
	delete(g.members, m.id)
	if g.leader == m.id {
		g.leader = newID
	}
	m.id = newID
	g.members[newID] = m
	m.update(p)
	g.resetSession(m)
	g.c.log.Info("static member rejoined", "group", g.id, "instance", *m.instanceID, "member", newID)

	if g.state == stateStable && g.selectProtocol() == g.protocol {
		g.persistState() // the new member id must survive a restart
		r := g.joinResultFor(m, nil)
		r.leader = oldLeader
		if g.isLeader(m) && p.version >= 9 {
			r.members = g.memberMetadata()
			r.skipAssignment = true
		}
		return m, nil, r
	}
	ch := make(chan joinResult, 1)
	m.joinCh = ch
	switch g.state {
	case stateStable, stateCompletingRebalance:
		// A CompletingRebalance leader may be assigning to the old id.
		g.prepareRebalance()
	case statePreparingRebalance:
		g.tryCompleteJoin()
	}
	return m, ch, joinResult{}
}

// abandonJoin handles a JoinGroup whose ctx ended while parked.
func (g *group) abandonJoin(m *member, ch chan joinResult) {
	if g.members[m.id] != m || m.joinCh != ch {
		return
	}
	m.joinCh = nil
	if m.isNew {
		g.removeMemberAndUpdate(m)
		return
	}
	g.resetSession(m)
}

// SyncGroup (key 14, v0-v5) blocks followers until the leader's SyncGroup
// delivers the assignment, ctx ends or the coordinator closes. v3+ checks
// InstanceID fencing; v5+ checks ProtocolType/Protocol and echoes them.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = req.Version
	fill := func(r syncResult) *kmsg.SyncGroupResponse {
		resp.ErrorCode = r.err
		if r.err == errNone {
			resp.MemberAssignment = r.assignment
			if resp.MemberAssignment == nil {
				resp.MemberAssignment = []byte{}
			}
			resp.ProtocolType = &r.protocolType
			resp.Protocol = &r.protocol
		}
		return resp
	}
	if c.closed.Load() {
		return fill(syncResult{err: errCoordinatorNA})
	}
	if req.Group == "" {
		return fill(syncResult{err: errInvalidGroupID})
	}
	g := c.lockGroup(req.Group, false)
	if g == nil {
		return fill(syncResult{err: errUnknownMember})
	}
	if c.closed.Load() {
		g.mu.Unlock()
		return fill(syncResult{err: errCoordinatorNA})
	}
	m, ch, res := g.sync(req)
	g.mu.Unlock()
	if ch == nil {
		return fill(res)
	}
	select {
	case r := <-ch:
		return fill(r)
	case <-ctx.Done():
	}
	g.mu.Lock()
	if g.members[m.id] == m && m.syncCh == ch {
		m.syncCh = nil
		g.resetSession(m)
	}
	g.mu.Unlock()
	select {
	case r := <-ch:
		return fill(r)
	default:
		return fill(syncResult{err: errRebalancing})
	}
}

func (g *group) sync(req *kmsg.SyncGroupRequest) (*member, chan syncResult, syncResult) {
	fail := func(code int16) (*member, chan syncResult, syncResult) {
		return nil, nil, syncResult{err: code}
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	if g.fenced(instanceID, req.MemberID) {
		return fail(errFencedInstance)
	}
	m := g.members[req.MemberID]
	if m == nil {
		return fail(errUnknownMember)
	}
	if req.Generation != g.generation {
		return fail(errIllegalGeneration)
	}
	if req.Version >= 5 && (req.ProtocolType != nil && *req.ProtocolType != g.protocolType ||
		req.Protocol != nil && *req.Protocol != g.protocol) {
		return fail(errInconsistentProto)
	}
	switch g.state {
	case statePreparingRebalance:
		return fail(errRebalancing)
	case stateCompletingRebalance:
		if m.syncCh != nil { // a duplicate sync supersedes the parked one
			m.syncCh <- syncResult{err: errRebalancing}
		}
		ch := make(chan syncResult, 1)
		m.syncCh = ch
		g.resetSession(m)
		if g.isLeader(m) {
			assigned := make(map[string][]byte, len(req.GroupAssignment))
			for _, a := range req.GroupAssignment {
				assigned[a.MemberID] = a.MemberAssignment
			}
			for _, x := range g.order {
				x.assignment = bytes.Clone(assigned[x.id])
			}
			g.transition(stateStable)
			g.persistState()
			for _, x := range g.order {
				if x.syncCh != nil {
					x.syncCh <- g.syncResultFor(x)
					x.syncCh = nil
					g.resetSession(x)
				}
			}
		}
		return m, ch, syncResult{}
	case stateStable:
		g.resetSession(m)
		return m, nil, g.syncResultFor(m)
	default: // Empty
		return fail(errUnknownMember)
	}
}

func (g *group) syncResultFor(m *member) syncResult {
	return syncResult{assignment: m.assignment, protocolType: g.protocolType, protocol: g.protocol}
}

// Heartbeat (key 12, v0-v4) keeps a member's session alive. It answers
// REBALANCE_IN_PROGRESS while the group is PreparingRebalance so the member
// rejoins; v3+ checks InstanceID fencing.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = req.Version
	resp.ErrorCode = c.heartbeat(req)
	return resp
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if c.closed.Load() {
		return errCoordinatorNA
	}
	if req.Group == "" {
		return errInvalidGroupID
	}
	g := c.lockGroup(req.Group, false)
	if g == nil {
		return errUnknownMember
	}
	defer g.mu.Unlock()
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	if g.fenced(instanceID, req.MemberID) {
		return errFencedInstance
	}
	m := g.members[req.MemberID]
	if m == nil {
		return errUnknownMember
	}
	if req.Generation != g.generation {
		return errIllegalGeneration
	}
	switch g.state {
	case statePreparingRebalance:
		g.resetSession(m)
		return errRebalancing
	case stateCompletingRebalance, stateStable:
		g.resetSession(m)
		return errNone
	default:
		return errUnknownMember
	}
}

// LeaveGroup (key 13, v0-v5) removes members. v0-v2 carry one MemberID and
// answer with the top-level ErrorCode; v3+ carry Members (a member id, or an
// empty member id with an instance id for administrative removal) and answer
// per member with a top-level error only for group-wide failures.
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	if c.closed.Load() {
		resp.ErrorCode = errCoordinatorNA
		return resp
	}
	if req.Group == "" {
		resp.ErrorCode = errInvalidGroupID
		return resp
	}
	results := make([]kmsg.LeaveGroupResponseMember, len(leaving))
	g := c.lockGroup(req.Group, false)
	for i, l := range leaving {
		results[i] = kmsg.NewLeaveGroupResponseMember()
		results[i].MemberID = l.MemberID
		results[i].InstanceID = l.InstanceID
		results[i].ErrorCode = errUnknownMember
		if g != nil {
			results[i].ErrorCode = g.leave(l.MemberID, l.InstanceID)
		}
	}
	if g != nil {
		g.mu.Unlock()
	}
	if req.Version >= 3 {
		resp.Members = results
	} else if len(results) > 0 {
		resp.ErrorCode = results[0].ErrorCode
	}
	return resp
}

func (g *group) leave(memberID string, instanceID *string) int16 {
	if memberID == "" {
		if instanceID == nil {
			return errUnknownMember
		}
		m := g.static[*instanceID]
		if m == nil {
			return errUnknownMember
		}
		g.c.log.Info("static member removed", "group", g.id, "instance", *instanceID, "member", m.id)
		g.removeMemberAndUpdate(m)
		return errNone
	}
	if g.removePending(memberID) {
		g.tryCompleteJoin()
		return errNone
	}
	m, code := g.validateMember(instanceID, memberID)
	if code != errNone {
		return code
	}
	g.removeMemberAndUpdate(m)
	return errNone
}
