package all_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/shirou/gopsutil/v4/common"

	"github.com/tributary/tributary/agent/agenttest"
	"github.com/tributary/tributary/agent/inputs"
	"github.com/tributary/tributary/agent/inputs/net"
)

// TestSameAsTelegraf runs Telegraf (path in $TRIBUTARY_TELEGRAF; skipped
// without it) and our inputs on the same fake /proc trees of the inputs'
// golden directories, and requires identical measurements, tags, fields and
// values. Install Telegraf with
// "go install github.com/influxdata/telegraf/cmd/telegraf@v1.37.2".
func TestSameAsTelegraf(t *testing.T) {
	bin := os.Getenv("TRIBUTARY_TELEGRAF")
	if bin == "" {
		t.Skip("set TRIBUTARY_TELEGRAF to a telegraf binary to compare with it")
	}
	cases := []struct{ input, dir, conf string }{
		{"mem", "../mem/testdata/linux", ""},
		{"net", "../net/testdata/three_interfaces", `interfaces = ["*"]` + "\n  ignore_protocol_stats = true"},
		{"diskio", "../diskio/testdata/disks", "skip_serial_number = true"},
		{"processes", "../processes/testdata/states", ""},
	}
	for _, tc := range cases {
		t.Run(tc.input, func(t *testing.T) {
			dir, err := filepath.Abs(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(t.TempDir(), "telegraf.conf")
			body := "[agent]\n  omit_hostname = true\n[[inputs." + tc.input + "]]\n  " + tc.conf + "\n[[outputs.file]]\n  files = [\"stdout\"]\n"
			if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "--config", conf, "--test", "--input-filter", tc.input)
			cmd.Env = append(os.Environ(), "HOST_PROC="+filepath.Join(dir, "proc"), "HOST_SYS="+filepath.Join(dir, "sys"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("telegraf: %v", err)
			}
			want := normalizeTelegraf(string(out))

			in := inputs.Inputs[tc.input]()
			if n, ok := in.(*net.Net); ok {
				n.Interfaces = []string{"*"}
			}
			ctx := context.WithValue(context.Background(), common.EnvKey, common.EnvMap{
				common.HostProcEnvKey: filepath.Join(dir, "proc"), common.HostSysEnvKey: filepath.Join(dir, "sys")})
			acc := &agenttest.Accumulator{}
			if err := in.Gather(ctx, acc); err != nil {
				t.Fatal(err)
			}
			if got := agenttest.Lines(acc.Metrics); got != want {
				t.Errorf("ours:\n%s\ntelegraf:\n%s", got, want)
			}
		})
	}
}

var uintValue = regexp.MustCompile(`=(\d+)u\b`)

// normalizeTelegraf turns "--test" output into agenttest.Lines' form:
// no "> " prefix or timestamp, unsigned integers as "i", fields and lines sorted.
func normalizeTelegraf(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l, ok := strings.CutPrefix(l, "> ")
		if !ok {
			continue
		}
		l = l[:strings.LastIndex(l, " ")]
		l = uintValue.ReplaceAllString(l, "=${1}i")
		head, fields, _ := strings.Cut(l, " ")
		fs := strings.Split(fields, ",")
		sort.Strings(fs)
		lines = append(lines, head+" "+strings.Join(fs, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
