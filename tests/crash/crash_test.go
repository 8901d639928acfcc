// Package crash kills the real `tributary broker` process with SIGKILL while
// clients depend on it, restarts it on the same data directory and checks
// that everything the broker acknowledged is still there.
//
// The default run takes a few kill rounds (under a minute). For long local
// runs:
//
//	go test ./tests/crash/ -run TestCrash -crash.rounds=200 -timeout=2h
//	TRIBUTARY_CRASH_ROUNDS=200 go test ./tests/crash/ -timeout=2h
//
// -crash.seed=N replays the rounds of a logged seed.
package crash

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/internal/brokertest"
)

var (
	flagRounds = flag.Int("crash.rounds", 0,
		"kill rounds of TestCrashAckedRecordsSurvive; 0 means $TRIBUTARY_CRASH_ROUNDS, else 4 (1 with -short)")
	flagSeed = flag.Uint64("crash.seed", 0, "base random seed; round i uses seed+i (0 picks one from the clock)")
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	brokertest.RemoveBinary()
	os.Exit(code)
}

func crashRounds(t *testing.T) int {
	if *flagRounds > 0 {
		return *flagRounds
	}
	if env := os.Getenv("TRIBUTARY_CRASH_ROUNDS"); env != "" {
		n, err := strconv.Atoi(env)
		if err != nil || n < 1 {
			t.Fatalf("TRIBUTARY_CRASH_ROUNDS=%q: want a positive integer", env)
		}
		return n
	}
	if testing.Short() {
		return 1
	}
	return 4
}

// plan is what one round does, derived from its seed.
type plan struct {
	seed         uint64
	kind         string // for the log
	partitions   int32
	segmentBytes int           // 0 = the default (1 GiB: no roll)
	linger       time.Duration // producer linger: shapes batch sizes
	maxPad       int           // largest random padding of a record value
	maxBuffered  int           // kgo MaxBufferedRecords: how far produce runs ahead of acks
	killAfter    []int         // acks to wait for before each SIGKILL, one per life
	killOnWrite  []bool        // per life: after those acks, kill as the next produce request is written
}

func newPlan(seed uint64, round int) plan {
	rng := rand.New(rand.NewPCG(seed, 0x7472696275746172))
	p := plan{
		seed:        seed,
		partitions:  int32(2 + rng.IntN(5)),
		linger:      []time.Duration{0, time.Millisecond, 5 * time.Millisecond}[rng.IntN(3)],
		maxPad:      []int{16, 200, 2000}[rng.IntN(3)],
		maxBuffered: []int{10, 100, 1000}[rng.IntN(3)],
	}
	lives := 2
	if testing.Short() {
		lives = 1
	}
	for life := range lives {
		// Half the lives kill right after an ack arrives, half right after
		// the next produce request went out: the broker is then reading or
		// appending it, and its batches may or may not survive.
		p.killOnWrite = append(p.killOnWrite, (round+life)%2 == 1)
		switch round % 4 {
		case 0: // early: the very first segment, maybe the first fsyncs
			p.kind = "early kill, one segment"
			p.killAfter = append(p.killAfter, 1+rng.IntN(40))
		case 1: // tiny segments: a roll every few batches, so kills land around rolls
			p.kind = "tiny segments, kill around rolls"
			p.segmentBytes = 1024 + rng.IntN(3072)
			p.killAfter = append(p.killAfter, 100+rng.IntN(1500))
		case 2: // sustained load with small segments
			p.kind = "sustained load, small segments"
			p.segmentBytes = 32<<10 + rng.IntN(32<<10)
			p.killAfter = append(p.killAfter, 2000+rng.IntN(4000))
		default: // anything
			p.kind = "random"
			p.segmentBytes = []int{0, 512, 8 << 10, 256 << 10}[rng.IntN(4)]
			p.killAfter = append(p.killAfter, 1+rng.IntN(5000))
		}
	}
	return p
}

// TestCrashAckedRecordsSurvive kills the broker process with SIGKILL during
// sustained acks=all idempotent produce, restarts it on the same data
// directory and checks, per partition, that every acknowledged record is
// there exactly once and in acknowledgement order; records that were not
// acknowledged may be there or not, but nothing is duplicated or reordered and
// offsets have no gaps. Each round runs one or more producer lives (produce,
// kill, restart, verify) on one data directory, then stops the broker cleanly
// and verifies once more.
func TestCrashAckedRecordsSurvive(t *testing.T) {
	rounds := crashRounds(t)
	base := *flagSeed
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	}
	t.Logf("crash rounds: %d, base seed %d (replay with -crash.seed=%d)", rounds, base, base)
	brokertest.BuildBinary(t) // outside the rounds' timings
	for round := range rounds {
		p := newPlan(base+uint64(round), round)
		name := fmt.Sprintf("round%d", round)
		if !t.Run(name, func(t *testing.T) { runRound(t, p) }) && rounds > 1 {
			t.Logf("%s failed; replay it alone with -crash.seed=%d -crash.rounds=1 after checking the round kind (%s)", name, p.seed, p.kind)
		}
	}
}

// ledger is what the test knows about one topic across lives.
type ledger struct {
	mu        sync.Mutex
	next      []uint64   // next sequence number to produce, per partition
	acked     [][]uint64 // acknowledged sequence numbers per partition, in ack order
	ackTotal  int        // acks in the current life
	errs      []error    // producer errors while the broker was alive
	killing   bool       // set before SIGKILL: errors after it are expected
	killPoint chan struct{}
	killAt    int
	onWrite   bool // kill point is the first produce request written after killAt acks
	armed     bool // killAt acks reached, waiting for a write
	fired     bool
}

// fireLocked closes killPoint once.
func (l *ledger) fireLocked() {
	if !l.fired {
		l.fired = true
		close(l.killPoint)
	}
}

// OnBrokerWrite implements kgo.HookBrokerWrite for the write kill point.
func (l *ledger) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	const produceKey = 0
	if key != produceKey || err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.armed {
		l.fireLocked()
	}
}

func runRound(t *testing.T, p plan) {
	start := time.Now()
	t.Logf("seed %d: %s; %d partitions, segment_bytes %d, linger %v, padding <= %d, %d buffered, kill after %v acks (then on the next request write: %v)",
		p.seed, p.kind, p.partitions, p.segmentBytes, p.linger, p.maxPad, p.maxBuffered, p.killAfter, p.killOnWrite)
	dir := t.TempDir()
	dataDir := dir + "/data"
	cfg := writeConfig(t, dir, p.segmentBytes)
	const topic = "crash"

	proc := brokertest.StartProcess(t, dataDir, "-c", cfg)
	admin := adminClient(t, proc)
	createTopic(t, admin, topic, p.partitions, nil)
	admin.Close()

	led := &ledger{next: make([]uint64, p.partitions), acked: make([][]uint64, p.partitions)}
	for life, killAfter := range p.killAfter {
		produceUntilKilled(t, proc, topic, p, life, killAfter, p.killOnWrite[life], led)
		proc = brokertest.StartProcess(t, dataDir, "-c", cfg)
		verify(t, proc, topic, p.partitions, led, fmt.Sprintf("after SIGKILL %d", life+1))
		if t.Failed() {
			return
		}
	}
	proc.Stop()
	proc = brokertest.StartProcess(t, dataDir, "-c", cfg)
	verify(t, proc, topic, p.partitions, led, "after a clean restart")
	proc.Stop()
	acked := 0
	for _, a := range led.acked {
		acked += len(a)
	}
	t.Logf("seed %d: %d acknowledged records verified over %d kills in %v", p.seed, acked, len(p.killAfter), time.Since(start).Round(time.Millisecond))
}

// produceUntilKilled produces continuously with acks=all and the idempotent
// producer, SIGKILLs the broker once killAfter records were acknowledged,
// and returns once every promise has been called.
func produceUntilKilled(t *testing.T, proc *brokertest.Process, topic string, p plan, life, killAfter int, onWrite bool, led *ledger) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(proc.Addr()),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default, made explicit: idempotence needs it
		kgo.ProducerLinger(p.linger),
		kgo.MaxBufferedRecords(p.maxBuffered),
		kgo.WithHooks(led),
	)
	if err != nil {
		t.Fatal(err)
	}
	led.mu.Lock()
	led.ackTotal, led.killing, led.killAt = 0, false, killAfter
	led.onWrite, led.armed, led.fired = onWrite, false, false
	led.killPoint = make(chan struct{})
	led.mu.Unlock()

	ctx, stopProducing := context.WithCancel(context.Background())
	var promises sync.WaitGroup
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		rng := rand.New(rand.NewPCG(p.seed, uint64(life)))
		for ctx.Err() == nil {
			part := int32(rng.IntN(int(p.partitions)))
			led.mu.Lock()
			seq := led.next[part]
			led.next[part]++
			led.mu.Unlock()
			rec := &kgo.Record{Partition: part, Value: encodeValue(part, seq, life, rng.IntN(p.maxPad+1))}
			promises.Add(1)
			// Blocks while MaxBufferedRecords are buffered; ctx unblocks it.
			cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
				defer promises.Done()
				led.mu.Lock()
				defer led.mu.Unlock()
				if err != nil {
					if !led.killing && !errors.Is(err, context.Canceled) && len(led.errs) < 10 {
						led.errs = append(led.errs, fmt.Errorf("partition %d seq %d: %w", part, seq, err))
					}
					return
				}
				led.acked[part] = append(led.acked[part], seq)
				led.ackTotal++
				if led.ackTotal == led.killAt {
					if led.onWrite {
						led.armed = true
					} else {
						led.fireLocked()
					}
				}
			})
		}
	}()

	timer := time.NewTimer(requestTimeout)
	defer timer.Stop()
	select {
	case <-led.killPoint:
	case <-timer.C:
		led.mu.Lock()
		n, errs := led.ackTotal, led.errs
		led.mu.Unlock()
		stopProducing()
		<-producerDone
		cl.Close()
		t.Fatalf("life %d: only %d of %d acks within %v; producer errors: %v", life, n, killAfter, requestTimeout, errs)
	}
	led.mu.Lock()
	led.killing = true
	ackedAtKill := led.ackTotal
	led.mu.Unlock()
	proc.Kill()

	stopProducing()
	<-producerDone
	cl.Close() // fails whatever is still buffered or in flight
	waitGroup(t, &promises, "produce promises after the kill")

	led.mu.Lock()
	defer led.mu.Unlock()
	for _, err := range led.errs {
		t.Errorf("life %d: produce failed while the broker was up: %v", life, err)
	}
	led.errs = nil
	t.Logf("life %d: SIGKILL after %d acks (asked for %d; %d in all when the process was gone); produced up to sequence numbers %v",
		life, ackedAtKill, killAfter, led.ackTotal, led.next)
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(requestTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("waiting for %s: still pending after %v", what, requestTimeout)
	}
}

// verify consumes the whole topic and checks it against the ledger.
func verify(t *testing.T, proc *brokertest.Process, topic string, partitions int32, led *ledger, when string) {
	t.Helper()
	recs := consumeAll(t, proc, topic, partitions)
	led.mu.Lock()
	defer led.mu.Unlock()
	stored, unacked := 0, 0
	defer func() {
		t.Logf("%s: %d records stored, %d of them never acknowledged (kept from the requests in flight)", when, stored, unacked)
	}()
	for part := range partitions {
		got := recs[part]
		stored += len(got)
		acked := led.acked[part]
		// Offsets dense from 0: a non-compacted log without transactions
		// has no gaps, also across a truncated torn tail.
		var prev uint64
		ai := 0 // next acknowledged sequence number to find
		extra := 0
		for i, r := range got {
			if r.Offset != int64(i) {
				t.Errorf("%s: partition %d: record %d has offset %d (want dense offsets from 0)", when, part, i, r.Offset)
				break
			}
			vp, seq, _, err := decodeValue(r.Value)
			if err != nil {
				t.Errorf("%s: partition %d offset %d: %v", when, part, r.Offset, err)
				break
			}
			if vp != part {
				t.Errorf("%s: partition %d offset %d holds a record produced to partition %d", when, part, r.Offset, vp)
				break
			}
			if i > 0 && seq <= prev {
				t.Errorf("%s: partition %d offset %d: sequence %d after %d: duplicated or out of order", when, part, r.Offset, seq, prev)
				break
			}
			prev = seq
			for ai < len(acked) && acked[ai] < seq {
				t.Errorf("%s: partition %d: acknowledged record %d is missing (offset %d holds %d)", when, part, acked[ai], r.Offset, seq)
				ai++
			}
			if ai < len(acked) && acked[ai] == seq {
				ai++
			} else {
				extra++
			}
		}
		unacked += extra
		if ai < len(acked) {
			t.Errorf("%s: partition %d: %d acknowledged records missing, first %d (log has %d records, last sequence %d)",
				when, part, len(acked)-ai, acked[ai], len(got), prev)
		}
		// kgo calls promises of a partition in produce order; if it did not,
		// "ack order" and log order could not both hold.
		for i := 1; i < len(acked); i++ {
			if acked[i] <= acked[i-1] {
				t.Errorf("%s: partition %d: acks arrived out of order (%d after %d)", when, part, acked[i], acked[i-1])
				break
			}
		}
	}
}

// A record value: partition (4 bytes), sequence (8), life (2), then padding
// bytes derived from the sequence so that corruption inside a record shows.
const valueHeader = 14

func encodeValue(part int32, seq uint64, life, pad int) []byte {
	v := make([]byte, valueHeader+pad)
	binary.BigEndian.PutUint32(v, uint32(part))
	binary.BigEndian.PutUint64(v[4:], seq)
	binary.BigEndian.PutUint16(v[12:], uint16(life))
	for i := valueHeader; i < len(v); i++ {
		v[i] = byte(seq) + byte(i)
	}
	return v
}

func decodeValue(v []byte) (part int32, seq uint64, life int, err error) {
	if len(v) < valueHeader {
		return 0, 0, 0, fmt.Errorf("value of %d bytes, want at least %d", len(v), valueHeader)
	}
	part = int32(binary.BigEndian.Uint32(v))
	seq = binary.BigEndian.Uint64(v[4:])
	life = int(binary.BigEndian.Uint16(v[12:]))
	for i := valueHeader; i < len(v); i++ {
		if v[i] != byte(seq)+byte(i) {
			return part, seq, life, fmt.Errorf("sequence %d: padding byte %d is %#x, want %#x", seq, i, v[i], byte(seq)+byte(i))
		}
	}
	return part, seq, life, nil
}
