package fsm

import (
	"errors"
	"math"
	"testing"
)

// Regression tests for bugs the tests of the new state machine found.

// A seat gap that wraps around 2^64 is refused by Decode.
func TestRegressionDecodeSeatGapWraps(t *testing.T) {
	data := entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{3, 2, math.MaxUint64 - 1}, "", "x")) // seats 3, 5, then 5+(2^64-2) = 3
	if e, err := Decode(data); !errors.Is(err, ErrCorruptData) {
		t.Fatalf("Decode = %+v, %v; want ErrCorruptData (seats not ascending)", e, err)
	}
}

// A seat list whose gap would wrap halts the FSM at that entry (it used to
// be applied as seats 3,5,3, and the next snapshot could not be restored):
// nothing changes and no snapshot is taken.
func TestSeatGapWrapHalts(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 10)
	h.ok(0, rsv(3, "z", ""))
	before := h.f.Digest()
	if _, ok := h.raw(entry(2, 2, 0, 1, seatW2(OpReserve, "", []uint64{3, 2, math.MaxUint64 - 1}, "", "dup"))).(error); !ok {
		t.Fatal("the entry was applied")
	}
	if !errors.Is(h.f.Halted(), ErrHalted) {
		t.Fatalf("Halted() = %v", h.f.Halted())
	}
	if _, err := h.f.Snapshot(); err == nil {
		t.Error("a halted FSM took a snapshot")
	}
	h.f.mu.Lock()
	h.f.halted = nil // look behind the halt: the state is as before the entry
	h.f.mu.Unlock()
	if h.f.Digest() != before {
		t.Error("the halting entry changed the state")
	}
}

// EVENT CREATE default before Init is FAILED_EXISTS (it used to make a
// default event of id 1, whose snapshot the reader refused).
func TestRegressionCreateDefaultBeforeInit(t *testing.T) {
	h := newHarness(t, testOpts)
	h.one(1, mkEvent(DefaultEvent, 5, ""))
	h.init(2, 10)
	if err := restore(New(testOpts), snapshotBytes(t, h.f)); err != nil {
		t.Fatalf("the FSM's own snapshot is refused: %v", err)
	}
}

// A record gap that wraps around 2^64 (repeating a seat) is refused.
func TestRegressionSnapshotRecordGapWraps(t *testing.T) {
	s := tinySnap()
	def := &s.events[1]
	def.recs[2].gap = math.MaxUint64 // seat 2 + (2^64-1) = seat 1 again
	def.recs[2].state, def.recs[2].holder = 1, "c"
	if err := restore(New(testOpts), s.encode()); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("Restore = %v, want ErrSnapshot (seats out of order)", err)
	}
}

// An id's seat list whose gap wraps is refused.
func TestRegressionSnapshotIDSeatsWrap(t *testing.T) {
	s := tinySnap()
	s.ids[4].seats = []uint64{2, math.MaxUint64} // 2, then 1
	if err := restore(New(testOpts), s.encode()); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("Restore = %v, want ErrSnapshot (seats not ascending)", err)
	}
}

// a next event id of 0 is accepted; the next event created gets the
// default event's id 0, the default event's holds never expire, and the
// snapshot is refused.
func TestRegressionSnapshotNextEventIDZero(t *testing.T) {
	s := hSnap{version: 2, format: 2, last: 1000, next: 0, events: []hEvent{{name: DefaultEvent, seats: 5}}}
	if err := restore(New(testOpts), s.encode()); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("Restore = %v, want ErrSnapshot (next event id 0)", err)
	}
}
