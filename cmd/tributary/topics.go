package main

// tributary topics: list, describe, create, delete and alter topics on a
// running broker (ours or any Kafka) through the Kafka admin APIs.

import (
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var topicsSubs = []adminSub{
	{"list", "list topics with their partition count and replication factor", topicsList},
	{"describe", "show partitions, offsets and config overrides of topics", topicsDescribe},
	{"create", "create topics", topicsCreate},
	{"delete", "delete topics", topicsDelete},
	{"alter", "add partitions to topics or change their configs", topicsAlter},
}

// runTopics is "tributary topics". Exit 0 on success, 1 when anything
// failed, 2 on usage errors.
func runTopics(args []string, stdout, stderr io.Writer) int {
	return runAdminGroup("topics", topicsSubs, args, stdout, stderr)
}

func topicsList(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("topics list", "[flags]",
		"Lists the topics (internal ones excepted) sorted by name, with their partition count and replication factor.",
		stdout, stderr)
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
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return c.fail(c.brokerErr("listing topics", err))
	}
	exit := 0
	t := newTable(stdout, "NAME", "PARTITIONS", "REPLICATION-FACTOR")
	for _, td := range topics.Sorted() {
		if td.Err != nil {
			c.report(fmt.Errorf("topic %q: %w", td.Topic, td.Err))
			exit = 1
			continue
		}
		t.row(td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
	}
	t.flush()
	return exit
}

func topicsDescribe(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("topics describe", "[flags] [TOPIC...]",
		"Describes the topics named, or every topic: partition count, replication factor and the configs\n"+
			"set on the topic (those that differ from the broker's defaults), then per partition its leader,\n"+
			"replicas, in-sync replicas, log start offset and high watermark.",
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

	topics, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return c.fail(c.brokerErr("describing topics", err))
	}
	exit := 0
	var found []string
	for _, name := range topics.Names() {
		if td := topics[name]; td.Err != nil {
			c.report(fmt.Errorf("topic %q: %w", name, td.Err))
			exit = 1
			continue
		}
		found = append(found, name)
	}
	if len(found) == 0 {
		return exit
	}
	starts, err := adm.ListStartOffsets(ctx, found...)
	if err != nil {
		return c.fail(c.brokerErr("listing log start offsets", err))
	}
	ends, err := adm.ListEndOffsets(ctx, found...)
	if err != nil {
		return c.fail(c.brokerErr("listing high watermarks", err))
	}
	configs, err := adm.DescribeTopicConfigs(ctx, found...)
	if err != nil {
		return c.fail(c.brokerErr("describing topic configs", err))
	}

	for i, name := range found {
		td := topics[name]
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		overrides := "none"
		if rc, err := configs.On(name, nil); err != nil {
			c.report(fmt.Errorf("topic %q: configs: %w", name, err))
			exit = 1
		} else if rc.Err != nil {
			c.report(fmt.Errorf("topic %q: configs: %w", name, kafkaErr(rc.Err, rc.ErrMessage)))
			exit = 1
		} else if s := topicOverrides(rc.Configs); s != "" {
			overrides = s
		}
		fmt.Fprintf(stdout, "Topic: %s  Partitions: %d  ReplicationFactor: %d  Configs: %s\n",
			name, len(td.Partitions), td.Partitions.NumReplicas(), overrides)
		t := newTable(stdout, "PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "HIGH-WATERMARK")
		for _, p := range td.Partitions.Sorted() {
			if p.Err != nil {
				c.report(fmt.Errorf("topic %q partition %d: %w", name, p.Partition, p.Err))
				exit = 1
			}
			start, end := listedOffsetCell(starts, name, p.Partition), listedOffsetCell(ends, name, p.Partition)
			leader := "none"
			if p.Leader >= 0 {
				leader = fmt.Sprint(p.Leader)
			}
			t.row(p.Partition, leader, joinInt32s(p.Replicas), joinInt32s(p.ISR), start, end)
		}
		t.flush()
	}
	return exit
}

// topicOverrides formats the configs set on the topic itself as "k=v,k=v".
func topicOverrides(configs []kadm.Config) string {
	var kv []string
	for _, cfg := range configs {
		if cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := cfg.MaybeValue()
		if cfg.Sensitive {
			v = "(sensitive)"
		}
		kv = append(kv, cfg.Key+"="+v)
	}
	return strings.Join(kv, ",")
}

func listedOffsetCell(l kadm.ListedOffsets, topic string, partition int32) string {
	o, ok := l.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return "-"
	}
	return offsetCell(o.Offset)
}

func topicsCreate(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("topics create", "[flags] TOPIC...",
		"Creates topics. Partitions and replication factor default to the broker's defaults.",
		stdout, stderr)
	partitions := c.fs.Int("partitions", -1, "number of `partitions` (default: the broker's num.partitions)")
	replication := c.fs.Int("replication-factor", -1, "replication `factor` (default: the broker's default.replication.factor)")
	var configArgs stringsFlag
	c.fs.Var(&configArgs, "config", "topic config `key=value`; repeat for several")
	names, code, ok := c.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(names) == 0:
		return c.usageError("name the topic to create")
	case *partitions == 0 || *partitions < -1:
		return c.usageError("--partitions must be at least 1, got %d", *partitions)
	case *replication == 0 || *replication < -1 || *replication > 1<<15-1:
		return c.usageError("--replication-factor must be at least 1, got %d", *replication)
	}
	configs, err := parseConfigs(configArgs)
	if err != nil {
		return c.usageError("%v", err)
	}
	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()
	kconfigs := make(map[string]*string, len(configs))
	for k, v := range configs {
		kconfigs[k] = kadm.StringPtr(v)
	}
	resps, err := adm.CreateTopics(ctx, int32(*partitions), int16(*replication), kconfigs, names...)
	if err != nil {
		return c.fail(c.brokerErr("creating topics", err))
	}
	return reportEach(c, "topic", names, resps,
		func(r kadm.CreateTopicResponse) (error, string) { return r.Err, r.ErrMessage },
		func(name string, r kadm.CreateTopicResponse) {
			if r.NumPartitions > 0 {
				fmt.Fprintf(stdout, "created topic %q with %s, replication factor %d\n", name, plural(int(r.NumPartitions), "partition"), r.ReplicationFactor)
			} else { // brokers before Kafka 2.4 do not say
				fmt.Fprintf(stdout, "created topic %q\n", name)
			}
		})
}

func topicsDelete(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("topics delete", "[flags] TOPIC...",
		"Deletes topics and all their records.", stdout, stderr)
	names, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(names) == 0 {
		return c.usageError("name the topic to delete")
	}
	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()
	resps, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		return c.fail(c.brokerErr("deleting topics", err))
	}
	return reportEach(c, "topic", names, resps,
		func(r kadm.DeleteTopicResponse) (error, string) { return r.Err, r.ErrMessage },
		func(name string, _ kadm.DeleteTopicResponse) { fmt.Fprintf(stdout, "deleted topic %q\n", name) })
}

func topicsAlter(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("topics alter", "[flags] TOPIC...",
		"Changes topics: sets or removes config overrides (IncrementalAlterConfigs), then raises the\n"+
			"partition count (CreatePartitions; partitions can only be added).",
		stdout, stderr)
	partitions := c.fs.Int("partitions", 0, "new total number of `partitions`; must exceed the current count")
	var setArgs, deleteArgs stringsFlag
	c.fs.Var(&setArgs, "config", "set topic config `key=value`; repeat for several")
	c.fs.Var(&deleteArgs, "delete-config", "remove the topic's override of config `key`, back to the default; repeat for several")
	names, code, ok := c.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(names) == 0:
		return c.usageError("name the topic to alter")
	case *partitions < 0:
		return c.usageError("--partitions must be at least 1, got %d", *partitions)
	case *partitions == 0 && len(setArgs) == 0 && len(deleteArgs) == 0:
		return c.usageError("nothing to change: give --partitions, --config or --delete-config")
	}
	sets, err := parseConfigs(setArgs)
	if err != nil {
		return c.usageError("%v", err)
	}
	var alters []kadm.AlterConfig
	for _, k := range sortedKeys(sets) {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(sets[k])})
	}
	for _, k := range deleteArgs {
		if _, both := sets[k]; both {
			return c.usageError("config %s is both set and deleted", k)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}

	ctx, adm, done, err := c.connect()
	if err != nil {
		return c.fail(err)
	}
	defer done()
	failed := map[string]bool{}
	if len(alters) > 0 {
		resps, err := adm.AlterTopicConfigs(ctx, alters, names...)
		if err != nil {
			return c.fail(c.brokerErr("altering topic configs", err))
		}
		for _, name := range names {
			r, err := resps.On(name, nil)
			if err == nil {
				err = r.Err
			}
			if err != nil {
				c.report(fmt.Errorf("topic %q: configs: %w", name, kafkaErr(err, r.ErrMessage)))
				failed[name] = true
				continue
			}
			fmt.Fprintf(stdout, "topic %q: configs altered: %s\n", name, describeAlters(alters))
		}
	}
	if *partitions > 0 {
		var todo []string // a topic whose configs were refused is left alone
		for _, name := range names {
			if !failed[name] {
				todo = append(todo, name)
			}
		}
		if len(todo) > 0 {
			resps, err := adm.UpdatePartitions(ctx, *partitions, todo...)
			if err != nil {
				return c.fail(c.brokerErr("creating partitions", err))
			}
			for _, name := range todo {
				r, err := resps.On(name, nil)
				if err == nil {
					err = r.Err
				}
				if err != nil {
					c.report(fmt.Errorf("topic %q: partitions: %w", name, kafkaErr(err, r.ErrMessage)))
					failed[name] = true
					continue
				}
				fmt.Fprintf(stdout, "topic %q: now %s\n", name, plural(*partitions, "partition"))
			}
		}
	}
	if len(failed) > 0 {
		return 1
	}
	return 0
}

// describeAlters formats config changes as "set k=v, deleted k".
func describeAlters(alters []kadm.AlterConfig) string {
	parts := make([]string, len(alters))
	for i, a := range alters {
		if a.Op == kadm.DeleteConfig {
			parts[i] = "deleted " + a.Name
		} else {
			parts[i] = "set " + a.Name + "=" + *a.Value
		}
	}
	return strings.Join(parts, ", ")
}
