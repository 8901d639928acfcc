package broker

// CreateTopics, versions 0-7.
//
// NumPartitions -1 means the broker default; replication factor must be -1
// or 1 on a single node (INVALID_REPLICATION_FACTOR otherwise). Manual replica
// assignments may only name this node. Configs are validated against the
// topic configs we implement (INVALID_CONFIG names the key). v5+ answers
// with the effective configs, v7+ with the topic id.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 19, name: "CreateTopics", min: 0, max: 7, handle: handleCreateTopics})
}

func handleCreateTopics(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.CreateTopicsRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]int)
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(err error) {
			st.ErrorCode = errorCode(err)
			msg := err.Error()
			st.ErrorMessage = &msg
		}
		partitions := rt.NumPartitions
		switch {
		case seen[rt.Topic] > 1:
			fail(fmt.Errorf("topic %q appears more than once in the request: %w", rt.Topic, kerr.InvalidRequest))
		case rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 && len(rt.ReplicaAssignment) == 0:
			fail(fmt.Errorf("replication factor %d is larger than the 1 available broker: %w", rt.ReplicationFactor, kerr.InvalidReplicationFactor))
		case len(rt.ReplicaAssignment) > 0 && rt.NumPartitions != -1:
			fail(fmt.Errorf("both partitions and replica assignment were given: %w", kerr.InvalidRequest))
		default:
			if len(rt.ReplicaAssignment) > 0 {
				partitions = int32(len(rt.ReplicaAssignment))
				for _, ra := range rt.ReplicaAssignment {
					if len(ra.Replicas) != 1 || ra.Replicas[0] != s.opts.NodeID {
						fail(fmt.Errorf("replica assignment %v for partition %d names brokers other than node %d: %w", ra.Replicas, ra.Partition, s.opts.NodeID, kerr.InvalidReplicaAssignment))
						break
					}
				}
				if st.ErrorCode != 0 {
					break
				}
			}
			configs := make(map[string]string)
			for _, kc := range rt.Configs {
				if kc.Value != nil {
					configs[kc.Name] = *kc.Value
				}
			}
			if len(configs) == 0 {
				configs = nil
			}
			t, err := s.topics.create(rt.Topic, partitions, configs, req.ValidateOnly)
			if err != nil {
				fail(err)
				break
			}
			st.TopicID = t.id
			st.NumPartitions = int32(len(t.partitions))
			st.ReplicationFactor = 1
			for _, e := range effectiveTopicConfigs(t) {
				rc := kmsg.NewCreateTopicsResponseTopicConfig()
				rc.Name, rc.Value = e.name, strPtr(e.value)
				rc.Source = int8(kmsg.ConfigSourceDefaultConfig)
				if e.explicit {
					rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
				}
				st.Configs = append(st.Configs, rc)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return done(resp)
}
