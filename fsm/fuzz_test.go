package fsm

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fuzzOpts keeps few ids so that fuzzed entries reach the forgetting code.
var fuzzOpts = Options{IDRetention: 50 * time.Millisecond, MinIDs: 2}

// fuzzBase returns an FSM and its model holding state that fuzzed entries
// may collide with: eight default seats and an event "ev" of four,
// bookings, holds, history, remembered ids (one HELD, one with seats), and
// a hold of a deleted event that has not fallen due.
func fuzzBase(t testing.TB) *pair {
	p := newPair(t, fuzzOpts)
	for _, e := range []Entry{
		{Version: 1, Type: TypeInit, Time: 100, Seats: 8},
		{Version: 1, Type: TypeBatch, Time: 100, Writes: []Write{rsv(1, "a", "i1"), rsv(2, "", "i2"), rsv(3, "b", "")}},
		{Version: 2, Type: TypeFormat, Time: 110, Format: 2},
		{Version: 2, Type: TypeBatch, Time: 120, Writes: []Write{cnl(4, "", "i3"), rsv(5, "a", ""), hld(6, "h", 1, "i4"),
			mkEvent("ev", 4, ""), in("ev", many(hld(0, "a", 2, ""), 1, 2)), in("ev", many(rsv(0, "b", "i5"), 2, 3)),
			mkEvent("gone", 2, ""), in("gone", hld(1, "g", 3, "")), delEvent("gone", "")}},
	} {
		p.apply(e)
	}
	return p
}

var fuzzPool = []string{"i1", "i2", "i3", "i4", "i5"}

// checkDecoded checks that a decoded entry is one the format allows.
func checkDecoded(t *testing.T, e Entry) {
	t.Helper()
	switch {
	case e.Version == FormatV1 && (e.Type == TypeInit || e.Type == TypeBatch):
	case e.Version >= FormatV2 && e.Version <= MaxFormat && (e.Type == TypeBatch || e.Type == TypeTick || e.Type == TypeFormat):
	default:
		t.Fatalf("Decode accepted type %d in version %d", e.Type, e.Version)
	}
	if (e.Type == TypeInit) != (e.Seats != 0) || e.Seats > MaxSeats {
		t.Fatalf("entry %+v: seats %d", e, e.Seats)
	}
	if (e.Type == TypeFormat) != (e.Format != 0) || e.Format > MaxFormat {
		t.Fatalf("entry %+v: format %d", e, e.Format)
	}
	if (e.Type == TypeBatch) != (len(e.Writes) > 0) || len(e.Writes) > MaxBatch {
		t.Fatalf("entry of type %d with %d writes", e.Type, len(e.Writes))
	}
	for _, w := range e.Writes {
		bad := len(w.Holder) > maxToken || len(w.ID) > maxToken
		seatOp := w.Op == OpReserve || w.Op == OpCancel || w.Op == OpHold
		switch {
		case e.Version == FormatV1:
			bad = bad || !(w.Op == OpReserve || w.Op == OpCancel) || w.Event != "" || w.Seats != nil || w.TTL != 0 || w.Count != 0
		case seatOp:
			bad = bad || (w.Event != "" && !validEventName(w.Event)) || w.Count != 0
			bad = bad || (w.Seats != nil && (w.Seat != 0 || len(w.Seats) < 2 || len(w.Seats) > MaxSeatsPerWrite))
			bad = bad || (w.Op == OpHold) != (w.TTL != 0) || w.TTL > MaxTTL || (w.Op == OpHold && w.Holder == "")
		case w.Op == OpEventCreate:
			bad = bad || !validEventName(w.Event) || w.Count == 0 || w.Count > MaxSeats || w.Seat != 0 || w.Seats != nil || w.Holder != "" || w.TTL != 0
		case w.Op == OpEventDelete:
			bad = bad || !validEventName(w.Event) || w.Count != 0 || w.Seat != 0 || w.Seats != nil || w.Holder != "" || w.TTL != 0
		default:
			bad = true
		}
		if bad {
			t.Fatalf("Decode accepted write %+v in version %d", w, e.Version)
		}
	}
}

func fuzzDecodeSeeds() [][]byte {
	return [][]byte{
		nil,
		{1},
		{2},
		AppendInit(nil, 0, 5),
		AppendInit(nil, 1_700_000_000_000, MaxSeats),
		AppendTick(nil, 130),
		AppendTick(nil, math.MinInt64),
		AppendFormat(nil, 200, 2),
		AppendFormat(nil, 200, 3),
		AppendBatch(nil, FormatV1, 200, []Write{rsv(1, "", "")}),
		AppendBatch(nil, FormatV1, 200, []Write{rsv(1, "a", "i1"), cnl(1, "a", "i1"), cnl(2, "", "x")}),
		AppendBatch(nil, FormatV1, -5, []Write{rsv(4294967295, holder64, id64)}),
		AppendBatch(nil, FormatV2, 121, []Write{hld(7, "h", 1, "n1"), rsv(6, "h", ""), in("ev", cnl(1, "a", "i5")), in("ev", many(hld(0, "a", 5, ""), 1, 3, 4))}),
		AppendBatch(nil, FormatV2, 2000, []Write{many(rsv(0, "a", "m"), 1, 5, 8, 9), many(cnl(0, "b", ""), 0, 1, 2, 3), in("gone", rsv(1, "", "")), mkEvent("gone", 3, "c"), delEvent("ev", "d"), delEvent(DefaultEvent, "")}),
		AppendBatch(nil, FormatV2, 0, []Write{many(hld(0, "z", MaxTTL, ""), seatRange(1, 100)...)}),
		AppendBatch(nil, FormatV2, 0, []Write{mkEvent(event64, MaxSeats, id64), in(event64, rsv(MaxSeats, holder64, ""))}),
		{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 0, 0}, // a hold in version 1
		{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 5},             // an init in version 2
		{3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0},
		entry(2, 2, 5, []byte{0x81, 0x00}, seatW2(OpReserve, "", []uint64{3}, "", "")), // a non-minimal varint
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzDecodeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			n := 0
			for _, s := range []error{ErrVersion, ErrEntryType, ErrCorruptData} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("Decode error %v wraps %d sentinels, want 1", err, n)
			}
			// The FSM halts on it and changes nothing.
			p := fuzzBase(t)
			before := dump(p.h.f)
			p.h.halts(data, nil)
			p.h.raw(AppendTick(nil, 1<<40))
			before.Halted = true
			requireSameState(t, "after a refused entry", dump(p.h.f), before)
			return
		}
		checkDecoded(t, e)

		// Re-encoding gives bytes that decode to the same entry. They are
		// the input itself unless the input used longer varints than
		// needed, which the decoder accepts: then they are shorter.
		re := encodeEntry(e)
		e2, err := Decode(re)
		if err != nil {
			t.Fatalf("re-encoded entry refused: %v\n% x", err, re)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("re-encoded entry decodes to %+v, want %+v", e2, e)
		}
		if !bytes.Equal(re, data) && len(re) >= len(data) {
			t.Fatalf("re-encoding differs and is not shorter:\n% x\n% x", re, data)
		}
		if !bytes.Equal(encodeEntry(e2), re) {
			t.Fatalf("encoding is not a fixpoint")
		}

		// Applied to an FSM with state it agrees with the model, and with a
		// second FSM with the same state; the state snapshots and restores.
		p := fuzzBase(t)
		got := p.h.raw(data)
		want := p.m.apply(e, p.h.idx)
		if res, ok := got.([]Result); e.Type == TypeBatch && (!ok || !resultsEqual(res, want)) {
			t.Fatalf("results %+v, model %+v for %+v", got, want, e.Writes)
		} else if e.Type != TypeBatch && got != nil {
			t.Fatalf("Apply = %#v for %+v", got, e)
		}
		pool := slices.Clone(fuzzPool)
		for _, w := range e.Writes {
			pool = append(pool, w.ID)
		}
		p.m.compare(t, p.h.f, pool)
		checkInvariants(t, p.h.f)
		q := fuzzBase(t)
		if r := q.h.raw(slices.Clone(data)); !reflect.DeepEqual(r, got) {
			t.Fatalf("FSMs with equal state answered %v and %v", got, r)
		}
		requireSameState(t, "FSMs with equal state", dump(q.h.f), dump(p.h.f))
		r := roundTrip(t, p.h.f)
		if r.Digest() != p.h.f.Digest() {
			t.Fatalf("Digest differs after a snapshot round trip")
		}

		// Two fresh FSMs agree as well.
		a, b := New(fuzzOpts), New(fuzzOpts)
		ha, hb := &harness{t: t, f: a}, &harness{t: t, f: b}
		if ra, rb := ha.raw(data), hb.raw(slices.Clone(data)); !reflect.DeepEqual(ra, rb) {
			t.Fatalf("fresh FSMs answered %v and %v", ra, rb)
		}
		requireSameState(t, "fresh FSMs", dump(a), dump(b))
	})
}

func fuzzRestoreSeeds(t testing.TB) [][]byte {
	full := snapshotBytes(t, fuzzBase(t).h.f)
	rich := snapshotBytes(t, richState(t).f)
	tiny := tinySnap().encode()
	return [][]byte{
		nil,
		[]byte(snapshotMagic),
		snapshotBytes(t, New(fuzzOpts)),
		full,
		rich,
		tiny,
		full[:len(full)/2],
		append(slices.Clone(full), "trailing"...),
		encodeV1(7000, []v1Seat{{true, "alice"}, {}, {true, ""}}, []v1ID{{"i1", 6000, 1}, {"i2", 6500, 5}}),
		encodeV1(0, nil, nil),
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
			p := fuzzBase(t)
			before := dump(p.h.f)
			if err := restore(p.h.f, data); err == nil {
				t.Fatalf("Restore accepted what readSnapshot refused")
			}
			requireSameState(t, "after failed restore", dump(p.h.f), before)
			return
		}
		fs := &FSM{opts: fuzzOpts, st: st, expiryMoved: make(chan struct{}, 1)}
		fs.publish()
		checkConsistent(t, fs)

		// Restore accepts it too, over a state with content.
		p := fuzzBase(t)
		if err := restore(p.h.f, data); err != nil {
			t.Fatalf("Restore refused what readSnapshot accepted: %v", err)
		}
		requireSameState(t, "Restore vs readSnapshot", dump(p.h.f), dump(fs))

		// What was accepted snapshots again, to bytes that restore to the
		// same state and snapshot to the same bytes.
		again := snapshotBytes(t, fs)
		g := New(fuzzOpts)
		if err := restore(g, again); err != nil {
			t.Fatalf("re-encoded snapshot refused: %v\n%q", err, again)
		}
		requireSameState(t, "re-encoded snapshot", dump(g), dump(fs))
		if g.Digest() != fs.Digest() {
			t.Fatalf("Digest differs after re-encoding")
		}
		if third := snapshotBytes(t, g); !bytes.Equal(third, again) {
			t.Fatalf("re-encoding is not a fixpoint:\n%q\n%q", again, third)
		}

		// Entries applied to whatever was accepted keep it consistent, and
		// it still snapshots and restores.
		h := &harness{t: t, f: fs, idx: 1 << 40}
		h.raw(AppendInit(nil, 1, 3))
		h.raw(AppendBatch(nil, FormatV2, 1<<40, []Write{rsv(1, "a", "fz1"), cnl(1, "a", "fz2"), rsv(2, "", "fz1"), hld(3, "h", 5, "fz3"),
			mkEvent("fz", 3, ""), in("fz", many(hld(0, "h", 1, ""), 1, 2)), in("default", many(rsv(0, "h", ""), 1, 2, 3))}))
		for _, ev := range fs.Events() {
			h.raw(AppendBatch(nil, FormatV2, 0, []Write{in(ev, many(hld(0, "h", 1, ""), 1, 2)), in(ev, cnl(1, "", ""))}))
		}
		h.raw(AppendTick(nil, 1<<41))
		if err := fs.Halted(); err != nil {
			t.Fatalf("halted: %v", err)
		}
		checkConsistent(t, fs)
		if r := roundTrip(t, fs); r.Digest() != fs.Digest() {
			t.Fatalf("Digest differs after a round trip of the changed state")
		}
	})
}

// FuzzApply drives the FSM and the model with entries chosen by the fuzz
// input (through the same generator as TestRandomAgainstModel) and compares
// them after each; at the end the state must survive a snapshot.
func FuzzApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add(bytes.Repeat([]byte{0x17, 0x80, 0x33, 0x05, 0xf0, 0x4c}, 40))
	f.Add(bytes.Repeat([]byte{0xff, 0x10, 0x20, 0x7f, 0x01}, 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &byteSource{data: data}
		g := newEntryGenFrom(src)
		p := newPair(t, fuzzOpts)
		p.apply(Entry{Version: FormatV1, Type: TypeInit, Time: g.tm, Seats: uint32(1 + src.IntN(8))})
		for i := 0; i < 64 && len(src.data) > 0; i++ {
			p.apply(g.entry(p.m))
			p.m.compare(t, p.h.f, g.ids)
			checkInvariants(t, p.h.f)
		}
		digest := p.h.f.Digest()
		r := roundTrip(t, p.h.f)
		requireSameState(t, "round trip", dump(r), dump(p.h.f).withoutStale())
		if r.Digest() != digest {
			t.Fatalf("Digest differs after a round trip")
		}
	})
}
