package log

import (
	"context"
	"fmt"
)

// Group commit: Append only writes to the page cache and kicks the flusher.
// The flusher notes the log end offset, fsyncs the active segment once and
// then moves the high watermark to the noted offset, waking every waiter at
// once through the shared channel. Appends that arrive while an fsync runs
// leave one pending kick and are covered together by the next fsync, so the
// number of fsyncs follows the disk's speed, not the request rate.
//
// Sealed segments need no flusher: rollLocked fsyncs them before they stop
// being active.

func (l *Log) flushLoop() {
	defer close(l.flusherDone)
	for {
		select {
		case <-l.flushKick:
		case <-l.stop:
			return
		}
		l.flushOnce()
	}
}

// flushOnce fsyncs what was appended since the last fsync and advances the
// high watermark.
func (l *Log) flushOnce() {
	l.mu.Lock()
	if l.failed != nil {
		l.mu.Unlock()
		return
	}
	leo := l.leo
	if leo <= l.hw.Load() {
		l.mu.Unlock()
		return
	}
	seg := l.active()
	pos := seg.size
	seg.acquire()
	l.mu.Unlock()

	if l.beforeSync != nil {
		l.beforeSync()
	}
	err := fsync(seg.log)
	l.fsyncs.Add(1)
	seg.release()

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failLocked(fmt.Errorf("fsync segment %d: %w", seg.base, err))
		return
	}
	l.advanceHWLocked(leo, seg.base, pos)
}

func (l *Log) waitDurable(ctx context.Context, offset int64) error {
	for {
		ch := l.hwCh.Load()
		if l.hw.Load() > offset {
			return nil
		}
		if dead := l.dead.Load(); dead != nil {
			return *dead
		}
		select {
		case <-*ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
