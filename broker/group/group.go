// Package group is the classic Kafka consumer-group coordinator of a
// single-node broker: the JoinGroup/SyncGroup/Heartbeat/LeaveGroup state
// machine, committed offsets (durable, see store.go) and the group admin
// APIs. The protocol layer decodes requests with kmsg, calls one method per
// API and encodes the returned response after setting its version.
package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Options configure a Coordinator. Zero values take Kafka's defaults unless
// noted otherwise.
type Options struct {
	// Dir holds the committed-offsets store; created if missing. Required.
	Dir string
	// Logger receives the coordinator's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Ignored when Clock is set.
	Now func() time.Time
	// Clock supplies time and timers; nil means real timers around Now.
	// Tests inject a fake so that timeouts fire without sleeping.
	Clock Clock

	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long the
	// first join of an Empty group waits for more members, extended by each
	// new member up to the rebalance timeout. Zero means no delay (Kafka's
	// default is 3s; the broker passes its config).
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout are
	// group.{min,max}.session.timeout.ms (6s and 30m when zero).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// OffsetsRetention is offsets.retention.minutes (7 days when zero;
	// negative keeps offsets forever): committed offsets of an Empty group
	// expire this long after the later of the group becoming empty and the
	// offset's commit.
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms
	// (10 minutes when zero).
	OffsetsRetentionCheckInterval time.Duration
	// MaxMetadataBytes is offset.metadata.max.bytes (4096 when zero, capped
	// at 512 KiB so that a record always fits the store's record limit).
	MaxMetadataBytes int
	// PartitionExists validates OffsetCommit and OffsetDelete partitions
	// (UNKNOWN_TOPIC_OR_PARTITION otherwise); nil accepts every partition.
	PartitionExists func(topic string, partition int32) bool

	// storeCompactSlack overrides defaultCompactSlack (tests).
	storeCompactSlack int64
}

// Coordinator owns every consumer group of the broker. All methods are safe
// for concurrent use. JoinGroup, SyncGroup and OffsetCommit block; the
// other methods return promptly (DeleteGroups, OffsetDelete and DeleteTopic
// wait for one fsync).
type Coordinator struct {
	opts   Options
	clock  Clock
	log    *slog.Logger
	store  *store
	closed atomic.Bool

	// mu guards groups and cleanup. Lock order: a group's mu may be held
	// while taking c.mu, never the reverse; store.mu is a leaf.
	mu      sync.Mutex
	groups  map[string]*group
	cleanup Timer
}

// New opens (and compacts) the offsets store in opts.Dir and returns a
// coordinator holding the stored groups: those that were Stable come back
// Stable with their members (sessions restarting now), the others with
// committed offsets come back Empty.
func New(opts Options) (*Coordinator, error) {
	if opts.Dir == "" {
		return nil, errors.New("group: Options.Dir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Clock == nil {
		opts.Clock = realClock{now: opts.Now}
	}
	if opts.MinSessionTimeout <= 0 {
		opts.MinSessionTimeout = 6 * time.Second
	}
	if opts.MaxSessionTimeout <= 0 {
		opts.MaxSessionTimeout = 30 * time.Minute
	}
	if opts.MaxSessionTimeout < opts.MinSessionTimeout {
		return nil, fmt.Errorf("group: MaxSessionTimeout %v is below MinSessionTimeout %v", opts.MaxSessionTimeout, opts.MinSessionTimeout)
	}
	if opts.InitialRebalanceDelay < 0 {
		opts.InitialRebalanceDelay = 0
	}
	if opts.OffsetsRetention == 0 {
		opts.OffsetsRetention = 7 * 24 * time.Hour
	}
	if opts.OffsetsRetentionCheckInterval <= 0 {
		opts.OffsetsRetentionCheckInterval = 10 * time.Minute
	}
	if opts.MaxMetadataBytes <= 0 {
		opts.MaxMetadataBytes = 4096
	}
	opts.MaxMetadataBytes = min(opts.MaxMetadataBytes, 512<<10)
	log := opts.Logger.With("component", "group")
	st, err := openStore(opts.Dir, log, opts.storeCompactSlack)
	if err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	c := &Coordinator{
		opts:   opts,
		clock:  opts.Clock,
		log:    log,
		store:  st,
		groups: make(map[string]*group),
	}
	for _, id := range st.groups() {
		c.groups[id] = c.newGroup(id)
	}
	// Groups that were Stable come back Stable with their members, whose
	// sessions start now; a group caught mid-rebalance comes back as its
	// last Stable state, as in Kafka.
	for id, rec := range st.groupMetas() {
		g := c.newGroup(id)
		g.mu.Lock()
		ok := g.restore(rec)
		g.mu.Unlock()
		if !ok {
			log.Warn("offsets store: ignoring inconsistent group state; the group restarts Empty", "group", id)
			st.enqueue(op{kind: opGroupEmpty, group: id})
			continue // Empty already if it has offsets
		}
		c.groups[id] = g
	}
	c.mu.Lock()
	c.scheduleCleanupLocked()
	c.mu.Unlock()
	return c, nil
}

// Close stops all timers, answers every blocked JoinGroup and SyncGroup with
// COORDINATOR_NOT_AVAILABLE, flushes queued commits and closes the store.
// Every later call answers COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.mu.Lock()
	if c.cleanup != nil {
		c.cleanup.Stop()
	}
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.shutdown()
		g.mu.Unlock()
	}
	if err := c.store.close(); err != nil {
		return fmt.Errorf("group: close: %w", err)
	}
	return nil
}

// lockGroup returns the group locked, creating it if create is set, or nil
// if it does not exist. A group that was deleted while we waited for its
// lock is looked up again.
func (c *Coordinator) lockGroup(id string, create bool) *group {
	for {
		c.mu.Lock()
		g := c.groups[id]
		if g == nil && create {
			g = c.newGroup(strings.Clone(id))
			c.groups[g.id] = g
		}
		c.mu.Unlock()
		if g == nil {
			return nil
		}
		g.mu.Lock()
		if g.state != stateDead {
			return g
		}
		g.mu.Unlock()
	}
}

// snapshotGroups returns the current groups, unlocked.
func (c *Coordinator) snapshotGroups() []*group {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	return out
}

func (c *Coordinator) now() time.Time { return c.clock.Now() }

// newMemberID builds a member id the way Kafka does: the client id (or the
// static instance id) followed by a random UUID.
func (c *Coordinator) newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type clientKey struct{}

type clientInfo struct{ id, host string }

// WithClient returns ctx carrying the request's client id and the client's
// host, which JoinGroup records for DescribeGroups and uses as the member-id
// prefix. The protocol layer should wrap JoinGroup's ctx with it.
func WithClient(ctx context.Context, clientID, clientHost string) context.Context {
	return context.WithValue(ctx, clientKey{}, clientInfo{clientID, clientHost})
}

func clientFrom(ctx context.Context) clientInfo {
	ci, _ := ctx.Value(clientKey{}).(clientInfo)
	return ci
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// Error codes used throughout, named once.
var (
	errNone                = int16(0)
	errCoordinatorNA       = kerr.CoordinatorNotAvailable.Code
	errInvalidGroupID      = kerr.InvalidGroupID.Code
	errUnknownMember       = kerr.UnknownMemberID.Code
	errIllegalGeneration   = kerr.IllegalGeneration.Code
	errRebalancing         = kerr.RebalanceInProgress.Code
	errInconsistentProto   = kerr.InconsistentGroupProtocol.Code
	errInvalidSession      = kerr.InvalidSessionTimeout.Code
	errMemberIDRequired    = kerr.MemberIDRequired.Code
	errFencedInstance      = kerr.FencedInstanceID.Code
	errUnknownTopic        = kerr.UnknownTopicOrPartition.Code
	errMetadataTooLarge    = kerr.OffsetMetadataTooLarge.Code
	errGroupNotFound       = kerr.GroupIDNotFound.Code
	errNonEmptyGroup       = kerr.NonEmptyGroup.Code
	errSubscribedToTopic   = kerr.GroupSubscribedToTopic.Code
	errRequestTimedOut     = kerr.RequestTimedOut.Code
	errUnknownServer       = kerr.UnknownServerError.Code
	allGroupOperationsBits = int32(1<<3 | 1<<6 | 1<<8) // READ, DELETE, DESCRIBE
)
