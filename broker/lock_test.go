package broker

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestDataDirLockedAgainstSecondBroker(t *testing.T) {
	opts := DefaultOptions()
	opts.Listen = "127.0.0.1:0"
	opts.DataDir = t.TempDir()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(opts); err == nil || !strings.Contains(err.Error(), "is in use by another broker") {
		t.Fatalf("second broker on the same data dir: got %v, want an in-use error", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Start(opts)
	if err != nil {
		t.Fatalf("after the first broker closed, the data dir must be usable: %v", err)
	}
	again.Close()
}
