package badinput

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ioTimeout bounds every read and write of a raw connection.
const ioTimeout = 10 * time.Second

// rawConn speaks the Kafka framing by hand over one TCP connection, so tests
// can send what no client library would.
type rawConn struct {
	t    testing.TB
	nc   net.Conn
	corr int32
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) close() { r.nc.Close() }

// write sends b as is.
func (r *rawConn) write(b []byte) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("writing %d bytes: %v", len(b), err)
	}
}

// closeWrite half-closes the connection: the broker reads EOF.
func (r *rawConn) closeWrite() {
	r.t.Helper()
	if err := r.nc.(*net.TCPConn).CloseWrite(); err != nil {
		r.t.Fatalf("half-closing: %v", err)
	}
}

// frame encodes req as a whole request frame (size prefix included) with the
// next correlation id, at req's version.
func (r *rawConn) frame(req kmsg.Request) []byte {
	r.corr++
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("badinput")).AppendRequest(nil, req, r.corr)
}

// send writes req and returns its correlation id.
func (r *rawConn) send(req kmsg.Request) int32 {
	r.t.Helper()
	r.write(r.frame(req))
	return r.corr
}

// readFrame reads one response frame and returns its correlation id and the
// bytes after it.
func (r *rawConn) readFrame() (int32, []byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	var size [4]byte
	if _, err := io.ReadFull(r.nc, size[:]); err != nil {
		return 0, nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("response frame size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.nc, buf); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(buf)), buf[4:], nil
}

// receive reads the response to the request with correlation id corr,
// decoded as version of key.
func (r *rawConn) receive(key, version int16, corr int32) kmsg.Response {
	r.t.Helper()
	got, body, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("reading response to %s v%d: %v", kmsg.NameForKey(key), version, err)
	}
	if got != corr {
		r.t.Fatalf("response correlation id %d, want %d", got, corr)
	}
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(version)
	if resp.IsFlexible() && key != kmsg.ApiVersions.Int16() {
		if body, err = skipTags(body); err != nil {
			r.t.Fatalf("response to %s v%d: header: %v", kmsg.NameForKey(key), version, err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decoding response to %s v%d: %v", kmsg.NameForKey(key), version, err)
	}
	return resp
}

// roundTrip sends req and returns its decoded response.
func (r *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	corr := r.send(req)
	return r.receive(req.Key(), req.GetVersion(), corr)
}

// expectClosed fails unless the broker closes the connection, without
// answering, within the I/O timeout.
func (r *rawConn) expectClosed(what string) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [512]byte
	n, err := r.nc.Read(b[:])
	switch {
	case n > 0:
		r.t.Errorf("%s: broker answered %d bytes (%x...) instead of closing the connection", what, n, b[:min(n, 16)])
	case isClosed(err):
	case errors.Is(err, os.ErrDeadlineExceeded):
		r.t.Errorf("%s: connection still open after %v", what, ioTimeout)
	default:
		r.t.Errorf("%s: reading: %v (want the connection closed)", what, err)
	}
}

// drainUntilClosed reads and discards until the broker closes the connection.
func drainUntilClosed(nc net.Conn) error {
	nc.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err := io.Copy(io.Discard, nc)
	if err == nil || isClosed(err) {
		return nil
	}
	return err
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

func netDial(addr string) (*net.TCPConn, error) {
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return nc.(*net.TCPConn), nil
}

// writeMayClose sends b, tolerating that the broker closes the connection
// part way, as it should for some of what tests send.
func (r *rawConn) writeMayClose(b []byte) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := r.nc.Write(b); err != nil && !isClosed(err) {
		r.t.Fatalf("writing %d bytes: %v", len(b), err)
	}
}

func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[l:]
	for ; n > 0; n-- {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, errors.New("bad tag key")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || size > uint64(len(b)-l) {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// header encodes a request header v1 (key, version, correlation id, client
// id) without the size prefix.
func header(key, version int16, corr int32, clientID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	return append(b, clientID...)
}

// sized prefixes b with its length.
func sized(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// sizePrefix is a bare size prefix claiming n bytes.
func sizePrefix(n int32) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(n))
}
