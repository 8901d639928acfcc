package group

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestListAndDescribeGroups(t *testing.T) {
	c, clk := newTestCoordinator(t, "", nil)
	joins := stableGroup(t, c, clk, "live", 2)
	c.OffsetCommit(context.Background(), commitReq("idle", "", -1, 8, "t", map[int32]int64{0: 1}))
	// "forming" is PreparingRebalance: one member inside the initial delay.
	asyncJoin(c, joinReq("forming", "", 3))
	waitFor(t, "forming parked", func() bool { return groupInfo(c, "forming").joining == 1 })

	list := func(version int16, states ...string) []string {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version = version
		req.StatesFilter = states
		resp := c.ListGroups(req)
		if resp.ErrorCode != 0 {
			t.Fatalf("list: %s", errName(resp.ErrorCode))
		}
		var out []string
		for _, g := range resp.Groups {
			out = append(out, fmt.Sprintf("%s/%s/%s", g.Group, g.ProtocolType, g.GroupState))
		}
		return out
	}
	all := []string{"forming/consumer/PreparingRebalance", "idle//Empty", "live/consumer/Stable"}
	tests := []struct {
		version int16
		states  []string
		want    []string
	}{
		{0, nil, all},
		{3, []string{"Stable"}, all}, // no filter before v4
		{4, nil, all},
		{4, []string{"Stable"}, all[2:]},
		{4, []string{"empty", "PREPARINGREBALANCE"}, all[:2]},
		{4, []string{"Dead"}, nil},
	}
	for _, tt := range tests {
		if got := list(tt.version, tt.states...); !slices.Equal(got, tt.want) {
			t.Errorf("v%d %v: got %v want %v", tt.version, tt.states, got, tt.want)
		}
	}

	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{"live", "idle", "unknown", "forming"}
	req.IncludeAuthorizedOperations = true
	resp := c.DescribeGroups(req)
	if len(resp.Groups) != 4 {
		t.Fatalf("described %d groups", len(resp.Groups))
	}
	live := resp.Groups[0]
	if live.ErrorCode != 0 || live.State != "Stable" || live.ProtocolType != "consumer" || live.Protocol != "range" || len(live.Members) != 2 {
		t.Fatalf("live: %+v", live)
	}
	if live.AuthorizedOperations != allGroupOperationsBits {
		t.Errorf("authorized operations %d", live.AuthorizedOperations)
	}
	for i, m := range live.Members {
		if m.MemberID != joins[i].MemberID || m.ClientID != "client" || m.ClientHost != "/127.0.0.1" ||
			string(m.MemberAssignment) != "assign-"+m.MemberID || string(m.ProtocolMetadata) != string(consumerMeta("t")) {
			t.Errorf("live member %d: %+v", i, m)
		}
	}
	if idle := resp.Groups[1]; idle.ErrorCode != 0 || idle.State != "Empty" || len(idle.Members) != 0 {
		t.Errorf("idle: %+v", idle)
	}
	if u := resp.Groups[2]; u.ErrorCode != 0 || u.State != "Dead" || u.Group != "unknown" || len(u.Members) != 0 {
		t.Errorf("unknown: %+v", u)
	}
	// Not Stable: members are listed without metadata or protocol.
	if f := resp.Groups[3]; f.State != "PreparingRebalance" || f.Protocol != "" || len(f.Members) != 1 || len(f.Members[0].ProtocolMetadata) != 0 {
		t.Errorf("forming: %+v", f)
	}
	req.IncludeAuthorizedOperations = false
	if ops := c.DescribeGroups(req).Groups[0].AuthorizedOperations; ops != -2147483648 {
		t.Errorf("authorized operations not requested: %d", ops)
	}
}
