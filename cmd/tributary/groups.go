package main

// tributary groups: list, describe, reset or delete consumer groups on a
// running broker (ours or any Kafka), like kafka-consumer-groups.sh.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

var groupsSubs = []adminSub{
	{"list", "list consumer groups with their state and member count", groupsList},
	{"describe", "show members, assignments, committed offsets and lag of groups", groupsDescribe},
	{"reset", "plan or commit new offsets for a group that has no live members", groupsReset},
	{"delete", "delete groups that have no live members, with their offsets", groupsDelete},
}

// runGroups is "tributary groups". Exit 0 on success, 1 when anything
// failed, 2 on usage errors.
func runGroups(args []string, stdout, stderr io.Writer) int {
	return runAdminGroup("groups", groupsSubs, args, stdout, stderr)
}

func groupsList(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("groups list", "[flags]",
		"Lists the consumer groups sorted by name, with their state and number of members.", stdout, stderr)
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return c.usageError("unexpected argument %q", pos[0])
	}
	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return c.fail(c.brokerErr("listing groups", err))
	}
	names := listed.Groups()
	var described kadm.DescribedGroups
	if len(names) > 0 { // with no names, DescribeGroups would list again
		if described, err = adm.DescribeGroups(ctx, names...); err != nil {
			return c.fail(c.brokerErr("describing groups", err))
		}
	}
	exit := 0
	t := newTable(stdout, "GROUP", "STATE", "MEMBERS")
	for _, name := range names {
		state, members := listed[name].State, "-"
		if d, ok := described[name]; ok && d.Err == nil {
			state, members = d.State, strconv.Itoa(len(d.Members))
		} else if ok {
			c.report(fmt.Errorf("group %q: %w", name, kafkaErr(d.Err, d.ErrMessage)))
			exit = 1
		}
		if state == "" {
			state = "-"
		}
		t.row(name, state, members)
	}
	t.flush()
	return exit
}

func groupsDescribe(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("groups describe", "[flags] [GROUP...]",
		"Describes the groups named, or every group: state, protocol, members with their client id, host\n"+
			"and assigned partitions, then per partition the committed offset, log end offset and lag\n"+
			"(\"-\" where nothing is committed).",
		stdout, stderr)
	names, code, ok := c.parse(args)
	if !ok {
		return code
	}
	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()
	if len(names) == 0 {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			return c.fail(c.brokerErr("listing groups", err))
		}
		if names = listed.Groups(); len(names) == 0 {
			return 0
		}
	}
	described, err := adm.DescribeGroups(ctx, names...)
	if err != nil {
		return c.fail(c.brokerErr("describing groups", err))
	}

	exit := 0
	first := true
	for _, name := range names {
		g, ok := described[name]
		if !ok {
			c.report(fmt.Errorf("group %q: missing from the broker's answer", name))
			exit = 1
			continue
		}
		if g.Err != nil {
			c.report(fmt.Errorf("group %q: %w", name, kafkaErr(g.Err, g.ErrMessage)))
			exit = 1
			continue
		}
		committed, err := adm.FetchOffsets(ctx, name)
		if err != nil {
			c.report(c.brokerErr(fmt.Sprintf("group %q: fetching committed offsets", name), err))
			exit = 1
			continue
		}
		if g.State == "Dead" && len(g.Members) == 0 && len(committed) == 0 {
			c.report(fmt.Errorf("group %q does not exist", name))
			exit = 1
			continue
		}
		rows := lagRows(g, committed)
		var topics []string
		for _, r := range rows {
			if len(topics) == 0 || topics[len(topics)-1] != r.topic {
				topics = append(topics, r.topic)
			}
		}
		var ends kadm.ListedOffsets
		if len(topics) > 0 {
			if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
				c.report(c.brokerErr(fmt.Sprintf("group %q: listing log end offsets", name), err))
				exit = 1
			}
		}

		if !first {
			fmt.Fprintln(stdout)
		}
		first = false
		protocol := g.ProtocolType
		if g.Protocol != "" {
			protocol += " (" + g.Protocol + ")"
		}
		if protocol == "" {
			protocol = "-"
		}
		fmt.Fprintf(stdout, "Group: %s  State: %s  Protocol: %s  Members: %d\n", name, g.State, protocol, len(g.Members))
		if len(g.Members) > 0 {
			fmt.Fprintln(stdout)
			t := newTable(stdout, "MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT")
			for _, m := range g.Members {
				t.row(m.MemberID, orDash(m.ClientID), orDash(m.ClientHost), formatAssignment(m))
			}
			t.flush()
		}
		fmt.Fprintln(stdout)
		if len(rows) == 0 {
			fmt.Fprintln(stdout, "no committed offsets and no assigned partitions")
			continue
		}
		t := newTable(stdout, "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID", "HOST", "CLIENT-ID")
		for _, r := range rows {
			end, lag := "-", "-"
			if lo, ok := ends.Lookup(r.topic, r.partition); ok && lo.Err == nil && lo.Offset >= 0 {
				end = strconv.FormatInt(lo.Offset, 10)
				if r.committed >= 0 {
					lag = strconv.FormatInt(max(lo.Offset-r.committed, 0), 10)
				}
			}
			member, host, client := "-", "-", "-"
			if r.member != nil {
				member, host, client = r.member.MemberID, orDash(r.member.ClientHost), orDash(r.member.ClientID)
			}
			t.row(r.topic, r.partition, offsetCell(r.committed), end, lag, member, host, client)
		}
		t.flush()
	}
	return exit
}

// lagRow is one partition of a group's describe: assigned, committed, or both.
type lagRow struct {
	topic     string
	partition int32
	committed int64 // -1 when nothing is committed
	member    *kadm.DescribedGroupMember
}

// lagRows returns the partitions assigned to g's members or committed by g,
// sorted by topic and partition.
func lagRows(g kadm.DescribedGroup, committed kadm.OffsetResponses) []lagRow {
	type tp struct {
		t string
		p int32
	}
	rows := map[tp]*lagRow{}
	row := func(t string, p int32) *lagRow {
		r := rows[tp{t, p}]
		if r == nil {
			r = &lagRow{topic: t, partition: p, committed: -1}
			rows[tp{t, p}] = r
		}
		return r
	}
	for i := range g.Members {
		if a, ok := g.Members[i].Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					row(t.Topic, p).member = &g.Members[i]
				}
			}
		}
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			row(o.Topic, o.Partition).committed = o.At
		}
	})
	out := make([]lagRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b lagRow) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	return out
}

// formatAssignment formats a member's partitions as "topic:0,1 other:2".
func formatAssignment(m kadm.DescribedGroupMember) string {
	a, ok := m.Assigned.AsConsumer()
	if !ok || len(a.Topics) == 0 {
		return "-"
	}
	var parts []string
	for _, t := range a.Topics {
		ps := slices.Clone(t.Partitions)
		slices.Sort(ps)
		parts = append(parts, t.Topic+":"+joinInt32s(ps))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func groupsReset(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("groups reset", "[flags] GROUP (--topic T[:P,P...]... | --all-topics) (--to-earliest | --to-latest | --to-time T | --to-offset N) [--execute]",
		"Resets a group's committed offsets, like kafka-consumer-groups.sh --reset-offsets. Without\n"+
			"--execute it only prints the plan. Only a group with no live members can be reset: stop its\n"+
			"consumers first. --to-offset is clamped to each partition's [log start, log end].",
		stdout, stderr)
	var topicArgs stringsFlag
	c.fs.Var(&topicArgs, "topic", "reset `topic` (all its partitions, or TOPIC:0,2 for some); repeat for several")
	allTopics := c.fs.Bool("all-topics", false, "reset every topic the group has committed offsets for")
	toEarliest := c.fs.Bool("to-earliest", false, "reset to the log start offset")
	toLatest := c.fs.Bool("to-latest", false, "reset to the log end offset")
	toTime := c.fs.String("to-time", "", "reset to the first offset whose timestamp is at or after `time` (RFC 3339 or unix milliseconds); the log end when there is none")
	toOffset := c.fs.String("to-offset", "", "reset to `offset`, clamped to each partition's range")
	execute := c.fs.Bool("execute", false, "commit the new offsets (default: dry run, print the plan only)")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return c.usageError("name exactly one group to reset")
	}
	group := pos[0]
	if len(topicArgs) == 0 && !*allTopics {
		return c.usageError("say which topics to reset: --topic T or --all-topics")
	}
	if len(topicArgs) > 0 && *allTopics {
		return c.usageError("--topic and --all-topics exclude each other")
	}
	strategies := 0
	for _, set := range []bool{*toEarliest, *toLatest, *toTime != "", *toOffset != ""} {
		if set {
			strategies++
		}
	}
	if strategies != 1 {
		return c.usageError("give exactly one of --to-earliest, --to-latest, --to-time, --to-offset")
	}
	var atMilli, atOffset int64
	if *toTime != "" {
		var err error
		if atMilli, err = parseResetTime(*toTime); err != nil {
			return c.usageError("--to-time %q: %v", *toTime, err)
		}
	}
	if *toOffset != "" {
		var err error
		if atOffset, err = strconv.ParseInt(*toOffset, 10, 64); err != nil || atOffset < 0 {
			return c.usageError("--to-offset %q: want an offset >= 0", *toOffset)
		}
	}
	wanted, err := parseTopicPartitions(topicArgs)
	if err != nil {
		return c.usageError("%v", err)
	}

	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()

	if err := checkNoMembers(ctx, c, adm, group); err != nil {
		return c.fail(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return c.fail(c.brokerErr(fmt.Sprintf("group %q: fetching committed offsets", group), err))
	}
	if *allTopics {
		for _, t := range committed.Partitions().Topics() {
			wanted[t] = nil
		}
		if len(wanted) == 0 {
			return c.fail(fmt.Errorf("group %q has no committed offsets; name the topics with --topic", group))
		}
	}
	parts, err := resolvePartitions(ctx, c, adm, wanted)
	if err != nil {
		return c.fail(err)
	}
	topics := parts.Topics()

	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return c.fail(c.brokerErr("listing log start offsets", err))
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return c.fail(c.brokerErr("listing log end offsets", err))
	}
	var byTime kadm.ListedOffsets
	if *toTime != "" {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, atMilli, topics...); err != nil {
			return c.fail(c.brokerErr("listing offsets by time", err))
		}
	}

	plan := make(kadm.Offsets)
	var errs []error
	for _, tps := range parts.Sorted() {
		for _, p := range tps.Partitions {
			start, okS := starts.Lookup(tps.Topic, p)
			end, okE := ends.Lookup(tps.Topic, p)
			switch {
			case !okS || !okE:
				errs = append(errs, fmt.Errorf("topic %q partition %d: missing from the broker's offsets", tps.Topic, p))
				continue
			case start.Err != nil:
				errs = append(errs, fmt.Errorf("topic %q partition %d: log start offset: %w", tps.Topic, p, start.Err))
				continue
			case end.Err != nil:
				errs = append(errs, fmt.Errorf("topic %q partition %d: log end offset: %w", tps.Topic, p, end.Err))
				continue
			}
			var at int64
			switch {
			case *toEarliest:
				at = start.Offset
			case *toLatest:
				at = end.Offset
			case *toTime != "":
				o, ok := byTime.Lookup(tps.Topic, p)
				if !ok || o.Err != nil {
					errs = append(errs, fmt.Errorf("topic %q partition %d: offset for time: %w", tps.Topic, p, errOr(o.Err, kerr.UnknownTopicOrPartition)))
					continue
				}
				at = o.Offset
				if at < 0 { // no record at or after the time
					at = end.Offset
				}
			default:
				at = min(max(atOffset, start.Offset), end.Offset)
			}
			plan.Add(kadm.Offset{Topic: tps.Topic, Partition: p, At: at, LeaderEpoch: -1})
		}
	}
	if len(errs) > 0 {
		for _, err := range errs {
			c.report(err)
		}
		return 1
	}

	if !*execute {
		printResetPlan(stdout, group, plan, committed)
		fmt.Fprintf(stderr, "%s: dry run, nothing committed; add --execute to commit these offsets\n", c.name)
		return 0
	}
	resps, err := adm.CommitOffsets(ctx, group, plan)
	if err != nil {
		return c.fail(c.brokerErr(fmt.Sprintf("group %q: committing offsets", group), err))
	}
	exit := 0
	resps.EachError(func(o kadm.OffsetResponse) {
		c.report(fmt.Errorf("group %q: topic %q partition %d: committing offset %d: %w", group, o.Topic, o.Partition, o.At, o.Err))
		exit = 1
	})
	if exit == 0 {
		printResetPlan(stdout, group, plan, committed)
	}
	return exit
}

// checkNoMembers fails unless group has no live members: committing offsets
// under running consumers would be overwritten by their next commit (and
// the broker refuses such commits anyway).
func checkNoMembers(ctx context.Context, c *adminCmd, adm *kadm.Client, group string) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return c.brokerErr(fmt.Sprintf("group %q: describing", group), err)
	}
	g, ok := described[group]
	switch {
	case !ok:
		return fmt.Errorf("group %q: missing from the broker's answer", group)
	case g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound):
		return fmt.Errorf("group %q: %w", group, kafkaErr(g.Err, g.ErrMessage))
	case len(g.Members) > 0:
		return fmt.Errorf("group %q has %s; stop its consumers before resetting offsets", group, plural(len(g.Members), "active member"))
	case g.State != "" && g.State != "Empty" && g.State != "Dead":
		return fmt.Errorf("group %q is %s; wait until it is Empty before resetting offsets", group, g.State)
	}
	return nil
}

// resolvePartitions turns topics (nil partitions meaning all of them) into
// the partitions to reset, checking that each exists.
func resolvePartitions(ctx context.Context, c *adminCmd, adm *kadm.Client, wanted map[string][]int32) (kadm.TopicsSet, error) {
	topics, err := adm.ListTopics(ctx, sortedKeys(wanted)...)
	if err != nil {
		return nil, c.brokerErr("describing topics", err)
	}
	set := make(kadm.TopicsSet)
	for _, name := range sortedKeys(wanted) {
		td, ok := topics[name]
		if !ok {
			return nil, fmt.Errorf("topic %q: %w", name, kerr.UnknownTopicOrPartition)
		}
		if td.Err != nil {
			return nil, fmt.Errorf("topic %q: %w", name, td.Err)
		}
		ps := wanted[name]
		if ps == nil {
			ps = td.Partitions.Numbers()
		}
		for _, p := range ps {
			if _, ok := td.Partitions[p]; !ok {
				return nil, fmt.Errorf("topic %q has no partition %d (it has %d)", name, p, len(td.Partitions))
			}
		}
		set.Add(name, ps...)
	}
	return set, nil
}

func printResetPlan(w io.Writer, group string, plan kadm.Offsets, committed kadm.OffsetResponses) {
	t := newTable(w, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET")
	for _, o := range plan.Sorted() {
		current := int64(-1)
		if cur, ok := committed.Lookup(o.Topic, o.Partition); ok && cur.Err == nil {
			current = cur.At
		}
		t.row(group, o.Topic, o.Partition, offsetCell(current), o.At)
	}
	t.flush()
}

// parseTopicPartitions parses --topic values: "T" for every partition
// (nil), "T:0,2" for some.
func parseTopicPartitions(args []string) (map[string][]int32, error) {
	wanted := make(map[string][]int32)
	for _, a := range args {
		name, list, some := strings.Cut(a, ":")
		if name == "" {
			return nil, fmt.Errorf("--topic %q: empty topic name", a)
		}
		if _, dup := wanted[name]; dup {
			return nil, fmt.Errorf("--topic %s given twice", name)
		}
		if !some {
			wanted[name] = nil
			continue
		}
		ps := []int32{}
		for _, s := range strings.Split(list, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("--topic %q: partition %q is not a number >= 0", a, s)
			}
			ps = append(ps, int32(p))
		}
		wanted[name] = ps
	}
	return wanted, nil
}

// parseResetTime accepts RFC 3339 or unix milliseconds.
func parseResetTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, errors.New("unix milliseconds must be >= 0")
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, errors.New("want RFC 3339 (2024-05-01T12:00:00Z) or unix milliseconds")
	}
	if t.UnixMilli() < 0 {
		return 0, errors.New("time is before 1970")
	}
	return t.UnixMilli(), nil
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func groupsDelete(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("groups delete", "[flags] GROUP...",
		"Deletes groups and their committed offsets. A group with live members cannot be deleted.",
		stdout, stderr)
	names, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(names) == 0 {
		return c.usageError("name the group to delete")
	}
	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()
	resps, err := adm.DeleteGroups(ctx, names...)
	if err != nil {
		return c.fail(c.brokerErr("deleting groups", err))
	}
	return reportEach(c, "group", names, resps,
		func(r kadm.DeleteGroupResponse) (error, string) { return r.Err, r.ErrMessage },
		func(name string, _ kadm.DeleteGroupResponse) { fmt.Fprintf(stdout, "deleted group %q\n", name) })
}
