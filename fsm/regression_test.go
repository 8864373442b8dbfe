package fsm

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/hashicorp/raft"
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

// Nodes of an upgraded cluster restored the first release's snapshots at
// different indexes and replayed the rest of the log with this build: they
// must hold the same state as a node that replayed the whole log, at
// format 1 and after the raise (format-1 writes keep no history, so a
// snapshot of format 1 carries everything).
func TestReplayFromAnyFormat1SnapshotAgrees(t *testing.T) {
	var log [][]byte
	log = append(log, AppendInit(nil, 1000, 10))
	for i := range 12 {
		log = append(log, AppendBatch(nil, FormatV1, int64(1000+i), []Write{
			rsv(uint32(1+i%10), fmt.Sprint("h", i%3), fmt.Sprint("id", i)),
			cnl(uint32(1+(i+4)%10), fmt.Sprint("h", (i+1)%3), ""),
		}))
	}
	log = append(log, AppendFormat(nil, 2000, FormatV2))
	log = append(log, AppendBatch(nil, FormatV2, 2001, []Write{cnl(1, "h0", ""), hld(2, "z", 5, ""), many(rsv(0, "w", ""), 3, 4)}))
	apply := func(f *FSM, from int) {
		for i := from; i < len(log); i++ {
			if res, ok := f.Apply(&raft.Log{Type: raft.LogCommand, Index: uint64(i + 1), Data: log[i]}).(error); ok {
				t.Fatalf("entry %d: %v", i+1, res)
			}
		}
	}
	full := New(testOpts)
	apply(full, 0)
	want := full.Digest()
	for k := 1; k <= 13; k++ { // a snapshot after entry k, still at format 1
		src := New(testOpts)
		for i := 0; i < k; i++ {
			src.Apply(&raft.Log{Type: raft.LogCommand, Index: uint64(i + 1), Data: log[i]})
		}
		data := snapshotBytes(t, src)
		if data[8] != snapshotVersionV1 {
			t.Fatalf("snapshot after entry %d is version %d", k, data[8])
		}
		f := New(testOpts)
		if err := restore(f, data); err != nil {
			t.Fatal(err)
		}
		apply(f, k)
		if got := f.Digest(); got != want {
			t.Errorf("restored after entry %d and replayed: digest %s, the full replay %s\n%s\n%s", k, got, want, dump(f), dump(full))
		}
	}
}

// A cluster holds at most MaxEvents events: one more EVENT CREATE is
// refused (answered ERROR BUSY by the node) and changes nothing; after a
// delete, a create works again.
func TestMaxEvents(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	var ws []Write
	for i := 1; i < MaxEvents; i++ { // the default event is one of them
		ws = append(ws, mkEvent(fmt.Sprintf("e%d", i), 1, ""))
		if len(ws) == MaxBatch || i == MaxEvents-1 {
			for k, r := range h.batch(1, ws...) {
				if r.Code != CodeSuccess {
					t.Fatalf("create %d: %+v", k, r)
				}
			}
			ws = ws[:0]
		}
	}
	if n := len(h.f.Events()); n != MaxEvents {
		t.Fatalf("%d events", n)
	}
	if r := h.one(2, mkEvent("one-more", 1, "")); r.Code != CodeTooManyEvents {
		t.Fatalf("event %d: %+v", MaxEvents+1, r)
	}
	if r := h.one(3, delEvent("e7", "")); r.Code != CodeSuccess {
		t.Fatalf("delete: %+v", r)
	}
	if r := h.one(4, mkEvent("one-more", 1, "")); r.Code != CodeSuccess {
		t.Fatalf("after a delete: %+v", r)
	}
}
