package agenttest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shirou/gopsutil/v4/common"

	"github.com/tributary/tributary/agent"
)

var update = flag.Bool("update", false, "rewrite the expected.out files of testdata/ from the current output")

// Lines formats points one per line, sorted, in a line-protocol-like form
// without timestamps: "name,tag=v,... field=1i,field=0.5,field=\"s\"".
// Integers carry Telegraf's "i" suffix; tags and fields are sorted by key.
func Lines(points []agent.Metric) string {
	var lines []string
	for _, m := range points {
		var b strings.Builder
		b.WriteString(m.Name)
		for _, k := range sortedKeys(m.Tags) {
			fmt.Fprintf(&b, ",%s=%s", k, m.Tags[k])
		}
		keys := make([]string, 0, len(m.Fields))
		for k := range m.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			sep := ","
			if i == 0 {
				sep = " "
			}
			fmt.Fprintf(&b, "%s%s=%s", sep, k, formatValue(m.Fields[k]))
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func formatValue(v any) string {
	switch x := v.(type) {
	case int, int32, int64, uint, uint32, uint64:
		return fmt.Sprintf("%di", x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprint(v)
}

// Golden compares got with dir/expected.out; with -update it rewrites the file.
func Golden(t *testing.T, dir, got string) {
	t.Helper()
	path := filepath.Join(dir, "expected.out")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// HostProc returns a context under which gopsutil and the inputs' /proc
// readers read dir as /proc (the HOST_PROC convention).
func HostProc(dir string) context.Context {
	return context.WithValue(context.Background(), common.EnvKey, common.EnvMap{common.HostProcEnvKey: dir})
}

// GatherGolden gathers once from the fake /proc in dir/proc and compares the
// points with dir/expected.out (go test -update rewrites it).
func GatherGolden(t *testing.T, dir string, in agent.Input) {
	t.Helper()
	acc := &Accumulator{}
	if err := in.Gather(HostProc(filepath.Join(dir, "proc")), acc); err != nil {
		t.Fatal(err)
	}
	Golden(t, dir, Lines(acc.Metrics))
}
