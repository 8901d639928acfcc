package broker

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// A frame claiming to be a huge non-produce request is refused as soon as
// its API key is known, without waiting for (or allocating) its body.
func TestOversizedNonProduceFrameClosedAtOnce(t *testing.T) {
	opts := DefaultOptions()
	opts.Listen = "127.0.0.1:0"
	opts.DataDir = t.TempDir()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var hdr [10]byte
	binary.BigEndian.PutUint32(hdr[0:], 64<<20) // size: 64 MiB
	binary.BigEndian.PutUint16(hdr[4:], 3)      // Metadata
	binary.BigEndian.PutUint16(hdr[6:], 9)
	if _, err := nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	// Far below the 30 s stall timeout: the broker must close on its own.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = nc.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open 5s after an oversized Metadata frame header")
	}
	if err == nil {
		t.Fatal("broker answered an oversized Metadata frame instead of closing")
	}
}
