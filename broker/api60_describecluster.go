package broker

// DescribeCluster, versions 0-1 (used by Kafka's AdminClient and tools).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 60, name: "DescribeCluster", min: 0, max: 1, handle: handleDescribeCluster})
}

func handleDescribeCluster(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.DescribeClusterRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = s.topics.meta.ClusterID
	resp.ControllerID = s.opts.NodeID
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = s.opts.NodeID, s.host, s.port
	resp.Brokers = append(resp.Brokers, b)
	return done(resp)
}
