package log

import (
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kerr"
)

func (l *Log) enforceRetention() (int64, error) {
	nowMs := l.now().UnixMilli()
	cfg := l.cfg.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	expired := func(s *segment) bool {
		return cfg.RetentionAge >= 0 && nowMs-s.largestTimestamp() > cfg.RetentionAge.Milliseconds()
	}

	active := l.active()
	allExpired := true
	for _, s := range l.segments {
		allExpired = allExpired && expired(s)
	}
	switch {
	case active.size > 0 && allExpired:
		// Everything, the active segment included, is expired: roll it so it
		// can go too (Kafka does the same), rather than keep it forever.
		if err := l.rollLocked(nowMs); err != nil {
			return 0, err
		}
	case active.size > 0 && nowMs-active.ageRefMs() > cfg.SegmentAge.Milliseconds():
		if err := l.rollLocked(nowMs); err != nil {
			return 0, err
		}
	}

	var total int64
	for _, s := range l.segments {
		total += s.size
	}
	n := 0
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > l.hw.Load() {
			break // never delete what is not yet durable
		}
		tooBig := cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes
		if !expired(s) && !tooBig && s.next > l.logStart {
			break
		}
		total -= s.size
		n++
	}
	return l.deleteOldestLocked(n, "retention")
}

// deleteOldestLocked removes the n oldest segments and advances the log start
// offset past them. It returns the bytes freed.
func (l *Log) deleteOldestLocked(n int, reason string) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	doomed := l.segments[:n]
	l.segments = append([]*segment(nil), l.segments[n:]...)
	l.logStart = max(l.logStart, l.segments[0].base)
	l.maxTsMemo.valid = false
	var freed int64
	var errs []error
	for _, s := range doomed {
		freed += s.size
		if err := s.remove(); err != nil {
			errs = append(errs, err)
		}
		l.logger.Info("deleted segment", "base", s.base, "end_offset", s.next, "bytes", s.size, "reason", reason)
		s.release()
	}
	if err := syncDir(l.dir); err != nil {
		errs = append(errs, err)
	}
	l.evictProducersLocked()
	if err := errors.Join(errs...); err != nil {
		return freed, storageError(fmt.Errorf("partition %s: delete segments: %w", l.dir, err))
	}
	return freed, nil
}

func (l *Log) deleteRecordsBefore(offset int64) error {
	nowMs := l.now().UnixMilli()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	hw := l.hw.Load()
	if offset < 0 || offset > hw {
		return fmt.Errorf("partition %s: delete records before %d: outside [0, %d]: %w",
			l.dir, offset, hw, kerr.OffsetOutOfRange)
	}
	if offset <= l.logStart {
		return nil // like Kafka: the start offset only moves forward
	}
	if err := writeLogStart(l.dir, offset); err != nil {
		return storageError(fmt.Errorf("partition %s: persist log start offset: %w", l.dir, err))
	}
	l.logStart = offset
	if active := l.active(); active.size > 0 && active.next <= offset {
		if err := l.rollLocked(nowMs); err != nil {
			return err
		}
	}
	n := 0
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > offset {
			break
		}
		n++
	}
	_, err := l.deleteOldestLocked(n, "delete records")
	return err
}

func (l *Log) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.flusherDone

	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if l.failed == nil {
		active := l.active()
		if err := fsync(active.log); err != nil {
			errs = append(errs, fmt.Errorf("fsync %s: %w", active.log.Name(), err))
		} else {
			l.advanceHWLocked(l.leo, active.base, active.size)
			active.finishTimeIndex()
			err := l.syncPendingLocked()
			if err == nil {
				err = active.writeIndexFiles(true)
			}
			if err == nil {
				err = l.writeSnapshotLocked(active.base, active.size, true)
			}
			if err == nil {
				err = syncDir(l.dir)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, s := range l.pendingSync { // left over only after a failure
		s.release()
	}
	l.pendingSync = nil
	for _, s := range l.segments {
		s.release()
	}
	l.segments = nil
	closedErr := fmt.Errorf("partition %s: %w", l.dir, ErrClosed)
	l.dead.Store(&closedErr)
	done := make(chan struct{})
	close(done)
	close(*l.hwCh.Swap(&done))
	if err := errors.Join(errs...); err != nil {
		return storageError(fmt.Errorf("partition %s: close: %w", l.dir, err))
	}
	return nil
}

func (l *Log) delete() error {
	cerr := l.close()
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("partition %s: delete: %w", l.dir, err)
	}
	return cerr
}
