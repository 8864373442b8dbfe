package fsm

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Options tune how long applied ids are remembered. Every node of a cluster
// must use the same values, so production code uses DefaultOptions; tests
// shrink them.
type Options struct {
	IDRetention time.Duration
	MinIDs      int
}

// DefaultOptions returns the retention the protocol promises.
func DefaultOptions() Options {
	return Options{IDRetention: IDRetention, MinIDs: MinIDs}
}

// FSM is the raft.FSM (and raft.BatchingFSM) of seatd. Its read methods are
// safe to call concurrently with Apply and Restore.
type FSM struct {
	opts Options

	mu sync.RWMutex // guards st and halted against concurrent Apply, Restore and reads
	st *state
	// halted is set when an entry of an unknown version or type was met:
	// a newer node wrote it. From then on nothing is applied (applying
	// later entries without it would diverge from the newer nodes) and
	// no snapshot is taken (it would claim entries that were skipped).
	halted error
}

// ErrHalted is wrapped by the error Apply returns for every entry after one
// this code cannot understand; the node must be upgraded.
var ErrHalted = errors.New("fsm: halted at a log entry of an unknown version or type")

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// New returns an empty FSM: no seats until the Init entry is applied.
func New(opts Options) *FSM {
	return &FSM{opts: opts, st: newState(opts.IDRetention, opts.MinIDs)}
}

// Apply applies one committed log entry. For a batch entry it returns the
// []Result of its writes in order; for an Init entry nil; for an entry that
// cannot be decoded an error (the same one on every node; nothing changes).
func (f *FSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLocked(l)
}

// ApplyBatch applies several committed entries under one lock acquisition.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range logs {
		out[i] = f.applyLocked(l)
	}
	return out
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
		if errors.Is(err, ErrVersion) || errors.Is(err, ErrEntryType) {
			f.halted = fmt.Errorf("%w: log index %d: %w", ErrHalted, l.Index, err)
			return f.halted
		}
		// Corrupt bytes are the same on every node: every node answers
		// the same error and changes nothing, so replicas stay equal.
		return fmt.Errorf("apply log index %d: %w", l.Index, err)
	}
	if res := f.st.apply(&e); res != nil {
		return res
	}
	return nil // an Init entry: a plain nil, not a typed nil slice
}

// Seats returns the seat count, 0 while the cluster is not initialised.
func (f *FSM) Seats() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.st.seats)
}

// SeatStatus returns whether seat n is booked and by whom. ok is false when n
// is not a seat of the cluster.
func (f *FSM) SeatStatus(n uint32) (booked bool, holder string, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if n == 0 || int(n) > len(f.st.seats) {
		return false, "", false
	}
	s := f.st.seats[n-1]
	return s.booked, s.holder, true
}

// Summary returns the seat count and how many seats are free and booked.
func (f *FSM) Summary() (total, free, booked int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	total = len(f.st.seats)
	return total, total - f.st.booked, f.st.booked
}

// AppliedID returns the recorded result of id, if the cluster still
// remembers applying it.
func (f *FSM) AppliedID(id string) (Result, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.ids[id]
	return r, ok
}

// Snapshot captures the state cheaply under the lock: the seats are copied,
// the id log is shared (its live part is never modified in place). Encoding
// and I/O happen later in Persist, concurrently with Apply.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.halted != nil {
		return nil, f.halted
	}
	return &snapshot{
		seats:      append([]seat(nil), f.st.seats...),
		lastTimeMs: f.st.lastTimeMs,
		ids:        f.st.order[f.st.head:len(f.st.order):len(f.st.order)],
	}, nil
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
	f.mu.Unlock()
	return nil
}

// Digest returns a hash of the whole state (seats, applied ids, clock),
// equal on two nodes exactly when their states are equal. It encodes the
// state as a snapshot would, so it costs a full copy: for tests and checks,
// not for the hot path.
func (f *FSM) Digest() string {
	snap, err := f.Snapshot()
	if err != nil {
		return "halted"
	}
	h := sha256.New()
	w := bufio.NewWriter(h)
	snap.(*snapshot).encode(w)
	w.Flush()
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Halted returns the reason the FSM stopped applying entries, or nil.
func (f *FSM) Halted() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.halted
}
