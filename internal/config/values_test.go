package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string // substring; "" means success
	}{
		{"250ms", Duration(250 * time.Millisecond), ""},
		{"10s", Duration(10 * time.Second), ""},
		{"168h", Duration(168 * time.Hour), ""},
		{"1h30m", Duration(90 * time.Minute), ""},
		{"7d", Duration(7 * day), ""},
		{"1.5d", Duration(36 * time.Hour), ""},
		{"1d12h", Duration(36 * time.Hour), ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"600000", Duration(10 * time.Minute), ""}, // Kafka-style milliseconds
		{"1", Duration(time.Millisecond), ""},
		{" 5s ", Duration(5 * time.Second), ""},
		{"-1", Forever, ""},
		{"abc", 0, `expected a duration like "10s" or "7d", got "abc"`},
		{"", 0, `got ""`},
		{"10", Duration(10 * time.Millisecond), ""},
		{"10x", 0, "expected a duration"},
		{"1.5", 0, "expected a duration"},
		{"d", 0, "expected a duration"},
		{"7dd", 0, "expected a duration"},
		{"-5s", 0, "negative; -1 means forever"},
		{"-2", 0, "negative; -1 means forever"},
		{"-1d", 0, "negative"},
		{"infd", 0, "expected a duration"},
		{"99999999999999999999", 0, "too large"},
		{"9223372036854775", 0, "too large"}, // ms that overflow nanoseconds
		{"200000d", 0, "too large"},
		{"106751d23h", Duration(106751*day + 23*time.Hour), ""},
		{"106751d24h", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   Duration
		want string
	}{
		{Forever, "-1"},
		{0, "0s"},
		{Duration(7 * day), "7d"},
		{Duration(36 * time.Hour), "36h"},
		{Duration(90 * time.Minute), "90m"},
		{Duration(90 * time.Second), "90s"},
		{Duration(1500 * time.Millisecond), "1500ms"},
		{Duration(1500 * time.Microsecond), "1.5ms"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Duration(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if back, err := ParseDuration(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseDuration(%q) = %v, %v; want it to round-trip to %d", tt.want, back, err, int64(tt.in))
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{"0", 0, ""},
		{"1048588", 1048588, ""},
		{"-1", Unlimited, ""},
		{"1MiB", 1 << 20, ""},
		{"100MB", 100e6, ""},
		{"1GiB", 1 << 30, ""},
		{"512KiB", 512 << 10, ""},
		{"1.5GB", 1.5e9, ""},
		{"1.5GiB", 3 << 29, ""},
		{"10kB", 10e3, ""},
		{"10KB", 10e3, ""},
		{"10 MiB", 10 << 20, ""},
		{"1mib", 1 << 20, ""},
		{"2TiB", 2 << 40, ""},
		{"1PB", 1e15, ""},
		{"100B", 100, ""},
		{"0.5KiB", 512, ""},
		{"abc", 0, `expected a size like "512KiB", "100MB" or 1048576, got "abc"`},
		{"", 0, "expected a size"},
		{"MiB", 0, "expected a size"},
		{"10XB", 0, `unknown unit "XB"`},
		{"1.2.3MB", 0, "expected a size"},
		{"-2", 0, "negative; -1 means unlimited"},
		{"-1MiB", 0, "expected a size"},
		{"1e3MB", 0, "expected a size"},
		{"0x10MB", 0, "expected a size"},
		{"16384PiB", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseByteSize(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{Unlimited, "-1"},
		{0, "0"},
		{1, "1"},
		{1048588, "1048588"},
		{1 << 30, "1GiB"},
		{100 << 20, "100MiB"},
		{100e6, "100MB"},
		{1.5e9, "1500MB"},
		{4096, "4KiB"},
		{1000, "1kB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if back, err := ParseByteSize(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %v, %v; want it to round-trip to %d", tt.want, back, err, int64(tt.in))
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"listen", "advertised_listener", "retention_ms", "segment_bytes"}
	tests := []struct{ in, want string }{
		{"lisen", "listen"},
		{"listne", "listen"},
		{"retention.ms", "retention_ms"},
		{"retentionMs", "retention_ms"},
		{"segment-bytes", "segment_bytes"},
		{"advertised.listeners", "advertised_listener"},
		{"foo", ""},
		{"x", ""},
		{"retention", "retention_ms"},
		{"partitions", ""},
	}
	for _, tt := range tests {
		got := suggest(tt.in, keys)
		want := ""
		if tt.want != "" {
			want = ` (did you mean "` + tt.want + `"?)`
		}
		if got != want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, want)
		}
	}
}
