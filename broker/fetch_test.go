package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/internal/brokertest"
)

func fetchAt(topic string, offset int64, maxWait, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, minBytes, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// Long polling: a fetch at the high watermark waits for data and returns as
// soon as a record is produced; a fetch whose MinBytes cannot be met returns
// what there is once MaxWait has passed; an offset beyond the log is
// OFFSET_OUT_OF_RANGE without waiting.
func TestFetchLongPoll(t *testing.T) {
	s := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.DefaultProduceTopic("lp"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// 1. Parked at the high watermark (1) with a 30 s wait: a produce wakes it.
	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := fetchAt("lp", 1, 30_000, 1).RequestWith(ctx, cl)
		done <- result{r, err}
	}()
	// Produce until the parked fetch answers: it must answer with the new record.
	var got result
	for i := 0; ; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("wake")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		select {
		case got = <-done:
		case <-time.After(2 * time.Second):
			if i < 5 {
				continue
			}
			t.Fatal("a fetch parked at the high watermark did not answer after records were produced")
		}
		break
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	p := got.resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark < 2 {
		t.Fatalf("woken fetch: error %d, %d bytes of records, high watermark %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
	}

	// 2. MinBytes far above what exists: answered with the existing records after MaxWait.
	start := time.Now()
	resp, err := fetchAt("lp", 0, 300, 10<<20).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p = resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("min-bytes fetch: error %d, %d bytes of records", p.ErrorCode, len(p.RecordBatches))
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("a fetch whose MinBytes was not met answered after %v, before its 300ms MaxWait", waited)
	}

	// 3. Beyond the log end: OFFSET_OUT_OF_RANGE, at once rather than after
	// the 30 s wait (the request context allows 20 s).
	ctx3, cancel3 := context.WithTimeout(ctx, 20*time.Second)
	defer cancel3()
	resp, err = fetchAt("lp", 1_000_000, 30_000, 1).RequestWith(ctx3, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch beyond the log end: error %d, want OFFSET_OUT_OF_RANGE", code)
	}
}

// Metadata for a topic that cannot exist names the reason: an invalid name
// is INVALID_TOPIC_EXCEPTION even with auto-creation on.
func TestMetadataInvalidTopicName(t *testing.T) {
	s := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for _, name := range []string{"bad name!", "ok-topic"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, tp := range resp.Topics {
		codes[*tp.Topic] = tp.ErrorCode
	}
	if codes["bad name!"] != kerr.InvalidTopicException.Code {
		t.Errorf("invalid name: error %d, want INVALID_TOPIC_EXCEPTION", codes["bad name!"])
	}
	if codes["ok-topic"] != 0 {
		t.Errorf("valid name with auto-creation: error %d, want created", codes["ok-topic"])
	}
}
