package group

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// The committed-offsets store is one append-only file in Options.Dir:
//
//	file    = magic record*
//	magic   = "TRBOFS1\n"
//	record  = length:uint32 crc:uint32 payload      (big endian; crc32c of payload)
//	payload = kind:uint8 fields...
//
// kinds: 1 commit (group, topic, partition, offset, leader epoch, commit time
// ms, metadata), 2 delete one partition (group, topic, partition), 3 delete a
// group (offsets and membership), 4 delete a topic in every group, 5 a Stable
// group's membership (group, generation, protocol type, protocol, leader,
// members: see groupRecord), 6 a group's membership is gone (group; it became
// Empty). Strings and byte strings are uvarint length + bytes, counts
// uvarints, integers fixed width. Replaying the records in order yields the
// live state: offsets per group and the last Stable membership per group.
//
// Writes are group-committed: callers enqueue records and wait; one syncer
// goroutine writes everything queued so far, fsyncs once, applies the records
// to the in-memory state and only then answers the waiters, so a reader never
// sees an offset that is not durable. Opening replays the longest valid
// prefix (a torn or corrupt tail is dropped) and rewrites the live state to a
// fresh file (write tmp, fsync, rename, fsync dir); the syncer does the same
// online when the file grows well past its live size.
const (
	storeFileName = "offsets.log"
	storeTmpName  = "offsets.log.tmp"
	storeMagic    = "TRBOFS1\n"
	recordHeader  = 8
	maxRecordSize = 1 << 20
	// defaultCompactSlack is how far the file may grow beyond twice its
	// size after the last rewrite before the syncer rewrites it again.
	defaultCompactSlack = 16 << 20
)

type opKind uint8

const (
	opCommit opKind = iota + 1
	opDeletePartition
	opDeleteGroup
	opDeleteTopic
	opGroupState
	opGroupEmpty
)

// op is one store record.
type op struct {
	kind      opKind
	group     string
	topic     string
	partition int32
	val       committed
	meta      *groupRecord // opGroupState only
}

type topicPartition struct {
	topic     string
	partition int32
}

// committed is one committed offset as stored.
type committed struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64 // unix milliseconds
}

// offsetState is the live store content: group → partition → offset.
// Groups without offsets are absent.
type offsetState map[string]map[topicPartition]committed

// groupRecords is the live persisted membership: group → its last Stable
// state. Groups that became Empty (or were deleted) are absent.
type groupRecords map[string]*groupRecord

func (s groupRecords) apply(o *op) {
	switch o.kind {
	case opGroupState:
		s[o.group] = o.meta
	case opGroupEmpty, opDeleteGroup:
		delete(s, o.group)
	}
}

func (s offsetState) apply(o *op) {
	switch o.kind {
	case opCommit:
		m := s[o.group]
		if m == nil {
			m = make(map[topicPartition]committed)
			s[o.group] = m
		}
		m[topicPartition{o.topic, o.partition}] = o.val
	case opDeletePartition:
		if m := s[o.group]; m != nil {
			delete(m, topicPartition{o.topic, o.partition})
			if len(m) == 0 {
				delete(s, o.group)
			}
		}
	case opDeleteGroup:
		delete(s, o.group)
	case opDeleteTopic:
		for g, m := range s {
			for k := range m {
				if k.topic == o.topic {
					delete(m, k)
				}
			}
			if len(m) == 0 {
				delete(s, g)
			}
		}
	}
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendRecord appends o as one framed record.
func appendRecord(dst []byte, o *op) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeader)...)
	dst = append(dst, byte(o.kind))
	switch o.kind {
	case opCommit:
		dst = appendString(dst, o.group)
		dst = appendString(dst, o.topic)
		dst = binary.BigEndian.AppendUint32(dst, uint32(o.partition))
		dst = binary.BigEndian.AppendUint64(dst, uint64(o.val.offset))
		dst = binary.BigEndian.AppendUint32(dst, uint32(o.val.leaderEpoch))
		dst = binary.BigEndian.AppendUint64(dst, uint64(o.val.commitTime))
		dst = appendString(dst, o.val.metadata)
	case opDeletePartition:
		dst = appendString(dst, o.group)
		dst = appendString(dst, o.topic)
		dst = binary.BigEndian.AppendUint32(dst, uint32(o.partition))
	case opDeleteGroup:
		dst = appendString(dst, o.group)
	case opDeleteTopic:
		dst = appendString(dst, o.topic)
	case opGroupState:
		dst = appendString(dst, o.group)
		dst = o.meta.appendTo(dst)
	case opGroupEmpty:
		dst = appendString(dst, o.group)
	}
	payload := dst[start+recordHeader:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, crcTable))
	return dst
}

var errBadRecord = errors.New("malformed record payload")

// payloadReader decodes a record payload; the first error sticks.
type payloadReader struct {
	b   []byte
	bad bool
}

func (r *payloadReader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) str() string {
	n, w := binary.Uvarint(r.b)
	// Only minimal encodings, so that every payload has one decoding.
	if w <= 0 || n > uint64(len(r.b)-w) || w != len(binary.AppendUvarint(nil, n)) {
		r.bad = true
		return ""
	}
	r.b = r.b[w:]
	return string(r.take(int(n)))
}

// count reads a uvarint element count; each element takes at least min
// bytes, so a count the rest of the payload cannot hold is malformed (and
// never drives an allocation).
func (r *payloadReader) count(min int) int {
	n, w := binary.Uvarint(r.b)
	if r.bad || w <= 0 || w != len(binary.AppendUvarint(nil, n)) || n > uint64(len(r.b)-w)/uint64(min) {
		r.bad = true
		return 0
	}
	r.b = r.b[w:]
	return int(n)
}

// bytes reads a length-prefixed byte string; empty reads as nil.
func (r *payloadReader) bytes() []byte {
	s := r.str()
	if s == "" {
		return nil
	}
	return []byte(s)
}

func (r *payloadReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *payloadReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *payloadReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func decodeOp(payload []byte) (op, error) {
	r := payloadReader{b: payload}
	kind := r.take(1)
	if kind == nil {
		return op{}, errBadRecord
	}
	o := op{kind: opKind(kind[0])}
	switch o.kind {
	case opCommit:
		o.group = r.str()
		o.topic = r.str()
		o.partition = int32(r.u32())
		o.val.offset = int64(r.u64())
		o.val.leaderEpoch = int32(r.u32())
		o.val.commitTime = int64(r.u64())
		o.val.metadata = r.str()
	case opDeletePartition:
		o.group = r.str()
		o.topic = r.str()
		o.partition = int32(r.u32())
	case opDeleteGroup:
		o.group = r.str()
	case opDeleteTopic:
		o.topic = r.str()
	case opGroupState:
		o.group = r.str()
		o.meta = readGroupRecord(&r)
	case opGroupEmpty:
		o.group = r.str()
	default:
		return op{}, fmt.Errorf("%w: unknown kind %d", errBadRecord, o.kind)
	}
	if r.bad || len(r.b) != 0 {
		return op{}, errBadRecord
	}
	return o, nil
}

// recovery describes what reading a store file found.
type recovery struct {
	state     offsetState
	metas     groupRecords
	records   int   // valid records replayed
	validSize int64 // bytes of the valid prefix, magic included
	fileSize  int64
	reason    string // why reading stopped before the end; "" if it did not
}

// readStoreFile replays the longest valid prefix of the file at path (see
// readStore). A
// missing or empty file is an empty store. Only a wrong magic (not our file)
// is an error: everything after the first bad record is dropped.
func readStoreFile(path string) (recovery, error) {
	rec := recovery{state: make(offsetState), metas: make(groupRecords)}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	rec, err = readStore(f)
	if fi, serr := f.Stat(); serr == nil {
		rec.fileSize = fi.Size()
	}
	if err != nil {
		return rec, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// readStore replays the longest valid prefix of a store file's content.
func readStore(r io.Reader) (recovery, error) {
	rec := recovery{state: make(offsetState), metas: make(groupRecords)}
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(storeMagic))
	n, err := io.ReadFull(br, magic)
	switch {
	case err == nil && string(magic) == storeMagic:
		rec.validSize = int64(n)
	case (err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) && string(magic[:n]) == storeMagic[:n]:
		// Empty, or a torn magic: nothing was ever acknowledged from it.
		if n > 0 {
			rec.reason = "torn file header"
		}
		return rec, nil
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return rec, fmt.Errorf("read: %w", err)
	default:
		return rec, fmt.Errorf("not a tributary offsets file (bad magic %q)", magic[:n])
	}
	var hdr [recordHeader]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) {
				rec.reason = "torn record header"
			}
			return rec, nil
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if size == 0 || size > maxRecordSize {
			rec.reason = fmt.Sprintf("bad record length %d", size)
			return rec, nil
		}
		if cap(payload) < int(size) {
			payload = make([]byte, size)
		}
		payload = payload[:size]
		if _, err := io.ReadFull(br, payload); err != nil {
			rec.reason = "torn record"
			return rec, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			rec.reason = "record checksum mismatch"
			return rec, nil
		}
		o, err := decodeOp(payload)
		if err != nil {
			rec.reason = err.Error()
			return rec, nil
		}
		rec.state.apply(&o)
		rec.metas.apply(&o)
		rec.records++
		rec.validSize += recordHeader + int64(size)
	}
}

// encodeSnapshot returns a whole store file holding state and metas.
func encodeSnapshot(state offsetState, metas groupRecords) []byte {
	buf := []byte(storeMagic)
	for g, m := range state {
		for k, v := range m {
			buf = appendRecord(buf, &op{kind: opCommit, group: g, topic: k.topic, partition: k.partition, val: v})
		}
	}
	for g, meta := range metas {
		buf = appendRecord(buf, &op{kind: opGroupState, group: g, meta: meta})
	}
	return buf
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// replaceFile atomically replaces dir/offsets.log with content and returns
// the new file open for appending. renamed reports whether the old file may
// already be gone, in which case the caller must not keep writing to it.
func replaceFile(dir string, content []byte) (f *os.File, renamed bool, err error) {
	tmp := filepath.Join(dir, storeTmpName)
	f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", tmp, err)
	}
	fail := func(renamed bool, err error) (*os.File, bool, error) {
		f.Close()
		if !renamed {
			os.Remove(tmp)
		}
		return nil, renamed, err
	}
	if _, err := f.Write(content); err != nil {
		return fail(false, fmt.Errorf("write %s: %w", tmp, err))
	}
	if err := f.Sync(); err != nil {
		return fail(false, fmt.Errorf("fsync %s: %w", tmp, err))
	}
	final := filepath.Join(dir, storeFileName)
	if err := os.Rename(tmp, final); err != nil {
		return fail(false, fmt.Errorf("rename %s: %w", tmp, err))
	}
	if err := syncDir(dir); err != nil {
		return fail(true, fmt.Errorf("fsync dir %s: %w", dir, err))
	}
	return f, true, nil
}

var errStoreClosed = errors.New("offsets store closed")

// store is the durable committed-offsets store. Its mutex is a leaf lock:
// it may be taken while holding a group lock, never the other way round.
type store struct {
	dir          string
	log          *slog.Logger
	compactSlack int64

	mu      sync.Mutex
	state   offsetState
	metas   groupRecords
	pending map[string]int // group → queued ops not yet applied
	batch   []byte
	ops     []op
	waiters []chan error
	err     error // sticky: write failure or closed
	closing bool

	kick chan struct{}
	done chan struct{}

	// Owned by the syncer goroutine (and openStore before it starts).
	f        *os.File
	size     int64
	baseSize int64
}

// openStore recovers dir's store, rewrites it compactly and starts the
// syncer. compactSlack <= 0 means defaultCompactSlack.
func openStore(dir string, log *slog.Logger, compactSlack int64) (*store, error) {
	if compactSlack <= 0 {
		compactSlack = defaultCompactSlack
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("offsets store: %w", err)
	}
	// A leftover tmp file is an interrupted rewrite; the real file is intact.
	if err := os.Remove(filepath.Join(dir, storeTmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("offsets store: %w", err)
	}
	path := filepath.Join(dir, storeFileName)
	rec, err := readStoreFile(path)
	if err != nil {
		return nil, fmt.Errorf("offsets store: %w", err)
	}
	if rec.reason != "" {
		log.Warn("offsets store: dropped invalid tail", "file", path, "reason", rec.reason,
			"valid_bytes", rec.validSize, "dropped_bytes", rec.fileSize-rec.validSize, "records", rec.records)
	}
	snap := encodeSnapshot(rec.state, rec.metas)
	f, _, err := replaceFile(dir, snap)
	if err != nil {
		return nil, fmt.Errorf("offsets store: %w", err)
	}
	s := &store{
		dir:          dir,
		log:          log,
		compactSlack: compactSlack,
		state:        rec.state,
		metas:        rec.metas,
		pending:      make(map[string]int),
		kick:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		f:            f,
		size:         int64(len(snap)),
		baseSize:     int64(len(snap)),
	}
	go s.run()
	return s, nil
}

// enqueue queues ops for the next group commit. The returned channel
// receives nil once they are durable and visible, or the write error.
// It never blocks, so it may be called with a group lock held; the order of
// enqueue calls is the order of the records in the file.
func (s *store) enqueue(ops ...op) <-chan error {
	ch := make(chan error, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		ch <- s.err
		return ch
	}
	for i := range ops {
		s.batch = appendRecord(s.batch, &ops[i])
		if ops[i].kind != opDeleteTopic {
			s.pending[ops[i].group]++
		}
	}
	s.ops = append(s.ops, ops...)
	s.waiters = append(s.waiters, ch)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return ch
}

func (s *store) run() {
	defer close(s.done)
	for range s.kick {
		s.mu.Lock()
		batch, ops, waiters := s.batch, s.ops, s.waiters
		s.batch, s.ops, s.waiters = nil, nil, nil
		closing := s.closing
		s.mu.Unlock()

		if len(waiters) > 0 {
			err := s.write(batch)
			s.mu.Lock()
			if err == nil {
				for i := range ops {
					s.state.apply(&ops[i])
					s.metas.apply(&ops[i])
				}
			} else if s.err == nil || s.err == errStoreClosed {
				// Logged once here; callers only see an error code.
				s.log.Error("offsets store: write failed; refusing further commits", "err", err)
				s.err = err
			}
			for i := range ops {
				if ops[i].kind != opDeleteTopic {
					if s.pending[ops[i].group]--; s.pending[ops[i].group] <= 0 {
						delete(s.pending, ops[i].group)
					}
				}
			}
			s.mu.Unlock()
			for _, w := range waiters {
				w <- err
			}
			if err == nil && s.size > 2*s.baseSize+s.compactSlack {
				s.compact()
			}
		}
		if closing {
			if err := s.f.Close(); err != nil {
				s.log.Warn("offsets store: close", "err", err)
			}
			return
		}
	}
}

func (s *store) write(batch []byte) error {
	if _, err := s.f.Write(batch); err != nil {
		return fmt.Errorf("offsets store: write %s: %w", s.f.Name(), err)
	}
	s.size += int64(len(batch))
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("offsets store: fsync %s: %w", s.f.Name(), err)
	}
	return nil
}

// compact rewrites the file to hold only the live state. Runs on the syncer
// goroutine between batches, so every applied op is in the snapshot and every
// queued op goes to the new file.
func (s *store) compact() {
	s.mu.Lock()
	snap := encodeSnapshot(s.state, s.metas)
	s.mu.Unlock()
	f, renamed, err := replaceFile(s.dir, snap)
	if err != nil {
		if renamed {
			// The old file may already be unlinked: appending to it would
			// acknowledge commits that a restart cannot see.
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.log.Error("offsets store: rewrite failed after rename; refusing further commits", "err", err)
			return
		}
		s.log.Warn("offsets store: rewrite failed; keeping the current file", "err", err)
		s.baseSize = s.size // back off until the file doubles again
		return
	}
	if err := s.f.Close(); err != nil {
		s.log.Warn("offsets store: close old file", "err", err)
	}
	s.f = f
	s.size = int64(len(snap))
	s.baseSize = s.size
}

// close flushes what is queued, stops the syncer and closes the file.
func (s *store) close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closing = true
	werr := s.err
	if s.err == nil {
		s.err = errStoreClosed
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	s.mu.Unlock()
	<-s.done
	if werr != nil {
		return werr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != errStoreClosed {
		return s.err
	}
	return nil
}

// get returns the durable committed offset of one partition.
func (s *store) get(group, topic string, partition int32) (committed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.state[group][topicPartition{topic, partition}]
	return v, ok
}

// groupOffsets returns a copy of a group's committed offsets.
func (s *store) groupOffsets(group string) map[topicPartition]committed {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state[group]
	out := make(map[topicPartition]committed, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// inUse reports whether group has committed offsets or queued ops.
func (s *store) inUse(group string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.state[group]) > 0 || s.pending[group] > 0
}

// groups lists groups that have committed offsets.
func (s *store) groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.state))
	for g := range s.state {
		out = append(out, g)
	}
	return out
}

// groupMetas returns the persisted membership of every group. The records
// are never modified once stored, so they are shared.
func (s *store) groupMetas() map[string]*groupRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*groupRecord, len(s.metas))
	for g, m := range s.metas {
		out[g] = m
	}
	return out
}
