package broker

// DeleteRecords, versions 0-2: advances a partition's log start offset.
// Offset -1 means the high watermark.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 21, name: "DeleteRecords", min: 0, max: 2, handle: handleDeleteRecords})
}

func handleDeleteRecords(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p := c.s.topics.partition(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			off := rp.Offset
			if off == -1 {
				off = p.log.HighWatermark()
			}
			var err error
			if off < 0 || off > p.log.HighWatermark() {
				err = fmt.Errorf("offset %d is outside [%d, %d]: %w", off, p.log.LogStartOffset(), p.log.HighWatermark(), kerr.OffsetOutOfRange)
			} else {
				err = p.log.DeleteRecordsBefore(off)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
			} else {
				sp.LowWatermark = p.log.LogStartOffset()
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return done(resp)
}
