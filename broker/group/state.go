package group

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupState follows Kafka's GroupMetadata states.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s groupState) String() string { return stateNames[s] }

// joinResult is what a blocked JoinGroup receives.
type joinResult struct {
	err            int16
	generation     int32
	protocolType   string
	protocol       string
	leader         string
	memberID       string
	members        []kmsg.JoinGroupResponseMember // leader only
	skipAssignment bool
}

// syncResult is what a blocked SyncGroup receives.
type syncResult struct {
	err          int16
	assignment   []byte
	protocolType string
	protocol     string
}

// joinParams is a JoinGroup request with everything the group keeps cloned,
// so that the caller may decode requests without copying (UnsafeReadFrom).
type joinParams struct {
	version          int16
	memberID         string
	instanceID       *string
	clientID         string
	clientHost       string
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
}

func cloneProtocols(ps []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(ps))
	for i, p := range ps {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: strings.Clone(p.Name), Metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

func cloneStringPtr(s *string) *string {
	if s == nil {
		return nil
	}
	v := strings.Clone(*s)
	return &v
}

type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	joinVersion      int16
	assignment       []byte
	isNew            bool // has not yet received a successful join response

	joinCh chan joinResult // non-nil while a JoinGroup waits
	syncCh chan syncResult // non-nil while a SyncGroup waits

	sessionTimer Timer
	sessionSeq   uint64 // invalidates stale timer callbacks
}

func (m *member) update(p *joinParams) {
	m.clientID, m.clientHost = p.clientID, p.clientHost
	m.protocolType = p.protocolType
	m.protocols = p.protocols
	m.sessionTimeout = p.sessionTimeout
	m.rebalanceTimeout = p.rebalanceTimeout
	m.joinVersion = p.version
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

func (m *member) sameProtocols(ps []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b kmsg.JoinGroupRequestProtocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

type pendingMember struct{ timer Timer }

// group is one consumer group. Everything is guarded by mu.
type group struct {
	c  *Coordinator
	id string
	mu sync.Mutex

	state        groupState
	stateSince   time.Time // zero for groups loaded from disk
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	order        []*member // join order: leader succession and member lists
	static       map[string]*member
	pending      map[string]*pendingMember // ids handed out with MEMBER_ID_REQUIRED
	subscribed   map[string]bool           // topics of a "consumer" group; nil if unknown

	rebalanceTimer Timer
	rebalanceSeq   uint64
	initialJoin    bool // the current rebalance runs the initial delay
	newMemberAdded bool
	remainingDelay time.Duration
}

func (c *Coordinator) newGroup(id string) *group {
	return &group{
		c:       c,
		id:      id,
		members: make(map[string]*member),
		static:  make(map[string]*member),
		pending: make(map[string]*pendingMember),
	}
}

func (g *group) transition(s groupState) {
	g.state = s
	g.stateSince = g.c.now()
}

func (g *group) isLeader(m *member) bool { return g.leader == m.id }

// fenced reports Kafka's isStaticMemberFenced: the instance id is known and
// belongs to another member id.
func (g *group) fenced(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	cur := g.static[*instanceID]
	return cur != nil && cur.id != memberID
}

// validateMember is Kafka's validateCurrentMember: a given instance id must
// exist and map to memberID, and memberID must be a member.
func (g *group) validateMember(instanceID *string, memberID string) (*member, int16) {
	if instanceID != nil {
		cur := g.static[*instanceID]
		if cur == nil {
			return nil, errUnknownMember
		}
		if cur.id != memberID {
			return nil, errFencedInstance
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, errUnknownMember
	}
	return m, errNone
}

// supportsProtocols reports whether a member (self, nil if new) joining with
// p may be in the group: same protocol type as the others and at least one
// protocol every other member supports.
func (g *group) supportsProtocols(self *member, p *joinParams) bool {
	if p.protocolType == "" || len(p.protocols) == 0 {
		return false
	}
	others := len(g.members)
	if self != nil {
		others--
	}
	if others == 0 {
		return true
	}
	if p.protocolType != g.protocolType {
		return false
	}
	for _, proto := range p.protocols {
		all := true
		for _, m := range g.order {
			if m != self && !m.supports(proto.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// selectProtocol is Kafka's vote: among the protocols every member
// supports, each member votes for its most preferred; most votes wins, ties
// going to the first member's preference order.
func (g *group) selectProtocol() string {
	if len(g.order) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range g.order[0].protocols {
		all := true
		for _, m := range g.order[1:] {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all && !slices.Contains(candidates, p.Name) {
			candidates = append(candidates, p.Name)
		}
	}
	votes := make(map[string]int, len(candidates))
	for _, m := range g.order {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range candidates {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// computeSubscribed records the topics of a "consumer" group from its
// members' ConsumerMemberMetadata; nil (unknown) when any fails to parse.
func (g *group) computeSubscribed() {
	g.subscribed = nil
	if g.protocolType != "consumer" {
		return
	}
	topics := make(map[string]bool)
	for _, m := range g.order {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadata(g.protocol)); err != nil {
			return
		}
		for _, t := range md.Topics {
			topics[strings.Clone(t)] = true
		}
	}
	g.subscribed = topics
}

func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.order {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// resetSession restarts m's session timer; any earlier callback is void.
func (g *group) resetSession(m *member) {
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.sessionTimer = g.c.clock.AfterFunc(m.sessionTimeout, func() { g.onSessionExpired(m, seq) })
}

func (g *group) onSessionExpired(m *member, seq uint64) {
	if g.c.closed.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members[m.id] != m || m.sessionSeq != seq {
		return
	}
	if m.joinCh != nil || m.syncCh != nil {
		// Kafka keeps members alive while their join or sync is parked.
		g.resetSession(m)
		return
	}
	g.c.log.Info("member session expired", "group", g.id, "member", m.id, "generation", g.generation)
	g.removeMemberAndUpdate(m)
}

func (g *group) addPending(id string, timeout time.Duration) {
	p := &pendingMember{}
	p.timer = g.c.clock.AfterFunc(timeout, func() {
		if g.c.closed.Load() {
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pending[id] != p {
			return
		}
		delete(g.pending, id)
		g.tryCompleteJoin()
	})
	g.pending[id] = p
}

func (g *group) removePending(id string) bool {
	p := g.pending[id]
	if p == nil {
		return false
	}
	p.timer.Stop()
	delete(g.pending, id)
	return true
}

// addMember adds a new member awaiting join and returns its join channel.
func (g *group) addMember(id string, p *joinParams) (*member, chan joinResult) {
	m := &member{id: id, instanceID: p.instanceID, isNew: true}
	m.update(p)
	if g.state == statePreparingRebalance && g.initialJoin {
		g.newMemberAdded = true
	}
	if len(g.members) == 0 {
		g.protocolType = p.protocolType
	}
	g.members[id] = m
	g.order = append(g.order, m)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m
	}
	if g.leader == "" {
		g.leader = id
	}
	ch := make(chan joinResult, 1)
	m.joinCh = ch
	g.resetSession(m)
	return m, ch
}

// release stops m's session timer (and invalidates one already firing) and
// answers its parked join or sync with code.
func (m *member) release(code int16) {
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionSeq++
	if m.joinCh != nil {
		m.joinCh <- joinResult{err: code, memberID: m.id, generation: -1}
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- syncResult{err: code}
		m.syncCh = nil
	}
}

// removeMember drops m, answering its parked join or sync with code.
func (g *group) removeMember(m *member, code int16) {
	m.release(code)
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m {
		delete(g.static, *m.instanceID)
	}
	g.order = slices.DeleteFunc(g.order, func(x *member) bool { return x == m })
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0].id
		}
	}
}

// removeMemberAndUpdate removes m and moves the group on: a rebalance
// in progress may now complete, a settled group must rebalance.
func (g *group) removeMemberAndUpdate(m *member) {
	g.removeMember(m, errUnknownMember)
	switch g.state {
	case statePreparingRebalance:
		g.tryCompleteJoin()
	case stateStable, stateCompletingRebalance:
		g.prepareRebalance()
	}
}

func (g *group) maybePrepareRebalance() {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		g.prepareRebalance()
	}
}

func (g *group) prepareRebalance() {
	if g.state == stateCompletingRebalance {
		// The leader's assignment is for the old membership: drop it and
		// send parked syncs back to rejoin.
		for _, m := range g.order {
			m.assignment = nil
			if m.syncCh != nil {
				m.syncCh <- syncResult{err: errRebalancing}
				m.syncCh = nil
			}
		}
	}
	timeout := g.rebalanceTimeout()
	wasEmpty := g.state == stateEmpty
	g.transition(statePreparingRebalance)
	if delay := g.c.opts.InitialRebalanceDelay; wasEmpty && delay > 0 {
		g.initialJoin = true
		g.newMemberAdded = false
		d := min(delay, timeout)
		g.remainingDelay = max(timeout-d, 0)
		g.scheduleRebalance(d, g.onInitialDelay)
		return
	}
	g.initialJoin = false
	g.scheduleRebalance(timeout, g.completeJoin)
	g.tryCompleteJoin()
}

// scheduleRebalance runs fn under the group lock after d, unless another
// rebalance timer replaced this one or the rebalance already completed.
func (g *group) scheduleRebalance(d time.Duration, fn func()) {
	g.stopRebalanceTimer()
	seq := g.rebalanceSeq
	g.rebalanceTimer = g.c.clock.AfterFunc(d, func() {
		if g.c.closed.Load() {
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.rebalanceSeq != seq || g.state != statePreparingRebalance {
			return
		}
		fn()
	})
}

func (g *group) stopRebalanceTimer() {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
		g.rebalanceTimer = nil
	}
	g.rebalanceSeq++
}

// onInitialDelay ends one slice of group.initial.rebalance.delay.ms: while
// new members keep arriving, wait another slice, up to the rebalance timeout.
func (g *group) onInitialDelay() {
	if g.newMemberAdded && g.remainingDelay > 0 {
		g.newMemberAdded = false
		d := min(g.c.opts.InitialRebalanceDelay, g.remainingDelay)
		g.remainingDelay -= d
		g.scheduleRebalance(d, g.onInitialDelay)
		return
	}
	g.completeJoin()
}

// tryCompleteJoin completes the rebalance once every member has rejoined
// and no MEMBER_ID_REQUIRED member is outstanding (not during the initial
// delay, which always runs its course).
func (g *group) tryCompleteJoin() {
	if g.state != statePreparingRebalance || g.initialJoin {
		return
	}
	if len(g.pending) > 0 {
		return
	}
	for _, m := range g.order {
		if m.joinCh == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends PreparingRebalance: dynamic members that did not rejoin
// are removed, the generation advances and every parked join is answered,
// the leader with all members' metadata.
func (g *group) completeJoin() {
	g.stopRebalanceTimer()
	g.initialJoin = false
	for _, m := range slices.Clone(g.order) {
		if m.joinCh == nil && m.instanceID == nil {
			g.c.log.Info("member did not rejoin in time", "group", g.id, "member", m.id)
			g.removeMember(m, errUnknownMember)
		}
	}
	if len(g.order) > 0 && !g.electJoinedLeader() {
		// Only static members that have not rejoined remain: wait for them
		// to rejoin or for their sessions to expire.
		g.scheduleRebalance(g.rebalanceTimeout(), g.completeJoin)
		return
	}
	g.generation++
	if len(g.order) == 0 {
		g.protocol = ""
		g.subscribed = nil
		g.transition(stateEmpty)
		g.persistState()
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	g.transition(stateCompletingRebalance)
	all := g.memberMetadata()
	for _, m := range g.order {
		if m.joinCh != nil {
			var members []kmsg.JoinGroupResponseMember
			if g.isLeader(m) {
				members = all
			}
			m.joinCh <- g.joinResultFor(m, members)
			m.joinCh = nil
		}
		m.isNew = false
		g.resetSession(m)
	}
}

// electJoinedLeader keeps the leader if it rejoined, else picks the first
// member that did; false if none did.
func (g *group) electJoinedLeader() bool {
	if m := g.members[g.leader]; m != nil && m.joinCh != nil {
		return true
	}
	for _, m := range g.order {
		if m.joinCh != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

func (g *group) memberMetadata() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.order))
	for _, m := range g.order {
		out = append(out, kmsg.JoinGroupResponseMember{
			MemberID:         m.id,
			InstanceID:       m.instanceID,
			ProtocolMetadata: m.metadata(g.protocol),
		})
	}
	return out
}

func (g *group) joinResultFor(m *member, members []kmsg.JoinGroupResponseMember) joinResult {
	return joinResult{
		generation:   g.generation,
		protocolType: g.protocolType,
		protocol:     g.protocol,
		leader:       g.leader,
		memberID:     m.id,
		members:      members,
	}
}

// shutdown answers everything parked and stops every timer; Close calls it.
func (g *group) shutdown() {
	g.stopRebalanceTimer()
	for _, m := range g.order {
		m.release(errCoordinatorNA)
	}
	for id := range g.pending {
		g.removePending(id)
	}
}
