package clients_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary/tributary/broker"
)

func withDefaultPartitions(n int32) func(*broker.Options) {
	return func(o *broker.Options) { o.DefaultPartitions = n }
}

// TestAdminKadm: topic life cycle through franz-go's admin client. kadm
// answers listings from its client's metadata cache (up to 5 s old), so every
// listing after a change uses a fresh client.
func TestAdminKadm(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	_, addr := startBroker(t, withDefaultPartitions(3))
	adm := newAdmin(t, addr)
	const topic = "admin-topic"

	created, err := adm.CreateTopic(ctx, 4, 1, map[string]*string{
		"retention.ms":  kadm.StringPtr("3600000"),
		"segment.bytes": kadm.StringPtr("1048576"),
	}, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("creating %s: %v", topic, err)
	}
	if created.ID == (kadm.TopicID{}) || created.NumPartitions != 4 || created.ReplicationFactor != 1 {
		t.Errorf("created %+v, want an id, 4 partitions, replication factor 1", created)
	}

	refused := []struct {
		name    string
		topic   string
		rf      int16
		configs map[string]*string
		want    *kerr.Error
	}{
		{"existing topic", topic, 1, nil, kerr.TopicAlreadyExists},
		{"unknown config", "admin-bad", 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, kerr.InvalidConfig},
		{"unsupported config value", "admin-bad", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, kerr.InvalidConfig},
		{"malformed config value", "admin-bad", 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
		{"replication factor 3 on one broker", "admin-bad", 3, nil, kerr.InvalidReplicationFactor},
		{"invalid name", "admin bad!", 1, nil, kerr.InvalidTopicException},
	}
	for _, r := range refused {
		resp, err := adm.CreateTopic(ctx, 1, r.rf, r.configs, r.topic)
		if err == nil {
			err = resp.Err
		}
		if !isKafkaErr(err, r.want) {
			t.Errorf("create %s: error %v, want %v", r.name, err, r.want)
		}
	}

	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("listing topics: %v", err)
	}
	if got := topics.Names(); !slices.Equal(got, []string{topic}) {
		t.Errorf("topics %v, want only %s", got, topic)
	}
	detail := topics[topic]
	if len(detail.Partitions) != 4 {
		t.Errorf("%s has %d partitions, want 4", topic, len(detail.Partitions))
	}
	for p, pd := range detail.Partitions {
		if pd.Err != nil || pd.Leader != 0 || !slices.Equal(pd.Replicas, []int32{0}) || !slices.Equal(pd.ISR, []int32{0}) {
			t.Errorf("partition %d: %+v, want leader 0, replicas and ISR [0]", p, pd)
		}
	}
	brokers, err := adm.ListBrokers(ctx)
	if err != nil || len(brokers) != 1 || net.JoinHostPort(brokers[0].Host, strconv.Itoa(int(brokers[0].Port))) != addr {
		t.Errorf("brokers %+v (%v), want one at %s", brokers, err, addr)
	}

	wantConfig(ctx, t, adm, topic, "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(ctx, t, adm, topic, "segment.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(ctx, t, adm, topic, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)

	alter := func(cfgs ...kadm.AlterConfig) error {
		resp, err := adm.AlterTopicConfigs(ctx, cfgs, topic)
		var r kadm.AlterConfigsResponse
		if err == nil {
			r, err = resp.On(topic, nil)
		}
		if err == nil {
			err = r.Err
		}
		return err
	}
	if err := alter(
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("7200000")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "segment.bytes"},
	); err != nil {
		t.Fatalf("altering %s: %v", topic, err)
	}
	wantConfig(ctx, t, adm, topic, "retention.ms", "7200000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(ctx, t, adm, topic, "segment.bytes", strconv.Itoa(1<<30), kmsg.ConfigSourceDefaultConfig)
	if err := alter(kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("later")}); !isKafkaErr(err, kerr.InvalidConfig) {
		t.Errorf("setting retention.ms=later: error %v, want INVALID_CONFIG", err)
	}
	wantConfig(ctx, t, adm, topic, "retention.ms", "7200000", kmsg.ConfigSourceDynamicTopicConfig)

	added, err := adm.CreatePartitions(ctx, 2, topic)
	var cp kadm.CreatePartitionsResponse
	if err == nil {
		cp, err = added.On(topic, nil)
	}
	if err == nil {
		err = cp.Err
	}
	if err != nil {
		t.Errorf("adding 2 partitions: %v", err)
	} else if n := topicPartitions(ctx, t, newAdmin(t, addr), topic); n != 6 {
		t.Errorf("after adding 2 partitions: %d, want 6", n)
	}

	deleted, err := adm.DeleteTopic(ctx, topic)
	if err == nil {
		err = deleted.Err
	}
	if err != nil {
		t.Fatalf("deleting %s: %v", topic, err)
	}
	if topics := listTopicNames(ctx, t, newAdmin(t, addr)); len(topics) != 0 {
		t.Errorf("after delete: topics %v, want none", topics)
	}
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	var r kadm.ResourceConfig
	if err == nil {
		r, err = rc.On(topic, nil)
	}
	if err == nil {
		err = r.Err
	}
	if !isKafkaErr(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("describing deleted topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	// Auto-creation: a Metadata request that allows it creates the topic with
	// the broker's default partition count; one that does not, does not.
	if code := metadataTopicError(ctx, t, addr, "admin-not-created", false); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata without auto-create for a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
	producer := newKgo(t, addr, kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("admin-auto"))
	if err := producer.ProduceSync(ctx, kgoRecord(0, produceOpts{})).FirstErr(); err != nil {
		t.Fatalf("producing to an auto-created topic: %v", err)
	}
	fresh := newAdmin(t, addr)
	if n := topicPartitions(ctx, t, fresh, "admin-auto"); n != 3 {
		t.Errorf("auto-created topic has %d partitions, want the default 3", n)
	}
	if topics := listTopicNames(ctx, t, fresh); !slices.Equal(topics, []string{"admin-auto"}) {
		t.Errorf("topics %v, want only admin-auto", topics)
	}
}

// TestAutoCreateDisabled: with auto_create_topics off, even a Metadata
// request that allows creation creates nothing.
func TestAutoCreateDisabled(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	_, addr := startBroker(t, func(o *broker.Options) { o.AutoCreateTopics = false })
	if code := metadataTopicError(ctx, t, addr, "never-created", true); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata with auto-create for a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("kafka-go: dial: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ReadPartitions("never-created"); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("kafka-go: partitions of a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	topics, err := newAdmin(t, addr).ListTopics(ctx)
	if err != nil || len(topics) != 0 {
		t.Errorf("topics %v (%v), want none", topics.Names(), err)
	}
}

// TestAdminKafkaGo: the same life cycle through kafka-go's Client and Conn,
// the API Tributary's own admin commands use.
func TestAdminKafkaGo(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	_, addr := startBroker(t, withDefaultPartitions(3))
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr}
	const topic = "kafkago-topic"

	created, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "60000"}},
	}}})
	if err == nil {
		err = created.Errors[topic]
	}
	if err != nil {
		t.Fatalf("kafka-go: creating %s: %v", topic, err)
	}
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("kafka-go: dial: %v", err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil || len(parts) != 2 {
		t.Errorf("kafka-go: partitions of %s: %d (%v), want 2", topic, len(parts), err)
	}
	for _, p := range parts {
		if p.Leader.ID != 0 || net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port)) != addr {
			t.Errorf("kafka-go: partition %d leader %+v, want node 0 at %s", p.ID, p.Leader, addr)
		}
	}
	controller, err := conn.Controller()
	if err != nil || controller.ID != 0 {
		t.Errorf("kafka-go: controller %+v (%v), want node 0", controller, err)
	}

	describe := func() string {
		t.Helper()
		resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms"},
		}}})
		if err == nil && len(resp.Resources) == 1 {
			err = resp.Resources[0].Error
		}
		if err != nil {
			t.Fatalf("kafka-go: describing %s: %v", topic, err)
		}
		if es := resp.Resources[0].ConfigEntries; len(es) == 1 && es[0].ConfigName == "retention.ms" {
			return es[0].ConfigValue
		}
		t.Fatalf("kafka-go: describing retention.ms of %s: %+v", topic, resp.Resources[0].ConfigEntries)
		return ""
	}
	if v := describe(); v != "60000" {
		t.Errorf("kafka-go: retention.ms %q, want 60000", v)
	}
	altered, err := cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "retention.ms", Value: "120000", ConfigOperation: kafka.ConfigOperationSet}},
	}}})
	if err == nil && len(altered.Resources) == 1 {
		err = altered.Resources[0].Error
	}
	if err != nil {
		t.Fatalf("kafka-go: altering %s: %v", topic, err)
	}
	if v := describe(); v != "120000" {
		t.Errorf("kafka-go: after alter: retention.ms %q, want 120000", v)
	}

	// Auto-creation through kafka-go: Conn's Metadata request (v1, which
	// always allows creation) and a Writer that allows it.
	parts, err = conn.ReadPartitions("kafkago-auto-conn")
	if err != nil || len(parts) != 3 {
		t.Errorf("kafka-go: auto-created topic has %d partitions (%v), want the default 3", len(parts), err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "kafkago-auto-writer", AllowAutoTopicCreation: true, Transport: tr, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(recKey(0)), Value: []byte(recValue(0))}); err != nil {
		t.Errorf("kafka-go: writing to an auto-created topic: %v", err)
	}
	w.Close()

	deleted, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = deleted.Errors[topic]
	}
	if err != nil {
		t.Fatalf("kafka-go: deleting %s: %v", topic, err)
	}
	topics := listTopicNames(ctx, t, newAdmin(t, addr))
	if !slices.Equal(topics, []string{"kafkago-auto-conn", "kafkago-auto-writer"}) {
		t.Errorf("topics after delete: %v, want the two auto-created ones", topics)
	}
}

// TestAdminLibrdkafka: topic life cycle through librdkafka's AdminClient.
func TestAdminLibrdkafka(t *testing.T) {
	ctx := testContext(t, 60*time.Second)
	_, addr := startBroker(t)
	// No watchRdkafkaLogs: the AdminClient has no log channel.
	conf := ckafka.ConfigMap{"bootstrap.servers": addr}
	ac, err := ckafka.NewAdminClient(&conf)
	if err != nil {
		t.Fatalf("librdkafka: admin client: %v", err)
	}
	defer ac.Close()
	const topic = "rdkafka-topic"

	res, err := ac.CreateTopics(ctx, []ckafka.TopicSpecification{{
		Topic: topic, NumPartitions: 5, ReplicationFactor: 1, Config: map[string]string{"retention.ms": "60000"},
	}})
	if err == nil && len(res) == 1 && res[0].Error.Code() != ckafka.ErrNoError {
		err = res[0].Error
	}
	if err != nil {
		t.Fatalf("librdkafka: creating %s: %v", topic, err)
	}
	md, err := ac.GetMetadata(nil, true, 10_000)
	if err != nil {
		t.Fatalf("librdkafka: metadata: %v", err)
	}
	if tm, ok := md.Topics[topic]; !ok || len(tm.Partitions) != 5 {
		t.Errorf("librdkafka: metadata for %s: %+v, want 5 partitions", topic, md.Topics[topic])
	}
	if len(md.Brokers) != 1 || net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(md.Brokers[0].Port)) != addr {
		t.Errorf("librdkafka: brokers %+v, want one at %s", md.Brokers, addr)
	}

	described, err := ac.DescribeConfigs(ctx, []ckafka.ConfigResource{{Type: ckafka.ResourceTopic, Name: topic}})
	if err != nil || len(described) != 1 {
		t.Fatalf("librdkafka: describing %s: %v", topic, err)
	}
	if e, ok := described[0].Config["retention.ms"]; !ok || e.Value != "60000" || e.Source != ckafka.ConfigSourceDynamicTopic {
		t.Errorf("librdkafka: retention.ms %+v, want 60000 from DYNAMIC_TOPIC_CONFIG", e)
	}

	dres, err := ac.DeleteTopics(ctx, []string{topic})
	if err == nil && len(dres) == 1 && dres[0].Error.Code() != ckafka.ErrNoError {
		err = dres[0].Error
	}
	if err != nil {
		t.Fatalf("librdkafka: deleting %s: %v", topic, err)
	}
	if topics := listTopicNames(ctx, t, newAdmin(t, addr)); len(topics) != 0 {
		t.Errorf("topics after delete: %v, want none", topics)
	}
}

func wantConfig(ctx context.Context, t *testing.T, adm *kadm.Client, topic, key, value string, source kmsg.ConfigSource) {
	t.Helper()
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	var r kadm.ResourceConfig
	if err == nil {
		r, err = rc.On(topic, nil)
	}
	if err == nil {
		err = r.Err
	}
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	for _, c := range r.Configs {
		if c.Key == key {
			if c.MaybeValue() != value || c.Source != source {
				t.Errorf("%s %s = %q from %v, want %q from %v", topic, key, c.MaybeValue(), c.Source, value, source)
			}
			return
		}
	}
	t.Errorf("%s: config %s not described", topic, key)
}

func topicPartitions(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) int {
	t.Helper()
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("listing %s: %v", topic, err)
	}
	if err := topics[topic].Err; err != nil {
		t.Fatalf("listing %s: %v", topic, err)
	}
	return len(topics[topic].Partitions)
}

func listTopicNames(ctx context.Context, t *testing.T, adm *kadm.Client) []string {
	t.Helper()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("listing topics: %v", err)
	}
	return topics.Names()
}

// metadataTopicError sends a raw Metadata request for one topic and returns
// the topic's error code.
func metadataTopicError(ctx context.Context, t *testing.T, addr, topic string, allowCreate bool) int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = allowCreate
	kresp, err := newKgo(t, addr).Request(ctx, req)
	if err != nil {
		t.Fatalf("metadata for %s: %v", topic, err)
	}
	resp := kresp.(*kmsg.MetadataResponse)
	for _, mt := range resp.Topics {
		if mt.Topic != nil && *mt.Topic == topic {
			return mt.ErrorCode
		}
	}
	t.Fatalf("metadata for %s: topic missing from the response", topic)
	return 0
}
