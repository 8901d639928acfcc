package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Set overrides one setting by its dotted YAML path ("broker.listen",
// "broker.topic_defaults.retention_ms"), parsing value exactly as the file
// would: "7d", "100MiB", "true", and comma-separated items for lists. It is
// how command-line flags override the file. On error c is unchanged and the
// error is a *Problems.
//
// Set checks syntax only. Call Validate after the last override, as Load does
// after the last key of the file, so that checks relating two settings
// (message_max_bytes <= socket_request_max_bytes) do not depend on the order
// in which flags are given.
func (c *Config) Set(path, value string) error {
	if errPath, err := setPath(reflect.ValueOf(c).Elem(), strings.Split(path, "."), "", value); err != nil {
		return &Problems{List: []Problem{{Path: errPath, Message: err.Error()}}}
	}
	if c.src == nil {
		c.src = &sources{lines: map[string]int{}}
	}
	for p := range c.src.lines {
		if isUnder(p, path) {
			delete(c.src.lines, p)
		}
	}
	c.src.lines[path] = 0
	return nil
}

// setPath sets the key at segs below v (whose path is walked) from value. On
// error it returns the path the error is about.
func setPath(v reflect.Value, segs []string, walked, value string) (string, error) {
	t := v.Type()
	if len(segs) == 0 {
		if t.Kind() == reflect.Slice && isLeaf(t.Elem()) {
			return walked, setList(v, value)
		}
		if !isLeaf(t) {
			names := prefixAll(walked, leafNames(t))
			if len(names) > 4 {
				names = append(names[:4], "...")
			}
			return walked, fmt.Errorf("is a section, not a single setting; set one of its keys (%s)",
				strings.Join(names, ", "))
		}
		tmp := reflect.New(t).Elem()
		if err := parseLeaf(tmp, value); err != nil {
			return walked, err
		}
		v.Set(tmp)
		return walked, nil
	}
	key, next := segs[0], joinPath(walked, segs[0])
	switch {
	case key == "":
		return walked, fmt.Errorf("empty key in path")
	case isSection(t):
		f, ok := fieldNamed(t, key)
		if !ok {
			return next, fmt.Errorf("unknown key%s", suggest(key, fieldNames(t)))
		}
		return setPath(v.FieldByIndex(f.index), segs[1:], next, value)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		k := reflect.ValueOf(key).Convert(t.Key())
		elem := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(k); old.IsValid() {
			elem.Set(old)
		} else {
			applyDefaults(elem)
		}
		if p, err := setPath(elem, segs[1:], next, value); err != nil {
			return p, err
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		v.SetMapIndex(k, elem)
		return next, nil
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		if v.IsNil() {
			applyDefaults(elem.Elem())
		} else {
			elem.Elem().Set(v.Elem())
		}
		if p, err := setPath(elem.Elem(), segs, walked, value); err != nil {
			return p, err
		}
		v.Set(elem)
		return walked, nil
	}
	return walked, fmt.Errorf("is a single setting; it has no key %q", key)
}

// setList sets a list of leaves from comma-separated items; "" is the empty list.
func setList(v reflect.Value, value string) error {
	var items []string
	if strings.TrimSpace(value) != "" {
		items = strings.Split(value, ",")
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		if err := parseLeaf(s.Index(i), strings.TrimSpace(item)); err != nil {
			return fmt.Errorf("item %d: %w", i+1, err)
		}
	}
	v.Set(s)
	return nil
}

func leafNames(t reflect.Type) []string {
	var names []string
	schemaPaths(t, "", func(p string, leaf bool) {
		if leaf {
			names = append(names, p)
		}
	})
	return names
}

func prefixAll(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = joinPath(prefix, n)
	}
	return out
}
