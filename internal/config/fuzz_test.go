package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or hang, that failures are
// always a non-empty *Problems, and that whatever parses survives a round trip
// through YAML().
func FuzzParse(f *testing.F) {
	f.Add([]byte(Example()))
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "{}", "~", "[", "broker: {listen: [}", "a: &a [*a, *a]", "broker: &b {<<: [*b, *b]}",
		"broker:\n  topic_defaults:\n    retention_ms: 99999999999999999999d\n",
		"broker:\n  socket_request_max_bytes: 1e309KiB\n", "log: !!binary aGVsbG8=\n",
		"\xff\xfe", "? [a]\n: 1\n", "broker: !!map {}\n", "%YAML 1.1\n---\nlog: {}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ps *Problems
			if !errors.As(err, &ps) || len(ps.List) == 0 {
				t.Fatalf("error %T %q is not a non-empty *Problems", err, err)
			}
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		out, err := c.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		back, err := Parse("round-trip", out)
		if err != nil {
			t.Fatalf("YAML() output does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(settings(back), settings(c)) {
			t.Fatalf("round trip changed the config:\n%s", out)
		}
	})
}
