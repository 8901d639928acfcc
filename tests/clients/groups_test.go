package clients_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/tributary/tributary/broker"
	"io"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/internal/brokertest"
)

// delivery is one record a group member read and then committed
// synchronously, or an error the member hit.
type delivery struct {
	member    string
	rec       got
	commitErr error
	err       error
	// notice is an error the client reports but recovers from by itself:
	// kgo's ErrGroupSession, injected into a poll when the member was
	// removed from the group and is joining again.
	notice error
}

// startMember joins group as a member whose client id is name, consuming
// topic from the group's committed offsets (earliest when none). For every
// record it commits the offset after it, synchronously, and only then reports
// the record on out. The returned stop closes the client (leaving the group)
// and returns once the member's loop has ended.
type startMember func(ctx context.Context, t *testing.T, addr, group, topic, name string, out chan<- delivery) (stop func())

// TestConsumerGroup: three members of one group share six partitions; each
// partition is read by exactly the member the group assigned it to; when a
// member leaves, the others take over its partitions and read what is produced
// afterwards; a new member after everyone left resumes exactly at the
// committed offsets, including one an operator rewound.
//
// At-least-once allowance: Kafka only promises that records whose offsets
// were committed are not read again by the group. A record read but not yet
// committed when its partition moves may be read again by the new owner.
// Here every member commits each record synchronously before it fetches the
// next one, and membership only changes while all members are idle with
// everything committed, so no record may be read twice: any re-read fails.
func TestConsumerGroup(t *testing.T) {
	members := []struct {
		client string
		start  startMember
	}{
		{"kafka-go", kafkaGoMember},
		{"kgo", kgoMember},
		{"librdkafka", rdkafkaMember},
	}
	for _, m := range members {
		t.Run(m.client, func(t *testing.T) {
			t.Parallel() // each has its own broker; mostly waiting on rebalances
			testConsumerGroup(t, m.start)
		})
	}
}

func testConsumerGroup(t *testing.T, start startMember) {
	ctx := testContext(t, 120*time.Second)
	// Like Kafka's default group.initial.rebalance.delay.ms, let the three
	// members that start together form the first generation together. Without
	// it the first member briefly owns every partition alone, and librdkafka
	// can apply that generation's stale "reset to earliest" to a partition it
	// is given again later, reading it from 0 although the broker answered
	// its OffsetFetch with the committed offset (seen under CPU load).
	_, addr := startBroker(t, func(o *broker.Options) { o.GroupInitialRebalanceDelay = 1500 * time.Millisecond })
	adm := newAdmin(t, addr)
	const partitions, perPartition = 6, 20
	const topic, group = "grouped", "readers"
	createTopic(ctx, t, adm, topic, partitions, nil)
	producer := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	phase := 0
	produce := func() []ack {
		first := phase * partitions * perPartition
		phase++
		return produceToPartitions(ctx, t, producer, seqRange(first, first+partitions*perPartition), partitions)
	}

	out := make(chan delivery, 10_000)
	stops := make(map[string]func())
	for _, name := range []string{"m1", "m2", "m3"} {
		stops[name] = start(ctx, t, addr, group, topic, name, out)
	}
	t.Cleanup(func() {
		for _, stop := range stops {
			stop()
		}
	})
	stopMember := func(name string) {
		stops[name]()
		delete(stops, name)
	}

	// Phase 1: three members, two partitions each.
	assigned := waitAssignment(ctx, t, adm, group, topic, partitions, "m1", "m2", "m3")
	acks := produce()
	checkGroupPhase(ctx, t, "three members", out, acks, assigned, false)

	// Phase 2: m3 leaves; m1 and m2 take its partitions over.
	stopMember("m3")
	assigned = waitAssignment(ctx, t, adm, group, topic, partitions, "m1", "m2")
	acks = produce()
	checkGroupPhase(ctx, t, "after m3 left", out, acks, assigned, false)

	// Phase 3: everyone leaves; records are produced with no member; an
	// operator rewinds partition 0 by 7 records (OffsetCommit from an admin
	// client, as `tributary replay` does); a new member (a new client)
	// resumes at the committed offsets: partition 0 re-reads exactly the 7
	// rewound records, the others none.
	stopMember("m1")
	stopMember("m2")
	expectNoDelivery(t, out)
	committed := fetchCommitted(ctx, t, adm, group, topic)
	for p, end := range endsOf(acks) {
		if committed[p] != end {
			t.Errorf("partition %d: committed offset %d, but every record up to %d was read and committed", p, committed[p], end-1)
		}
	}
	const rewind = 7
	rewound := make(kadm.Offsets)
	rewound.Add(kadm.Offset{Topic: topic, Partition: 0, At: committed[0] - rewind, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, rewound); err != nil {
		t.Fatalf("rewinding partition 0: %v", err)
	}
	committed[0] -= rewind
	var want []ack
	for _, a := range acks {
		if a.Partition == 0 && a.Offset >= committed[0] {
			want = append(want, a)
		}
	}
	want = append(want, produce()...)
	stops["m4"] = start(ctx, t, addr, group, topic, "m4", out)
	assigned = waitAssignment(ctx, t, adm, group, topic, partitions, "m4")
	firsts := checkGroupPhase(ctx, t, "new member after restart", out, want, assigned, false)
	for p, off := range firsts {
		if off != committed[p] {
			t.Errorf("partition %d: the new member's first record is at offset %d, want %d, the one after the last committed", p, off, committed[p])
		}
	}
	stopMember("m4")
	expectNoDelivery(t, out)
}

// produceToPartitions sends seq to partition seq%partitions, synchronously.
func produceToPartitions(ctx context.Context, t *testing.T, cl *kgo.Client, seqs []int, partitions int32) []ack {
	t.Helper()
	rs := make([]*kgo.Record, len(seqs))
	for i, seq := range seqs {
		rs[i] = kgoRecord(seq, produceOpts{})
		rs[i].Partition = int32(seq) % partitions
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", len(rs), err)
	}
	acks := make([]ack, len(rs))
	for i, r := range rs {
		acks[i] = ack{Seq: seqs[i], Partition: r.Partition, Offset: r.Offset}
	}
	return acks
}

// waitAssignment waits until the group is Stable with exactly the named
// members (by client id), every partition of topic assigned to exactly one of
// them and the partitions spread evenly, and returns partition → member.
func waitAssignment(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, partitions int32, names ...string) map[int32]string {
	t.Helper()
	var owner map[int32]string
	var last string
	waitFor(ctx, t, fmt.Sprintf("group %s to be stable with members %v", group, names), func() (bool, error) {
		dg, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			err = dg.Error()
		}
		if err != nil {
			return false, err
		}
		g := dg[group]
		owner = make(map[int32]string)
		var clientIDs []string
		count := make(map[string]int)
		for _, m := range g.Members {
			clientIDs = append(clientIDs, m.ClientID)
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				continue
			}
			for _, at := range ca.Topics {
				if at.Topic != topic {
					continue
				}
				for _, p := range at.Partitions {
					if prev, dup := owner[p]; dup {
						return false, fmt.Errorf("partition %d assigned to both %s and %s", p, prev, m.ClientID)
					}
					owner[p] = m.ClientID
					count[m.ClientID]++
				}
			}
		}
		sort.Strings(clientIDs)
		last = fmt.Sprintf("state %s, members %v, assignment %v", g.State, clientIDs, owner)
		if g.State != "Stable" || !slices.Equal(clientIDs, names) || len(owner) != int(partitions) {
			return false, errors.New(last)
		}
		for _, n := range names {
			if count[n] != int(partitions)/len(names) {
				return false, errors.New(last)
			}
		}
		return true, nil
	})
	t.Logf("group %s: %s", group, last)
	return owner
}

// checkGroupPhase reads one delivery per acknowledged record and checks that
// each partition was read only by its assigned member, exactly, in order,
// with every commit succeeding. It returns each partition's first offset read.
// A notice (kgo's ErrGroupSession) fails it unless the members had to rejoin.
func checkGroupPhase(ctx context.Context, t *testing.T, what string, out <-chan delivery, acks []ack, owner map[int32]string, rejoined bool) map[int32]int64 {
	t.Helper()
	consumed := make(map[int32][]got)
	firsts := make(map[int32]int64)
	for read := 0; read < len(acks); {
		var d delivery
		select {
		case d = <-out:
		case <-ctx.Done():
			t.Fatalf("%s: %v; read so far: %s", what, ctx.Err(), summarize(consumed))
		}
		if d.notice != nil {
			if !rejoined {
				t.Errorf("%s: member %s: %v", what, d.member, d.notice)
			} else {
				t.Logf("%s: member %s: %v", what, d.member, d.notice)
			}
			continue
		}
		if d.err != nil {
			t.Fatalf("%s: member %s: %v", what, d.member, d.err)
		}
		if d.commitErr != nil {
			t.Errorf("%s: member %s: committing %v: %v", what, d.member, d.rec, d.commitErr)
		}
		p := d.rec.Partition
		if owner[p] != d.member {
			t.Errorf("%s: %s read %v, but partition %d is assigned to %s", what, d.member, d.rec, p, owner[p])
		}
		if _, ok := firsts[p]; !ok {
			firsts[p] = d.rec.Offset
		}
		consumed[p] = append(consumed[p], d.rec)
		read++
	}
	t.Run(what, func(t *testing.T) { checkExact(t, acks, consumed, true) })
	return firsts
}

// expectNoDelivery fails if anything is left on out once members stopped.
func expectNoDelivery(t *testing.T, out <-chan delivery) {
	t.Helper()
	for {
		select {
		case d := <-out:
			t.Errorf("unexpected extra delivery from %s: %v (err %v)", d.member, d.rec, d.err)
		default:
			return
		}
	}
}

func fetchCommitted(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	resp, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("fetching committed offsets of %s: %v", group, err)
	}
	out := make(map[int32]int64)
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

func kafkaGoMember(ctx context.Context, t *testing.T, addr, group, topic, name string, out chan<- delivery) func() {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		Dialer:            &kafka.Dialer{ClientID: name, Timeout: 10 * time.Second},
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: 100 * time.Millisecond,
		JoinGroupBackoff:  100 * time.Millisecond,
		MaxWait:           250 * time.Millisecond,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    100 * time.Millisecond,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.FetchMessage(ctx)
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return // closed
			}
			if err != nil {
				out <- delivery{member: name, err: err}
				return
			}
			cerr := r.CommitMessages(ctx, m)
			out <- delivery{member: name, rec: kafkaGoGot(m), commitErr: cerr}
		}
	}()
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			r.Close()
			<-done
		}
	}
}

func kgoMember(ctx context.Context, t *testing.T, addr, group, topic, name string, out chan<- delivery) func() {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.FetchMaxWait(250*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kgo: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			fs.EachError(func(topic string, p int32, err error) {
				var gs *kgo.ErrGroupSession
				if errors.As(err, &gs) {
					out <- delivery{member: name, notice: err}
					return
				}
				out <- delivery{member: name, err: fmt.Errorf("fetching %s/%d: %w", topic, p, err)}
			})
			fs.EachRecord(func(r *kgo.Record) {
				cerr := cl.CommitRecords(ctx, r)
				out <- delivery{member: name, rec: kgoGot(r), commitErr: cerr}
			})
		}
	}()
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			cl.Close()
			<-done
		}
	}
}

func rdkafkaMember(ctx context.Context, t *testing.T, addr, group, topic, name string, out chan<- delivery) func() {
	conf := ckafka.ConfigMap{
		"bootstrap.servers":     addr,
		"group.id":              group,
		"client.id":             name,
		"enable.auto.commit":    false,
		"auto.offset.reset":     "earliest",
		"heartbeat.interval.ms": 100,
		"fetch.wait.max.ms":     100,
	}
	watchRdkafkaLogs(t, conf)
	c, err := ckafka.NewConsumer(&conf)
	if err != nil {
		t.Fatalf("librdkafka: %v", err)
	}
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatalf("librdkafka: subscribe: %v", err)
	}
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stopping.Load() && ctx.Err() == nil {
			switch ev := c.Poll(50).(type) {
			case *ckafka.Message:
				if ev.TopicPartition.Error != nil {
					out <- delivery{member: name, err: ev.TopicPartition.Error}
					return
				}
				_, cerr := c.CommitMessage(ev)
				out <- delivery{member: name, rec: rdkafkaGot(ev), commitErr: cerr}
			case ckafka.Error:
				if ev.IsFatal() {
					out <- delivery{member: name, err: ev}
					return
				}
			}
		}
	}()
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			stopping.Store(true)
			<-done
			if err := c.Close(); err != nil {
				t.Errorf("librdkafka: closing %s: %v", name, err)
			}
		}
	}
}

// TestConsumerGroupAcrossBrokerRestart: one member of each client, each alone
// in its group, reads and commits every record, then the broker restarts under
// the idle members. Once each member is back in its group, more records are
// produced: each member resumes exactly at its committed offset (durable
// across the restart), and reads the new records exactly once.
//
// The broker keeps committed offsets and Stable group membership across a
// restart, as Kafka does, so kgo and librdkafka members carry on with their
// member ids. kafka-go leaves its group on any connection error (its
// ConsumerGroup drops the member id), so it joins again; a kgo
// ErrGroupSession is logged here, not failed. Records are produced only once
// the members are back, because a member that rejoins while fetching may read
// records after its last commit again (at-least-once), and kafka-go may then
// deliver a record buffered before the rebalance a second time.
func TestConsumerGroupAcrossBrokerRestart(t *testing.T) {
	ctx := testContext(t, 90*time.Second)
	s, addr := startBroker(t)
	adm := newAdmin(t, addr)
	const topic, partitions = "across-restart", 3
	createTopic(ctx, t, adm, topic, partitions, nil)
	producer := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	members := []struct {
		client string
		start  startMember
	}{{"kafka-go", kafkaGoMember}, {"kgo", kgoMember}, {"librdkafka", rdkafkaMember}}
	outs := make([]chan delivery, len(members))
	owners := make([]map[int32]string, len(members))
	for i, m := range members {
		outs[i] = make(chan delivery, 10_000)
		stop := m.start(ctx, t, addr, "restart-"+m.client, topic, m.client, outs[i])
		defer stop() // before the broker closes
	}
	for i, m := range members {
		owners[i] = waitAssignment(ctx, t, adm, "restart-"+m.client, topic, partitions, m.client)
	}
	before := produceToPartitions(ctx, t, producer, seqRange(0, 600), partitions)
	for i, m := range members {
		checkGroupPhase(ctx, t, m.client+" before the restart", outs[i], before, owners[i], false)
	}

	brokertest.Restart(t, s) // the old server is closed; the new one closes at cleanup
	for i, m := range members {
		owners[i] = waitAssignment(ctx, t, adm, "restart-"+m.client, topic, partitions, m.client)
	}
	after := produceToPartitions(ctx, t, producer, seqRange(600, 1200), partitions)
	committed := endsOf(before)
	ends := endsOf(append(before, after...))
	for i, m := range members {
		firsts := checkGroupPhase(ctx, t, m.client+" after the restart", outs[i], after, owners[i], true)
		for p, off := range firsts {
			if off != committed[p] {
				t.Errorf("%s: partition %d resumed at offset %d, want %d, the one after the last committed", m.client, p, off, committed[p])
			}
		}
		if c := fetchCommitted(ctx, t, adm, "restart-"+m.client, topic); !equalOffsets(c, ends) {
			t.Errorf("%s: committed offsets %v, want %v", m.client, c, ends)
		}
	}
	for _, out := range outs {
		expectNoDelivery(t, out)
	}
}
