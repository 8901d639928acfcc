package broker

// DescribeConfigs (0-4), AlterConfigs (0-2) and IncrementalAlterConfigs (0-1).
//
// Topic resources expose the topic configs we implement, by Kafka name, with
// their source: DYNAMIC_TOPIC_CONFIG when set on the topic, DEFAULT_CONFIG
// otherwise. Broker resources are read-only here: they come from the config
// file, and altering them is INVALID_REQUEST with a message saying so.
// AlterConfigs replaces a topic's overrides; IncrementalAlterConfigs applies
// SET and DELETE (APPEND/SUBTRACT only make sense for list configs, none of
// which we have).

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 32, name: "DescribeConfigs", min: 0, max: 4, handle: handleDescribeConfigs})
	register(api{key: 33, name: "AlterConfigs", min: 0, max: 2, handle: handleAlterConfigs})
	register(api{key: 44, name: "IncrementalAlterConfigs", min: 0, max: 1, handle: handleIncrementalAlterConfigs})
}

func (s *Server) brokerConfigs() []configEntry {
	o := s.opts
	ms := func(d int64) string { return strconv.FormatInt(d, 10) }
	ret := "-1"
	if o.TopicDefaults.RetentionAge >= 0 {
		ret = ms(o.TopicDefaults.RetentionAge.Milliseconds())
	}
	return []configEntry{
		{name: "node.id", value: strconv.Itoa(int(o.NodeID))},
		{name: "auto.create.topics.enable", value: strconv.FormatBool(o.AutoCreateTopics)},
		{name: "num.partitions", value: strconv.Itoa(int(o.DefaultPartitions))},
		{name: "default.replication.factor", value: "1"},
		{name: "message.max.bytes", value: strconv.Itoa(int(o.MessageMaxBytes))},
		{name: "socket.request.max.bytes", value: strconv.Itoa(int(o.SocketRequestMaxBytes))},
		{name: "log.dirs", value: o.DataDir},
		{name: "log.segment.bytes", value: strconv.FormatInt(o.TopicDefaults.SegmentBytes, 10)},
		{name: "log.roll.ms", value: ms(o.TopicDefaults.SegmentAge.Milliseconds())},
		{name: "log.retention.ms", value: ret},
		{name: "log.retention.bytes", value: strconv.FormatInt(o.TopicDefaults.RetentionBytes, 10)},
		{name: "log.index.interval.bytes", value: strconv.Itoa(o.TopicDefaults.IndexIntervalBytes)},
		{name: "log.retention.check.interval.ms", value: ms(o.RetentionCheckInterval.Milliseconds())},
		{name: "connections.max.idle.ms", value: ms(o.ConnectionsMaxIdle.Milliseconds())},
		{name: "max.connections", value: strconv.Itoa(o.MaxConnections)},
		{name: "group.initial.rebalance.delay.ms", value: ms(o.GroupInitialRebalanceDelay.Milliseconds())},
		{name: "group.min.session.timeout.ms", value: ms(o.GroupMinSessionTimeout.Milliseconds())},
		{name: "group.max.session.timeout.ms", value: ms(o.GroupMaxSessionTimeout.Milliseconds())},
		{name: "offsets.retention.minutes", value: ms(int64(o.OffsetsRetention.Minutes()))},
	}
}

func handleDescribeConfigs(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []configEntry
		source := kmsg.ConfigSourceDefaultConfig
		readOnly := false
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := s.topics.get(rr.ResourceName)
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sr.ErrorMessage = strPtr(fmt.Sprintf("topic %q does not exist", rr.ResourceName))
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			entries = effectiveTopicConfigs(t)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(s.opts.NodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				sr.ErrorMessage = strPtr(fmt.Sprintf("this is broker %d, not %q", s.opts.NodeID, rr.ResourceName))
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			entries, source, readOnly = s.brokerConfigs(), kmsg.ConfigSourceStaticBrokerConfig, true
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = strPtr(fmt.Sprintf("resource type %d is not supported", rr.ResourceType))
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		want := map[string]bool{}
		for _, n := range rr.ConfigNames {
			want[n] = true
		}
		for _, e := range entries {
			if rr.ConfigNames != nil && !want[e.name] {
				continue
			}
			rc := kmsg.NewDescribeConfigsResponseResourceConfig()
			rc.Name, rc.Value, rc.ReadOnly = e.name, strPtr(e.value), readOnly
			rc.Source = source
			if e.explicit {
				rc.Source = kmsg.ConfigSourceDynamicTopicConfig
			}
			rc.IsDefault = rc.Source == kmsg.ConfigSourceDefaultConfig
			sr.Configs = append(sr.Configs, rc)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return done(resp)
}

// alterTopic applies fn to a topic's overrides; non-topic resources are refused.
func alterTopic(s *Server, rtype kmsg.ConfigResourceType, name string, validateOnly bool, fn func(map[string]string) error) (int16, *string) {
	var err error
	switch rtype {
	case kmsg.ConfigResourceTypeTopic:
		err = s.topics.alterConfigs(name, fn, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		err = fmt.Errorf("broker configs are read-only at run time; change them in the config file and restart: %w", kerr.InvalidRequest)
	default:
		err = fmt.Errorf("resource type %d is not supported: %w", rtype, kerr.InvalidRequest)
	}
	if err != nil {
		msg := err.Error()
		return errorCode(err), &msg
	}
	return 0, nil
}

func handleAlterConfigs(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		sr.ErrorCode, sr.ErrorMessage = alterTopic(c.s, rr.ResourceType, rr.ResourceName, req.ValidateOnly, func(m map[string]string) error {
			clear(m) // AlterConfigs replaces the whole set
			for _, kc := range rr.Configs {
				if kc.Value != nil {
					m[kc.Name] = *kc.Value
				}
			}
			return nil
		})
		resp.Resources = append(resp.Resources, sr)
	}
	return done(resp)
}

func handleIncrementalAlterConfigs(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		sr.ErrorCode, sr.ErrorMessage = alterTopic(c.s, rr.ResourceType, rr.ResourceName, req.ValidateOnly, func(m map[string]string) error {
			for _, kc := range rr.Configs {
				switch kc.Op {
				case kmsg.IncrementalAlterConfigOpSet:
					if kc.Value == nil {
						return fmt.Errorf("SET of %s without a value: %w", kc.Name, kerr.InvalidConfig)
					}
					m[kc.Name] = *kc.Value
				case kmsg.IncrementalAlterConfigOpDelete:
					delete(m, kc.Name)
				default:
					return fmt.Errorf("operation %v on %s: only SET and DELETE are supported: %w", kc.Op, kc.Name, kerr.InvalidConfig)
				}
			}
			return nil
		})
		resp.Resources = append(resp.Resources, sr)
	}
	return done(resp)
}
