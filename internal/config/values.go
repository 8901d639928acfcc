package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a length of time in the config file. It accepts Go durations
// ("250ms", "10s", "168h"), days ("7d", "1.5d", "1d12h"), and plain integers
// meaning milliseconds, because Kafka users write "*.ms" settings that way.
// -1 (Forever) means "no limit" for the settings that document it; other
// negative values are rejected.
type Duration time.Duration

// Forever is the Duration written -1: no time limit.
const Forever Duration = -1

const day = 24 * time.Hour

const expectDuration = `a duration like "10s" or "7d"`

// Std returns d as a time.Duration. Check for Forever first: it converts to -1ns.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d the way the config file would write it: -1, "7d", "5m", "250ms".
func (d Duration) String() string {
	switch {
	case d == Forever:
		return "-1"
	case d == 0:
		return "0s"
	case d < 0:
		return time.Duration(d).String()
	}
	std := time.Duration(d)
	for _, u := range []struct {
		size time.Duration
		name string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if std%u.size == 0 {
			return strconv.FormatInt(int64(std/u.size), 10) + u.name
		}
	}
	return std.String()
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalYAML writes Forever as the integer -1 and everything else as a string.
func (d Duration) MarshalYAML() (any, error) {
	if d == Forever {
		return -1, nil
	}
	return d.String(), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the syntax described on Duration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration parses s with the syntax described on Duration.
func ParseDuration(s string) (Duration, error) {
	bad := func(why string) (Duration, error) {
		return 0, fmt.Errorf("expected %s, got %q%s", expectDuration, s, why)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return bad("")
	}
	if isInteger(t) {
		ms, err := strconv.ParseInt(t, 10, 64)
		switch {
		case err != nil || ms > math.MaxInt64/int64(time.Millisecond):
			return bad(" (too large)")
		case ms == -1:
			return Forever, nil
		case ms < 0:
			return bad(" (negative; -1 means forever where allowed)")
		}
		return Duration(time.Duration(ms) * time.Millisecond), nil
	}
	if strings.HasPrefix(t, "-") {
		return bad(" (negative; -1 means forever where allowed)")
	}
	var total time.Duration
	if i := strings.IndexByte(t, 'd'); i >= 0 {
		days, err := strconv.ParseFloat(t[:i], 64)
		if err != nil || days < 0 || math.IsInf(days, 0) || math.IsNaN(days) {
			return bad("")
		}
		if days*float64(day) >= math.MaxInt64 {
			return bad(" (too large)")
		}
		total = time.Duration(days * float64(day))
		t = t[i+1:]
		if t == "" {
			return Duration(total), nil
		}
	}
	rest, err := time.ParseDuration(t)
	if err != nil || rest < 0 {
		return bad("")
	}
	if total > math.MaxInt64-rest {
		return bad(" (too large)")
	}
	return Duration(total + rest), nil
}

// ByteSize is a number of bytes in the config file. It accepts integers and
// sizes with SI (kB, MB, GB, TB, PB: powers of 1000) or IEC (KiB, MiB, GiB,
// TiB, PiB: powers of 1024) units, case-insensitively, fractions allowed
// ("1.5GB"). -1 (Unlimited) means "no limit" for the settings that document
// it; other negative values are rejected.
type ByteSize int64

// Unlimited is the ByteSize written -1: no size limit.
const Unlimited ByteSize = -1

const expectByteSize = `a size like "512KiB", "100MB" or 1048576`

var byteUnits = []struct {
	name string
	size int64
}{
	// Longest first for formatting: the largest unit that divides evenly wins.
	{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"PB", 1e15}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3},
	{"B", 1},
}

// String formats b the way the config file would write it: -1, "1GiB", "100MB", "1048588".
func (b ByteSize) String() string {
	if b <= 0 {
		return strconv.FormatInt(int64(b), 10)
	}
	for _, u := range byteUnits {
		if u.size > 1 && int64(b)%u.size == 0 {
			return strconv.FormatInt(int64(b)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// MarshalYAML writes plain byte counts as integers and round sizes as strings ("1GiB").
func (b ByteSize) MarshalYAML() (any, error) {
	s := b.String()
	if isInteger(s) {
		return int64(b), nil
	}
	return s, nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the syntax described on ByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize parses s with the syntax described on ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	bad := func(why string) (ByteSize, error) {
		return 0, fmt.Errorf("expected %s, got %q%s", expectByteSize, s, why)
	}
	t := strings.TrimSpace(s)
	if isInteger(t) {
		n, err := strconv.ParseInt(t, 10, 64)
		switch {
		case err != nil:
			return bad(" (too large)")
		case n == -1:
			return Unlimited, nil
		case n < 0:
			return bad(" (negative; -1 means unlimited where allowed)")
		}
		return ByteSize(n), nil
	}
	end := len(t)
	for end > 0 && isLetter(t[end-1]) {
		end--
	}
	number, unit := strings.TrimSpace(t[:end]), t[end:]
	if number == "" || unit == "" || strings.HasPrefix(number, "-") {
		return bad("")
	}
	var size int64
	for _, u := range byteUnits {
		if strings.EqualFold(unit, u.name) {
			size = u.size
		}
	}
	if size == 0 {
		return bad(" (unknown unit " + strconv.Quote(unit) + ")")
	}
	f, err := strconv.ParseFloat(number, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(number, "eExXpP_") {
		return bad("")
	}
	n := math.Round(f * float64(size))
	if n >= math.MaxInt64 {
		return bad(" (too large)")
	}
	return ByteSize(n), nil
}

// isInteger reports whether s is an optionally signed run of decimal digits.
func isInteger(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
