package clients_test

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/internal/brokertest"
)

// TestIdempotentProducerAcrossRestart: kgo's default idempotent producer
// keeps producing while the broker restarts under it. Requests in flight when
// the connections drop are retried with the same producer id and sequence
// numbers; the broker must recognise the ones it had already appended. In the
// end every acknowledged record is in the log exactly once, at the offset the
// producer was told, in order, with no error reported to the producer.
func TestIdempotentProducerAcrossRestart(t *testing.T) {
	ctx := testContext(t, 120*time.Second)
	s, addr := startBroker(t)
	adm := newAdmin(t, addr)
	const topic = "idempotent-restart"
	const beforeRestart, afterRestart, limit = 20_000, 20_000, 2_000_000
	createTopic(ctx, t, adm, topic, 3, nil)
	cl := newKgo(t, addr, kgo.DefaultProduceTopic(topic))

	var mu sync.Mutex
	var acks []ack
	var failures []error
	var produced, restartedAt atomic.Int64
	restartedAt.Store(-1)
	producerDone := make(chan error, 1)
	go func() {
		for seq := 0; seq < limit && ctx.Err() == nil; seq++ {
			if r := restartedAt.Load(); r >= 0 && int64(seq) >= r+afterRestart {
				break
			}
			cl.Produce(ctx, kgoRecord(seq, produceOpts{}), func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err)
					return
				}
				acks = append(acks, ack{Seq: seq, Partition: r.Partition, Offset: r.Offset})
			})
			produced.Store(int64(seq) + 1)
		}
		producerDone <- cl.Flush(ctx)
	}()

	waitFor(ctx, t, "acknowledgements before the restart", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(acks) >= beforeRestart, nil
	})
	mu.Lock()
	ackedAtRestart := len(acks)
	mu.Unlock()
	producedAtRestart := produced.Load()
	brokertest.Restart(t, s) // the old server is closed; the new one closes at cleanup
	restartedAt.Store(produced.Load())
	t.Logf("restarted with %d records produced, %d acknowledged", producedAtRestart, ackedAtRestart)

	select {
	case err := <-producerDone:
		if err != nil {
			t.Fatalf("flushing: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("producer did not finish: %v", ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Errorf("%d records failed, first: %v", len(failures), failures[0])
	}
	if int64(len(acks)+len(failures)) != produced.Load() {
		t.Fatalf("%d records produced, %d acknowledged, %d failed", produced.Load(), len(acks), len(failures))
	}
	ends := endsOf(acks)
	if got := listOffsets(ctx, t, adm, topic, false); !equalOffsets(got, ends) {
		t.Errorf("broker end offsets %v, acknowledgements end at %v: the log holds records nobody was told about (duplicates)", got, ends)
	}
	checkExact(t, acks, kgoConsume(ctx, t, addr, topic, ends), true)
	t.Logf("%d records produced across the restart, %d acknowledged after it", len(acks), len(acks)-ackedAtRestart)
}

// TestIdempotentProducerAcrossRestartLibrdkafka: the same with librdkafka's
// idempotent producer (enable.idempotence=true), which treats sequence
// errors it cannot explain as fatal.
func TestIdempotentProducerAcrossRestartLibrdkafka(t *testing.T) {
	ctx := testContext(t, 120*time.Second)
	s, addr := startBroker(t)
	adm := newAdmin(t, addr)
	const topic = "idempotent-restart-rdkafka"
	const n, restartAfter = 60_000, 10_000
	createTopic(ctx, t, adm, topic, 3, nil)
	conf := ckafka.ConfigMap{"bootstrap.servers": addr, "enable.idempotence": true}
	watchRdkafkaLogs(t, conf)
	p, err := ckafka.NewProducer(&conf)
	if err != nil {
		t.Fatalf("librdkafka: new producer: %v", err)
	}
	defer p.Close()

	reports := make(chan ckafka.Event, n)
	var acks []ack
	collect := func(ev ckafka.Event) {
		m, ok := ev.(*ckafka.Message)
		if !ok {
			t.Fatalf("librdkafka: unexpected delivery event %v", ev)
		}
		if m.TopicPartition.Error != nil {
			t.Fatalf("librdkafka: delivery of %s failed: %v", m.Value, m.TopicPartition.Error)
		}
		seq, err := seqOf(string(m.Value))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack{Seq: seq, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset)})
	}
	for seq := range n {
		if seq == n/2 {
			// Half produced: once enough of it is acknowledged, restart
			// under the rest (many records are still queued or in flight).
			for len(acks) < restartAfter {
				select {
				case ev := <-reports:
					collect(ev)
				case <-ctx.Done():
					t.Fatalf("librdkafka: %d acknowledgements before the restart: %v", len(acks), ctx.Err())
				}
			}
			t.Logf("restarting with %d records produced, %d acknowledged", seq, len(acks))
			brokertest.Restart(t, s) // the old server is closed; the new one closes at cleanup
		}
		m := &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: kmsg.StringPtr(topic), Partition: ckafka.PartitionAny},
			Key:            []byte(recKey(seq)),
			Value:          []byte(recValue(seq)),
		}
		for err := p.Produce(m, reports); err != nil; err = p.Produce(m, reports) {
			if ke, ok := err.(ckafka.Error); !ok || ke.Code() != ckafka.ErrQueueFull || ctx.Err() != nil {
				t.Fatalf("librdkafka: producing seq %d: %v (%v)", seq, err, ctx.Err())
			}
			p.Flush(10) // let the queue drain, then retry this record
		}
		for drained := false; !drained; {
			select {
			case ev := <-reports:
				collect(ev)
			default:
				drained = true
			}
		}
	}
	for len(acks) < n {
		select {
		case ev := <-reports:
			collect(ev)
		case <-ctx.Done():
			t.Fatalf("librdkafka: %d of %d delivery reports: %v", len(acks), n, ctx.Err())
		}
	}
	ends := endsOf(acks)
	if got := listOffsets(ctx, t, adm, topic, false); !equalOffsets(got, ends) {
		t.Errorf("broker end offsets %v, acknowledgements end at %v: the log holds records nobody was told about (duplicates)", got, ends)
	}
	checkExact(t, acks, kgoConsume(ctx, t, addr, topic, ends), true)
}

// TestIdempotentBatchSentTwice sends the same idempotent batch twice as raw
// Produce requests (same producer id, epoch and sequence): the retry must get
// the original base offset and the log must hold the batch once. It also
// checks a retry of an older batch, a sequence gap, and a retry after a
// broker restart (producer state is recovered from disk).
func TestIdempotentBatchSentTwice(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	s, addr := startBroker(t)
	adm := newAdmin(t, addr)
	const topic = "idempotent-raw"
	createTopic(ctx, t, adm, topic, 1, nil)
	cl := newKgo(t, addr)

	initReq := kmsg.NewPtrInitProducerIDRequest()
	initReq.TransactionTimeoutMillis = 60_000
	kresp, err := cl.Request(ctx, initReq)
	if err != nil {
		t.Fatalf("InitProducerID: %v", err)
	}
	ip := kresp.(*kmsg.InitProducerIDResponse)
	if err := kerr.ErrorForCode(ip.ErrorCode); err != nil {
		t.Fatalf("InitProducerID: %v", err)
	}
	pid, epoch := ip.ProducerID, ip.ProducerEpoch
	if pid < 0 || epoch < 0 {
		t.Fatalf("InitProducerID gave producer id %d epoch %d", pid, epoch)
	}

	send := func(cl *kgo.Client, firstSeq int32, seqs []int) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 10_000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = 0
		rp.Records = idempotentBatch(pid, epoch, firstSeq, seqs)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("produce seq %d: %v", firstSeq, err)
		}
		resp := kresp.(*kmsg.ProduceResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("produce seq %d: response has %d topics", firstSeq, len(resp.Topics))
		}
		return resp.Topics[0].Partitions[0]
	}
	expect := func(what string, got kmsg.ProduceResponseTopicPartition, base int64, hw int64) {
		t.Helper()
		if err := kerr.ErrorForCode(got.ErrorCode); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.BaseOffset != base {
			t.Errorf("%s: base offset %d, want %d", what, got.BaseOffset, base)
		}
		if end := listOffsets(ctx, t, adm, topic, false)[0]; end != hw {
			t.Errorf("%s: log end %d, want %d", what, end, hw)
		}
	}

	expect("first send of sequence 0-4", send(cl, 0, seqRange(0, 5)), 0, 5)
	expect("same batch again", send(cl, 0, seqRange(0, 5)), 0, 5)
	expect("sequence 5-7", send(cl, 5, seqRange(5, 8)), 5, 8)
	expect("retry of the older batch 0-4", send(cl, 0, seqRange(0, 5)), 0, 8)

	gap := send(cl, 100, seqRange(100, 101))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Errorf("sequence 100 after 7: error %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(gap.ErrorCode))
	}
	if end := listOffsets(ctx, t, adm, topic, false)[0]; end != 8 {
		t.Errorf("after the refused gap: log end %d, want 8", end)
	}

	brokertest.Restart(t, s) // the old server is closed; the new one closes at cleanup
	cl2 := newKgo(t, addr)
	expect("retry of 5-7 after a restart", send(cl2, 5, seqRange(5, 8)), 5, 8)
	expect("sequence 8-9 after a restart", send(cl2, 8, seqRange(8, 10)), 8, 10)

	batches, code := rawBatches(ctx, t, cl2, topic, 0, 0)
	if code != 0 {
		t.Fatalf("raw fetch: %v", kerr.ErrorForCode(code))
	}
	if len(batches) != 3 {
		t.Errorf("log holds %d batches, want 3: %+v", len(batches), batches)
	}
	for _, b := range batches {
		if b.ProducerID != pid {
			t.Errorf("batch at %d has producer id %d, want %d", b.BaseOffset, b.ProducerID, pid)
		}
	}
	var acks []ack
	for seq := range 10 {
		acks = append(acks, ack{Seq: seq, Partition: 0, Offset: int64(seq)})
	}
	checkExact(t, acks, kgoConsume(ctx, t, addr, topic, map[int32]int64{0: 10}), true)
}

// idempotentBatch builds an uncompressed v2 record batch of the records seqs
// for producer pid/epoch starting at sequence firstSeq.
func idempotentBatch(pid int64, epoch int16, firstSeq int32, seqs []int) []byte {
	ts := time.Now().UnixMilli()
	var recs []byte
	for i, seq := range seqs {
		r := kmsg.Record{OffsetDelta: int32(i), Key: []byte(recKey(seq)), Value: []byte(recValue(seq))}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // everything after the 1-byte varint 0
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(seqs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        firstSeq,
		NumRecords:           int32(len(seqs)),
		Records:              recs,
	}
	raw := b.AppendTo(nil)
	// Length counts the bytes after itself; the CRC-32C covers everything
	// from the attributes (after the CRC field) to the end.
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}
