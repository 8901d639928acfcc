package agent

import "context"

// Input gathers metrics from one source (the host's CPU, its disks, ...).
//
// Lifetime: an Input is created once per configured instance, configured by
// setting its exported fields, initialised with Init (if it implements
// Initializer), then gathered every interval until the agent stops. It is
// never gathered concurrently with itself: the runtime calls Gather from one
// goroutine at a time, so an Input may keep state between calls (previous
// counter samples for rates) without locking. Different inputs run in
// parallel.
type Input interface {
	// SampleConfig returns the input's documented YAML settings (its
	// embedded sample.yaml).
	SampleConfig() string

	// Gather reads the source once and adds what it found to acc. It must
	// return promptly when ctx is done. An error means the whole gather
	// failed; partial failures (one disk unreadable) are reported with
	// acc.AddError and the rest is still added. acc must not be kept after
	// Gather returns.
	Gather(ctx context.Context, acc Accumulator) error
}

// Initializer is implemented by inputs that validate their settings or
// prepare state before the first Gather. Init is called once, before any
// Gather; an error stops the agent from starting and names the input.
type Initializer interface {
	Init() error
}
