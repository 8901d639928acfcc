package broker

// CreatePartitions, versions 0-3. Partitions can only be added; manual
// assignments may only name this node.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 37, name: "CreatePartitions", min: 0, max: 3, handle: handleCreatePartitions})
}

func handleCreatePartitions(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		for _, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != s.opts.NodeID {
				err = fmt.Errorf("assignment %v names brokers other than node %d: %w", a.Replicas, s.opts.NodeID, kerr.InvalidReplicaAssignment)
			}
		}
		if err == nil {
			err = s.topics.addPartitions(rt.Topic, rt.Count, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode = errorCode(err)
			msg := err.Error()
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}
	return done(resp)
}
