// Package badinput throws malformed, hostile and stalling input at a broker
// over raw TCP sockets and checks that it refuses it the way Kafka does,
// without big allocations, without disturbing other clients, and that it
// still serves normal traffic afterwards.
package badinput

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/broker"
	"github.com/tributary/tributary/broker/log/logtest"
	"github.com/tributary/tributary/internal/brokertest"
)

// TestBadInput runs every kind of bad input against one broker, in order,
// and ends with a normal produce/fetch round trip on the same broker.
func TestBadInput(t *testing.T) {
	s := brokertest.Start(t)
	addr := s.Addr().String()
	maxReq := s.Options().SocketRequestMaxBytes
	maxMsg := s.Options().TopicDefaults.MaxMessageBytes
	createTopic(t, addr, "bad", 1)

	t.Run("frame shorter than a header", func(t *testing.T) {
		for _, n := range []int32{0, 1, 4, 7} {
			c := dial(t, addr)
			c.write(append(sizePrefix(n), make([]byte, n)...))
			c.expectClosed(fmt.Sprintf("size prefix %d", n))
		}
	})

	t.Run("negative size prefix", func(t *testing.T) {
		for _, n := range []int32{-1, -8, math.MinInt32} {
			c := dial(t, addr)
			c.write(append(sizePrefix(n), header(18, 0, 1, "neg")...))
			c.expectClosed(fmt.Sprintf("size prefix %d", n))
		}
	})

	t.Run("size prefix over socket_request_max_bytes", func(t *testing.T) {
		for _, n := range []int32{maxReq + 1, math.MaxInt32} {
			noBigAllocation(t, int64(n), func() {
				c := dial(t, addr)
				c.writeMayClose(append(sizePrefix(n), header(0, 9, 1, "huge")...))
				c.expectClosed(fmt.Sprintf("size prefix %d (socket_request_max_bytes %d)", n, maxReq))
			})
		}
	})

	t.Run("large claimed frame, few bytes sent", func(t *testing.T) {
		// Within socket_request_max_bytes, so the broker reads on; it must
		// allocate as bytes arrive, not what the prefix claims.
		claim := maxReq - 1
		noBigAllocation(t, int64(claim), func() {
			c := dial(t, addr)
			c.write(append(sizePrefix(claim), header(0, 9, 1, "liar")...))
			c.write(make([]byte, 300<<10))
			c.closeWrite()
			c.expectClosed("produce frame claiming " + strconv.Itoa(int(claim)) + " bytes, cut after 300 KiB")
		})
		// Non-produce APIs may not be larger than 1 MiB at all.
		noBigAllocation(t, 64<<20, func() {
			c := dial(t, addr)
			c.write(append(sizePrefix(64<<20), header(3, 9, 1, "liar")...))
			c.writeMayClose(make([]byte, 300<<10))
			c.expectClosed("metadata frame claiming 64 MiB")
		})
	})

	t.Run("truncated frames", func(t *testing.T) {
		meta := kmsg.NewPtrMetadataRequest()
		meta.Version = 9
		meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("bad")}}
		c := dial(t, addr)
		whole := c.frame(meta)

		// The size prefix promises more than is sent, then EOF.
		c.write(whole[:len(whole)-3])
		c.closeWrite()
		c.expectClosed("frame cut short, then EOF")

		// The size prefix matches, but the body inside is cut.
		for _, cut := range []int{1, 3, len(whole) - 4 - 10} {
			body := whole[4 : len(whole)-cut]
			c := dial(t, addr)
			c.write(sized(body))
			c.expectClosed(fmt.Sprintf("metadata v9 body cut by %d bytes", cut))
		}

		// Client id longer than the frame.
		h := header(3, 9, 1, "x")
		binary.BigEndian.PutUint16(h[8:], 500)
		c = dial(t, addr)
		c.write(sized(h))
		c.expectClosed("client id length beyond the frame")

		// Flexible header whose tag section lies about its size.
		c = dial(t, addr)
		c.write(sized(append(header(3, 9, 1, "x"), 1, 0, 100)))
		c.expectClosed("header tag of 100 bytes in a 3-byte tail")

		// A truncated ApiVersions is answered (INVALID_REQUEST), as Kafka does,
		// so that clients learn what went wrong.
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		av.ClientSoftwareName, av.ClientSoftwareVersion = "badinput", "1"
		c = dial(t, addr)
		c.corr++
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("badinput")).AppendRequest(nil, av, c.corr)
		c.write(sized(f[4 : len(f)-5]))
		resp := c.receive(18, 3, c.corr).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("truncated ApiVersions v3: error code %d, want INVALID_REQUEST (%d)", resp.ErrorCode, kerr.InvalidRequest.Code)
		}
	})

	t.Run("unknown API key", func(t *testing.T) {
		for _, key := range []int16{-1, 24 /* AddPartitionsToTxn: real, not implemented */, 999, math.MaxInt16} {
			c := dial(t, addr)
			c.write(sized(append(header(key, 0, 1, "unknown"), 0, 0, 0, 0)))
			c.expectClosed(fmt.Sprintf("API key %d", key))
		}
	})

	t.Run("unsupported version", func(t *testing.T) {
		// ApiVersions answers in v0 with UNSUPPORTED_VERSION and our list
		// (KIP-511), and the connection stays usable.
		c := dial(t, addr)
		c.write(sized(header(18, 99, 7, "future")))
		resp := c.receive(18, 0, 7).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("ApiVersions v99: error code %d, want UNSUPPORTED_VERSION (%d)", resp.ErrorCode, kerr.UnsupportedVersion.Code)
		}
		found := false
		for _, k := range resp.ApiKeys {
			if k.ApiKey == 18 {
				found = k.MinVersion == 0 && k.MaxVersion >= 3
			}
		}
		if len(resp.ApiKeys) < 10 || !found {
			t.Errorf("ApiVersions v99: answer lists %d APIs (ApiVersions 0-3 among them: %v), want the full list", len(resp.ApiKeys), found)
		}
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		av.ClientSoftwareName, av.ClientSoftwareVersion = "badinput", "1"
		if r := c.roundTrip(av).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
			t.Errorf("ApiVersions v3 after v99 on the same connection: error code %d", r.ErrorCode)
		}

		// Any other API closes the connection.
		for _, kv := range [][2]int16{{3, 99}, {0, 2}, {0, 10}, {1, 3}, {1, 13}} {
			c := dial(t, addr)
			c.write(sized(append(header(kv[0], kv[1], 1, "old"), make([]byte, 16)...)))
			c.expectClosed(fmt.Sprintf("%s v%d", kmsg.NameForKey(kv[0]), kv[1]))
		}
	})

	good := logtest.Batch(logtest.BatchOpts{}, logtest.Values(time.Now().UnixMilli(), "first", "second")...)
	c := dial(t, addr)
	if code := produce(c, "bad", good); code != 0 {
		t.Fatalf("producing a valid batch: %v", kerr.ErrorForCode(code))
	}
	want := fetchAll(t, c, "bad")

	t.Run("refused batches", func(t *testing.T) {
		corrupt := bytes.Clone(good)
		corrupt[len(corrupt)-2] ^= 0xff // inside the last record's value
		magic1 := logtest.Batch(logtest.BatchOpts{Magic: 1}, logtest.Values(1, "v1")...)
		tooLong := bytes.Clone(good)
		binary.BigEndian.PutUint32(tooLong[8:], uint32(len(good))) // batch length past the end
		huge := logtest.Batch(logtest.BatchOpts{}, logtest.Record{Value: make([]byte, maxMsg+1), Timestamp: 1})
		cases := []struct {
			name    string
			records []byte
			want    int16
		}{
			{"bad CRC", corrupt, kerr.CorruptMessage.Code},
			{"bad CRC after a good batch", logtest.Concat(good, corrupt), kerr.CorruptMessage.Code},
			{"batch length beyond the data", tooLong, kerr.CorruptMessage.Code},
			{"truncated batch", good[:len(good)-5], kerr.CorruptMessage.Code},
			{"magic 1 batch", magic1, kerr.UnsupportedForMessageFormat.Code},
			{"legacy v1 message set", legacyMessageV1([]byte("old client")), kerr.UnsupportedForMessageFormat.Code},
			{"good batch then magic 1", logtest.Concat(good, magic1), kerr.UnsupportedForMessageFormat.Code},
			{"batch over max.message.bytes", huge, kerr.MessageTooLarge.Code},
		}
		for _, tc := range cases {
			if got := produce(c, "bad", tc.records); got != tc.want {
				t.Errorf("%s: error %v, want %v", tc.name, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
			}
		}
		if got := fetchAll(t, c, "bad"); !bytes.Equal(got, want) {
			t.Errorf("log changed by refused batches: %d bytes, want the %d of the one valid batch", len(got), len(want))
		}
	})

	t.Run("stalled clients do not hold up others", func(t *testing.T) {
		// One client stops in the middle of a frame; another sends fetches
		// and never reads the answers.
		stalled := dial(t, addr)
		stalled.write(append(sizePrefix(1000), header(0, 9, 1, "stall")...))
		// The deaf client's answers (1 MiB each) fill the socket buffers,
		// so the broker's writer for it blocks.
		createTopic(t, addr, "big", 1)
		for range 4 {
			big := logtest.Batch(logtest.BatchOpts{}, logtest.Record{Value: bytes.Repeat([]byte("x"), 256<<10), Timestamp: 1})
			if code := produce(c, "big", big); code != 0 {
				t.Fatalf("producing to big: %v", kerr.ErrorForCode(code))
			}
		}
		deaf := dial(t, addr)
		for range 32 {
			deaf.write(fetchFrame(deaf, "big", 0))
		}
		normalTraffic(t, addr, "stall", 20)
		stalled.close()
		deaf.close()
	})

	t.Run("garbage connections in parallel", func(t *testing.T) {
		seed := uint64(1)
		if env := os.Getenv("TRIBUTARY_BADINPUT_SEED"); env != "" {
			seed, _ = strconv.ParseUint(env, 10, 64)
		}
		t.Logf("garbage seed %d (set TRIBUTARY_BADINPUT_SEED to change)", seed)
		const conns = 200
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- garbageConn(addr, rand.New(rand.NewPCG(seed, uint64(i))))
			}()
		}
		normalTraffic(t, addr, "garbage", 10)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		waitConnections(t, s, 1) // only c is left
	})

	t.Run("still serves", func(t *testing.T) {
		normalTraffic(t, addr, "after", 5)
		if got := fetchAll(t, c, "bad"); !bytes.Equal(got, want) {
			t.Errorf("log of topic bad changed: %d bytes, want %d", len(got), len(want))
		}
	})
}

// noBigAllocation runs fn and fails if the process allocated anything close
// to claimed bytes meanwhile (the broker runs in this process).
func noBigAllocation(t *testing.T, claimed int64, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	limit := min(claimed/8, 16<<20)
	t.Logf("frame claiming %d bytes: %d bytes allocated meanwhile", claimed, after.TotalAlloc-before.TotalAlloc)
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > limit {
		t.Errorf("a frame claiming %d bytes made the process allocate %d bytes (limit %d)", claimed, grew, limit)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > claimed/2 {
		t.Errorf("a frame claiming %d bytes grew the heap by %d bytes", claimed, grew)
	}
}

// produce sends one acks=all produce request for partition 0 of topic and
// returns the partition's error code.
func produce(c *rawConn, topic string, records []byte) int16 {
	c.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		c.t.Fatalf("produce response for %d topics, want 1 with 1 partition", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func fetchRequest(topic string, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.MaxWaitMillis, req.ReplicaID = 12, 64<<20, 0, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, offset, 64<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchFrame(c *rawConn, topic string, offset int64) []byte {
	return c.frame(fetchRequest(topic, offset))
}

// fetchAll returns the record batch bytes of partition 0 of topic from offset 0.
func fetchAll(t *testing.T, c *rawConn, topic string) []byte {
	t.Helper()
	resp := c.roundTrip(fetchRequest(topic, 0)).(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("fetch %s: %v", topic, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s: response for %d topics, want 1 with 1 partition", topic, len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch %s: %v", topic, err)
	}
	if _, err := logtest.Decode(p.RecordBatches); err != nil {
		t.Errorf("fetch %s: stored batches do not decode: %v", topic, err)
	}
	return p.RecordBatches
}

func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	c := dial(t, addr)
	defer c.close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics %s: %d topics in the answer", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
}

// normalTraffic produces n records one at a time with acks=all and consumes
// them back with a regular client; every step must finish within 5 s.
func normalTraffic(t *testing.T, addr, topic string, n int) {
	t.Helper()
	const step = 5 * time.Second
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var produced []string
	for i := range n {
		v := fmt.Sprintf("%s-%d-%d", topic, time.Now().UnixNano(), i)
		ctx, cancel := context.WithTimeout(context.Background(), step)
		start := time.Now()
		err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr()
		cancel()
		if err != nil {
			t.Fatalf("produce %d to %s: %v after %v", i, topic, err, time.Since(start))
		}
		produced = append(produced, v)
	}
	seen := make(map[string]bool)
	ctx, cancel := context.WithTimeout(context.Background(), step)
	defer cancel()
	for _, v := range produced {
		for !seen[v] {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consuming %s: record %q not seen within %v", topic, v, step)
			}
			for _, fe := range fs.Errors() {
				t.Fatalf("consuming %s: %v", topic, fe.Err)
			}
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
	}
}

// garbageConn sends one of several kinds of junk, half-closes and waits for
// the broker to close the connection.
func garbageConn(addr string, rng *rand.Rand) error {
	nc, err := netDial(addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	junk := make([]byte, 1+rng.IntN(4096))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	keys := []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 22, 23, 32, 60}
	var msg []byte
	kind := rng.IntN(4)
	switch kind {
	case 0: // pure noise
		msg = junk
	case 1: // honest size, noise inside
		msg = sized(junk)
	case 2: // honest size, real header, noise body
		key := keys[rng.IntN(len(keys))]
		msg = sized(append(header(key, int16(rng.IntN(13)), 1, "junk"), junk...))
	case 3: // size claims more than is sent
		msg = append(sizePrefix(int32(len(junk)+1+rng.IntN(1<<20))), junk...)
	}
	nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := nc.Write(msg); err != nil && !isClosed(err) {
		return fmt.Errorf("garbage kind %d: writing: %w", kind, err)
	}
	nc.CloseWrite()
	if err := drainUntilClosed(nc); err != nil {
		return fmt.Errorf("garbage kind %d (%d bytes): broker did not close the connection: %w", kind, len(msg), err)
	}
	return nil
}

// waitConnections waits until the broker has exactly n open connections.
func waitConnections(t *testing.T, s *broker.Server, n float64) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got := gaugeValue(t, s.Metrics().Registry, "tributary_broker_connections")
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("broker has %v open connections after %v, want %v", got, ioTimeout, n)
			return
		}
		<-tick.C
	}
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// legacyMessageV1 encodes a one-message v1 message set (pre-0.11 clients).
func legacyMessageV1(value []byte) []byte {
	var msg []byte
	msg = append(msg, 1, 0) // magic 1, attributes
	msg = binary.BigEndian.AppendUint64(msg, uint64(time.Now().UnixMilli()))
	msg = binary.BigEndian.AppendUint32(msg, math.MaxUint32) // null key
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(value)))
	msg = append(msg, value...)
	crc := crc32.ChecksumIEEE(msg)
	out := binary.BigEndian.AppendUint64(nil, 0) // offset
	out = binary.BigEndian.AppendUint32(out, uint32(4+len(msg)))
	out = binary.BigEndian.AppendUint32(out, crc)
	return append(out, msg...)
}
