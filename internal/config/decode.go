package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeBudget bounds the nodes visited, so that aliases nested into
// exponential expansions ("billion laughs") cannot stall start-up. Real
// configs have a few thousand nodes at most.
const decodeBudget = 1 << 16

// maxProblems stops decoding a file that is mostly wrong (or not a config
// at all): past this many problems, more would not help the reader.
const maxProblems = 100

// decoder walks a yaml.Node tree against the Go structs, filling them,
// recording the line of every key, and collecting problems instead of
// stopping at the first.
type decoder struct {
	file     string
	lines    map[string]int // key path → line of the key
	problems []Problem
	resolved map[*yaml.Node]bool // aliases being expanded, to catch cycles
	budget   int
}

func (d *decoder) report(line int, path, format string, args ...any) {
	if len(d.problems) >= maxProblems {
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
	if len(d.problems) == maxProblems {
		d.problems = append(d.problems, Problem{File: d.file, Line: line, Message: fmt.Sprintf("too many problems; stopped after %d", maxProblems)})
		d.budget = 0
	}
}

// exhausted reports whether decoding must stop, noting it once.
func (d *decoder) exhausted(n *yaml.Node, path string) bool {
	if d.budget--; d.budget >= 0 {
		return false
	}
	if d.budget == -1 && len(d.problems) < maxProblems {
		d.report(n.Line, path, "document too large or too deeply aliased")
	}
	return true
}

// parseYAML decodes data into the section pointed to by out. Syntax errors
// stop decoding; every other problem is collected and decoding goes on.
func parseYAML(file string, data []byte, out reflect.Value) (lines map[string]int, problems []Problem) {
	d := &decoder{file: file, lines: map[string]int{}, resolved: map[*yaml.Node]bool{}, budget: decodeBudget}
	root, err := readDocument(data)
	if err != nil {
		line, msg := splitYAMLError(err)
		d.report(line, "", "%s", msg)
		return d.lines, d.problems
	}
	if root != nil {
		d.decode(root, out.Elem(), "")
	}
	return d.lines, d.problems
}

// readDocument parses data as one YAML document; nil means empty.
func readDocument(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// yaml.v3 re-panics on anything but its own errors; outside input must never crash us.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	for {
		// Empty documents after the first (a trailing "---") are harmless.
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if len(next.Content) > 0 && !isNull(next.Content[0]) {
			return nil, fmt.Errorf("yaml: line %d: the file holds more than one YAML document (a second \"---\"?)", max(next.Line, 1))
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (?s:(.*))$`)

// yamlParserProblems are the messages of yaml.v3's parser (not its scanner).
// yaml.v3 reports their line 0-based and leaves the line out when it is 0,
// so splitYAMLError adds one. For some, the line is where the enclosing
// mapping or list starts rather than where the problem is.
var yamlParserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// splitYAMLError turns "yaml: line 3: did not find expected key" into (3, "did not find expected key").
func splitYAMLError(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if yamlParserProblems[msg] {
		line++
	}
	return line, msg
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// shape names what a node holds, for "expected X, got Y".
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "a YAML document"
}

// decode fills v, whose key path is path, from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.exhausted(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if d.resolved[n] || n.Alias == nil {
			d.report(n.Line, path, "alias *%s refers to itself", n.Value)
			return
		}
		d.resolved[n] = true
		d.decode(n.Alias, v, path)
		delete(d.resolved, n)
		return
	}
	t := v.Type()
	if isNull(n) {
		if isLeaf(t) {
			d.report(n.Line, path, "no value (write a value, or remove the key to use the default)")
		}
		return // an empty section keeps its defaults
	}
	switch {
	case isLeaf(t):
		if n.Kind != yaml.ScalarNode {
			d.report(n.Line, path, "expected %s, got %s", describe(t), shape(n))
			return
		}
		if err := parseLeaf(v, n.Value); err != nil {
			d.report(n.Line, path, "%s", err)
		}
	case t.Kind() == reflect.Struct:
		d.mapping(n, path, t, func(key string, line int) (reflect.Value, bool) {
			f, ok := fieldNamed(t, key)
			if !ok {
				d.report(line, joinPath(path, key), "unknown key%s", d.suggestion(t, path, key))
				return reflect.Value{}, false
			}
			return v.FieldByIndex(f.index), true
		}, nil)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.mapping(n, path, t, func(key string, _ int) (reflect.Value, bool) {
			elem := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(key).Convert(t.Key())); old.IsValid() {
				elem.Set(old)
			} else {
				applyDefaults(elem)
			}
			return elem, true
		}, func(key string, elem reflect.Value) {
			v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
		})
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.report(n.Line, path, "expected %s, got %s", describe(t), shape(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if d.exhausted(item, path) {
				return
			}
			applyDefaults(s.Index(i))
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
			applyDefaults(v.Elem())
		}
		d.decode(n, v.Elem(), path)
	default:
		d.report(n.Line, path, "internal error: config type %s is not supported", t)
	}
}

// mapping walks the keys of mapping node n. Merge keys ("<<: *base") are
// applied first so that explicit keys win, as YAML specifies. target returns
// the value to decode a key into; done, if set, is called after decoding.
func (d *decoder) mapping(n *yaml.Node, path string, t reflect.Type,
	target func(key string, line int) (reflect.Value, bool), done func(key string, v reflect.Value)) {
	if n.Kind != yaml.MappingNode {
		d.report(n.Line, path, "expected %s, got %s", describe(t), shape(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], path, t, target, done)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content) && d.budget > 0; i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.report(k.Line, path, "keys must be names, got %s", shape(k))
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.report(k.Line, p, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		v, ok := target(k.Value, k.Line)
		if !ok {
			continue
		}
		d.lines[p] = k.Line
		d.decode(val, v, p)
		if done != nil {
			done(k.Value, v)
		}
	}
}

// merge applies the value of a "<<" key: a mapping, or a list of mappings of
// which the earlier ones win.
func (d *decoder) merge(n *yaml.Node, path string, t reflect.Type,
	target func(key string, line int) (reflect.Value, bool), done func(key string, v reflect.Value)) {
	if d.exhausted(n, path) {
		return
	}
	switch {
	case n.Kind == yaml.AliasNode:
		if d.resolved[n] || n.Alias == nil {
			d.report(n.Line, path, "alias *%s refers to itself", n.Value)
			return
		}
		d.resolved[n] = true
		d.merge(n.Alias, path, t, target, done)
		delete(d.resolved, n)
	case n.Kind == yaml.MappingNode:
		d.mapping(n, path, t, target, done)
	case n.Kind == yaml.SequenceNode:
		for i := len(n.Content) - 1; i >= 0; i-- {
			if c := n.Content[i]; c.Kind == yaml.AliasNode || c.Kind == yaml.MappingNode {
				d.merge(c, path, t, target, done)
			} else {
				d.report(c.Line, path, "a merge (<<) takes mappings, got %s", shape(c))
			}
		}
	default:
		d.report(n.Line, path, "a merge (<<) takes a mapping or a list of mappings, got %s", shape(n))
	}
}

// suggestion proposes the key the user probably meant for an unknown key
// of section t at path: the key standing for a Kafka config of that name
// ("log.dirs" → "data_dir"), a close spelling, or a key of that name in
// another section ("listen" at the top level → "broker.listen").
func (d *decoder) suggestion(t reflect.Type, path, key string) string {
	var local, elsewhere []string
	schemaFields(reflect.TypeFor[Config](), "", func(p string, f field, _ bool) {
		for _, k := range f.kafka {
			if strings.EqualFold(k, key) {
				elsewhere = append(elsewhere, p)
				if parentPath(p) == path {
					local = append(local, f.name)
				}
			}
		}
	})
	if len(local) == 1 {
		return fmt.Sprintf(" (did you mean %q? It stands for Kafka's %s)", local[0], key)
	}
	if s := suggest(key, fieldNames(t)); s != "" {
		return s
	}
	if len(elsewhere) == 1 {
		return fmt.Sprintf(" (did you mean %q? It stands for Kafka's %s)", elsewhere[0], key)
	}
	elsewhere = elsewhere[:0]
	schemaPaths(reflect.TypeFor[Config](), "", func(p string, _ bool) {
		if p[strings.LastIndexByte(p, '.')+1:] == key && parentPath(p) != path {
			elsewhere = append(elsewhere, p)
		}
	})
	if len(elsewhere) == 1 {
		return fmt.Sprintf(" (did you mean %q?)", elsewhere[0])
	}
	return ""
}
