package broker

// DeleteTopics, versions 0-6 (v6 may name topics by id).
//
// The topic leaves the metadata first (persisted), then its partition files
// are removed and its committed group offsets dropped.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 20, name: "DeleteTopics", min: 0, max: 6, handle: handleDeleteTopics})
}

func handleDeleteTopics(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{name: t.Topic, id: t.TopicID})
		}
	} else {
		for i := range req.TopicNames {
			targets = append(targets, target{name: &req.TopicNames[i]})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		name := ""
		if tg.name != nil {
			name = *tg.name
		} else if t := s.topics.getByID(tg.id); t != nil {
			name = t.name
			st.Topic = strPtr(name)
		} else {
			st.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if t := s.topics.get(name); t != nil {
			st.TopicID = t.id
		}
		if err := s.topics.delete(name); err != nil {
			st.ErrorCode = errorCode(err)
			msg := err.Error()
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}
	return done(resp)
}
