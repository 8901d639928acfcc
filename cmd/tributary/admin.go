package main

// Shared plumbing of the admin commands (topics.go, groups.go): subcommand
// dispatch, the flags every admin subcommand takes, flags after positional
// arguments, the admin client, and output helpers.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultBroker is the broker the admin commands talk to when neither
// -b nor TRIBUTARY_BROKER says otherwise.
const defaultBroker = "127.0.0.1:9092"

// adminSub is one subcommand of an admin command ("topics list").
type adminSub struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// runAdminGroup dispatches args to one of subs. The common flags may come
// before the subcommand name (tributary topics -b host:9092 list); they are
// handed to the subcommand with the rest of its arguments.
func runAdminGroup(group string, subs []adminSub, args []string, stdout, stderr io.Writer) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		switch name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "="); {
		case name == "h" || name == "help":
			adminGroupUsage(stdout, group, subs)
			return 0
		case hasValue || !commonFlagTakesValue(name):
			i++
		default:
			i += 2
		}
	}
	if i >= len(args) {
		adminGroupUsage(stderr, group, subs)
		return 2
	}
	if args[i] == "help" {
		adminGroupUsage(stdout, group, subs)
		return 0
	}
	for _, s := range subs {
		if s.name == args[i] {
			rest := append(append([]string{}, args[:i]...), args[i+1:]...)
			return s.run(rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tributary %s: unknown subcommand %q\n\n", group, args[i])
	adminGroupUsage(stderr, group, subs)
	return 2
}

func commonFlagTakesValue(name string) bool {
	return name == "b" || name == "bootstrap-server" || name == "timeout"
}

func adminGroupUsage(w io.Writer, group string, subs []adminSub) {
	fmt.Fprintf(w, "Usage: tributary %s <subcommand> [flags] [args]\n\nSubcommands:\n", group)
	for _, s := range subs {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun \"tributary %s <subcommand> -h\" for a subcommand's flags.\n", group)
}

// adminCmd is one invocation of an admin subcommand: its flags, its writers,
// and the connection settings every subcommand shares.
type adminCmd struct {
	name     string // "tributary topics create", the prefix of every message
	synopsis string // arguments after the name, for the usage line
	about    string
	stdout   io.Writer
	stderr   io.Writer
	fs       *flag.FlagSet

	brokers string
	timeout time.Duration
}

func newAdminCmd(name, synopsis, about string, stdout, stderr io.Writer) *adminCmd {
	c := &adminCmd{name: "tributary " + name, synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
	c.fs = flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() {} // parse reports usage itself, to the right writer
	def := os.Getenv("TRIBUTARY_BROKER")
	if def == "" {
		def = defaultBroker
	}
	const brokerHelp = "broker `host:port` to bootstrap from (comma-separated for several; env TRIBUTARY_BROKER)"
	c.fs.StringVar(&c.brokers, "b", def, brokerHelp)
	c.fs.StringVar(&c.brokers, "bootstrap-server", def, brokerHelp)
	c.fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "give up on the broker after this long")
	return c
}

// parse parses flags anywhere among args and returns the positional
// arguments. When ok is false the command is over and code is its exit code:
// 0 after -h, 2 after a usage error (already reported).
func (c *adminCmd) parse(args []string) (positional []string, code int, ok bool) {
	positional, err := parseInterspersed(c.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(c.stdout)
		return nil, 0, false
	}
	if err != nil { // the flag package has printed the problem
		c.usage(c.stderr)
		return nil, 2, false
	}
	if c.timeout <= 0 {
		return nil, c.usageError("--timeout must be positive, got %v", c.timeout), false
	}
	return positional, 0, true
}

// parseInterspersed parses fs's flags wherever they are among args, so that
// "topics create NAME --partitions 3" works; everything after "--" is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func (c *adminCmd) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n\nFlags:\n", c.name, c.synopsis, c.about)
	c.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "bootstrap-server" { // printed with its short form
			return
		}
		name := "--" + f.Name
		if f.Name == "b" {
			name = "-b, --bootstrap-server"
		}
		arg, help := flag.UnquoteUsage(f)
		if arg != "" {
			name += " " + arg
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "[]" && !strings.Contains(help, "(default") {
			help += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "  %s\n    \t%s\n", name, help)
	})
}

// usageError reports a misuse and returns exit code 2.
func (c *adminCmd) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\n\n", c.name, fmt.Sprintf(format, args...))
	c.usage(c.stderr)
	return 2
}

// fail reports err and returns exit code 1.
func (c *adminCmd) fail(err error) int {
	c.report(err)
	return 1
}

// report prints err prefixed with the command's name.
func (c *adminCmd) report(err error) {
	fmt.Fprintf(c.stderr, "%s: %v\n", c.name, err)
}

// connect returns an admin client for the brokers and a context bounded by
// --timeout. done closes both.
func (c *adminCmd) connect() (ctx context.Context, adm *kadm.Client, done func(), err error) {
	var seeds []string
	for _, b := range strings.Split(c.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			seeds = append(seeds, b)
		}
	}
	if len(seeds) == 0 {
		return nil, nil, nil, errors.New("no broker given: use -b host:port")
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("tributary-admin"),
		kgo.DialTimeout(c.timeout),
	)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("broker %s: %w", c.brokers, err)
	}
	adm = kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(c.timeout.Milliseconds(), 1<<31-1)))
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	return ctx, adm, func() { cancel(); adm.Close() }, nil
}

// brokerErr explains a failed request: a timeout most likely means the
// broker is not there.
func (c *adminCmd) brokerErr(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer from broker %s within %v: %w", what, c.brokers, c.timeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// kafkaErr describes a per-resource error from a response: the Kafka error
// (e.g. "TOPIC_ALREADY_EXISTS: Topic with this name already exists.") and
// the broker's message when it says more.
func kafkaErr(err error, brokerMsg string) error {
	brokerMsg = strings.TrimSpace(strings.TrimSuffix(brokerMsg, ": "+err.Error()))
	if brokerMsg == "" || brokerMsg == err.Error() {
		return err
	}
	return fmt.Errorf("%w (%s)", err, brokerMsg)
}

// stringsFlag collects a flag given several times.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// parseConfigs turns k=v arguments into a map, refusing duplicates.
func parseConfigs(kvs []string) (map[string]string, error) {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, fmt.Errorf("--config %q: want key=value", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--config %s given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...any) *table {
	t := &table{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c)
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() { t.tw.Flush() }

// joinInt32s formats broker ids or partitions as "1,2,3", or "-" when empty.
func joinInt32s(xs []int32) string {
	if len(xs) == 0 {
		return "-"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// plural formats "1 thing" or "2 things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// orDash returns s, or "-" for an empty cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// offsetCell formats an offset, or "-" when unknown (negative).
func offsetCell(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

// reportEach reports the broker's answer for each name, in the order given:
// success prints ok(name, result) to stdout, a missing or failed answer is
// reported on stderr. It returns the exit code: 1 if any name failed.
func reportEach[R any](c *adminCmd, kind string, names []string, resps map[string]R,
	errOf func(R) (error, string), ok func(name string, r R)) int {
	exit := 0
	for _, name := range names {
		r, found := resps[name]
		if !found {
			c.report(fmt.Errorf("%s %q: missing from the broker's answer", kind, name))
			exit = 1
			continue
		}
		if err, msg := errOf(r); err != nil {
			c.report(fmt.Errorf("%s %q: %w", kind, name, kafkaErr(err, msg)))
			exit = 1
			continue
		}
		ok(name, r)
	}
	return exit
}
