package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/ from the current output")

// settings returns c without its bookkeeping, for comparing configurations.
func settings(c *Config) Config {
	cp := *c
	cp.src = nil
	return cp
}

func mustParse(t *testing.T, data string) *Config {
	t.Helper()
	c, err := Parse("test.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror:\n%v", data, err)
	}
	return c
}

func TestDefault(t *testing.T) {
	want := Config{
		Log: Log{Level: "info", Format: "text"},
		Broker: Broker{
			Listen:                 "127.0.0.1:9092",
			AdvertisedListener:     "",
			NodeID:                 0,
			DataDir:                "./data",
			MetricsListen:          "127.0.0.1:9644",
			AutoCreateTopics:       true,
			DefaultPartitions:      1,
			SocketRequestMaxBytes:  100 << 20,
			MessageMaxBytes:        1048588,
			ConnectionsMaxIdle:     Duration(10 * time.Minute),
			MaxConnections:         1000,
			RetentionCheckInterval: Duration(5 * time.Minute),
			TopicDefaults: TopicDefaults{
				SegmentBytes:       1 << 30,
				SegmentTime:        Duration(7 * day),
				RetentionTime:      Duration(7 * day),
				RetentionBytes:     Unlimited,
				IndexIntervalBytes: 4096,
			},
			Groups: Groups{
				InitialRebalanceDelay: Duration(3 * time.Second),
				MinSessionTimeout:     Duration(6 * time.Second),
				MaxSessionTimeout:     Duration(30 * time.Minute),
				OffsetsRetention:      Duration(7 * day),
			},
		},
		Agent: Agent{
			Interval:        Duration(10 * time.Second),
			RoundInterval:   true,
			Tags:            map[string]string{},
			Brokers:         []string{"127.0.0.1:9092"},
			MetricsTopic:    "metrics",
			Compression:     "zstd",
			BatchMaxRecords: 1000,
			BatchMaxBytes:   1 << 20,
			BatchTimeout:    Duration(time.Second),
			RecordMaxBytes:  256 << 10,
			BufferLimit:     64 << 20,
			FlushTimeout:    Duration(10 * time.Second),
			MetricsListen:   "127.0.0.1:9645",
			Inputs: AgentInputs{
				CPU:  CPUInput{InputCommon: defaultInput(), PerCPU: true, TotalCPU: true},
				Mem:  defaultInput(),
				Swap: defaultInput(),
				Disk: DiskInput{InputCommon: defaultInput(), MountPoints: []string{},
					IgnoreFS: []string{"tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs"}},
				DiskIO:    DiskIOInput{InputCommon: defaultInput(), Devices: []string{}},
				Net:       NetInput{InputCommon: defaultInput(), Interfaces: []string{}},
				System:    defaultInput(),
				Processes: defaultInput(),
				Kernel:    defaultInput(),
			},
		},
	}
	got := Default()
	if !reflect.DeepEqual(settings(got), want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", settings(got), want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func defaultInput() InputCommon { return InputCommon{Enabled: true, Tags: map[string]string{}} }

func TestEmptyFilesAreDefault(t *testing.T) {
	for _, data := range []string{"", "{}", "\n", "# just a comment\n", "---\n", "~\n", "log:\n", "---\n---\n", "log: {}\n---\n"} {
		c := mustParse(t, data)
		if !reflect.DeepEqual(settings(c), settings(Default())) {
			t.Errorf("Parse(%q) differs from Default()", data)
		}
	}
}

func TestDefaultsFill(t *testing.T) {
	c := mustParse(t, `
broker:
  listen: 127.0.0.1:19092
  topic_defaults:
    retention_ms: 1d
  groups:
    max_session_timeout: 5m
`)
	want := Default()
	want.Broker.Listen = "127.0.0.1:19092"
	want.Broker.TopicDefaults.RetentionTime = Duration(day)
	want.Broker.Groups.MaxSessionTimeout = Duration(5 * time.Minute)
	if !reflect.DeepEqual(settings(c), settings(want)) {
		t.Errorf("got\n%+v\nwant\n%+v", settings(c), settings(want))
	}
}

// TestParseProblems checks the exact report for small files: lines, paths,
// suggestions, and that every problem is collected and sorted by line.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{{
		name: "unknown key at depth with suggestion",
		data: `
broker:
  groups:
    min_session_timeout: 6s
    max_sesion_timeout: 30m
`,
		want: `test.yaml:5: broker.groups.max_sesion_timeout: unknown key (did you mean "max_session_timeout"?)`,
	}, {
		name: "key at the wrong level",
		data: "data_dir: /tmp\n",
		want: `test.yaml:1: data_dir: unknown key (did you mean "broker.data_dir"?)`,
	}, {
		name: "unknown key without a close match",
		data: "broker:\n  frobnicate: 1\n",
		want: `test.yaml:2: broker.frobnicate: unknown key`,
	}, {
		name: "several problems sorted by line",
		data: `
broker:
  message_max_bytes: 2GiB
  listen: localhost
  groups:
    offsets_retention: soon
log:
  level: loud
  formt: json
`,
		// message_max_bytes is found by validation, after decoding, yet sorts first.
		want: `test.yaml:3: broker.message_max_bytes: must be at most 2147483647 bytes (Kafka sizes are 32-bit), got 2GiB
test.yaml:4: broker.listen: missing port in address "localhost"
test.yaml:6: broker.groups.offsets_retention: expected a duration like "10s" or "7d", got "soon"
test.yaml:8: log.level: expected one of debug, info, warn, error; got "loud"
test.yaml:9: log.formt: unknown key (did you mean "format"?)`,
	}, {
		name: "wrong types",
		data: `
broker:
  node_id: "1.0"
  auto_create_topics: on
  socket_request_max_bytes: 1 megabyte
  connections_max_idle: 10 minutes
  topic_defaults: [1, 2]
log: debug
`,
		want: `test.yaml:3: broker.node_id: expected an integer, got "1.0"
test.yaml:4: broker.auto_create_topics: expected true or false, got "on"
test.yaml:5: broker.socket_request_max_bytes: expected a size like "512KiB", "100MB" or 1048576, got "1 megabyte" (unknown unit "megabyte")
test.yaml:6: broker.connections_max_idle: expected a duration like "10s" or "7d", got "10 minutes"
test.yaml:7: broker.topic_defaults: expected a mapping of keys, got a list
test.yaml:8: log: expected a mapping of keys, got "debug"`,
	}, {
		name: "validation of a default points at the nearest parent in the file",
		data: "broker:\n  socket_request_max_bytes: 1KiB\n",
		want: `test.yaml:2: broker.socket_request_max_bytes: ...`[:0] +
			`test.yaml:1: broker.message_max_bytes: must not exceed socket_request_max_bytes (1KiB): a batch must fit in a request`,
	}, {
		name: "a type error hides validation of the same key",
		data: "broker:\n  default_partitions: many\n",
		want: `test.yaml:2: broker.default_partitions: expected an integer, got "many"`,
	}, {
		name: "syntax error",
		data: "broker:\n  listen: [127.0.0.1\n",
		want: `test.yaml:2: did not find expected ',' or ']'`,
	}, {
		name: "tabs",
		data: "broker:\n\tlisten: x\n",
		want: `test.yaml:2: found character that cannot start any token`,
	}, {
		name: "no value",
		data: "broker:\n  listen:\n",
		want: `test.yaml:2: broker.listen: no value (write a value, or remove the key to use the default)`,
	}, {
		name: "duplicate key",
		data: "log:\n  level: info\n  level: debug\n",
		want: `test.yaml:3: log.level: duplicate key (first set on line 2)`,
	}, {
		name: "non-scalar key",
		data: "log:\n  [a]: 1\n",
		want: `test.yaml:2: log: keys must be names, got a list`,
	}, {
		name: "int32 range",
		data: "broker:\n  default_partitions: 3000000000\n",
		want: `test.yaml:2: broker.default_partitions: 3000000000 is out of range (-2147483648 to 2147483647)`,
	}, {
		name: "forever where not allowed",
		data: "broker:\n  topic_defaults:\n    segment_ms: -1\n    retention_bytes: 0\n",
		want: `test.yaml:3: broker.topic_defaults.segment_ms: must be greater than 0 (-1, forever, is not allowed here)
test.yaml:4: broker.topic_defaults.retention_bytes: must be greater than 0`,
	}, {
		name: "bad merge",
		data: "log:\n  <<: 5\n",
		want: `test.yaml:2: log: a merge (<<) takes a mapping or a list of mappings, got "5"`,
	}, {
		name: "second document",
		data: "log: {}\n---\nbroker: {}\n",
		want: `test.yaml:2: the file holds more than one YAML document (a second "---"?)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", settings(c))
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	_, err := Parse("tributary.yaml", []byte("broker:\n  listen: 127.0.0.1\n  lsten: x\n"))
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not *Problems", err)
	}
	want := []Problem{
		{File: "tributary.yaml", Line: 2, Path: "broker.listen", Message: `missing port in address "127.0.0.1"`},
		{File: "tributary.yaml", Line: 3, Path: "broker.lsten", Message: `unknown key (did you mean "listen"?)`},
	}
	if !reflect.DeepEqual(ps.List, want) {
		t.Errorf("got %+v\nwant %+v", ps.List, want)
	}
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Line: 3, Path: "a.b", Message: "m"}, "f:3: a.b: m"},
		{Problem{File: "f", Path: "a.b", Message: "m"}, "f: a.b: m"},
		{Problem{Path: "a.b", Message: "m"}, "a.b: m"},
		{Problem{File: "f", Line: 1, Message: "m"}, "f:1: m"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestGolden parses each file of testdata/valid and testdata/invalid. A valid
// file's golden is its effective config (YAML()); an invalid file's is the error.
// Run with -update to rewrite the goldens after an intended change.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			valid := filepath.Base(filepath.Dir(file)) == "valid"
			c, err := Load(file)
			var got string
			switch {
			case valid && err != nil:
				t.Fatalf("Load: %v", err)
			case valid:
				out, err := c.YAML()
				if err != nil {
					t.Fatal(err)
				}
				got = string(out)
				// The effective config is itself a valid file meaning the same.
				again := mustParse(t, got)
				if !reflect.DeepEqual(settings(again), settings(c)) {
					t.Errorf("YAML() does not parse back to the same config:\n%s", got)
				}
			case err == nil:
				t.Fatalf("Load succeeded on an invalid file")
			default:
				var ps *Problems
				if !errors.As(err, &ps) {
					t.Fatalf("error %T is not *Problems: %v", err, err)
				}
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want an error wrapping fs.ErrNotExist", err)
	}
}

func TestExampleIsDefault(t *testing.T) {
	c, err := Parse("example", []byte(Example()))
	if err != nil {
		t.Fatalf("Example() does not parse:\n%v", err)
	}
	if !reflect.DeepEqual(settings(c), settings(Default())) {
		got, _ := c.YAML()
		want, _ := Default().YAML()
		t.Errorf("Example() drifted from Default().\nexample means:\n%s\ndefaults are:\n%s", got, want)
	}
}

func TestExampleIsComplete(t *testing.T) {
	c, err := Parse("example", []byte(Example()))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	schemaPaths(reflect.TypeFor[Config](), "", func(path string, leaf bool) {
		n++
		if _, ok := c.src.lines[path]; !ok {
			t.Errorf("Example() does not show %s", path)
		}
	})
	if n < 20 {
		t.Errorf("schema walk found only %d keys", n)
	}
}

// TestSchema checks conventions the decoder relies on, so that a new section
// cannot silently break them: explicit snake_case yaml tags, supported types,
// and `default` tags that parse.
func TestSchema(t *testing.T) {
	var walk func(t2 reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			if !sf.IsExported() {
				continue
			}
			tag, ok := sf.Tag.Lookup("yaml")
			name, _, _ := strings.Cut(tag, ",")
			p := joinPath(path, name)
			if !ok || (name == "" && !strings.Contains(tag, "inline")) || name != strings.ToLower(name) || strings.Contains(name, "-") {
				t.Errorf("%s.%s: want an explicit snake_case yaml tag, got %q", typ, sf.Name, tag)
			}
			ft := sf.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || (ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String) {
				ft = ft.Elem()
			}
			switch {
			case isLeaf(ft):
			case ft.Kind() == reflect.Struct:
				if _, ok := sf.Tag.Lookup("default"); ok {
					t.Errorf("%s: a section cannot have a default tag", p)
				}
				walk(ft, p)
			default:
				t.Errorf("%s: type %s is not supported by the decoder", p, sf.Type)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	Default() // panics on a default tag that does not parse
}

func TestYAMLRoundTrip(t *testing.T) {
	c := Default()
	c.Log.Format = "json"
	c.Broker.AdvertisedListener = "broker-1.internal:9092"
	c.Broker.DataDir = "/var/lib/tributary: data" // needs quoting
	c.Broker.MessageMaxBytes = 1234567
	c.Broker.TopicDefaults.RetentionTime = Forever
	c.Broker.TopicDefaults.RetentionBytes = 3 << 30
	c.Broker.Groups.InitialRebalanceDelay = Duration(1500 * time.Microsecond)
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, string(out))
	if !reflect.DeepEqual(settings(back), settings(c)) {
		t.Errorf("round trip through\n%s\ngave %+v\nwant %+v", out, settings(back), settings(c))
	}
	for _, want := range []string{"retention_ms: -1\n", "retention_bytes: 3GiB\n", "message_max_bytes: 1234567\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML() lacks %q:\n%s", want, out)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		path, value string
		check       func(c *Config) bool
		wantErr     string
	}{
		{"broker.listen", "0.0.0.0:19092", func(c *Config) bool { return c.Broker.Listen == "0.0.0.0:19092" }, ""},
		{"broker.data_dir", "/tmp/x", func(c *Config) bool { return c.Broker.DataDir == "/tmp/x" }, ""},
		{"broker.auto_create_topics", "false", func(c *Config) bool { return !c.Broker.AutoCreateTopics }, ""},
		{"broker.node_id", "7", func(c *Config) bool { return c.Broker.NodeID == 7 }, ""},
		{"broker.topic_defaults.retention_ms", "-1", func(c *Config) bool { return c.Broker.TopicDefaults.RetentionTime == Forever }, ""},
		{"broker.topic_defaults.segment_bytes", "256MiB", func(c *Config) bool { return c.Broker.TopicDefaults.SegmentBytes == 256<<20 }, ""},
		{"broker.groups.min_session_timeout", "6000", func(c *Config) bool { return c.Broker.Groups.MinSessionTimeout == Duration(6*time.Second) }, ""},
		{"log.level", "debug", func(c *Config) bool { return c.Log.Level == "debug" }, ""},
		{"broker.node_id", "seven", nil, `broker.node_id: expected an integer, got "seven"`},
		{"broker.auto_create_topics", "yes", nil, `broker.auto_create_topics: expected true or false, got "yes"`},
		{"broker.connections_max_idle", "abc", nil, `broker.connections_max_idle: expected a duration like "10s" or "7d", got "abc"`},
		{"broker.lisen", "x", nil, `broker.lisen: unknown key (did you mean "listen"?)`},
		{"brokr.listen", "x", nil, `brokr: unknown key (did you mean "broker"?)`},
		{"broker", "x", nil, `broker: is a section, not a single setting; set one of its keys (broker.listen, broker.advertised_listener, broker.node_id, broker.data_dir, ...)`},
		{"broker.listen.port", "1", nil, `broker.listen: is a single setting; it has no key "port"`},
		{"", "x", nil, `empty key in path`},
		{"broker..listen", "x", nil, `broker: empty key in path`},
	}
	for _, tt := range tests {
		c := Default()
		err := c.Set(tt.path, tt.value)
		if tt.wantErr != "" {
			var ps *Problems
			if err == nil || !errors.As(err, &ps) || err.Error() != tt.wantErr {
				t.Errorf("Set(%q, %q) = %v; want *Problems %q", tt.path, tt.value, err, tt.wantErr)
			}
			if !reflect.DeepEqual(settings(c), settings(Default())) {
				t.Errorf("Set(%q, %q) failed but changed the config", tt.path, tt.value)
			}
			continue
		}
		if err != nil || !tt.check(c) {
			t.Errorf("Set(%q, %q) = %v; config %+v", tt.path, tt.value, err, settings(c))
		}
	}
}

func TestSetThenValidate(t *testing.T) {
	c := mustParse(t, "broker:\n  listen: 127.0.0.1:9092\n  data_dir: /srv\n")
	// Order must not matter: message_max_bytes is raised before the limit it must respect.
	for _, kv := range [][2]string{{"broker.message_max_bytes", "200MiB"}, {"broker.socket_request_max_bytes", "300MiB"}} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%q, %q): %v", kv[0], kv[1], err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	// An overridden key is reported without the file's line: the file did not set that value.
	// A key the file set keeps its line; one from defaults falls back to its section's.
	if err := c.Set("broker.listen", "127.0.0.1"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	c.Broker.DataDir = ""
	c.Broker.MaxConnections = 0
	want := `test.yaml:1: broker.max_connections: must be at least 1
test.yaml:3: broker.data_dir: must not be empty
broker.listen: missing port in address "127.0.0.1"`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
}

func TestValidateDefaultHasNoFile(t *testing.T) {
	c := Default()
	c.Log.Format = "xml"
	want := `log.format: expected one of text, json; got "xml"`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		addr string
		kind addrKind
		want string
	}{
		{"127.0.0.1:9092", addrListen, ""},
		{":9092", addrListen, ""},
		{"[::1]:0", addrListen, ""},
		{"localhost:0", addrListen, ""},
		{"localhost:0", addrAdvertised, `port 0 in "localhost:0" is out of range (1 to 65535)`},
		{"127.0.0.1", addrListen, `missing port in address "127.0.0.1"`},
		{"::1:9092", addrListen, `too many colons in address "::1:9092" (write IPv6 addresses in brackets, like "[::1]:9092")`},
		{"PLAINTEXT://h:9092", addrListen, `expected host:port without a scheme (drop "PLAINTEXT://"), got "PLAINTEXT://h:9092"`},
		{"h:99999", addrListen, `port 99999 in "h:99999" is out of range (0 to 65535)`},
		{"h:-1", addrListen, `port -1 in "h:-1" is out of range (0 to 65535)`},
		{"h:kafka", addrListen, `port "kafka" in "h:kafka" is not a number`},
		{"my host:1", addrListen, `host "my host" in "my host:1" is not a host name or IP address`},
		{":9092", addrAdvertised, `missing host in ":9092": clients need a name or address they can reach`},
		{"0.0.0.0:9092", addrAdvertised, `"0.0.0.0:9092" binds all interfaces; advertise a name or address clients can reach`},
		{"broker-1:9092", addrAdvertised, ""},
	}
	for _, tt := range tests {
		if got := addressProblem(tt.addr, tt.kind); got != tt.want {
			t.Errorf("addressProblem(%q, %d) = %q, want %q", tt.addr, tt.kind, got, tt.want)
		}
	}
}

// TestExampleNamesKafkaConfigs keeps the example's [bracketed] Kafka names in
// step with the `kafka` tags used for suggestions.
func TestExampleNamesKafkaConfigs(t *testing.T) {
	schemaFields(reflect.TypeFor[Config](), "", func(path string, f field, _ bool) {
		for _, k := range f.kafka {
			if !strings.Contains(Example(), k+"]") && !strings.Contains(Example(), k+",") {
				t.Errorf("Example() does not name Kafka's %s for %s", k, path)
			}
		}
	})
}

func TestLimits(t *testing.T) {
	t.Run("alias bomb", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("x0: &a0 {level: info}\n")
		for i := 1; i <= 9; i++ {
			prev := "*a" + string(rune('0'+i-1))
			fmt.Fprintf(&b, "x%d: &a%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", "))
		}
		b.WriteString("log: *a9\n")
		_, err := Parse("bomb.yaml", []byte(b.String()))
		if err == nil || !strings.Contains(err.Error(), "log: document too large or too deeply aliased") {
			t.Errorf("Parse(alias bomb) = %v", err)
		}
	})
	t.Run("too many problems", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < 3*maxProblems; i++ {
			fmt.Fprintf(&b, "key%d: 1\n", i)
		}
		_, err := Parse("junk.yaml", []byte(b.String()))
		var ps *Problems
		if !errors.As(err, &ps) || len(ps.List) != maxProblems+1 ||
			ps.List[maxProblems].Message != "too many problems; stopped after 100" {
			t.Errorf("Parse(junk) = %d problems, want %d ending with a note", len(ps.List), maxProblems+1)
		}
	})
}
