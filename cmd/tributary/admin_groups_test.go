package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeN polls cl until it has n records and returns them.
func consumeN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollRecords(ctx, n-len(got))
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetching %s/%d: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

// describeRow returns the fields of the row of topic/partition in the
// output of groups describe.
func describeRow(out, topic string, partition int32) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == topic && f[1] == fmt.Sprint(partition) {
			return f
		}
	}
	return nil
}

func TestAdminGroups(t *testing.T) {
	addr := startBroker(t)
	groups := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, runGroups, append(args, "-b", addr)...)
	}
	if out, errOut, code := runCLI(t, runTopics, "create", "orders", "-b", addr); code != 0 {
		t.Fatalf("create: exit %d: %s%s", code, out, errOut)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var rs []*kgo.Record
	for i := range 10 {
		rs = append(rs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "r%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produce(t, addr, rs...)

	// A live consumer reads 4 records and commits them.
	consumer := func() *kgo.Client {
		return newClient(t, addr,
			kgo.ClientID("test-consumer"),
			kgo.ConsumerGroup("g"),
			kgo.ConsumeTopics("orders"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), // a committed offset must win over this
			kgo.DisableAutoCommit(),
		)
	}
	c1 := newClient(t, addr,
		kgo.ClientID("test-consumer"),
		kgo.ConsumerGroup("g"),
		kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	got := consumeN(t, c1, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c1.CommitRecords(ctx, got...); err != nil {
		t.Fatalf("committing: %v", err)
	}

	var out, errOut string
	var code int
	waitFor(t, "group g to be Stable with one member", func() bool {
		out, errOut, code = groups("describe", "g")
		return code == 0 && strings.HasPrefix(out, "Group: g  State: Stable  Protocol: consumer (")
	})
	if !strings.Contains(out, "Members: 1\n") || errOut != "" {
		t.Fatalf("describe: stdout\n%s\nstderr\n%s", out, errOut)
	}
	// TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG MEMBER-ID HOST CLIENT-ID
	row := describeRow(out, "orders", 0)
	if len(row) != 8 || strings.Join(row[:5], " ") != "orders 0 4 10 6" || row[5] == "-" {
		t.Fatalf("describe: partition row %q; want orders 0 4 10 6 <member> <host> test-consumer\n%s", row, out)
	}
	// The broker must record the member's client id (JoinGroup's request
	// header) and host (its connection): the protocol layer hands them to
	// the coordinator with group.WithClient.
	if !strings.Contains(row[6], "127.0.0.1") || row[7] != "test-consumer" {
		t.Errorf("describe: member host %q, client id %q; want (/)127.0.0.1, test-consumer: does JoinGroup's ctx carry group.WithClient?", row[6], row[7])
	}
	if !strings.Contains(out, "MEMBER-ID") || !strings.Contains(out, " orders:0\n") {
		t.Fatalf("describe: no member with assignment orders:0:\n%s", out)
	}

	out, errOut, code = groups("list")
	check(t, "list", out, errOut, code, ""+
		"GROUP  STATE   MEMBERS\n"+
		"g      Stable  1\n", "", 0)

	// Resetting under a live consumer is refused, dry run or not.
	const refused = "tributary groups reset: group \"g\" has 1 active member; stop its consumers before resetting offsets\n"
	out, errOut, code = groups("reset", "g", "--topic", "orders", "--to-earliest", "--execute")
	check(t, "reset while live", out, errOut, code, "", refused, 1)
	out, errOut, code = groups("reset", "g", "--topic", "orders", "--to-earliest")
	check(t, "dry-run reset while live", out, errOut, code, "", refused, 1)
	out, errOut, code = groups("delete", "g")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, `tributary groups delete: group "g": NON_EMPTY_GROUP: `) {
		t.Fatalf("delete while live: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	c1.Close() // leaves the group
	waitFor(t, "group g to be Empty", func() bool {
		out, errOut, code = groups("describe", "g")
		return code == 0 && strings.HasPrefix(out, "Group: g  State: Empty")
	})
	row = describeRow(out, "orders", 0)
	if strings.Join(row, " ") != "orders 0 4 10 6 - - -" {
		t.Fatalf("describe Empty group: partition row %q\n%s", row, out)
	}

	// Dry runs print the plan and commit nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-earliest"}, "0"},
		{[]string{"--to-latest"}, "10"},
		{[]string{"--to-offset", "7"}, "7"},
		{[]string{"--to-offset", "1000"}, "10"},
		{[]string{"--to-time", base.Add(3 * time.Second).Format(time.RFC3339)}, "3"},
		{[]string{"--to-time", fmt.Sprint(base.Add(2500 * time.Millisecond).UnixMilli())}, "3"},
		{[]string{"--to-time", time.Now().Add(time.Hour).Format(time.RFC3339)}, "10"},
	} {
		args := append([]string{"reset", "g", "--topic", "orders"}, tc.args...)
		out, errOut, code = groups(args...)
		check(t, fmt.Sprint(tc.args), out, errOut, code, ""+
			"GROUP  TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
			"g      orders  0          4               "+tc.want+"\n",
			"tributary groups reset: dry run, nothing committed; add --execute to commit these offsets\n", 0)
	}
	out, _, _ = groups("describe", "g")
	if row = describeRow(out, "orders", 0); strings.Join(row[:5], " ") != "orders 0 4 10 6" {
		t.Fatalf("a dry run committed: partition row %q", row)
	}
	out, errOut, code = groups("reset", "g", "--topic", "orders:3", "--to-earliest")
	if code != 1 || !strings.Contains(errOut, `topic "orders" has no partition 3 (it has 1)`) {
		t.Fatalf("reset of a missing partition: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, errOut, code = groups("reset", "g", "--all-topics", "--to-latest")
	if code != 0 || out != "GROUP  TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\ng      orders  0          4               10\n" {
		t.Fatalf("reset --all-topics: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, errOut, code = groups("reset", "g", "--topic", "orders", "--to-earliest", "--execute")
	check(t, "reset", out, errOut, code, ""+
		"GROUP  TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"g      orders  0          4               0\n", "", 0)
	out, _, _ = groups("describe", "g")
	if row = describeRow(out, "orders", 0); strings.Join(row, " ") != "orders 0 0 10 10 - - -" {
		t.Fatalf("describe after reset: partition row %q\n%s", row, out)
	}

	// A new consumer of the group starts at the reset offset, though it
	// would start at the end without a commit.
	c2 := consumer()
	first := consumeN(t, c2, 1)[0]
	if first.Offset != 0 || string(first.Value) != "r0" {
		t.Fatalf("new consumer started at offset %d (%q); want 0 (r0)", first.Offset, first.Value)
	}
	c2.Close()
	waitFor(t, "group g to be Empty again", func() bool {
		out, _, code = groups("list")
		return code == 0 && out == "GROUP  STATE  MEMBERS\ng      Empty  0\n"
	})

	out, errOut, code = groups("delete", "g", "nosuch")
	if code != 1 || out != "deleted group \"g\"\n" || !strings.HasPrefix(errOut, `tributary groups delete: group "nosuch": GROUP_ID_NOT_FOUND: `) {
		t.Fatalf("delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = groups("list")
	check(t, "list after delete", out, errOut, code, "GROUP  STATE  MEMBERS\n", "", 0)
	out, errOut, code = groups("describe", "g")
	check(t, "describe deleted", out, errOut, code, "", "tributary groups describe: group \"g\" does not exist\n", 1)
}
