package log

import (
	"io"
	"os"
	"syscall"
)

// sendfile copies n bytes at pos of f to w with sendfile(2) when w is a socket
// (syscall.Conn). The offset is passed explicitly, so the file's shared offset
// is neither used nor moved. handled is false when w is not a socket.
func sendfile(w io.Writer, f *os.File, pos, n int64) (written int64, err error, handled bool) {
	sc, ok := w.(syscall.Conn)
	if !ok {
		return 0, nil, false
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return 0, nil, false
	}
	src, err := f.SyscallConn()
	if err != nil {
		return 0, nil, false
	}
	var serr error
	cerr := src.Control(func(infd uintptr) {
		off := pos
		werr := dst.Write(func(outfd uintptr) bool {
			for written < n {
				m, err := syscall.Sendfile(int(outfd), int(infd), &off, int(min(n-written, 1<<30)))
				if m > 0 {
					written += int64(m)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
					continue
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return written, serr, true
}
