package group

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	}
}

func replay(ops []op) offsetState {
	s := make(offsetState)
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
		if rec.records != complete || !equalState(rec.state, replay(ops[:complete])) {
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
			if rec.records != tc.keep || !equalState(rec.state, replay(ops[:tc.keep])) || rec.reason == "" {
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
	if !equalState(s.state, replay(ops)) {
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
		if err != nil || got != o {
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
	valid := appendRecord(nil, &op{kind: opCommit, group: "g1", topic: "t", partition: 0, val: committed{offset: 42}})
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(append([]byte(nil), valid...), 1, 2, 3))
	f.Add(appendRecord(nil, &op{kind: 9, group: "x"}))
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
		if rec.records == len(ops) && !equalState(rec.state, want) {
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
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		if !equalState(got, rec.state) {
			t.Fatal("open and read disagree")
		}
		again, err := readStoreFile(path)
		if err != nil || again.reason != "" || !equalState(again.state, rec.state) {
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
