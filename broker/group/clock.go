package group

import "time"

// Clock is the coordinator's source of time and timers. Session, rebalance
// and retention timeouts all go through it so that tests can inject a fake
// clock and advance time instead of sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once, in a goroutine of the clock's choosing,
	// after d has elapsed. The callback must tolerate running after Stop
	// returned false; the coordinator re-checks its state under its locks.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

// realClock is the production clock: time.AfterFunc timers with an
// overridable Now.
type realClock struct{ now func() time.Time }

func (c realClock) Now() time.Time { return c.now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
