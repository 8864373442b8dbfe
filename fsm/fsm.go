package fsm

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Options tune how long applied ids are remembered. Every node of a cluster
// must use the same values, so production code uses DefaultOptions; tests
// shrink them. IDRetention applies while the cluster's format is below
// FormatV3, IDRetentionV3 from it (zero: the same as IDRetention); MinIDs
// always.
type Options struct {
	IDRetention   time.Duration
	IDRetentionV3 time.Duration
	MinIDs        int

	// OnHalt, when set, is called once, with the reason (wrapping
	// ErrHalted), when Apply meets an entry this build cannot apply and the
	// state machine halts: every node says so, not only a leader with
	// writes waiting. It runs under the FSM's lock and must not call it.
	OnHalt func(err error)
}

// DefaultOptions returns the retention the protocol promises.
func DefaultOptions() Options {
	return Options{IDRetention: IDRetention, IDRetentionV3: IDRetentionV3, MinIDs: MinIDs}
}

// FSM is the raft.FSM (and raft.BatchingFSM) of seatd. Its read methods are
// safe to call concurrently with Apply and Restore.
type FSM struct {
	opts Options

	mu sync.RWMutex // guards st and halted against concurrent Apply, Restore and reads
	st *state
	// halted is set when an entry this build cannot fully understand was
	// met: a newer node wrote it, or it is corrupt. From then on nothing is
	// applied (applying later entries without it would diverge from the
	// nodes that understood it) and no snapshot is taken (it would claim
	// entries that were not applied).
	halted error

	// expiryMoved is signalled (without blocking) when the earliest hold
	// changes, so that the leader's ticker can re-arm.
	expiryMoved chan struct{}

	// format and defaultSeats mirror the state's, read without the lock
	// on every batch and request: they change only when an entry is
	// applied or a snapshot restored (published under the lock).
	format       atomic.Uint32
	defaultSeats atomic.Uint32
}

// Errors of the FSM and its read methods.
var (
	// ErrHalted is wrapped by the error Apply returns for an entry this build
	// cannot understand and for every entry after it; the node must be
	// upgraded (or, for a corrupt log, restored from a backup).
	ErrHalted = errors.New("fsm: halted at a log entry this build cannot apply")
	// ErrNoEvent: the event named does not exist.
	ErrNoEvent = errors.New("fsm: no such event")
	// ErrInvalidSeat: the seat is not a seat of the event.
	ErrInvalidSeat = errors.New("fsm: no such seat")
)

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// New returns an empty FSM: no events until the Init entry is applied.
func New(opts Options) *FSM {
	f := &FSM{opts: opts, st: newState(opts), expiryMoved: make(chan struct{}, 1)}
	f.publish()
	return f
}

// publish copies what is read without the lock from the state (f.mu held
// for writing).
func (f *FSM) publish() {
	f.format.Store(uint32(f.st.format))
	seats := uint32(0)
	if e := f.st.events[DefaultEvent]; e != nil {
		seats = e.seats
	}
	f.defaultSeats.Store(seats)
}

// Apply applies one committed log entry. For a batch entry it returns the
// []Result of its writes in order; for other entries nil; for an entry this
// build cannot apply an error wrapping ErrHalted.
func (f *FSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.applyLocked(l)
	f.publish()
	f.signalExpiry()
	return res
}

// ApplyBatch applies several committed entries under one lock acquisition.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range logs {
		out[i] = f.applyLocked(l)
	}
	f.publish()
	f.signalExpiry()
	return out
}

func (f *FSM) signalExpiry() {
	if !f.st.expiryMoved {
		return
	}
	f.st.expiryMoved = false
	select {
	case f.expiryMoved <- struct{}{}:
	default:
	}
}

func (f *FSM) applyLocked(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		return nil
	}
	if f.halted != nil {
		return fmt.Errorf("apply log index %d: %w", l.Index, f.halted)
	}
	e, err := Decode(l.Data)
	if err != nil {
		f.halted = fmt.Errorf("%w: log index %d: %w", ErrHalted, l.Index, err)
		if f.opts.OnHalt != nil {
			f.opts.OnHalt(f.halted)
		}
		return f.halted
	}
	if res := f.st.apply(&e, l.Index); res != nil {
		return res
	}
	return nil // not a batch: a plain nil, not a typed nil slice
}

// Format returns the cluster's format version (without taking the lock).
func (f *FSM) Format() uint8 { return uint8(f.format.Load()) }

// DefaultSeats returns the seat count of the default event, 0 while the
// cluster is not initialised (without taking the lock).
func (f *FSM) DefaultSeats() uint32 { return f.defaultSeats.Load() }

// SeatInfo is what one seat is now.
type SeatInfo struct {
	State   SeatState
	Holder  string // "" when free or booked anonymously
	Expires int64  // for SeatHeld: when the hold ends (log time, Unix ms)
}

func (f *FSM) lookup(eventName string, seat uint32) (*event, error) {
	e := f.st.event(eventName)
	if e == nil {
		return nil, ErrNoEvent
	}
	if seat == 0 || seat > e.seats {
		return nil, ErrInvalidSeat
	}
	return e, nil
}

// Seat returns the state of one seat of an event ("" = default). The error
// is ErrNoEvent or ErrInvalidSeat.
func (f *FSM) Seat(eventName string, seat uint32) (SeatInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, err := f.lookup(eventName, seat)
	if err != nil {
		return SeatInfo{}, err
	}
	r, _ := e.get(seat)
	return SeatInfo{State: r.state, Holder: r.holder, Expires: r.expires}, nil
}

// History returns the newest changes of one seat, oldest first (at most
// HistoryLen). The error is ErrNoEvent or ErrInvalidSeat.
func (f *FSM) History(eventName string, seat uint32) ([]Change, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, err := f.lookup(eventName, seat)
	if err != nil {
		return nil, err
	}
	r, _ := e.get(seat)
	return slices.Clone(r.history()), nil
}

// Summary counts the seats of an event.
type Summary struct {
	Total, Free, Booked, Held int
	// SawHold is set once a HOLD took effect in the event: its summary
	// line then shows HELD.
	SawHold bool
}

// Seats returns the states of up to count seats of an event from seat
// from on ("" = default), stopping at the event's last seat: one page of a
// seat map, read under one lock. The error is ErrNoEvent.
func (f *FSM) Seats(eventName string, from uint32, count int) ([]SeatInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e := f.st.event(eventName)
	if e == nil {
		return nil, ErrNoEvent
	}
	if from == 0 || from > e.seats {
		return nil, nil
	}
	n := min(uint64(count), uint64(e.seats)-uint64(from)+1)
	out := make([]SeatInfo, n)
	for i := range out {
		r, _ := e.get(from + uint32(i))
		out[i] = SeatInfo{State: r.state, Holder: r.holder, Expires: r.expires}
	}
	return out, nil
}

// Summary returns the counts of an event ("" = default); the error is
// ErrNoEvent.
func (f *FSM) Summary(eventName string) (Summary, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e := f.st.event(eventName)
	if e == nil {
		return Summary{}, ErrNoEvent
	}
	total := int(e.seats)
	return Summary{Total: total, Free: total - e.booked - e.held, Booked: e.booked, Held: e.held, SawHold: e.sawHold}, nil
}

// Events returns the names of every event, sorted.
func (f *FSM) Events() []string {
	f.mu.RLock()
	names := make([]string, 0, len(f.st.events))
	for name := range f.st.events {
		names = append(names, name)
	}
	f.mu.RUnlock()
	slices.Sort(names)
	return names
}

// AppliedID returns the recorded result of id, if the cluster still
// remembers applying it.
func (f *FSM) AppliedID(id string) (Result, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.ids.lookup(id)
}

// NextExpiry returns when the earliest hold ends (log time, Unix ms), if
// any hold is live. It may name a hold of a deleted event: applying any
// entry at or after that time drops it.
func (f *FSM) NextExpiry() (int64, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.nextExpiry()
}

// ExpiryMoved receives a value (coalesced) whenever the earliest hold may
// have changed: the leader's ticker waits on it.
func (f *FSM) ExpiryMoved() <-chan struct{} { return f.expiryMoved }

// LastTime returns the log time of the last applied entry (Unix ms).
func (f *FSM) LastTime() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.lastTimeMs
}

// Snapshot captures the state cheaply under the lock: each event's seat
// tree is copied on write and the id table's chunks are shared (what they
// hold is never written again), so this costs O(events + id chunks), not
// O(seats + ids). Encoding and
// I/O happen later in Persist, concurrently with Apply.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	// The write lock: copying a tree marks it shared, which is a write.
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.halted != nil {
		return nil, f.halted
	}
	return &snapshot{st: f.st.capture()}, nil
}

// Restore replaces the whole state with the snapshot read from rc. On error
// the previous state is kept.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := readSnapshot(rc, f.opts)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.st = st
	f.halted = nil
	f.st.expiryMoved = true
	f.publish()
	f.signalExpiry()
	f.mu.Unlock()
	return nil
}

// Digest returns a hash of the whole state (events, seats, history,
// applied ids, clock, format), equal on two nodes exactly when their states
// are equal. It encodes the state as a snapshot would, so it costs a full
// pass over the state: for tests and checks, not for the hot path.
func (f *FSM) Digest() string {
	snap, err := f.Snapshot()
	if err != nil {
		return "halted"
	}
	h := sha256.New()
	w := bufio.NewWriter(h)
	snap.(*snapshot).st.encode(w)
	w.Flush()
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Halted returns the reason the FSM stopped applying entries, or nil.
func (f *FSM) Halted() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.halted
}

// Backup writes the whole state, in the snapshot format (versioned, as
// Snapshot's Persist writes it), to w: a consistent copy at the last
// applied entry. The capture holds the lock only as Snapshot does.
func (f *FSM) Backup(w io.Writer) error {
	snap, err := f.Snapshot()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	bw := bufio.NewWriterSize(yieldingWriter{w}, 64<<10)
	if err := snap.(*snapshot).st.encode(bw); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// CheckSnapshot decodes a whole snapshot (or backup) without keeping it:
// nil only when Restore would accept it.
func CheckSnapshot(r io.Reader) error {
	if _, err := readSnapshot(r, DefaultOptions()); err != nil {
		return fmt.Errorf("check snapshot: %w", err)
	}
	return nil
}
