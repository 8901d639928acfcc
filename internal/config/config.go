// Package config owns Tributary's one YAML config file: its schema (the Go
// structs below), defaults for every key, strict decoding that rejects unknown
// keys, and validation that reports every problem with file, line and key.
// See README.md for how to add a section.
package config

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Each field is a section of the file.
type Config struct {
	// Log configures Tributary's own logs (log/slog).
	Log Log `yaml:"log"`
	// Broker configures the Kafka-protocol broker.
	Broker Broker `yaml:"broker"`
	// Agent configures the agent: host inputs and delivery to the broker.
	Agent Agent `yaml:"agent"`

	src *sources // where each key was set; nil for Default()
}

// sources remembers where each key path was set, so that validation problems
// found after decoding still point at a line.
type sources struct {
	file  string
	lines map[string]int // key path → line; 0 = set by an override (Set)
}

// locate returns the file and line for path, falling back to the nearest
// parent that was written in the file. Keys that came from defaults anywhere
// up the path get no line; overridden keys get neither file nor line.
func (s *sources) locate(path string) (file string, line int) {
	if s == nil {
		return "", 0
	}
	for p := path; ; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			if l == 0 {
				return "", 0
			}
			return s.file, l
		}
		if p == "" {
			return s.file, 0
		}
	}
}

//go:embed example.yaml
var example string

// Example returns a config file that sets every key to its default, each with
// a one-line explanation. It is the reference documentation of the file;
// tests keep it equal to Default() and complete.
func Example() string { return example }

// Default returns the configuration used when there is no file: every key at
// its default.
func Default() *Config {
	c := &Config{}
	applyDefaults(reflect.ValueOf(c).Elem())
	return c
}

// Load reads the config file at path, fills every missing key with its
// default and validates the result. An invalid file gives a *Problems error
// listing every problem as "path:line: key.path: message".
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for data already in memory; name is used in problems.
// An empty document or "{}" gives Default().
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	lines, problems := parseYAML(name, data, reflect.ValueOf(c))
	c.src = &sources{file: name, lines: lines}
	problems = append(problems, c.check(problems)...)
	if err := (&Problems{List: problems}).errorOrNil(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the configuration again, typically after Set. It returns a
// *Problems error or nil.
func (c *Config) Validate() error {
	return (&Problems{List: c.check(nil)}).errorOrNil()
}

// check runs every section's validate method. Problems under a key that
// already failed to decode are left out: the value checked is not the user's.
func (c *Config) check(decodeProblems []Problem) []Problem {
	var problems []Problem
	validateTree(reflect.ValueOf(c).Elem(), "", func(path, msg string) {
		for _, p := range decodeProblems {
			if isUnder(path, p.Path) {
				return
			}
		}
		file, line := c.src.locate(path)
		problems = append(problems, Problem{File: file, Line: line, Path: path, Message: msg})
	})
	return problems
}

// isUnder reports whether path is ancestor or below it.
func isUnder(path, ancestor string) bool {
	return ancestor == "" || path == ancestor ||
		strings.HasPrefix(path, ancestor+".") || strings.HasPrefix(path, ancestor+"[")
}

// validateTree calls validate on v and on every section below it, children first.
func validateTree(v reflect.Value, path string, report func(path, msg string)) {
	t := v.Type()
	switch {
	case isLeaf(t):
		return
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			name, inline, ok := yamlKey(t.Field(i))
			if !ok {
				continue
			}
			if inline {
				validateTree(v.Field(i), path, report)
			} else {
				validateTree(v.Field(i), joinPath(path, name), report)
			}
		}
		if !v.CanAddr() {
			cp := reflect.New(t).Elem()
			cp.Set(v)
			v = cp
		}
		if s, ok := v.Addr().Interface().(validator); ok {
			s.validate(func(p, msg string) { report(joinPath(path, p), msg) })
		}
	case t.Kind() == reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			validateTree(v.MapIndex(k), joinPath(path, k.String()), report)
		}
	case t.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			validateTree(v.Index(i), fmt.Sprintf("%s[%d]", path, i), report)
		}
	case t.Kind() == reflect.Pointer:
		if !v.IsNil() {
			validateTree(v.Elem(), path, report)
		}
	}
}

// YAML returns the effective configuration as a config file, defaults included.
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	return buf.Bytes(), nil
}
