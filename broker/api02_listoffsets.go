package broker

// ListOffsets, versions 0-7.
//
// Timestamp -2 is the log start offset (earliest), -1 the high watermark
// (latest; with no transactions the last stable offset is the same), -3
// (v7+) the record with the largest timestamp; any other value finds the
// first record whose timestamp is >= it, or -1 when there is none. v0's
// MaxNumOffsets is answered with one offset.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 2, name: "ListOffsets", min: 0, max: 7, handle: handleListOffsets})
}

func handleListOffsets(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, 0
			p := c.s.topics.partition(rt.Topic, rp.Partition)
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				switch rp.Timestamp {
				case -2:
					sp.Offset = p.log.LogStartOffset()
				case -1:
					sp.Offset = p.log.HighWatermark()
				case -3:
					if off, ts, ok := p.log.MaxTimestamp(); ok {
						sp.Offset, sp.Timestamp = off, ts
					}
				default:
					off, ts, ok, err := p.log.OffsetForTimestamp(rp.Timestamp)
					switch {
					case err != nil:
						sp.ErrorCode = errorCode(err)
					case ok:
						sp.Offset, sp.Timestamp = off, ts
					}
				}
				if req.Version == 0 && sp.Offset >= 0 {
					sp.OldStyleOffsets = []int64{sp.Offset}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return done(resp)
}
