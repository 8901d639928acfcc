package group

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups (key 16, v0-v4; v5 answered too) lists every group that is not
// Dead, sorted by id. v4+ StatesFilter matches state names
// case-insensitively; v5+ TypesFilter matches "classic", the only type here.
func (c *Coordinator) ListGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = req.Version
	if c.closed.Load() {
		resp.ErrorCode = errCoordinatorNA
		return resp
	}
	var states map[string]bool
	if req.Version >= 4 && len(req.StatesFilter) > 0 {
		states = make(map[string]bool, len(req.StatesFilter))
		for _, s := range req.StatesFilter {
			states[strings.ToLower(s)] = true
		}
	}
	if req.Version >= 5 && len(req.TypesFilter) > 0 {
		classic := false
		for _, t := range req.TypesFilter {
			classic = classic || strings.EqualFold(t, "classic")
		}
		if !classic {
			return resp
		}
	}
	for _, g := range c.snapshotGroups() {
		g.mu.Lock()
		if g.state != stateDead && (states == nil || states[strings.ToLower(g.state.String())]) {
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group = g.id
			lg.ProtocolType = g.protocolType
			lg.GroupState = g.state.String()
			lg.GroupType = "classic"
			resp.Groups = append(resp.Groups, lg)
		}
		g.mu.Unlock()
	}
	slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	return resp
}

// DescribeGroups (key 15, v0-v5) describes each requested group. Like
// Kafka, an unknown group is described as state "Dead" with no error, and
// member metadata, assignments and the protocol name are only reported for
// a Stable group. v3+ AuthorizedOperations is READ|DELETE|DESCRIBE when
// requested (there are no ACLs), else the "not requested" sentinel.
func (c *Coordinator) DescribeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = req.Version
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		dg.State = stateDead.String()
		dg.Members = []kmsg.DescribeGroupsResponseGroupMember{}
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = allGroupOperationsBits
		}
		if c.closed.Load() {
			dg.ErrorCode = errCoordinatorNA
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if g := c.lockGroup(id, false); g != nil {
			g.describe(&dg)
			g.mu.Unlock()
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (g *group) describe(dg *kmsg.DescribeGroupsResponseGroup) {
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		dg.Protocol = g.protocol
	}
	for _, m := range g.order {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		dm.ProtocolMetadata = []byte{}
		dm.MemberAssignment = []byte{}
		if stable {
			dm.ProtocolMetadata = m.metadata(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		dg.Members = append(dg.Members, dm)
	}
}

// DeleteGroups (key 42, v0-v2) deletes Empty groups and their committed
// offsets (durably: waits for one fsync). A live group gets
// NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
func (c *Coordinator) DeleteGroups(req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = req.Version
	waits := make(map[int]<-chan error)
	for i, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		switch g := c.lockGroup(id, false); {
		case c.closed.Load():
			dg.ErrorCode = errCoordinatorNA
			if g != nil {
				g.mu.Unlock()
			}
		case g == nil:
			dg.ErrorCode = errGroupNotFound
		case g.state != stateEmpty:
			dg.ErrorCode = errNonEmptyGroup
			g.mu.Unlock()
		default:
			waits[i] = c.store.enqueue(op{kind: opDeleteGroup, group: g.id})
			c.removeGroupLocked(g)
			g.mu.Unlock()
			c.log.Info("group deleted", "group", id)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	for i, w := range waits {
		if err := <-w; err != nil { // the store logged the cause
			resp.Groups[i].ErrorCode = errUnknownServer
		}
	}
	return resp
}
