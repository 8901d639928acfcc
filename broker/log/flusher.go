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
// Sealed segments' data is fsynced by rollLocked before they stop being
// active; their index files and the directory entry of the new segment are
// fsynced here, before the high watermark passes data of the new segment.

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
	if leo <= l.hw.Load() && len(l.pendingSync) == 0 && !l.dirDirty {
		l.mu.Unlock()
		return
	}
	pending, dirDirty := l.pendingSync, l.dirDirty
	l.pendingSync, l.dirDirty = nil, false
	seg := l.active()
	pos := seg.size
	seg.acquire()
	l.mu.Unlock()

	if l.beforeSync != nil {
		l.beforeSync()
	}
	err := syncPending(pending, dirDirty, l.dir)
	if err == nil {
		err = fsync(seg.log)
		l.fsyncs.Add(1)
	}
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

// syncPending fsyncs the index files of segments sealed since the last flush
// and the directory, releasing the segments' references.
func syncPending(pending []*segment, dirDirty bool, dir string) error {
	var err error
	for _, s := range pending {
		if err == nil {
			err = s.syncIndexFiles()
		}
		s.release()
	}
	if err == nil && dirDirty {
		err = syncDir(dir)
	}
	return err
}

// syncPendingLocked does the flusher's pending fsyncs inline (Close).
func (l *Log) syncPendingLocked() error {
	pending, dirDirty := l.pendingSync, l.dirDirty
	l.pendingSync, l.dirDirty = nil, false
	return syncPending(pending, dirDirty, l.dir)
}
