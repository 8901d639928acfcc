// Package inputs holds the registry of input plugins. Each plugin lives in its
// own package below and registers itself from init(); import
// github.com/tributary/tributary/agent/inputs/all to get every one.
package inputs

import (
	"sort"

	"github.com/tributary/tributary/agent"
)

// Creator returns a new input with its default settings.
type Creator func() agent.Input

// Inputs maps a plugin name to its creator. Plugins add themselves with Add
// from init(); it is read-only afterwards.
var Inputs = map[string]Creator{}

// Add registers a plugin. It panics on a duplicate name: that is a build mistake.
func Add(name string, c Creator) {
	if _, dup := Inputs[name]; dup {
		panic("inputs: duplicate plugin " + name)
	}
	Inputs[name] = c
}

// Names returns the registered plugin names, sorted.
func Names() []string {
	names := make([]string, 0, len(Inputs))
	for n := range Inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
