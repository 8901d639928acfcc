package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	File    string // file name as given to Load or Parse; "" for overrides and Default()
	Line    int    // 1-based; 0 when the value came from defaults or an override
	Path    string // dotted YAML key path, like "broker.listen"; "" for file-level problems
	Message string
}

// String formats p as "file:line: key.path: message", leaving out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the error returned when a configuration is invalid. It holds
// every problem found, not only the first, sorted by line; problems without a
// line come last.
type Problems struct {
	List []Problem
}

// Error returns one problem per line.
func (p *Problems) Error() string {
	lines := make([]string, len(p.List))
	for i, q := range p.List {
		lines[i] = q.String()
	}
	return strings.Join(lines, "\n")
}

// errorOrNil sorts the problems and returns them as an error, or nil when there are none.
func (p *Problems) errorOrNil() error {
	if len(p.List) == 0 {
		return nil
	}
	sort.SliceStable(p.List, func(i, j int) bool {
		a, b := p.List[i].Line, p.List[j].Line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	return p
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to key, or
// "" when none is close enough to be a likely typo. Keys are compared without
// case, dots, dashes and underscores first, so Kafka-style names
// ("retention.ms") and camelCase find their snake_case field.
func suggest(key string, candidates []string) string {
	best, bestDist := "", -1
	nk := normalizeKey(key)
	if len(nk) > 64 {
		return "" // not a typo of a key; and keeps the quadratic distance cheap
	}
	for _, c := range candidates {
		d := levenshtein(nk, normalizeKey(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := len(nk) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func normalizeKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.':
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// levenshtein returns the edit distance between a and b, counting bytes.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
