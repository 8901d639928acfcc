package broker

// Zero-copy fetch responses.
//
// The Fetch response is encoded by kmsg like any other, except that each
// partition's RecordBatches holds a 16-byte placeholder instead of the
// records. The writer finds the placeholders in order, rewrites their length
// prefixes to the real lengths, and streams the segment file ranges straight
// from the page cache to the socket with sendfile(2) (plog.Slice.WriteTo). The
// record bytes never enter user space. Connections that are not TCP fall back
// to pread + write.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/tributary/tributary/broker/log"
)

const placeholderLen = 16

// placeholderPrefix is random per process so no topic name can collide with it.
var placeholderPrefix = func() [12]byte {
	var b [12]byte
	rand.Read(b[:])
	return b
}()

func placeholder(i int) []byte {
	b := make([]byte, placeholderLen)
	copy(b, placeholderPrefix[:])
	binary.BigEndian.PutUint32(b[12:], uint32(i))
	return b
}

// fetchResponse is a Fetch response whose records are still in segment files.
type fetchResponse struct {
	*kmsg.FetchResponse
	slices  []plog.Slice // in the order their placeholders appear
	errored bool         // a partition has an error: answer without waiting
}

func (r *fetchResponse) release() {
	for _, s := range r.slices {
		s.Release()
	}
	r.slices = nil
}

// writeTo writes the encoded response buf (from appendResponse) to w,
// splicing each slice in place of its placeholder.
func (r *fetchResponse) writeTo(w *bufio.Writer, nc net.Conn, buf []byte) error {
	flexible := r.IsFlexible()
	type splice struct {
		prefixStart, dataEnd int // buf range replaced: old length prefix + placeholder
		prefix               []byte
	}
	splices := make([]splice, 0, len(r.slices))
	pos := 0
	size := len(buf) - 4
	for i, s := range r.slices {
		m := bytes.Index(buf[pos:], placeholder(i))
		if m < 0 {
			return errors.New("fetch response: records placeholder not found")
		}
		m += pos
		var sp splice
		if flexible {
			if buf[m-1] != placeholderLen+1 {
				return errors.New("fetch response: unexpected compact length before placeholder")
			}
			sp.prefixStart = m - 1
			sp.prefix = binary.AppendUvarint(nil, uint64(s.Len)+1)
		} else {
			if binary.BigEndian.Uint32(buf[m-4:]) != placeholderLen {
				return errors.New("fetch response: unexpected length before placeholder")
			}
			sp.prefixStart = m - 4
			sp.prefix = binary.BigEndian.AppendUint32(nil, uint32(s.Len))
		}
		sp.dataEnd = m + placeholderLen
		size += len(sp.prefix) + int(s.Len) - (sp.dataEnd - sp.prefixStart)
		splices = append(splices, sp)
		pos = sp.dataEnd
	}
	binary.BigEndian.PutUint32(buf, uint32(size))
	pos = 0
	for i, sp := range splices {
		if _, err := w.Write(buf[pos:sp.prefixStart]); err != nil {
			return err
		}
		if _, err := w.Write(sp.prefix); err != nil {
			return err
		}
		if err := writeSlice(w, nc, r.slices[i]); err != nil {
			return err
		}
		pos = sp.dataEnd
	}
	_, err := w.Write(buf[pos:])
	return err
}

// writeSlice sends a segment range: sendfile on TCP (Slice.WriteTo), else
// pread and write. Small ranges go through the buffered writer.
func writeSlice(w *bufio.Writer, nc net.Conn, s plog.Slice) error {
	if s.Len >= 4096 {
		if err := w.Flush(); err != nil {
			return err
		}
		_, err := s.WriteTo(nc)
		return err
	}
	b, err := s.ReadBytes(nil)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
