package broker

// Fetch, versions 4-12.
//
// Long poll: the response is sent as soon as MinBytes are available, a
// partition has an error, or MaxWaitMillis has passed, waking on the high watermark of any requested
// partition. Byte limits follow KIP-74: PartitionMaxBytes per partition and
// MaxBytes per response, but the first batch found is always returned whole
// so a consumer can never get stuck behind a batch larger than its limits.
// Records at or above the high watermark (not yet fsynced) are never
// returned. Fetch sessions (KIP-227) are not kept: SessionID 0 tells clients
// to send full requests, which every client supports.

import (
	"context"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 1, name: "Fetch", min: 4, max: 12, handle: handleFetch})
}

// maxFetchWait bounds a long poll whatever the client asks.
const maxFetchWait = 30 * time.Second

func handleFetch(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.FetchRequest)
	if req.Version >= 7 && req.SessionEpoch > 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return done(resp)
	}
	return func(ctx context.Context) kmsg.Response {
		wait := min(time.Duration(req.MaxWaitMillis)*time.Millisecond, maxFetchWait)
		deadline := time.Now().Add(wait)
		var timer *time.Timer
		for {
			resp, n, watch := c.s.gatherFetch(req)
			if n >= int64(req.MinBytes) || resp.errored || len(watch) == 0 || !time.Now().Before(deadline) {
				if timer != nil {
					timer.Stop()
				}
				return resp
			}
			resp.release()
			if timer == nil {
				timer = time.NewTimer(time.Until(deadline))
			} else {
				timer.Reset(time.Until(deadline))
			}
			if !waitAny(ctx, timer.C, watch) {
				timer.Stop()
				// Deadline or client gone: answer with what there is now.
				resp, _, _ := c.s.gatherFetch(req)
				return resp
			}
		}
	}
}

// waitAny waits for any watch channel to fire (true), or the timer or ctx (false).
func waitAny(ctx context.Context, timer <-chan time.Time, watch []<-chan struct{}) bool {
	if len(watch) == 1 {
		select {
		case <-watch[0]:
			return true
		case <-timer:
			return false
		case <-ctx.Done():
			return false
		}
	}
	cases := make([]reflect.SelectCase, 0, len(watch)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, w := range watch {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w)})
	}
	chosen, _, _ := reflect.Select(cases)
	return chosen >= 2
}

// gatherFetch reads what is available now. It returns the response, the bytes
// of records in it, and the channels that fire when a polled partition grows.
func (s *Server) gatherFetch(req *kmsg.FetchRequest) (*fetchResponse, int64, []<-chan struct{}) {
	resp := &fetchResponse{FetchResponse: req.ResponseKind().(*kmsg.FetchResponse)}
	var watch []<-chan struct{}
	var total int64
	budget := int64(req.MaxBytes)
	if req.Version < 3 || budget <= 0 {
		budget = 1<<31 - 1
	}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			// Never null: Kafka always sends an empty record set, and
			// librdkafka rejects a null one as a protocol error
			// ("invalid MessageSetSize -1").
			sp.RecordBatches = []byte{}
			p := s.topics.partition(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				resp.errored = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if rp.CurrentLeaderEpoch > 0 {
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				resp.errored = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			// Take the channel before reading the watermark, so growth after
			// this read always wakes the long poll.
			watch = append(watch, p.log.HighWatermarkChanged())
			hw := p.log.HighWatermark()
			sp.HighWatermark = hw
			sp.LastStableOffset = hw
			sp.LogStartOffset = p.log.LogStartOffset()
			if rp.FetchOffset == hw {
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			limit := min(int64(rp.PartitionMaxBytes), budget)
			if total > 0 && limit <= 0 {
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			slice, err := p.log.Read(rp.FetchOffset, int32(max(limit, 1)))
			if err != nil {
				sp.ErrorCode = errorCode(err)
				resp.errored = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if slice.Len > 0 {
				sp.RecordBatches = placeholder(len(resp.slices))
				resp.slices = append(resp.slices, slice)
				total += slice.Len
				budget -= slice.Len
				s.metrics.recordsOut(rt.Topic, slice.Len, slice.NextOffset-rp.FetchOffset)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, watch
}
