package agent

import (
	"context"
	"fmt"
	"time"
)

// Record is one message for the output: InfluxDB line protocol, one or more
// lines, all from one gather of one input.
type Record struct {
	Key    []byte    // the host name: keeps a host's points in one partition, in order
	Value  []byte    // lines, each ending in '\n'
	Time   time.Time // the gather's scheduled time
	Input  string    // the input the lines came from, for self-metrics
	Points int       // number of lines
}

// Output delivers records to their destination (the broker).
//
// Contract: the runtime calls Write from one goroutine at a time, with records
// in the order they were gathered, and retries with backoff what was not
// delivered; an Output must not retry forever itself, and must not keep the
// slice or the records' bytes after Write returns. Close is called once,
// after the last Write.
type Output interface {
	// Write returns nil when every record was acknowledged (acks=all), a
	// *PartialError when some were and some were not, or another error when
	// none may be assumed delivered.
	Write(ctx context.Context, records []Record) error
	Close() error
}

// PartialError reports which records of a Write were not acknowledged; the
// others were. The runtime keeps only the failed ones for the next attempt.
type PartialError struct {
	Failed []int // indexes into the records given to Write, ascending
	Err    error // the first failure
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d records not delivered: %v", len(e.Failed), e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }
