package broker

// FindCoordinator, versions 0-4.
//
// This broker coordinates every group. Transaction coordinators (key type 1)
// are not available: transactions are not supported. v4+ batches keys.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 10, name: "FindCoordinator", min: 0, max: 4, handle: handleFindCoordinator})
}

func handleFindCoordinator(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(keyType int8) (code int16, msg *string) {
		if keyType != 0 {
			return kerr.CoordinatorNotAvailable.Code, strPtr("transactions are not supported by this broker")
		}
		return 0, nil
	}
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key = key
			co.ErrorCode, co.ErrorMessage = answer(req.CoordinatorType)
			co.NodeID, co.Host, co.Port = s.opts.NodeID, s.host, s.port
			if co.ErrorCode != 0 {
				co.NodeID, co.Host, co.Port = -1, "", -1
			}
			resp.Coordinators = append(resp.Coordinators, co)
		}
		return done(resp)
	}
	resp.ErrorCode, resp.ErrorMessage = answer(req.CoordinatorType)
	resp.NodeID, resp.Host, resp.Port = s.opts.NodeID, s.host, s.port
	if resp.ErrorCode != 0 {
		resp.NodeID, resp.Host, resp.Port = -1, "", -1
	}
	return done(resp)
}
