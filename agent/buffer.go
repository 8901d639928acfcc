package agent

import "sync"

// buffer is the bounded in-memory queue between the inputs and the output.
// When adding a record would take it past its limit, the oldest records are
// dropped (and reported to onDrop): fresh data is worth more than stale.
// It is transactional: the output peeks a batch and removes only what was
// delivered, so a failed write is retried with the same records in order.
//
// TODO(issue 3): a bounded on-disk spool behind the same methods, so that an
// absent broker loses nothing up to the spool's size.
type buffer struct {
	mu       sync.Mutex
	records  []Record
	bytes    int
	limit    int           // bytes of record values; 0 means no limit
	notify   chan struct{} // gets a token when records are added
	onDrop   func(Record)
	inflight int // records at the head handed to the output and not yet removed
}

func newBuffer(limit int, onDrop func(Record)) *buffer {
	return &buffer{limit: limit, notify: make(chan struct{}, 1), onDrop: onDrop}
}

// add appends r, dropping the oldest records not in flight to make room.
// A record larger than the whole limit is dropped itself.
func (b *buffer) add(r Record) {
	b.mu.Lock()
	var dropped []Record
	if b.limit > 0 && len(r.Value) > b.limit {
		dropped = append(dropped, r)
	} else {
		for b.limit > 0 && b.bytes+len(r.Value) > b.limit && len(b.records) > b.inflight {
			old := b.records[b.inflight]
			b.records = append(b.records[:b.inflight], b.records[b.inflight+1:]...)
			b.bytes -= len(old.Value)
			dropped = append(dropped, old)
		}
		b.records = append(b.records, r)
		b.bytes += len(r.Value)
	}
	b.mu.Unlock()
	for _, d := range dropped {
		b.onDrop(d)
	}
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// peek returns up to maxRecords records from the head, at most maxBytes of
// values (at least one record), and marks them in flight so that add does not
// drop them while the output writes them.
func (b *buffer) peek(maxRecords, maxBytes int) []Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, size := 0, 0
	for n < len(b.records) && n < maxRecords {
		if n > 0 && size+len(b.records[n].Value) > maxBytes {
			break
		}
		size += len(b.records[n].Value)
		n++
	}
	b.inflight = n
	return append([]Record(nil), b.records[:n]...)
}

// done ends the write of the last peeked batch: the records at the indexes
// in failed stay at the head, in order; the others are removed.
func (b *buffer) done(failed []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := make([]Record, 0, len(failed)+len(b.records)-b.inflight)
	for _, i := range failed {
		if i >= 0 && i < b.inflight {
			keep = append(keep, b.records[i])
		}
	}
	for _, r := range b.records[:b.inflight] {
		b.bytes -= len(r.Value)
	}
	for _, r := range keep {
		b.bytes += len(r.Value)
	}
	b.records = append(keep, b.records[b.inflight:]...)
	b.inflight = 0
}

// unpeek ends a write that delivered nothing: everything stays.
func (b *buffer) unpeek() {
	b.mu.Lock()
	b.inflight = 0
	b.mu.Unlock()
}

// len returns the number of records and bytes buffered.
func (b *buffer) len() (records, bytes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.records), b.bytes
}
