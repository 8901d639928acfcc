package group

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var discard = slog.New(slog.DiscardHandler)

// testOps is a history touching every record kind.
func testOps() []op {
	c := func(g, t string, p int32, off int64) op {
		return op{kind: opCommit, group: g, topic: t, partition: p, val: committed{offset: off, leaderEpoch: 3, metadata: fmt.Sprint("m", off), commitTime: 1700000000000 + off}}
	}
	return []op{
		c("g1", "t", 0, 1),
		c("g1", "t", 1, 2),
		c("g2", "t", 0, 3),
		c("g1", "t", 0, 4),
		{kind: opDeletePartition, group: "g1", topic: "t", partition: 1},
		c("g2", "u", 5, 6),
		{kind: opDeleteTopic, topic: "u"},
		c("g3", "t", 0, 7),
		{kind: opDeleteGroup, group: "g3"},
		c("", "t", 9, 8), // the empty group id is valid for offsets
		c("g2", strings.Repeat("long-topic", 50), 2, 9),
		{kind: opGroupState, group: "g1", meta: testGroupRecord(1, "a", "b")},
		{kind: opGroupState, group: "g2", meta: testGroupRecord(4, "c")},
		{kind: opGroupState, group: "g1", meta: testGroupRecord(2, "a", "b", "d")},
		{kind: opGroupEmpty, group: "g2"},
		{kind: opGroupState, group: "g5", meta: testGroupRecord(1, "e")},
		{kind: opGroupState, group: "g6", meta: testGroupRecord(3, "f")},
		{kind: opDeleteGroup, group: "g6"},
	}
}

// testGroupRecord is a Stable group of the given members, the first the
// leader; odd members are static.
func testGroupRecord(generation int32, ids ...string) *groupRecord {
	rec := &groupRecord{generation: generation, protocolType: "consumer", protocol: "range", leader: ids[0]}
	for i, id := range ids {
		m := memberRecord{
			id:               id,
			clientID:         "client-" + id,
			clientHost:       "/127.0.0.1",
			sessionTimeout:   10000,
			rebalanceTimeout: 20000,
			joinVersion:      9,
			protocols: []kmsg.JoinGroupRequestProtocol{
				{Name: "range", Metadata: consumerMeta("t")},
				{Name: "sticky", Metadata: nil},
			},
			assignment: []byte("assign-" + id),
		}
		if i%2 == 1 {
			inst := "instance-" + id
			m.instanceID = &inst
		}
		rec.members = append(rec.members, m)
	}
	return rec
}

func replay(ops []op) offsetState {
	s := make(offsetState)
	for i := range ops {
		s.apply(&ops[i])
	}
	return s
}

func replayMetas(ops []op) groupRecords {
	s := make(groupRecords)
	for i := range ops {
		s.apply(&ops[i])
	}
	return s
}

func equalState(a, b offsetState) bool {
	return maps.EqualFunc(a, b, func(x, y map[topicPartition]committed) bool { return maps.Equal(x, y) })
}

// writeTestFile writes magic + ops one commit each through a real store and
// returns the file's bytes and the end offset of every record.
func writeTestFile(t testing.TB, dir string, ops []op) ([]byte, []int) {
	t.Helper()
	s, err := openStore(dir, discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	ends := []int{len(storeMagic)}
	for i := range ops {
		if err := <-s.enqueue(ops[i]); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, ends[len(ends)-1]+len(appendRecord(nil, &ops[i])))
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, storeFileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != ends[len(ends)-1] {
		t.Fatalf("file is %d bytes, records end at %d", len(b), ends[len(ends)-1])
	}
	return b, ends
}

func TestTornTailKeepsEveryCompleteRecord(t *testing.T) {
	ops := testOps()
	full, ends := writeTestFile(t, t.TempDir(), ops)
	dir := t.TempDir()
	path := filepath.Join(dir, storeFileName)
	for cut := 0; cut <= len(full); cut++ {
		rec, err := readStore(bytes.NewReader(full[:cut]))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		complete := 0
		for complete < len(ops) && ends[complete+1] <= cut {
			complete++
		}
		if rec.records != complete || !equalState(rec.state, replay(ops[:complete])) || !reflect.DeepEqual(rec.metas, replayMetas(ops[:complete])) {
			t.Fatalf("cut %d: recovered %d records, want %d", cut, rec.records, complete)
		}
		if torn := cut > 0 && cut != ends[complete]; torn != (rec.reason != "") {
			t.Fatalf("cut %d: reason %q", cut, rec.reason)
		}
	}
	// Through the real open path: the torn tail is dropped for good and
	// new commits land after the valid prefix.
	cut := ends[5] + 3
	if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := openStore(dir, discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	extra := op{kind: opCommit, group: "g9", topic: "t", partition: 0, val: committed{offset: 99}}
	if err := <-s.enqueue(extra); err != nil {
		t.Fatal(err)
	}
	s.close()
	rec, err := readStoreFile(path)
	if err != nil || rec.reason != "" {
		t.Fatalf("after reopen: %v %q", err, rec.reason)
	}
	if want := replay(append(ops[:5:5], extra)); !equalState(rec.state, want) {
		t.Fatalf("after reopen: %v, want %v", rec.state, want)
	}

	// Torn inside a group-state record: the group's earlier state is kept.
	last := len(ops) - 5 // the second g1 state record
	if ops[last].kind != opGroupState || ops[last].group != "g1" {
		t.Fatalf("testOps changed: %+v", ops[last])
	}
	if err := os.WriteFile(path, full[:ends[last]+recordHeader+20], 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = openStore(dir, discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	g1 := s.groupMetas()["g1"]
	s.close()
	if g1 == nil || g1.generation != 1 || len(g1.members) != 2 {
		t.Fatalf("after a torn group-state record: %+v, want generation 1", g1)
	}
	rec, err = readStoreFile(path)
	if err != nil || rec.reason != "" || !reflect.DeepEqual(rec.metas, replayMetas(ops[:last])) {
		t.Fatalf("rewritten after a torn group-state record: %v %q %v", err, rec.reason, rec.metas)
	}
}

func TestCorruptRecordStopsReplay(t *testing.T) {
	ops := testOps()
	full, ends := writeTestFile(t, t.TempDir(), ops)
	for _, tc := range []struct {
		name string
		at   int // byte to flip
		keep int // records kept
	}{
		{"crc", ends[3] + 5, 3},
		{"payload", ends[4] + recordHeader + 2, 4},
		{"length", ends[2] + 1, 2},
		{"group state crc", ends[11] + 5, 11},
		{"group state payload", ends[12] + recordHeader + 12, 12},
		{"group state member", ends[13] + recordHeader + 40, 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), full...)
			b[tc.at] ^= 0x40
			path := filepath.Join(t.TempDir(), storeFileName)
			os.WriteFile(path, b, 0o644)
			rec, err := readStoreFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if rec.records != tc.keep || !equalState(rec.state, replay(ops[:tc.keep])) || !reflect.DeepEqual(rec.metas, replayMetas(ops[:tc.keep])) || rec.reason == "" {
				t.Fatalf("kept %d records (%q), want %d", rec.records, rec.reason, tc.keep)
			}
		})
	}
}

func TestStoreOpenErrorsAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, storeFileName), []byte("not an offsets file"), 0o644)
	if _, err := openStore(dir, discard, 0); err == nil || !strings.Contains(err.Error(), "not a tributary offsets file") {
		t.Fatalf("foreign file: %v", err)
	}
	if _, err := New(Options{Dir: dir, Logger: discard}); err == nil {
		t.Fatal("New accepted a foreign file")
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted an empty Dir")
	}

	// An interrupted rewrite leaves a tmp file next to the intact store.
	dir = t.TempDir()
	ops := testOps()
	writeTestFile(t, dir, ops)
	os.WriteFile(filepath.Join(dir, storeTmpName), []byte(storeMagic+"garbage"), 0o644)
	s, err := openStore(dir, discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if !equalState(s.state, replay(ops)) || !reflect.DeepEqual(s.metas, replayMetas(ops)) {
		t.Fatal("state changed by a leftover tmp file")
	}
	if _, err := os.Stat(filepath.Join(dir, storeTmpName)); !os.IsNotExist(err) {
		t.Fatalf("tmp file left behind: %v", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, o := range testOps() {
		b := appendRecord(nil, &o)
		got, err := decodeOp(b[recordHeader:])
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Fatalf("%+v: got %+v, %v", o, got, err)
		}
	}
}

// FuzzStoreRecovery appends arbitrary bytes to a valid store file: opening
// never fails or panics, and the valid prefix is always kept.
func FuzzStoreRecovery(f *testing.F) {
	ops := testOps()
	base, _ := writeTestFile(f, f.TempDir(), ops)
	want := replay(ops)
	wantMetas := replayMetas(ops)
	valid := appendRecord(nil, &op{kind: opCommit, group: "g1", topic: "t", partition: 0, val: committed{offset: 42}})
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(append([]byte(nil), valid...), 1, 2, 3))
	f.Add(appendRecord(nil, &op{kind: 9, group: "x"}))
	state := appendRecord(nil, &op{kind: opGroupState, group: "g1", meta: testGroupRecord(7, "a", "b")})
	f.Add(state)
	f.Add(state[:len(state)/2])
	f.Add(append(append([]byte(nil), state...), appendRecord(nil, &op{kind: opGroupEmpty, group: "g1"})...))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, storeFileName)
		if err := os.WriteFile(path, append(append([]byte(nil), base...), tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		rec, err := readStoreFile(path)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if rec.records < len(ops) || rec.validSize < int64(len(base)) {
			t.Fatalf("lost the valid prefix: %d records, %d bytes", rec.records, rec.validSize)
		}
		if rec.records == len(ops) && (!equalState(rec.state, want) || !reflect.DeepEqual(rec.metas, wantMetas)) {
			t.Fatal("state differs although no appended record was valid")
		}
		s, err := openStore(dir, discard, 0)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		got := replay(nil)
		s.mu.Lock()
		maps.Copy(got, s.state)
		s.mu.Unlock()
		gotMetas := s.groupMetas()
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		if !equalState(got, rec.state) || !reflect.DeepEqual(groupRecords(gotMetas), rec.metas) {
			t.Fatal("open and read disagree")
		}
		again, err := readStoreFile(path)
		if err != nil || again.reason != "" || !equalState(again.state, rec.state) || !reflect.DeepEqual(again.metas, rec.metas) {
			t.Fatalf("rewritten file: %v %q", err, again.reason)
		}
	})
}

// FuzzDecodeOp feeds arbitrary payloads to the record decoder: it never
// panics, and whatever it accepts re-encodes to the same payload.
func FuzzDecodeOp(f *testing.F) {
	for _, o := range testOps() {
		f.Add(appendRecord(nil, &o)[recordHeader:])
	}
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	state := appendRecord(nil, &op{kind: opGroupState, group: "g", meta: testGroupRecord(3, "a", "b", "c")})[recordHeader:]
	for _, cut := range []int{2, 6, 20, len(state) / 2, len(state) - 1} {
		f.Add(state[:cut]) // truncated
	}
	// A member count far beyond what the payload can hold.
	f.Add(append([]byte{byte(opGroupState), 1, 'g', 0, 0, 0, 1, 0, 0, 0}, binary.AppendUvarint(nil, 1<<40)...))
	// A group state without members (an Empty group is opGroupEmpty).
	f.Add([]byte{byte(opGroupState), 1, 'g', 0, 0, 0, 1, 0, 0, 0, 0})
	// An instance-id flag other than 0 or 1.
	bad := slices.Clone(state)
	flag := bytes.Index(bad, []byte{1, 'a', 3, 1, 'a'}) + 5 // leader, count, first member id
	if bad[flag] != 0 {
		f.Fatal("seed layout changed")
	}
	bad[flag] = 2
	f.Add(bad)
	f.Fuzz(func(t *testing.T, payload []byte) {
		o, err := decodeOp(payload)
		if err != nil {
			return
		}
		if got := appendRecord(nil, &o)[recordHeader:]; string(got) != string(payload) {
			t.Fatalf("re-encoded %x, want %x", got, payload)
		}
	})
}
