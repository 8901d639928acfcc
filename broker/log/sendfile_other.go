//go:build !linux

package log

import (
	"io"
	"os"
)

// sendfile is only implemented on Linux; elsewhere Slice.WriteTo copies with pread.
func sendfile(io.Writer, *os.File, int64, int64) (int64, error, bool) { return 0, nil, false }
