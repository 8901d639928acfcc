package broker

// Consumer-group APIs, forwarded to the coordinator (package broker/group):
// OffsetCommit (8) 0-8, OffsetFetch (9) 0-8, JoinGroup (11) 0-9, Heartbeat
// (12) 0-4, LeaveGroup (13) 0-5, SyncGroup (14) 0-5, DescribeGroups (15)
// 0-5, ListGroups (16) 0-4, DeleteGroups (42) 0-2, OffsetDelete (47) 0.
//
// JoinGroup and SyncGroup block until the rebalance completes and
// OffsetCommit until the offsets are fsynced, so they run in the completion
// (on the connection's writer, in order) with the connection's context: a
// client that disconnects stops waiting.

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/broker/group"
)

// remoteHost is the client's address as Kafka shows it in DescribeGroups: "/" + IP.
func remoteHost(nc net.Conn) string {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return "/" + host
}

func init() {
	register(api{key: 8, name: "OffsetCommit", min: 0, max: 8, handle: func(c *conn, r kmsg.Request) completion {
		return func(ctx context.Context) kmsg.Response {
			return c.s.groups.OffsetCommit(ctx, r.(*kmsg.OffsetCommitRequest))
		}
	}})
	register(api{key: 9, name: "OffsetFetch", min: 0, max: 8, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.OffsetFetch(r.(*kmsg.OffsetFetchRequest)))
	}})
	register(api{key: 11, name: "JoinGroup", min: 0, max: 9, handle: func(c *conn, r kmsg.Request) completion {
		// Captured now: later pipelined requests may carry another client id.
		client, host := c.client, remoteHost(c.nc)
		return func(ctx context.Context) kmsg.Response {
			return c.s.groups.JoinGroup(group.WithClient(ctx, client, host), r.(*kmsg.JoinGroupRequest))
		}
	}})
	register(api{key: 12, name: "Heartbeat", min: 0, max: 4, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.Heartbeat(r.(*kmsg.HeartbeatRequest)))
	}})
	register(api{key: 13, name: "LeaveGroup", min: 0, max: 5, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.LeaveGroup(r.(*kmsg.LeaveGroupRequest)))
	}})
	register(api{key: 14, name: "SyncGroup", min: 0, max: 5, handle: func(c *conn, r kmsg.Request) completion {
		return func(ctx context.Context) kmsg.Response { return c.s.groups.SyncGroup(ctx, r.(*kmsg.SyncGroupRequest)) }
	}})
	register(api{key: 15, name: "DescribeGroups", min: 0, max: 5, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.DescribeGroups(r.(*kmsg.DescribeGroupsRequest)))
	}})
	register(api{key: 16, name: "ListGroups", min: 0, max: 4, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.ListGroups(r.(*kmsg.ListGroupsRequest)))
	}})
	register(api{key: 42, name: "DeleteGroups", min: 0, max: 2, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.DeleteGroups(r.(*kmsg.DeleteGroupsRequest)))
	}})
	register(api{key: 47, name: "OffsetDelete", min: 0, max: 0, handle: func(c *conn, r kmsg.Request) completion {
		return done(c.s.groups.OffsetDelete(r.(*kmsg.OffsetDeleteRequest)))
	}})
}
