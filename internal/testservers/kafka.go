package testservers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaConfig is a one-node KRaft cluster (broker and controller in one
// process) on loopback, with internal topics at replication factor 1.
const kafkaConfig = `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[3]d
listeners=PLAINTEXT://127.0.0.1:%[2]d,CONTROLLER://127.0.0.1:%[3]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[2]d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%[1]s/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
`

// StartKafka starts Apache Kafka 4.1.1 (the jars in .cache/kafka/libs) with
// Java 17 as a one-node KRaft cluster on free loopback ports, after
// formatting a fresh log directory, and returns once the broker answers
// metadata requests and lists itself. Stop it with Server.Stop.
func StartKafka(ctx context.Context) (_ *Server, err error) {
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	libs := filepath.Join(cache, "kafka", "libs")
	if err := requireFiles("Kafka", filepath.Join(libs, "kafka_2.13-*.jar")); err != nil {
		return nil, err
	}
	java, err := javaPath("Kafka")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tributary-kafka-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	controllerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(kafkaConfig, dir, port, controllerPort)), 0o644); err != nil {
		return nil, err
	}
	classpath := filepath.Join(libs, "*")
	clusterID, err := kafkaClusterID()
	if err != nil {
		return nil, err
	}
	format := exec.CommandContext(ctx, java, "-cp", classpath, "kafka.tools.StorageTool", "format",
		"--cluster-id", clusterID, "--config", conf)
	format.Dir = dir
	if out, err := format.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("kafka-storage format: %w: %s", err, out)
	}
	s, err := startProcess("Kafka", dir, java,
		"-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
		"-cp", classpath, "kafka.Kafka", conf)
	if err != nil {
		return nil, err
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitReady(ctx, s, func(ctx context.Context) error { return kafkaReady(ctx, s.Addr) }); err != nil {
		return startFailed(s, err)
	}
	return s, nil
}

// kafkaClusterID returns a random Kafka UUID in its base64 form. Like Kafka's
// own Uuid.randomUuid it never starts with '-', which the storage tool's
// argument parser would take for an option.
func kafkaClusterID() (string, error) {
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id, nil
		}
	}
}

// kafkaReady asks the broker for metadata and wants it to list itself and a
// controller.
func kafkaReady(ctx context.Context, bootstrap string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return err
	}
	defer cl.Close()
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if len(meta.Brokers) == 0 || meta.Controller < 0 {
		return errors.New("metadata lists no broker or no controller yet")
	}
	return nil
}
