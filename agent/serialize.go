package agent

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// serializer turns points into line-protocol records. It is owned by one
// input's goroutine and reuses its encoder and scratch slices across gathers.
type serializer struct {
	enc      lineprotocol.Encoder
	keys     []string
	tagKeys  []string
	maxBytes int // a record is cut before a line that would take it past this
}

// encode writes each point as a line, merging extra tags under the point's
// own (a point's tag wins), and returns the records: lines joined, each record
// at most maxBytes unless a single line is larger, with its line count.
// Points that cannot be encoded (no valid field, bad name) are reported
// through onErr and left out.
func (s *serializer) encode(points []Metric, extra map[string]string, onErr func(error)) (records [][]byte, counts []int) {
	s.enc.SetPrecision(lineprotocol.Nanosecond)
	var cur []byte
	n := 0
	for _, p := range points {
		s.enc.Reset()
		if err := s.line(p, extra); err != nil {
			onErr(fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		line := s.enc.Bytes()
		if s.maxBytes > 0 && n > 0 && len(cur)+len(line) > s.maxBytes {
			records, counts = append(records, cur), append(counts, n)
			cur, n = nil, 0
		}
		if cur == nil {
			cur = make([]byte, 0, min(max(s.maxBytes, len(line)), 64<<10))
		}
		cur = append(cur, line...)
		n++
	}
	if n > 0 {
		records, counts = append(records, cur), append(counts, n)
	}
	return records, counts
}

func (s *serializer) line(p Metric, extra map[string]string) error {
	s.tagKeys = s.tagKeys[:0]
	for k := range p.Tags {
		s.tagKeys = append(s.tagKeys, k)
	}
	for k := range extra {
		if _, own := p.Tags[k]; !own {
			s.tagKeys = append(s.tagKeys, k)
		}
	}
	sort.Strings(s.tagKeys)
	s.keys = s.keys[:0]
	for k := range p.Fields {
		s.keys = append(s.keys, k)
	}
	sort.Strings(s.keys)

	s.enc.StartLine(p.Name)
	for _, k := range s.tagKeys {
		v, ok := p.Tags[k]
		if !ok {
			v = extra[k]
		}
		if v == "" {
			continue // line protocol has no empty tag values
		}
		s.enc.AddTag(k, v)
	}
	fields := 0
	for _, k := range s.keys {
		v, ok := fieldValue(p.Fields[k])
		if !ok {
			continue
		}
		s.enc.AddField(k, v)
		fields++
	}
	if fields == 0 {
		return fmt.Errorf("no valid fields")
	}
	s.enc.EndLine(p.Time)
	return s.enc.Err()
}

// fieldValue converts a Go value to a line-protocol value. Unsigned integers
// are written as signed ones (clamped), as Telegraf's InfluxDB output does by
// default, so the same field has the same type whichever agent wrote it.
// NaN and infinities have no line-protocol form and are left out.
func fieldValue(x any) (lineprotocol.Value, bool) {
	switch v := x.(type) {
	case int:
		return lineprotocol.IntValue(int64(v)), true
	case int32:
		return lineprotocol.IntValue(int64(v)), true
	case int64:
		return lineprotocol.IntValue(v), true
	case uint:
		return uintValue(uint64(v)), true
	case uint32:
		return lineprotocol.IntValue(int64(v)), true
	case uint64:
		return uintValue(v), true
	case float64:
		return lineprotocol.FloatValue(v)
	case float32:
		return lineprotocol.FloatValue(float64(v))
	case bool:
		return lineprotocol.BoolValue(v), true
	case string:
		return lineprotocol.StringValue(v)
	case time.Duration:
		return lineprotocol.IntValue(int64(v)), true
	}
	return lineprotocol.Value{}, false
}

func uintValue(v uint64) lineprotocol.Value {
	if v > math.MaxInt64 {
		v = math.MaxInt64
	}
	return lineprotocol.IntValue(int64(v))
}
