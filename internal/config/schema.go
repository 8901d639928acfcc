package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// The schema is the Go structs themselves: a struct is a section (a YAML
// mapping with fixed keys), its exported fields are keys named by their `yaml`
// tag, and `default:"..."` gives a leaf's default in the same syntax as the
// file. This file holds the reflection shared by decoding, defaults and Set.

// defaulter is implemented by sections whose defaults cannot be written as a
// `default` tag (maps, lists, computed values). It runs after the tags.
type defaulter interface{ setDefaults() }

// validator is implemented by sections that check their values. Paths given
// to report are relative to the section ("listen", "topic_defaults.segment_ms").
// It is called after decoding and after defaults, for every section reached
// from Config, including elements of maps and lists.
type validator interface {
	validate(report func(path, msg string))
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// field is one key of a section.
type field struct {
	name       string // YAML key
	index      []int  // for reflect.Value.FieldByIndex
	def        string // `default` tag
	hasDefault bool
	kafka      []string // `kafka` tag: the Kafka configs this key stands for, for suggestions
}

var fieldCache sync.Map // reflect.Type → []field

// fieldsOf returns the keys of section type t in declaration order, with the
// fields of `yaml:",inline"` structs in place.
func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var fields []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, inline, ok := yamlKey(sf)
		switch {
		case !ok:
			continue
		case inline:
			for _, inner := range fieldsOf(sf.Type) {
				inner.index = append([]int{i}, inner.index...)
				fields = append(fields, inner)
			}
			continue
		}
		def, hasDefault := sf.Tag.Lookup("default")
		f := field{name: name, index: []int{i}, def: def, hasDefault: hasDefault}
		if k := sf.Tag.Get("kafka"); k != "" {
			f.kafka = strings.Split(k, ",")
		}
		fields = append(fields, f)
	}
	fieldCache.Store(t, fields)
	return fields
}

// yamlKey returns the key of struct field sf as yaml.v3 names it, whether
// its fields are inlined into the parent, and false for fields that are not keys.
func yamlKey(sf reflect.StructField) (name string, inline, ok bool) {
	tag := sf.Tag.Get("yaml")
	if !sf.IsExported() || tag == "-" {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(","+opts+",", ",inline,") && sf.Type.Kind() == reflect.Struct {
		return "", true, true
	}
	if name == "" {
		name = strings.ToLower(sf.Name) // what yaml.v3 does, so YAML() agrees
	}
	return name, false, true
}

func fieldNamed(t reflect.Type, name string) (field, bool) {
	for _, f := range fieldsOf(t) {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for _, f := range fieldsOf(t) {
		names = append(names, f.name)
	}
	return names
}

// isLeaf reports whether values of t are written as one scalar.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// isSection reports whether t is a struct decoded key by key.
func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct && !isLeaf(t) }

// describe says what a value of type t looks like, for "expected X, got Y".
func describe(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return expectDuration
	case reflect.TypeFor[ByteSize]():
		return expectByteSize
	}
	if isLeaf(t) && t.Kind() == reflect.Struct {
		return "a single value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct:
		return "a mapping of keys"
	case reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Pointer:
		return describe(t.Elem())
	}
	return "a value of type " + t.String()
}

var errSyntax = errors.New("syntax")

// parseLeaf sets the addressable leaf v from text, the one parser shared by
// the file, `default` tags and Set. Errors are complete messages.
func parseLeaf(v reflect.Value, text string) error {
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(text))
	}
	err := parseKind(v, text)
	if errors.Is(err, errSyntax) {
		return fmt.Errorf("expected %s, got %q", describe(v.Type()), text)
	}
	return err
}

func parseKind(v reflect.Value, text string) error {
	t := v.Type()
	switch t.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		switch strings.ToLower(text) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return errSyntax
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, t.Bits())
		if errors.Is(err, strconv.ErrRange) {
			lim := int64(1)<<(t.Bits()-1) - 1
			return fmt.Errorf("%s is out of range (%d to %d)", text, -lim-1, lim)
		} else if err != nil {
			return errSyntax
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(text, 10, t.Bits())
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s is out of range (0 to %d)", text, uint64(1)<<t.Bits()-1)
		} else if err != nil {
			return errSyntax
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(text, t.Bits())
		if err != nil {
			return errSyntax
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("expected %s, got %q", describe(t), text)
	}
	return nil
}

// applyDefaults fills the section v with its `default` tags and setDefaults
// hooks, recursing into nested sections. Maps, lists and pointers stay empty
// unless a hook fills them; their elements get defaults when decoded.
func applyDefaults(v reflect.Value) {
	if !isSection(v.Type()) {
		return
	}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if f.hasDefault {
			if err := parseLeaf(fv, f.def); err != nil {
				// A programming error caught by TestDefault: the tag is not valid config syntax.
				panic(fmt.Sprintf("config: default tag of %s.%s: %v", v.Type(), f.name, err))
			}
			continue
		}
		applyDefaults(fv)
	}
	if d, ok := v.Addr().Interface().(defaulter); ok {
		d.setDefaults()
	}
}

// joinPath appends key to the dotted path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// schemaPaths lists the dotted path of every key reachable through sections
// (not into maps or lists, whose keys are the user's), calling fn with the
// path and whether it is a leaf.
func schemaPaths(t reflect.Type, path string, fn func(path string, leaf bool)) {
	schemaFields(t, path, func(path string, f field, leaf bool) { fn(path, leaf) })
}

func schemaFields(t reflect.Type, path string, fn func(path string, f field, leaf bool)) {
	for _, f := range fieldsOf(t) {
		p := joinPath(path, f.name)
		ft := t.FieldByIndex(f.index).Type
		if isSection(ft) {
			fn(p, f, false)
			schemaFields(ft, p, fn)
			continue
		}
		fn(p, f, true)
	}
}
