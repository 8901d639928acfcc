package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary/tributary/broker"
	"github.com/tributary/tributary/internal/brokertest"
)

// runCLI runs an admin command the way main does and returns its output.
func runCLI(t *testing.T, run func([]string, io.Writer, io.Writer) int, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// startBroker starts an in-process broker as node 1 and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	s := brokertest.Start(t, func(o *broker.Options) { o.NodeID = 1 })
	return s.Addr().String()
}

// newClient returns a kgo client of the broker at addr, closed when the test ends.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes records to topic synchronously.
func produce(t *testing.T, addr string, rs ...*kgo.Record) {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		positional []string
		partitions int
		configs    []string
	}{
		{[]string{"a"}, []string{"a"}, 0, nil},
		{[]string{"a", "--partitions", "3"}, []string{"a"}, 3, nil},
		{[]string{"--partitions=3", "a", "b", "--config", "x=1", "--config", "y=2"}, []string{"a", "b"}, 3, []string{"x=1", "y=2"}},
		{[]string{"a", "--", "--partitions", "b"}, []string{"a", "--partitions", "b"}, 0, nil},
		{nil, nil, 0, nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		p := fs.Int("partitions", 0, "")
		var configs stringsFlag
		fs.Var(&configs, "config", "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !slices.Equal(pos, tc.positional) || *p != tc.partitions || !slices.Equal(configs, tc.configs) {
			t.Errorf("%q: got %q, partitions %d, configs %q; want %q, %d, %q", tc.args, pos, *p, configs, tc.positional, tc.partitions, tc.configs)
		}
	}
}

func TestParseResetTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"1714564800000", 1714564800000, false},
		{"2024-05-01T12:00:00Z", 1714564800000, false},
		{"2024-05-01T14:00:00.5+02:00", 1714564800500, false},
		{"0", 0, false},
		{"-5", 0, true},
		{"yesterday", 0, true},
		{"2024-05-01", 0, true},
	} {
		got, err := parseResetTime(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseResetTime(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseTopicPartitions(t *testing.T) {
	got, err := parseTopicPartitions([]string{"a", "b:2,0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"] != nil || !slices.Equal(got["b"], []int32{2, 0}) {
		t.Errorf("got %v", got)
	}
	for _, bad := range [][]string{{"a", "a"}, {":1"}, {"a:x"}, {"a:-1"}, {"a:"}} {
		if _, err := parseTopicPartitions(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseConfigs(t *testing.T) {
	got, err := parseConfigs([]string{"a=1", "b=x=y", "c="})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "map[a:1 b:x=y c:]" {
		t.Errorf("got %v", got)
	}
	for _, bad := range [][]string{{"a"}, {"=1"}, {"a=1", "a=2"}} {
		if _, err := parseConfigs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestKafkaErr(t *testing.T) {
	for _, tc := range []struct {
		msg, want string
	}{
		{"", "TOPIC_ALREADY_EXISTS: Topic with this name already exists."},
		{`topic "x" already exists: TOPIC_ALREADY_EXISTS: Topic with this name already exists.`,
			`TOPIC_ALREADY_EXISTS: Topic with this name already exists. (topic "x" already exists)`},
		{"Topic 'x' already exists.", "TOPIC_ALREADY_EXISTS: Topic with this name already exists. (Topic 'x' already exists.)"},
	} {
		err := kafkaErr(kerr.TopicAlreadyExists, tc.msg)
		if err.Error() != tc.want || !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Errorf("kafkaErr(%q) = %q; want %q", tc.msg, err, tc.want)
		}
	}
}

func TestAdminUsage(t *testing.T) {
	for _, tc := range []struct {
		run  func([]string, io.Writer, io.Writer) int
		args []string
		code int
		out  string // in stdout when code is 0, else in stderr
	}{
		{runTopics, nil, 2, "Usage: tributary topics <subcommand>"},
		{runTopics, []string{"-h"}, 0, "Usage: tributary topics <subcommand>"},
		{runTopics, []string{"frobnicate"}, 2, `unknown subcommand "frobnicate"`},
		{runTopics, []string{"create", "-h"}, 0, "Usage: tributary topics create [flags] TOPIC..."},
		{runTopics, []string{"create"}, 2, "tributary topics create: name the topic to create"},
		{runTopics, []string{"create", "x", "--partitions", "0"}, 2, "--partitions must be at least 1, got 0"},
		{runTopics, []string{"create", "x", "--config", "nokey"}, 2, `--config "nokey": want key=value`},
		{runTopics, []string{"create", "x", "--nope"}, 2, "flag provided but not defined: -nope"},
		{runTopics, []string{"alter", "x"}, 2, "nothing to change"},
		{runTopics, []string{"alter", "x", "--config", "a=1", "--delete-config", "a"}, 2, "config a is both set and deleted"},
		{runTopics, []string{"list", "extra"}, 2, `unexpected argument "extra"`},
		{runTopics, []string{"describe", "--timeout", "0s"}, 2, "--timeout must be positive"},
		{runGroups, []string{"help"}, 0, "Usage: tributary groups <subcommand>"},
		{runGroups, []string{"reset", "-h"}, 0, "Usage: tributary groups reset [flags] GROUP"},
		{runGroups, []string{"reset", "g", "--topic", "t"}, 2, "give exactly one of --to-earliest, --to-latest, --to-time, --to-offset"},
		{runGroups, []string{"reset", "g", "--topic", "t", "--to-earliest", "--to-latest"}, 2, "give exactly one of"},
		{runGroups, []string{"reset", "g", "--to-earliest"}, 2, "--topic T or --all-topics"},
		{runGroups, []string{"reset", "--topic", "t", "--to-earliest"}, 2, "name exactly one group"},
		{runGroups, []string{"reset", "g", "--topic", "t", "--to-time", "soon"}, 2, `--to-time "soon": want RFC 3339`},
		{runGroups, []string{"reset", "g", "--topic", "t", "--to-offset", "-1"}, 2, `--to-offset "-1": want an offset >= 0`},
		{runGroups, []string{"delete"}, 2, "name the group to delete"},
	} {
		stdout, stderr, code := runCLI(t, tc.run, tc.args...)
		got := stderr
		if tc.code == 0 {
			got = stdout
		}
		if code != tc.code || !strings.Contains(got, tc.out) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d with %q", tc.args, code, stdout, stderr, tc.code, tc.out)
		}
	}
}

func TestAdminNoBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	stdout, stderr, code := runCLI(t, runTopics, "list", "-b", addr, "--timeout", "500ms")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "tributary topics list: listing topics: ") || !strings.Contains(stderr, addr) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
