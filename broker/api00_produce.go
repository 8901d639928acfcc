package broker

// Produce, versions 3-9 (record batch v2 only; v3 is the first to carry it).
//
// The synchronous part runs in the connection's reader, in request order, and
// appends every partition's batches to its log (page cache). acks=0 sends no
// response; acks=1 answers once appended; acks=all (-1) answers only once the
// data is fsynced, waiting on the log's group commit so that many requests
// share one fsync. Batches are stored as received: never decompressed here.
// Transactional produce is not supported (TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
// because the transaction APIs are not advertised.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 0, name: "Produce", min: 3, max: 9, handle: handleProduce})
}

type durableWait struct {
	p      *partition
	offset int64
	resp   *kmsg.ProduceResponseTopicPartition
}

func handleProduce(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.ProduceRequest)
	s := c.s
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	acks := req.Acks
	var waits []durableWait

	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
	}
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			sp.Default()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			switch {
			case acks != 0 && acks != 1 && acks != -1:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
				continue
			case req.TransactionID != nil:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				sp.ErrorMessage = strPtr("transactions are not supported by this broker")
				continue
			}
			p := s.topics.partition(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			size := len(rp.Records)
			res, err := p.log.Append(rp.Records)
			if err != nil {
				sp.ErrorCode = errorCode(err)
				msg := err.Error()
				sp.ErrorMessage = &msg
				s.metrics.produceErrors.WithLabelValues(rt.Topic, kerrName(sp.ErrorCode)).Inc()
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					c.log.Error("append failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
				continue
			}
			sp.BaseOffset = res.BaseOffset
			sp.LogStartOffset = res.LogStartOffset
			if !res.Duplicate {
				s.metrics.recordsIn(rt.Topic, size, res.LastOffset-res.BaseOffset+1)
			}
			if acks == -1 {
				waits = append(waits, durableWait{p: p, offset: res.LastOffset, resp: sp})
			}
		}
	}

	if acks == 0 {
		return func(context.Context) kmsg.Response { return nil }
	}
	if len(waits) == 0 {
		return done(resp)
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	return func(ctx context.Context) kmsg.Response {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		for _, w := range waits {
			if err := w.p.log.WaitDurable(ctx, w.offset); err != nil {
				// Never acknowledge what is not durable.
				w.resp.BaseOffset = -1
				if errors.Is(err, context.DeadlineExceeded) {
					w.resp.ErrorCode = kerr.RequestTimedOut.Code
				} else {
					w.resp.ErrorCode = errorCode(err)
					if w.resp.ErrorCode == kerr.UnknownServerError.Code {
						w.resp.ErrorCode = kerr.KafkaStorageError.Code
					}
				}
				msg := err.Error()
				w.resp.ErrorMessage = &msg
			}
		}
		return resp
	}
}

func strPtr(s string) *string { return &s }

func kerrName(code int16) string {
	if e := kerr.ErrorForCode(code); e != nil {
		var ke *kerr.Error
		if errors.As(e, &ke) {
			return ke.Message
		}
	}
	return "UNKNOWN"
}
