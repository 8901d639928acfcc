package group

import (
	"bytes"
	"encoding/binary"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupRecord is a Stable group's membership as stored (Kafka's
// GroupMetadataValue): enough to restore the group after a restart so that
// its members carry on with the same member ids and generation.
//
//	group   = generation:int32 protocolType protocol leader count:uvarint member*
//	member  = id instance? clientID clientHost session:int32 rebalance:int32
//	          joinVersion:int16 count:uvarint (name metadata)* assignment
//	instance? = 0 | 1 string
//
// Records are immutable once built: the store and restored groups share them.
type groupRecord struct {
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      []memberRecord
}

type memberRecord struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   int32 // milliseconds
	rebalanceTimeout int32 // milliseconds
	joinVersion      int16
	protocols        []kmsg.JoinGroupRequestProtocol
	assignment       []byte
}

// Smallest encodings, which bound element counts before allocating.
const (
	minMemberBytes   = 1 + 1 + 1 + 1 + 4 + 4 + 2 + 1 + 1
	minProtocolBytes = 2
)

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func (g *groupRecord) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(g.generation))
	dst = appendString(dst, g.protocolType)
	dst = appendString(dst, g.protocol)
	dst = appendString(dst, g.leader)
	dst = binary.AppendUvarint(dst, uint64(len(g.members)))
	for i := range g.members {
		m := &g.members[i]
		dst = appendString(dst, m.id)
		if m.instanceID == nil {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 1)
			dst = appendString(dst, *m.instanceID)
		}
		dst = appendString(dst, m.clientID)
		dst = appendString(dst, m.clientHost)
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.sessionTimeout))
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.rebalanceTimeout))
		dst = binary.BigEndian.AppendUint16(dst, uint16(m.joinVersion))
		dst = binary.AppendUvarint(dst, uint64(len(m.protocols)))
		for _, p := range m.protocols {
			dst = appendString(dst, p.Name)
			dst = appendBytes(dst, p.Metadata)
		}
		dst = appendBytes(dst, m.assignment)
	}
	return dst
}

// readGroupRecord decodes a groupRecord; r.bad is set if it is malformed.
// A record without members is malformed: an Empty group is opGroupEmpty.
func readGroupRecord(r *payloadReader) *groupRecord {
	g := &groupRecord{}
	g.generation = int32(r.u32())
	g.protocolType = r.str()
	g.protocol = r.str()
	g.leader = r.str()
	n := r.count(minMemberBytes)
	if n == 0 {
		r.bad = true
		return nil
	}
	g.members = make([]memberRecord, n)
	for i := range g.members {
		m := &g.members[i]
		m.id = r.str()
		switch flag := r.take(1); {
		case flag == nil:
		case flag[0] == 1:
			id := r.str()
			m.instanceID = &id
		case flag[0] != 0:
			r.bad = true
		}
		m.clientID = r.str()
		m.clientHost = r.str()
		m.sessionTimeout = int32(r.u32())
		m.rebalanceTimeout = int32(r.u32())
		m.joinVersion = int16(r.u16())
		if np := r.count(minProtocolBytes); np > 0 {
			m.protocols = make([]kmsg.JoinGroupRequestProtocol, np)
			for j := range m.protocols {
				m.protocols[j].Name = r.str()
				m.protocols[j].Metadata = r.bytes()
			}
		}
		m.assignment = r.bytes()
		if r.bad {
			return nil
		}
	}
	return g
}

// persistState records the group's membership in the store, as Kafka's
// storeGroup does: the full membership when Stable, opGroupEmpty otherwise
// (only Stable groups are restored). The record is queued under the group
// lock, so records follow the group's history, but nobody waits for it: a
// record lost in a crash restores an older generation (or an Empty group),
// and its members rejoin as they would have without persistence.
func (g *group) persistState() {
	o := op{kind: opGroupEmpty, group: g.id}
	if g.state == stateStable && len(g.order) > 0 {
		rec := g.record()
		// An oversized membership cannot be stored (the store's record
		// limit); the group is then not restored after a restart.
		if size := len(rec.appendTo(nil)) + 1 + binary.MaxVarintLen64 + len(g.id); size <= maxRecordSize {
			o = op{kind: opGroupState, group: g.id, meta: rec}
		} else {
			g.c.log.Warn("group membership too large to persist; it will not survive a restart",
				"group", g.id, "bytes", size, "limit", maxRecordSize)
		}
	}
	g.c.store.enqueue(o) // a write failure is logged by the store
}

// record snapshots the group's membership. Member fields are replaced, never
// mutated in place, so sharing the slices is safe.
func (g *group) record() *groupRecord {
	rec := &groupRecord{
		generation:   g.generation,
		protocolType: g.protocolType,
		protocol:     g.protocol,
		leader:       g.leader,
		members:      make([]memberRecord, 0, len(g.order)),
	}
	for _, m := range g.order {
		rec.members = append(rec.members, memberRecord{
			id:               m.id,
			instanceID:       m.instanceID,
			clientID:         m.clientID,
			clientHost:       m.clientHost,
			sessionTimeout:   int32(m.sessionTimeout / time.Millisecond),
			rebalanceTimeout: int32(m.rebalanceTimeout / time.Millisecond),
			joinVersion:      m.joinVersion,
			protocols:        m.protocols,
			assignment:       m.assignment,
		})
	}
	return rec
}

// restore makes g the Stable group rec describes, every member's session
// starting now. It reports false (g untouched) for a record that is not a
// consistent group: no members, duplicate member or instance ids, or a
// leader that is not a member. Session timeouts are clamped to the current
// limits.
func (g *group) restore(rec *groupRecord) bool {
	if len(rec.members) == 0 {
		return false
	}
	ids := make(map[string]bool, len(rec.members))
	instances := make(map[string]bool)
	for _, mr := range rec.members {
		if mr.id == "" || ids[mr.id] {
			return false
		}
		ids[mr.id] = true
		if mr.instanceID != nil {
			if instances[*mr.instanceID] {
				return false
			}
			instances[*mr.instanceID] = true
		}
	}
	if !ids[rec.leader] {
		return false
	}
	opts := &g.c.opts
	g.generation = rec.generation
	g.protocolType = rec.protocolType
	g.protocol = rec.protocol
	g.leader = rec.leader
	for _, mr := range rec.members {
		session := min(max(millis(mr.sessionTimeout), opts.MinSessionTimeout), opts.MaxSessionTimeout)
		rebalance := millis(mr.rebalanceTimeout)
		if rebalance <= 0 {
			rebalance = session
		}
		m := &member{
			id:               mr.id,
			instanceID:       mr.instanceID,
			clientID:         mr.clientID,
			clientHost:       mr.clientHost,
			protocolType:     rec.protocolType,
			protocols:        slices.Clip(mr.protocols),
			sessionTimeout:   session,
			rebalanceTimeout: rebalance,
			joinVersion:      mr.joinVersion,
			assignment:       bytes.Clone(mr.assignment),
		}
		g.members[m.id] = m
		g.order = append(g.order, m)
		if m.instanceID != nil {
			g.static[*m.instanceID] = m
		}
	}
	g.computeSubscribed()
	g.transition(stateStable)
	for _, m := range g.order {
		g.resetSession(m)
	}
	return true
}
