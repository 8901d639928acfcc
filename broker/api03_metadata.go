package broker

// Metadata, versions 0-12.
//
// A single-node cluster: this broker leads every partition, with itself as
// the only replica and in-sync replica, leader epoch 0. A null topic list
// (v1+) or an empty one (v0) asks for every topic. Unknown topics are
// auto-created when auto_create_topics is on and the request allows it (v4+
// AllowAutoTopicCreation; always for older versions, as in Kafka).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 3, name: "Metadata", min: 0, max: 12, handle: handleMetadata})
}

func handleMetadata(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.MetadataRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = s.opts.NodeID, s.host, s.port
	resp.Brokers = append(resp.Brokers, b)
	resp.ClusterID = &s.topics.meta.ClusterID
	resp.ControllerID = s.opts.NodeID

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	var names []string
	if all {
		names = s.topics.names()
	}
	allowCreate := req.Version < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			// v10+ lookups by topic id.
			t := s.topics.getByID(rt.TopicID)
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			names = append(names, t.name)
			continue
		}
		name := *rt.Topic
		if _, err := s.topics.ensure(name, allowCreate); err != nil {
			// UNKNOWN_TOPIC_OR_PARTITION when creation is off; creation
			// errors (an invalid name: INVALID_TOPIC_EXCEPTION) as they are.
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = &name
			mt.ErrorCode = errorCode(err)
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		names = append(names, name)
	}
	for _, name := range names {
		t := s.topics.get(name)
		if t == nil {
			continue // deleted meanwhile
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &t.name
		mt.TopicID = t.id
		for _, p := range s.topics.partitions(name) {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition = p.index
			mp.Leader = s.opts.NodeID
			mp.LeaderEpoch = 0
			mp.Replicas = []int32{s.opts.NodeID}
			mp.ISR = []int32{s.opts.NodeID}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return done(resp)
}
