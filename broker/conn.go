package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/semaphore"
)

const (
	// maxInflight bounds how many requests of one connection may be decoded
	// and started before their responses are written.
	maxInflight = 64
	// nonProduceMaxBytes caps frames of every API but Produce: nothing else
	// legitimately needs large requests, and decoded structs can be larger
	// than their wire form.
	nonProduceMaxBytes = 1 << 20
	// readChunk is how much of a large frame is read (and allocated) at a
	// time, so a length field alone never sizes an allocation.
	readChunk = 256 << 10
	// frameStallTimeout closes a connection that stops sending in the middle
	// of a frame, and one that stops reading responses.
	frameStallTimeout = 30 * time.Second
	// maxInflightBytes bounds the request bytes one connection holds in
	// decoded-but-unanswered requests; a larger single frame goes alone.
	maxInflightBytes = 64 << 20
)

// completion finishes a request after its synchronous part ran in the reader.
// It runs on the connection's writer goroutine, in request order, and returns
// nil when no response is due (produce with acks=0).
type completion func(ctx context.Context) kmsg.Response

// done wraps a response computed synchronously.
func done(resp kmsg.Response) completion {
	return func(context.Context) kmsg.Response { return resp }
}

type inflight struct {
	key, version int16
	correlation  int32
	start        time.Time
	complete     completion
	frame        *[]byte // returned to the pool once the response is written
	weight       int64   // bytes held against the connection's in-flight budget
}

type conn struct {
	s      *Server
	nc     net.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan inflight
	once   sync.Once
	client string // client id of the last request, for logs
	budget *semaphore.Weighted
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		s:      s,
		nc:     nc,
		log:    s.log.With("remote", nc.RemoteAddr().String()),
		ctx:    ctx,
		cancel: cancel,
		queue:  make(chan inflight, maxInflight),
		budget: semaphore.NewWeighted(maxInflightBytes),
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.queue)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.log.Info("closing connection", "client_id", c.client, "reason", err)
	}
	c.cancel() // abort long polls and group waits of a gone client
	<-writerDone
	c.close()
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getFrame() *[]byte { return framePool.Get().(*[]byte) }

// maxPooledFrame is the largest frame buffer kept for reuse: produce requests
// of a few MiB are the common case and must not allocate in steady state.
const maxPooledFrame = 32 << 20

func putFrame(b *[]byte) {
	if cap(*b) > maxPooledFrame {
		return
	}
	*b = (*b)[:0]
	framePool.Put(b)
}

func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.s.opts.ConnectionsMaxIdle))
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return err
		}
		c.nc.SetReadDeadline(time.Now().Add(frameStallTimeout))
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 {
			c.s.metrics.badRequests.WithLabelValues("frame").Inc()
			return fmt.Errorf("request frame of %d bytes is shorter than a request header", size)
		}
		if size > c.s.opts.SocketRequestMaxBytes {
			c.s.metrics.badRequests.WithLabelValues("frame").Inc()
			return fmt.Errorf("request frame of %d bytes exceeds socket_request_max_bytes (%d)", size, c.s.opts.SocketRequestMaxBytes)
		}
		// The API key comes first: refuse oversized non-produce frames
		// before reading (or waiting for) any of their bytes.
		if size > nonProduceMaxBytes {
			keyBytes, err := r.Peek(2)
			if err != nil {
				return err
			}
			if key := int16(binary.BigEndian.Uint16(keyBytes)); key != 0 {
				c.s.metrics.badRequests.WithLabelValues("frame").Inc()
				return fmt.Errorf("request frame of %d bytes for API key %d exceeds the %d-byte limit for non-produce requests", size, key, nonProduceMaxBytes)
			}
		}
		// Wait until earlier requests of this connection are answered if
		// their bytes plus this frame's would exceed the budget.
		weight := min(int64(size), maxInflightBytes)
		if err := c.budget.Acquire(c.ctx, weight); err != nil {
			return net.ErrClosed
		}
		frame := getFrame()
		buf, err := readFrame(r, (*frame)[:0], int(size), c)
		*frame = buf
		if err != nil {
			putFrame(frame)
			c.budget.Release(weight)
			return err
		}
		start := time.Now()
		in, err := c.dispatch(buf)
		if err != nil {
			putFrame(frame)
			c.budget.Release(weight)
			c.s.metrics.badRequests.WithLabelValues("request").Inc()
			return err
		}
		in.start = start
		in.frame = frame
		in.weight = weight
		select {
		case c.queue <- in:
		case <-c.ctx.Done():
			putFrame(frame)
			c.budget.Release(weight)
			return net.ErrClosed
		}
	}
}

// readFrame reads size bytes into buf, growing it as bytes actually arrive.
func readFrame(r *bufio.Reader, buf []byte, size int, c *conn) ([]byte, error) {
	for len(buf) < size {
		n := min(size-len(buf), readChunk)
		if cap(buf)-len(buf) < n {
			// Grow by doubling, bounded by the bytes that actually arrived
			// (the declared size is only a ceiling), so copying stays linear.
			grown := make([]byte, len(buf), min(max(2*cap(buf), len(buf)+n), size))
			copy(grown, buf)
			buf = grown
		}
		chunk := buf[len(buf) : len(buf)+n]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return buf, fmt.Errorf("reading %d-byte request frame: %w", size, err)
		}
		buf = buf[:len(buf)+n]
		c.nc.SetReadDeadline(time.Now().Add(frameStallTimeout))
	}
	return buf, nil
}

// dispatch decodes the request header and body and runs the synchronous part
// of its handler. An error closes the connection, as Kafka does for requests
// it cannot parse.
func (c *conn) dispatch(frame []byte) (inflight, error) {
	key := int16(binary.BigEndian.Uint16(frame[0:]))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	body := frame[8:]

	// Client id: a nullable (non-compact) string in every header version.
	if len(body) < 2 {
		return inflight{}, fmt.Errorf("request key %d: truncated header", key)
	}
	idLen := int(int16(binary.BigEndian.Uint16(body)))
	body = body[2:]
	if idLen > 0 {
		if idLen > len(body) {
			return inflight{}, fmt.Errorf("request key %d: client id length %d exceeds frame", key, idLen)
		}
		if c.client != string(body[:idLen]) {
			c.client = string(body[:idLen])
		}
		body = body[idLen:]
	}

	a := lookupAPI(key)
	if a == nil {
		return inflight{}, fmt.Errorf("unsupported API key %d (version %d) from client %q", key, version, c.client)
	}
	in := inflight{key: key, version: version, correlation: corr}
	if version < a.min || version > a.max {
		if key == apiVersionsKey {
			// Answer with our versions so the client can pick one (KIP-511).
			in.version = 0
			in.complete = done(apiVersionsResponse(0, errUnsupportedVersion))
			return in, nil
		}
		return inflight{}, fmt.Errorf("unsupported version %d of API %s (key %d; supported %d-%d) from client %q", version, a.name, key, a.min, a.max, c.client)
	}
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	if req.IsFlexible() {
		var err error
		if body, err = skipTags(body); err != nil {
			return inflight{}, fmt.Errorf("request %s v%d: header tags: %w", a.name, version, err)
		}
	}
	if err := req.ReadFrom(body); err != nil {
		if key == apiVersionsKey {
			in.complete = done(apiVersionsResponse(version, errInvalidRequest))
			return in, nil
		}
		return inflight{}, fmt.Errorf("request %s v%d from client %q: malformed body: %w", a.name, version, c.client, err)
	}
	in.complete = a.handle(c, req)
	return in, nil
}

// skipTags skips a header's tagged fields (uvarint count, then key, size, bytes).
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

func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	broken := false
	for in := range c.queue {
		resp := in.complete(c.ctx)
		if resp != nil && !broken {
			resp.SetVersion(in.version)
			buf = appendResponse(buf[:0], in, resp)
			c.nc.SetWriteDeadline(time.Now().Add(frameStallTimeout))
			if err := c.writeResponse(w, buf, resp); err != nil {
				c.log.Info("closing connection: writing response failed", "client_id", c.client, "err", err)
				broken = true
				c.close()
			}
		}
		if fr, ok := resp.(*fetchResponse); ok {
			fr.release()
		}
		putFrame(in.frame)
		c.budget.Release(in.weight)
		c.s.metrics.observeRequest(in.key, time.Since(in.start))
		if len(c.queue) == 0 && !broken {
			if err := w.Flush(); err != nil {
				broken = true
				c.close()
			}
		}
	}
	if !broken {
		w.Flush()
	}
}

// appendResponse frames resp: size, correlation id, header tags (flexible
// versions, except ApiVersions whose response header is always v0), body.
func appendResponse(dst []byte, in inflight, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(in.correlation))
	if resp.IsFlexible() && in.key != apiVersionsKey {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}

func (c *conn) writeResponse(w *bufio.Writer, buf []byte, resp kmsg.Response) error {
	if fr, ok := resp.(*fetchResponse); ok && len(fr.slices) > 0 {
		return fr.writeTo(w, c.nc, buf)
	}
	_, err := w.Write(buf)
	return err
}
