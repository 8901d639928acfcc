package broker

// InitProducerID, versions 0-4.
//
// Hands out producer ids for idempotent producers, never reusing one across
// restarts. A producer that re-initialises with its current id and epoch
// (v3+, KIP-360) gets the epoch bumped; on epoch overflow a new id. Transactional
// ids are refused: transactions are not supported.

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(api{key: 22, name: "InitProducerID", min: 0, max: 4, handle: handleInitProducerID})
}

func handleInitProducerID(c *conn, kreq kmsg.Request) completion {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return done(resp)
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return done(resp)
	}
	id, err := c.s.topics.allocateProducerID()
	if err != nil {
		c.log.Error("allocating producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return done(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return done(resp)
}
