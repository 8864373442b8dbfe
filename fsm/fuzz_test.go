package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fuzzOpts keeps few ids so that fuzzed entries reach the forgetting code.
var fuzzOpts = Options{IDRetention: 50 * time.Millisecond, MinIDs: 2}

// fuzzInitSeats bounds the seat count of an accepted Init entry applied to a
// fresh FSM in FuzzDecode (allocating MaxSeats per input slows fuzzing down
// without testing anything new).
const fuzzInitSeats = 1 << 12

// fuzzBase returns an FSM (and its model) holding some state that fuzzed
// entries may collide with: eight seats, bookings and remembered ids.
func fuzzBase(t testing.TB) (*harness, *model) {
	h := newHarness(t, fuzzOpts)
	m := newModel(fuzzOpts)
	for _, e := range []Entry{
		{Type: TypeInit, Time: 100, Seats: 8},
		{Type: TypeBatch, Time: 100, Writes: []Write{rsv(1, "a", "i1"), rsv(2, "", "i2"), rsv(3, "b", "")}},
		{Type: TypeBatch, Time: 120, Writes: []Write{cnl(4, "", "i3"), rsv(5, "a", "")}},
	} {
		var data []byte
		if e.Type == TypeInit {
			data = AppendInit(nil, e.Time, e.Seats)
		} else {
			data = AppendBatch(nil, e.Time, e.Writes)
		}
		h.raw(data)
		m.apply(e)
	}
	return h, m
}

func fuzzDecodeSeeds() [][]byte {
	return [][]byte{
		nil,
		{1},
		AppendInit(nil, 0, 5),
		AppendInit(nil, 1_700_000_000_000, MaxSeats),
		AppendBatch(nil, 200, []Write{rsv(1, "", "")}),
		AppendBatch(nil, 200, []Write{rsv(1, "a", "i1"), cnl(1, "a", "i1"), cnl(2, "", "x")}),
		AppendBatch(nil, 0, []Write{rsv(6, "b", "n1"), cnl(3, "b", "n2"), rsv(9, "", "n3"), cnl(0, "", "")}),
		AppendBatch(nil, -5, []Write{rsv(4294967295, holder64, id64)}),
		{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 0, 0},
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 5},
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzDecodeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrShortEntry) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrEntryType) && !errors.Is(err, ErrCorruptData) {
				t.Fatalf("Decode error %v wraps no sentinel", err)
			}
			// A refused entry changes nothing.
			h, _ := fuzzBase(t)
			before := dump(h.f)
			if _, ok := h.raw(data).(error); !ok {
				t.Fatalf("Apply accepted an entry Decode refuses")
			}
			requireSameState(t, "after refused entry", dump(h.f), before)
			return
		}

		// Re-encoding gives bytes that decode to the same entry.
		var re []byte
		switch e.Type {
		case TypeInit:
			if e.Writes != nil {
				t.Fatalf("Init entry with writes: %+v", e)
			}
			re = AppendInit(nil, e.Time, e.Seats)
		case TypeBatch:
			if e.Seats != 0 || len(e.Writes) == 0 {
				t.Fatalf("Batch entry %+v", e)
			}
			re = AppendBatch(nil, e.Time, e.Writes)
		default:
			t.Fatalf("Decode accepted type %d", e.Type)
		}
		e2, err := Decode(re)
		if err != nil {
			t.Fatalf("re-encoded entry refused: %v\n% x", err, re)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("re-encoded entry decodes to %+v, want %+v", e2, e)
		}
		if len(re) > len(data) {
			t.Fatalf("re-encoding is longer (%d) than the input (%d)", len(re), len(data))
		}
		for _, w := range e.Writes {
			if len(w.Holder) > maxToken || len(w.ID) > maxToken || (w.Op != OpReserve && w.Op != OpCancel) {
				t.Fatalf("Decode accepted write %+v", w)
			}
		}

		// Determinism: two fresh FSMs, and two with state, agree; the
		// ones with state also agree with the model.
		if e.Type != TypeInit || e.Seats <= fuzzInitSeats {
			a, b := New(fuzzOpts), New(fuzzOpts)
			ra := a.Apply(&raft.Log{Type: raft.LogCommand, Index: 1, Data: data})
			rb := b.Apply(&raft.Log{Type: raft.LogCommand, Index: 1, Data: slices.Clone(data)})
			if !reflect.DeepEqual(ra, rb) {
				t.Fatalf("fresh FSMs answered %v and %v", ra, rb)
			}
			if e.Type == TypeBatch {
				for i, r := range ra.([]Result) {
					if r != ResultInvalidSeat {
						t.Fatalf("write %d before Init = %v", i, r)
					}
				}
			}
			requireSameState(t, "fresh FSMs", dump(a), dump(b))
			at, af, ab := a.Summary()
			bt, bf, bb := b.Summary()
			if at != bt || af != bf || ab != bb {
				t.Fatalf("Summary %d %d %d vs %d %d %d", at, af, ab, bt, bf, bb)
			}
			checkInvariants(t, a)
		}
		h1, m := fuzzBase(t)
		h2, _ := fuzzBase(t)
		r1, r2 := h1.raw(data), h2.raw(slices.Clone(data))
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("FSMs with equal state answered %v and %v", r1, r2)
		}
		requireSameState(t, "FSMs with state", dump(h1.f), dump(h2.f))
		want := m.apply(e)
		if e.Type == TypeBatch && !slices.Equal(r1.([]Result), want) {
			t.Fatalf("results %v, model %v for %+v", r1, want, e.Writes)
		}
		pool := []string{"i1", "i2", "i3"}
		for _, w := range e.Writes {
			pool = append(pool, w.ID)
		}
		m.compare(t, h1.f, pool)
		checkInvariants(t, h1.f)
	})
}

func fuzzRestoreSeeds(t testing.TB) [][]byte {
	h, _ := fuzzBase(t)
	full := snapshotBytes(t, h.f)
	rich := snapshotBytes(t, richState(t).f)
	return [][]byte{
		nil,
		[]byte(snapshotMagic),
		snapshotBytes(t, New(fuzzOpts)),
		full,
		rich,
		full[:len(full)/2],
		append(slices.Clone(full), "trailing"...),
	}
}

func FuzzRestore(f *testing.F) {
	for _, s := range fuzzRestoreSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := readSnapshot(bytes.NewReader(data), fuzzOpts)
		if err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("readSnapshot error %v does not wrap ErrSnapshot", err)
			}
			if st != nil {
				t.Fatalf("readSnapshot returned state with error %v", err)
			}
			// Restore keeps the previous state.
			h, _ := fuzzBase(t)
			before := dump(h.f)
			if err := restore(h.f, data); err == nil {
				t.Fatalf("Restore accepted what readSnapshot refused")
			}
			requireSameState(t, "after failed restore", dump(h.f), before)
			return
		}
		if len(st.seats) > MaxSeats {
			t.Fatalf("restored %d seats", len(st.seats))
		}
		booked := 0
		for _, s := range st.seats {
			if s.booked {
				booked++
			}
			if len(s.holder) > maxToken {
				t.Fatalf("restored holder of %d bytes", len(s.holder))
			}
		}
		if booked != st.booked {
			t.Fatalf("restored booked counter %d, %d seats booked", st.booked, booked)
		}

		// What was accepted snapshots again and restores to the same state.
		f := &FSM{opts: fuzzOpts, st: st}
		again := snapshotBytes(t, f)
		st2, err := readSnapshot(bytes.NewReader(again), fuzzOpts)
		if err != nil {
			t.Fatalf("re-encoded snapshot refused: %v", err)
		}
		f2 := &FSM{opts: fuzzOpts, st: st2}
		requireSameState(t, "re-encoded snapshot", dump(f2), dump(f))

		// Applying to whatever was accepted does not panic.
		h := &harness{t: t, f: f}
		h.raw(AppendInit(nil, 1, 3))
		h.raw(AppendBatch(nil, 1<<40, []Write{rsv(1, "a", "fz1"), cnl(1, "a", "fz2"), rsv(2, "", "fz1")}))
	})
}
