package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// check fails the test unless a command ended with the given exit code and
// exact outputs.
func check(t *testing.T, what string, stdout, stderr string, code int, wantOut, wantErr string, wantCode int) {
	t.Helper()
	if code != wantCode || stdout != wantOut || stderr != wantErr {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s", what, code, stdout, stderr, wantCode, wantOut, wantErr)
	}
}

func TestAdminTopicsLifecycle(t *testing.T) {
	addr := startBroker(t)
	topics := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, runTopics, append(args, "-b", addr)...)
	}

	out, errOut, code := topics("create", "events", "--partitions", "3", "--config", "retention.ms=3600000")
	check(t, "create", out, errOut, code, "created topic \"events\" with 3 partitions, replication factor 1\n", "", 0)
	// The common flags also go before the subcommand.
	out, errOut, code = runCLI(t, runTopics, "-b", addr, "create", "--replication-factor", "1", "audit")
	check(t, "create audit", out, errOut, code, "created topic \"audit\" with 1 partition, replication factor 1\n", "", 0)

	out, errOut, code = topics("create", "events")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, `tributary topics create: topic "events": TOPIC_ALREADY_EXISTS: `) {
		t.Fatalf("create twice: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = topics("create", "bad", "--config", "no.such.config=1")
	if code != 1 || !strings.HasPrefix(errOut, `tributary topics create: topic "bad": INVALID_CONFIG: `) || !strings.Contains(errOut, "no.such.config") {
		t.Fatalf("create with unknown config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, errOut, code = topics("list")
	check(t, "list", out, errOut, code, ""+
		"NAME    PARTITIONS  REPLICATION-FACTOR\n"+
		"audit   1           1\n"+
		"events  3           1\n", "", 0)

	var rs []*kgo.Record
	for i := range 5 {
		rs = append(rs, &kgo.Record{Topic: "events", Partition: 0, Value: []byte{byte(i)}})
	}
	rs = append(rs, &kgo.Record{Topic: "events", Partition: 2}, &kgo.Record{Topic: "events", Partition: 2})
	produce(t, addr, rs...)

	out, errOut, code = topics("describe", "events")
	check(t, "describe", out, errOut, code, ""+
		"Topic: events  Partitions: 3  ReplicationFactor: 1  Configs: retention.ms=3600000\n"+
		"PARTITION  LEADER  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK\n"+
		"0          1       1         1    0                 5\n"+
		"1          1       1         1    0                 0\n"+
		"2          1       1         1    0                 2\n", "", 0)

	out, errOut, code = topics("alter", "events", "--config", "segment.bytes=1048576", "--config", "retention.ms=60000")
	check(t, "alter configs", out, errOut, code, `topic "events": configs altered: set retention.ms=60000, set segment.bytes=1048576`+"\n", "", 0)
	out, errOut, code = topics("alter", "events", "--delete-config", "segment.bytes", "--partitions", "4")
	check(t, "alter partitions", out, errOut, code, ""+
		`topic "events": configs altered: deleted segment.bytes`+"\n"+
		`topic "events": now 4 partitions`+"\n", "", 0)
	out, errOut, code = topics("alter", "events", "--partitions", "2")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, `tributary topics alter: topic "events": partitions: INVALID_PARTITIONS: `) {
		t.Fatalf("shrinking: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Describing several topics, one of them missing: the others are
	// described and the missing one is reported.
	out, errOut, code = topics("describe", "events", "nosuch", "audit")
	check(t, "describe after alter", out, errOut, code, ""+
		"Topic: audit  Partitions: 1  ReplicationFactor: 1  Configs: none\n"+
		"PARTITION  LEADER  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK\n"+
		"0          1       1         1    0                 0\n"+
		"\n"+
		"Topic: events  Partitions: 4  ReplicationFactor: 1  Configs: retention.ms=60000\n"+
		"PARTITION  LEADER  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK\n"+
		"0          1       1         1    0                 5\n"+
		"1          1       1         1    0                 0\n"+
		"2          1       1         1    0                 2\n"+
		"3          1       1         1    0                 0\n",
		"tributary topics describe: topic \"nosuch\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.\n", 1)

	out, errOut, code = topics("delete", "events", "nosuch")
	if code != 1 || out != "deleted topic \"events\"\n" || !strings.HasPrefix(errOut, `tributary topics delete: topic "nosuch": UNKNOWN_TOPIC_OR_PARTITION: `) {
		t.Fatalf("delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = topics("list")
	check(t, "list after delete", out, errOut, code, ""+
		"NAME   PARTITIONS  REPLICATION-FACTOR\n"+
		"audit  1           1\n", "", 0)
}
