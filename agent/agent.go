// Package agent is Tributary's collector: it runs input plugins on their
// intervals, tags and serializes their points as InfluxDB line protocol, and
// hands the records to an output (the broker) with retries and a bounded
// buffer. See README.md.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// InputConfig is one configured input instance.
type InputConfig struct {
	Name     string            // plugin name: the input tag of self-metrics, and in logs
	Input    Input             // configured, not yet initialised
	Interval time.Duration     // 0 means the agent's
	Tags     map[string]string // added to every point of this input
}

// Options configure an Agent. Zero values take the documented defaults.
type Options struct {
	Hostname      string            // the host tag and the record key; required
	Interval      time.Duration     // default 10s
	RoundInterval bool              // gather at multiples of the interval (wall clock), as Telegraf's round_interval
	Jitter        time.Duration     // random delay up to this after each tick; timestamps stay on the tick
	Tags          map[string]string // added to every point; an input's own tags win
	Inputs        []InputConfig
	Output        Output

	BatchMaxRecords int           // records per write; default 1000
	BatchMaxBytes   int           // bytes per write; default 1 MiB
	BatchTimeout    time.Duration // how long a record waits for a batch to fill; default 1s
	RecordMaxBytes  int           // a gather's lines are cut into records of at most this; default 256 KiB
	BufferLimit     int           // bytes buffered while the output is failing; default 64 MiB
	FlushTimeout    time.Duration // how long Run keeps delivering at shutdown; default 10s
	RetryMin        time.Duration // first backoff after a failed write; default 100ms
	RetryMax        time.Duration // longest backoff; default 30s

	Logger *slog.Logger
	now    func() time.Time
}

// Agent runs inputs and delivers their points. Create with New, then Run.
type Agent struct {
	opts    Options
	log     *slog.Logger
	metrics *selfMetrics
	buf     *buffer
	inputs  []*runningInput
}

// runningInput wraps an Input with what the runtime owns for it: schedule,
// tags, serializer, counters.
type runningInput struct {
	InputConfig
	ser serializer
}

// New checks the options and initialises every input (Init). It starts nothing.
func New(opts Options) (*Agent, error) {
	if opts.Hostname == "" {
		return nil, errors.New("agent: hostname is empty")
	}
	if opts.Output == nil {
		return nil, errors.New("agent: no output")
	}
	setDefault(&opts.Interval, 10*time.Second)
	setDefault(&opts.BatchMaxRecords, 1000)
	setDefault(&opts.BatchMaxBytes, 1<<20)
	setDefault(&opts.BatchTimeout, time.Second)
	setDefault(&opts.RecordMaxBytes, 256<<10)
	setDefault(&opts.BufferLimit, 64<<20)
	setDefault(&opts.FlushTimeout, 10*time.Second)
	setDefault(&opts.RetryMin, 100*time.Millisecond)
	setDefault(&opts.RetryMax, 30*time.Second)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	a := &Agent{opts: opts, log: opts.Logger, metrics: newSelfMetrics()}
	a.buf = newBuffer(opts.BufferLimit, func(r Record) { a.metrics.addDropped(r.Input, "buffer_full", r.Points) })
	for _, ic := range opts.Inputs {
		if init, ok := ic.Input.(Initializer); ok {
			if err := init.Init(); err != nil {
				return nil, fmt.Errorf("agent: input %s: %w", ic.Name, err)
			}
		}
		if ic.Interval <= 0 {
			ic.Interval = opts.Interval
		}
		ri := &runningInput{InputConfig: ic}
		ri.ser.maxBytes = opts.RecordMaxBytes
		a.inputs = append(a.inputs, ri)
		a.metrics.input(ic.Name)
	}
	return a, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// MetricsHandler serves the agent's self-metrics for Prometheus.
func (a *Agent) MetricsHandler() http.Handler { return a.metrics.Handler() }

// Run gathers until ctx is done, then stops the inputs, delivers what is
// buffered (for at most FlushTimeout) and closes the output. It returns an
// error when points were left undelivered or the output failed to close.
func (a *Agent) Run(ctx context.Context) error {
	outCtx, cancelOut := context.WithCancel(context.Background())
	defer cancelOut()
	stopOutput := make(chan struct{})
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		a.deliver(outCtx, stopOutput)
	}()

	var wg sync.WaitGroup
	for _, ri := range a.inputs {
		wg.Go(func() { a.runInput(ctx, ri) })
	}
	wg.Go(func() { a.runInternal(ctx) })
	wg.Wait()

	// Inputs are stopped: deliver the rest, within FlushTimeout.
	close(stopOutput)
	timer := time.NewTimer(a.opts.FlushTimeout)
	defer timer.Stop()
	select {
	case <-outDone:
	case <-timer.C:
		cancelOut()
		<-outDone
	}
	var errs []error
	if n, _ := a.buf.len(); n > 0 {
		points := 0
		for _, r := range a.buf.peek(n, int(^uint(0)>>1)) {
			points += r.Points
			a.metrics.addDropped(r.Input, "shutdown", r.Points)
		}
		errs = append(errs, fmt.Errorf("agent: %d points in %d records not delivered before shutdown", points, n))
	}
	if err := a.opts.Output.Close(); err != nil {
		errs = append(errs, fmt.Errorf("agent: closing output: %w", err))
	}
	return errors.Join(errs...)
}

// nextTick returns the first tick after now: the next multiple of interval
// since the Unix epoch when rounding, else now + interval.
func nextTick(now time.Time, interval time.Duration, round bool) time.Time {
	if !round {
		return now.Add(interval)
	}
	return now.Truncate(interval).Add(interval)
}

// runInput gathers ri on its schedule until ctx is done. A gather that takes
// longer than the interval makes the ticks it overran skipped (and logged),
// never queued up.
func (a *Agent) runInput(ctx context.Context, ri *runningInput) {
	tick := nextTick(a.opts.now(), ri.Interval, a.opts.RoundInterval)
	if !a.opts.RoundInterval {
		tick = a.opts.now() // Telegraf gathers at once when not rounding
	}
	for {
		wait := tick.Sub(a.opts.now())
		if a.opts.Jitter > 0 {
			wait += rand.N(a.opts.Jitter)
		}
		if !sleep(ctx, wait) {
			return
		}
		a.gather(ctx, ri, tick)
		next := tick.Add(ri.Interval)
		if now := a.opts.now(); !next.After(now) {
			// The gather (or this goroutine's wake-up) ran past the next tick:
			// skip to the first tick still ahead, counted and logged.
			skipped := now.Sub(tick) / ri.Interval
			a.metrics.addSkipped(ri.Name, int(skipped))
			a.log.Warn("gather ran past the next interval; intervals skipped", "input", ri.Name, "skipped", int(skipped))
			next = tick.Add((skipped + 1) * ri.Interval)
		}
		tick = next
	}
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// gather runs one Gather with a deadline of the interval, stamps the points
// with the tick, serializes them and buffers the records.
func (a *Agent) gather(ctx context.Context, ri *runningInput, tick time.Time) {
	gctx, cancel := context.WithTimeout(ctx, ri.Interval)
	defer cancel()
	acc := &accumulator{input: ri.Name, tick: tick, onErr: func(err error) {
		a.metrics.addError(ri.Name)
		a.log.Warn("gather", "input", ri.Name, "err", err)
	}}
	if err := ri.Input.Gather(gctx, acc); err != nil {
		acc.AddError(err)
	}
	a.emit(ri.Name, &ri.ser, ri.Tags, acc.take(), tick, acc.onErr)
}

// emit serializes points with the host, global and input tags and buffers them.
func (a *Agent) emit(input string, ser *serializer, inputTags map[string]string, points []Metric, tick time.Time, onErr func(error)) {
	if len(points) == 0 {
		return
	}
	extra := make(map[string]string, len(a.opts.Tags)+len(inputTags)+1)
	for k, v := range a.opts.Tags {
		extra[k] = v
	}
	for k, v := range inputTags {
		extra[k] = v
	}
	extra["host"] = a.opts.Hostname
	records, counts := ser.encode(points, extra, onErr)
	n := 0
	for i, value := range records {
		n += counts[i]
		a.buf.add(Record{Key: []byte(a.opts.Hostname), Value: value, Time: tick, Input: input, Points: counts[i]})
	}
	a.metrics.addGathered(input, n)
}

// runInternal emits the internal measurement every agent interval, and logs
// drops once per interval.
func (a *Agent) runInternal(ctx context.Context) {
	var ser serializer
	ser.maxBytes = a.opts.RecordMaxBytes
	lastDropped := map[string]int64{}
	tick := nextTick(a.opts.now(), a.opts.Interval, true)
	for sleep(ctx, tick.Sub(a.opts.now())) {
		for name, s := range a.snapshotInputs() {
			if d := s.dropped.Load(); d > lastDropped[name] {
				a.log.Warn("points dropped", "input", name, "dropped", d-lastDropped[name], "total", d)
				lastDropped[name] = d
			}
		}
		records, bytes := a.buf.len()
		a.metrics.bufRecords.Set(float64(records))
		a.metrics.bufBytes.Set(float64(bytes))
		points := a.metrics.points(records, bytes)
		for i := range points {
			points[i].Time = tick
		}
		a.emit("internal", &ser, nil, points, tick, func(err error) { a.log.Error("internal metrics", "err", err) })
		tick = nextTick(a.opts.now(), a.opts.Interval, true)
	}
}

func (a *Agent) snapshotInputs() map[string]*inputStats {
	a.metrics.mu.Lock()
	defer a.metrics.mu.Unlock()
	out := make(map[string]*inputStats, len(a.metrics.inputs))
	for k, v := range a.metrics.inputs {
		out[k] = v
	}
	return out
}

// deliver writes batches to the output until stop is closed and the buffer
// is empty, or ctx is done. A batch is written when it is full or its oldest
// record has waited BatchTimeout; failures are retried with backoff.
func (a *Agent) deliver(ctx context.Context, stop <-chan struct{}) {
	backoff := time.Duration(0)
	failing := false
	var waitingSince time.Time
	for {
		records, bytes := a.buf.len()
		stopping := isClosed(stop)
		if records == 0 {
			if stopping {
				return
			}
			waitingSince = time.Time{}
			select {
			case <-a.buf.notify:
			case <-stop:
			case <-ctx.Done():
				return
			}
			continue
		}
		if waitingSince.IsZero() {
			waitingSince = a.opts.now()
		}
		full := records >= a.opts.BatchMaxRecords || bytes >= a.opts.BatchMaxBytes
		if !full && !stopping && backoff == 0 {
			if wait := a.opts.BatchTimeout - a.opts.now().Sub(waitingSince); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-a.buf.notify:
				case <-t.C:
				case <-stop:
				case <-ctx.Done():
					t.Stop()
					return
				}
				t.Stop()
				continue
			}
		}
		if backoff > 0 && !sleep(ctx, backoff) {
			return
		}
		batch := a.buf.peek(a.opts.BatchMaxRecords, a.opts.BatchMaxBytes)
		err := a.opts.Output.Write(ctx, batch)
		var failed []int
		var partial *PartialError
		switch {
		case err == nil:
		case errors.As(err, &partial):
			failed = partial.Failed
		default:
			failed = make([]int, len(batch))
			for i := range failed {
				failed[i] = i
			}
		}
		isFailed := make(map[int]bool, len(failed))
		for _, i := range failed {
			isFailed[i] = true
		}
		for i, r := range batch {
			if !isFailed[i] {
				a.metrics.addSent(r.Input, r.Points)
			}
		}
		a.buf.done(failed)
		if err != nil {
			a.metrics.addWriteError()
			if !failing {
				a.log.Warn("writing to the broker failed; retrying with backoff", "records", len(failed), "err", err)
			}
			failing = true
			backoff = min(max(2*backoff, a.opts.RetryMin), a.opts.RetryMax)
			continue
		}
		if failing {
			a.log.Info("writing to the broker works again")
		}
		failing, backoff = false, 0
		waitingSince = time.Time{}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
