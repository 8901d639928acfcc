package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/broker/log/logtest"
)

// FuzzDispatch feeds arbitrary request frames (what readLoop hands to
// dispatch: everything after the size prefix) into the request decoding path
// of a real broker, runs the handler's completion and encodes the response.
// It must never panic or hang, and every response must encode into something
// a client decodes again.
//
//	go test -run=^$ -fuzz=FuzzDispatch -fuzztime=10s ./broker/
func FuzzDispatch(f *testing.F) {
	s := fuzzServer(f)
	var validFrames [][]byte
	for _, req := range fuzzSeedRequests() {
		frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, req, 42)[4:]
		validFrames = append(validFrames, frame)
		f.Add(frame)
		f.Add(frame[:len(frame)/2])                              // truncated body
		f.Add(frame[:len(frame)-1])                              // one byte short
		f.Add(append(append([]byte(nil), frame...), 0xff, 0xff)) // trailing junk
		if body := fuzzBodyStart(frame); body+4 <= len(frame) {
			inflated := append([]byte(nil), frame...)
			binary.BigEndian.PutUint32(inflated[body:], 0x7fffffff) // first length field: huge
			f.Add(inflated)
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0, 0}) // ApiVersions v99
	f.Add([]byte{3, 231, 0, 0, 0, 0, 0, 1, 0, 0}) // unknown key 999
	f.Add([]byte{0, 3, 0, 9, 0, 0, 0, 1, 1, 244}) // client id longer than the frame

	client, peer := net.Pipe()
	f.Cleanup(func() { client.Close(); peer.Close() })

	// Every valid seed must get through dispatch: a rejected one is either
	// a broken seed or a broker that refuses valid requests.
	for i, frame := range validFrames {
		if err := fuzzOne(f, s, peer, frame); err != nil {
			f.Errorf("valid seed %d (key %d v%d) refused: %v", i, int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:])), err)
		}
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		// readLoop's guarantees: at least a header, non-produce frames at
		// most nonProduceMaxBytes.
		if len(frame) < 8 || len(frame) > nonProduceMaxBytes {
			return
		}
		if fuzzTooCostly(frame) {
			return
		}
		fuzzOne(t, s, peer, frame)
	})
}

// fuzzOne dispatches frame on a fresh connection, runs the completion with a
// short deadline and checks the encoded response. It returns dispatch's error
// (the connection would be closed).
func fuzzOne(t testing.TB, s *Server, peer net.Conn, frame []byte) error {
	t.Helper()
	// A hang anywhere (dispatch, completion, tidying) crashes the fuzz
	// worker with every goroutine's stack, so the fuzzer keeps the input.
	watchdog := time.AfterFunc(fuzzHang, func() {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("input of %d bytes (key %d v%d) still running after %v:\n%s", len(frame),
			int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:])), fuzzHang, buf))
	})
	defer watchdog.Stop()
	defer fuzzTidy(t, s)
	c := newConn(s, peer)
	defer c.cancel()
	in, err := c.dispatch(frame)
	if err != nil {
		return err
	}
	if in.complete == nil {
		t.Fatalf("dispatch returned no completion and no error for key %d v%d", in.key, in.version)
	}
	// Long polls and group waits end with the context; the broker's own
	// bounds (30 s fetch wait) are too long for a fuzzer.
	ctx, cancel := context.WithTimeout(c.ctx, 50*time.Millisecond)
	defer cancel()
	respCh := make(chan kmsg.Response, 1)
	go func() { respCh <- in.complete(ctx) }()
	resp := <-respCh
	if resp == nil {
		if in.key != 0 {
			t.Fatalf("no response for key %d v%d (only acks=0 produce has none)", in.key, in.version)
		}
		return nil
	}
	resp.SetVersion(in.version)
	fuzzCheckResponse(t, in, appendResponse(nil, in, resp))
	return nil
}

// fuzzServer starts a broker for the fuzz target with one topic holding data.
func fuzzServer(f *testing.F) *Server {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := Start(Options{
		Listen:  "127.0.0.1:0",
		DataDir: f.TempDir(),
		// Metadata must not create a topic for every random name.
		AutoCreateTopics: false,
		Logger:           logger,
	})
	if err != nil {
		f.Fatalf("starting broker: %v", err)
	}
	f.Cleanup(func() {
		if err := s.Close(); err != nil {
			f.Errorf("closing broker: %v", err)
		}
	})
	fuzzEnsureTopic(f, s)
	return s
}

const (
	fuzzTopic = "fuzz"
	// fuzzHang is how long one input may take, completion included.
	fuzzHang = 20 * time.Second
)

func fuzzEnsureTopic(tb testing.TB, s *Server) {
	if s.topics.get(fuzzTopic) != nil {
		return
	}
	if _, err := s.topics.create(fuzzTopic, 2, nil, false); err != nil {
		tb.Fatalf("creating topic %s: %v", fuzzTopic, err)
	}
	p := s.topics.partition(fuzzTopic, 0)
	if _, err := p.log.Append(fuzzBatch()); err != nil {
		tb.Fatalf("appending to %s-0: %v", fuzzTopic, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.log.WaitDurable(ctx, 1); err != nil {
		tb.Fatalf("waiting for %s-0: %v", fuzzTopic, err)
	}
}

// fuzzTidy keeps the broker's state small across inputs: created topics and
// partitions cost files and descriptors.
func fuzzTidy(t testing.TB, s *Server) {
	if s.topics.count() > 16 {
		for _, name := range s.topics.names() {
			if name != fuzzTopic {
				if err := s.topics.delete(name); err != nil {
					t.Fatalf("deleting topic %s: %v", name, err)
				}
			}
		}
	}
	fuzzEnsureTopic(t, s)
}

// fuzzTooCostly skips inputs that would create many partitions: valid, but
// each is a directory and open files, and the fuzzer would find them often.
func fuzzTooCostly(frame []byte) bool {
	key := int16(binary.BigEndian.Uint16(frame))
	if key != 19 && key != 37 {
		return false
	}
	req := kmsg.RequestForKey(key)
	req.SetVersion(int16(binary.BigEndian.Uint16(frame[2:])))
	body := fuzzBodyStart(frame)
	if body < 0 || body > len(frame) {
		return false
	}
	b := frame[body:]
	if req.IsFlexible() {
		var err error
		if b, err = skipTags(b); err != nil {
			return false
		}
	}
	if req.ReadFrom(b) != nil {
		return false
	}
	var partitions int64
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			partitions += int64(max(t.NumPartitions, 1)) + int64(len(t.ReplicaAssignment))
		}
	case *kmsg.CreatePartitionsRequest:
		for _, t := range r.Topics {
			partitions += int64(max(t.Count, 0))
		}
	}
	return partitions > 16
}

// fuzzBodyStart is the offset of the client id's end in a frame (where the
// body, or a flexible header's tags, starts), or -1.
func fuzzBodyStart(frame []byte) int {
	if len(frame) < 10 {
		return -1
	}
	n := int(int16(binary.BigEndian.Uint16(frame[8:])))
	return 10 + max(n, 0)
}

// fuzzCheckResponse checks that an encoded response frame is well formed and
// decodes as the request's version.
func fuzzCheckResponse(t testing.TB, in inflight, buf []byte) {
	t.Helper()
	if len(buf) < 8 {
		t.Fatalf("key %d v%d: response frame of %d bytes", in.key, in.version, len(buf))
	}
	if size := int(binary.BigEndian.Uint32(buf)); size != len(buf)-4 {
		t.Fatalf("key %d v%d: response size prefix %d, frame has %d bytes", in.key, in.version, size, len(buf)-4)
	}
	if corr := int32(binary.BigEndian.Uint32(buf[4:])); corr != in.correlation {
		t.Fatalf("key %d v%d: correlation id %d, want %d", in.key, in.version, corr, in.correlation)
	}
	resp := kmsg.ResponseForKey(in.key)
	resp.SetVersion(in.version)
	body := buf[8:]
	if resp.IsFlexible() && in.key != apiVersionsKey {
		var err error
		if body, err = skipTags(body); err != nil {
			t.Fatalf("key %d v%d: response header tags: %v", in.key, in.version, err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("key %d v%d: response does not decode: %v", in.key, in.version, err)
	}
}

func fuzzBatch() []byte {
	return logtest.Batch(logtest.BatchOpts{}, logtest.Values(1700000000000, "a", "b")...)
}

// fuzzSeedRequests are valid requests of every API, at several versions.
func fuzzSeedRequests() []kmsg.Request {
	topic := fuzzTopic
	var out []kmsg.Request
	// add appends a copy of r for each version: frames are encoded later,
	// and r itself is reused for the next version.
	add := func(r kmsg.Request, versions ...int16) {
		for _, v := range versions {
			r.SetVersion(v)
			frame := r.AppendTo(nil)
			c := kmsg.RequestForKey(r.Key())
			c.SetVersion(v)
			if err := c.ReadFrom(frame); err != nil {
				panic(err)
			}
			out = append(out, c)
		}
	}

	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "fuzz", "1.0"
	add(av, 0, 3)

	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, mt)
	add(md, 0, 4, 9, 12)
	mdAll := kmsg.NewPtrMetadataRequest()
	add(mdAll, 9)

	for _, acks := range []int16{-1, 1, 0} {
		pr := kmsg.NewPtrProduceRequest()
		pr.Acks, pr.TimeoutMillis = acks, 1000
		pt := kmsg.NewProduceRequestTopic()
		pt.Topic = topic
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition, pp.Records = 1, fuzzBatch()
		pt.Partitions = append(pt.Partitions, pp)
		pr.Topics = append(pr.Topics, pt)
		add(pr, 3, 7, 9)
	}

	fr := kmsg.NewPtrFetchRequest()
	fr.ReplicaID, fr.MaxWaitMillis, fr.MaxBytes = -1, 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	for p := range int32(2) {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, 0, 1<<20, -1
		ft.Partitions = append(ft.Partitions, fp)
	}
	fr.Topics = append(fr.Topics, ft)
	add(fr, 4, 11, 12)

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, ts := range []int64{-1, -2, -3, 0} {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp, lp.MaxNumOffsets = ts, 1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	add(lo, 0, 1, 7)

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g", "h"}
	add(fc, 0, 3, 4)

	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Group, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis, jg.ProtocolType = "g", 10000, 10000, "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name, jp.Metadata = "range", meta.AppendTo(nil)
	jg.Protocols = append(jg.Protocols, jp)
	add(jg, 0, 5, 9)

	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Group, sg.Generation, sg.MemberID = "g", 1, "m"
	sg.ProtocolType, sg.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sga := kmsg.NewSyncGroupRequestGroupAssignment()
	sga.MemberID, sga.MemberAssignment = "m", []byte{0, 0, 0, 0, 0, 0, 0, 0}
	sg.GroupAssignment = append(sg.GroupAssignment, sga)
	add(sg, 0, 5)

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID = "g", 1, "m"
	add(hb, 0, 4)

	lg := kmsg.NewPtrLeaveGroupRequest()
	lg.Group, lg.MemberID = "g", "m"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = "m"
	lg.Members = append(lg.Members, lm)
	add(lg, 0, 5)

	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "g", -1
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = topic
	ocp := kmsg.NewOffsetCommitRequestTopicPartition()
	ocp.Partition, ocp.Offset, ocp.Metadata = 0, 1, kmsg.StringPtr("meta")
	oct.Partitions = append(oct.Partitions, ocp)
	oc.Topics = append(oc.Topics, oct)
	add(oc, 0, 2, 8)

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "g"
	oft := kmsg.NewOffsetFetchRequestTopic()
	oft.Topic, oft.Partitions = topic, []int32{0, 1}
	of.Topics = append(of.Topics, oft)
	ofg := kmsg.NewOffsetFetchRequestGroup()
	ofg.Group = "g"
	of.Groups = append(of.Groups, ofg)
	add(of, 1, 7, 8)

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"g", "nope"}
	add(dg, 0, 5)
	add(kmsg.NewPtrListGroupsRequest(), 0, 4)
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"nope"}
	add(del, 0, 2)
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = topic
	odp := kmsg.NewOffsetDeleteRequestTopicPartition()
	odt.Partitions = append(odt.Partitions, odp)
	od.Topics = append(od.Topics, odt)
	add(od, 0)

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.TimeoutMillis = 1000
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "fuzz-new", 2, 1
	ctc := kmsg.NewCreateTopicsRequestTopicConfig()
	ctc.Name, ctc.Value = "retention.ms", kmsg.StringPtr("60000")
	ctt.Configs = append(ctt.Configs, ctc)
	ct.Topics = append(ct.Topics, ctt)
	add(ct, 0, 5, 7)

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis, dt.TopicNames = 1000, []string{"fuzz-new"}
	dtt := kmsg.NewDeleteTopicsRequestTopic()
	dtt.Topic = kmsg.StringPtr("fuzz-new")
	dt.Topics = append(dt.Topics, dtt)
	add(dt, 0, 6)

	dr := kmsg.NewPtrDeleteRecordsRequest()
	dr.TimeoutMillis = 1000
	drt := kmsg.NewDeleteRecordsRequestTopic()
	drt.Topic = topic
	drp := kmsg.NewDeleteRecordsRequestTopicPartition()
	drp.Partition, drp.Offset = 1, 0
	drt.Partitions = append(drt.Partitions, drp)
	dr.Topics = append(dr.Topics, drt)
	add(dr, 0, 2)

	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionTimeoutMillis = 60000
	add(ip, 0, 4)

	oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oe.ReplicaID = -1
	oet := kmsg.NewOffsetForLeaderEpochRequestTopic()
	oet.Topic = topic
	oep := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	oep.CurrentLeaderEpoch, oep.LeaderEpoch = -1, 0
	oet.Partitions = append(oet.Partitions, oep)
	oe.Topics = append(oe.Topics, oet)
	add(oe, 0, 4)

	dc := kmsg.NewPtrDescribeConfigsRequest()
	for _, rt := range []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker} {
		dcr := kmsg.NewDescribeConfigsRequestResource()
		dcr.ResourceType, dcr.ResourceName = rt, topic
		if rt == kmsg.ConfigResourceTypeBroker {
			dcr.ResourceName = "0"
		}
		dc.Resources = append(dc.Resources, dcr)
	}
	add(dc, 0, 4)

	ac := kmsg.NewPtrAlterConfigsRequest()
	acr := kmsg.NewAlterConfigsRequestResource()
	acr.ResourceType, acr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	acc := kmsg.NewAlterConfigsRequestResourceConfig()
	acc.Name, acc.Value = "retention.ms", kmsg.StringPtr("86400000")
	acr.Configs = append(acr.Configs, acc)
	ac.Resources = append(ac.Resources, acr)
	ac.ValidateOnly = true
	add(ac, 0, 2)

	ia := kmsg.NewPtrIncrementalAlterConfigsRequest()
	iar := kmsg.NewIncrementalAlterConfigsRequestResource()
	iar.ResourceType, iar.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	iac := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	iac.Name, iac.Op, iac.Value = "retention.bytes", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1000000")
	iar.Configs = append(iar.Configs, iac)
	ia.Resources = append(ia.Resources, iar)
	add(ia, 0, 1)

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis, cp.ValidateOnly = 1000, true
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = topic, 3
	cp.Topics = append(cp.Topics, cpt)
	add(cp, 0, 3)

	add(kmsg.NewPtrDescribeClusterRequest(), 0, 1)
	return out
}
