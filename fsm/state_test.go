package fsm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// seatWant is the expected state of an event's seats in table tests: the
// seats listed, all others free.
type seatWant map[uint32]SeatInfo

func bk(holder string) SeatInfo { return SeatInfo{State: SeatBooked, Holder: holder} }

func hd(holder string, expires int64) SeatInfo {
	return SeatInfo{State: SeatHeld, Holder: holder, Expires: expires}
}

// requireEvent checks every seat of an event against want and the summary
// against the counts of want.
func requireEvent(t testing.TB, f *FSM, name string, want seatWant, sawHold bool) {
	t.Helper()
	sum, err := f.Summary(name)
	if err != nil {
		t.Fatalf("Summary(%q): %v", name, err)
	}
	check := seatRange(1, uint32(sum.Total))
	if sum.Total > 1000 {
		check = append([]uint32{1, uint32(sum.Total)}, sortedKeys(want)...)
	}
	for _, s := range check {
		got, err := f.Seat(name, s)
		if err != nil || got != want[s] {
			t.Errorf("Seat(%q, %d) = %+v, %v; want %+v", name, s, got, err, want[s])
		}
	}
	var ws Summary
	ws.Total, ws.SawHold = sum.Total, sawHold
	for _, si := range want {
		switch si.State {
		case SeatBooked:
			ws.Booked++
		case SeatHeld:
			ws.Held++
		}
	}
	ws.Free = ws.Total - ws.Booked - ws.Held
	if sum != ws {
		t.Errorf("Summary(%q) = %+v, want %+v", name, sum, ws)
	}
}

// histories returns the history of every seat of the events.
func histories(t testing.TB, f *FSM, events ...string) map[string][][]Change {
	t.Helper()
	out := map[string][][]Change{}
	for _, name := range events {
		sum, err := f.Summary(name)
		if err != nil {
			continue
		}
		hs := make([][]Change, sum.Total+1)
		for s := 1; s <= sum.Total; s++ {
			if hs[s], err = f.History(name, uint32(s)); err != nil {
				t.Fatalf("History(%q, %d): %v", name, s, err)
			}
		}
		out[name] = hs
	}
	return out
}

const (
	setupTime   = 1000
	writeTime   = 2000
	setupExpiry = setupTime + 60_000 // holds of the setup are for 60 s
)

// ch is an expected history change of the write under test.
type ch = map[uint32]ChangeOp

func TestWriteSemantics(t *testing.T) {
	const n = 5 // seats of the default event; "ev" has 3
	all := []string{DefaultEvent, "ev"}
	tests := []struct {
		name  string
		setup []Write // applied first at setupTime, each must take effect
		w     Write   // applied at writeTime
		want  Result
		// after is the state of each event; an event that is not listed
		// has only free seats.
		after map[string]seatWant
		// changes are the changes w records, per event and seat; every
		// other seat's history stays as it was.
		changes map[string]ch
		// events are the events after w (nil: default and ev).
		events []string
	}{
		// RESERVE
		{name: "reserve free anonymous", w: rsv(1, "", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {1: bk("")}}, changes: map[string]ch{"default": {1: ChangeReserve}}},
		{name: "reserve free with holder", w: rsv(2, "alice", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {2: bk("alice")}}, changes: map[string]ch{"default": {2: ChangeReserve}}},
		{name: "reserve last seat", w: rsv(n, "bob", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {n: bk("bob")}}, changes: map[string]ch{"default": {n: ChangeReserve}}},
		{name: "reserve own booking again: success, no change", setup: []Write{rsv(3, "alice", "")}, w: rsv(3, "alice", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {3: bk("alice")}}},
		{name: "reserve another holder's booking", setup: []Write{rsv(3, "alice", "")}, w: rsv(3, "bob", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: bk("alice")}}},
		{name: "holders are case-sensitive", setup: []Write{rsv(3, "alice", "")}, w: rsv(3, "Alice", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: bk("alice")}}},
		{name: "anonymous reserve of a holder's booking", setup: []Write{rsv(3, "alice", "")}, w: rsv(3, "", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: bk("alice")}}},
		{name: "holder's reserve of an anonymous booking", setup: []Write{rsv(3, "", "")}, w: rsv(3, "alice", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: bk("")}}},
		{name: "anonymous re-reserve of an anonymous booking", setup: []Write{rsv(3, "", "")}, w: rsv(3, "", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: bk("")}}},
		{name: "reserve own hold confirms it", setup: []Write{hld(3, "alice", 60, "")}, w: rsv(3, "alice", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {3: bk("alice")}}, changes: map[string]ch{"default": {3: ChangeConfirm}}},
		{name: "reserve another holder's hold", setup: []Write{hld(3, "alice", 60, "")}, w: rsv(3, "bob", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: hd("alice", setupExpiry)}}},
		{name: "anonymous reserve of a hold", setup: []Write{hld(3, "alice", 60, "")}, w: rsv(3, "", ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {3: hd("alice", setupExpiry)}}},
		{name: "reserve seat 0", w: rsv(0, "alice", ""), want: ResultInvalidSeat},
		{name: "reserve seat N+1", setup: []Write{rsv(1, "alice", "")}, w: rsv(n+1, "alice", ""), want: ResultInvalidSeat,
			after: map[string]seatWant{"default": {1: bk("alice")}}},
		{name: "reserve seat 2^32-1", w: rsv(math.MaxUint32, "", ""), want: ResultInvalidSeat},
		{name: "reserve in another event", w: in("ev", rsv(3, "a", "")), want: ResultSuccess,
			after: map[string]seatWant{"ev": {3: bk("a")}}, changes: map[string]ch{"ev": {3: ChangeReserve}}},
		{name: "reserve beyond the event's capacity", w: in("ev", rsv(4, "a", "")), want: ResultInvalidSeat},
		{name: "reserve in a missing event", w: in("nope", rsv(1, "a", "")), want: Result{Code: CodeNoEvent}},
		{name: "the default event by name", w: in(DefaultEvent, rsv(1, "a", "")), want: ResultSuccess,
			after: map[string]seatWant{"default": {1: bk("a")}}, changes: map[string]ch{"default": {1: ChangeReserve}}},
		{name: "same seat number in two events", setup: []Write{rsv(2, "a", "")}, w: in("ev", rsv(2, "b", "")), want: ResultSuccess,
			after: map[string]seatWant{"default": {2: bk("a")}, "ev": {2: bk("b")}}, changes: map[string]ch{"ev": {2: ChangeReserve}}},

		// CANCEL
		{name: "cancel free seat", w: cnl(1, "alice", ""), want: ResultNotBooked},
		{name: "anonymous cancel of free seat", w: cnl(1, "", ""), want: ResultNotBooked},
		{name: "cancel own booking", setup: []Write{rsv(2, "alice", ""), rsv(4, "bob", "")}, w: cnl(2, "alice", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {4: bk("bob")}}, changes: map[string]ch{"default": {2: ChangeCancel}}},
		{name: "cancel another holder's booking", setup: []Write{rsv(2, "alice", "")}, w: cnl(2, "bob", ""), want: ResultNotHolder,
			after: map[string]seatWant{"default": {2: bk("alice")}}},
		{name: "cancel with holder of other case", setup: []Write{rsv(2, "alice", "")}, w: cnl(2, "ALICE", ""), want: ResultNotHolder,
			after: map[string]seatWant{"default": {2: bk("alice")}}},
		{name: "anonymous cancel of anonymous booking", setup: []Write{rsv(2, "", "")}, w: cnl(2, "", ""), want: ResultSuccess,
			changes: map[string]ch{"default": {2: ChangeCancel}}},
		{name: "holder's cancel of anonymous booking", setup: []Write{rsv(2, "", "")}, w: cnl(2, "alice", ""), want: ResultNotHolder,
			after: map[string]seatWant{"default": {2: bk("")}}},
		{name: "anonymous cancel of a holder's booking", setup: []Write{rsv(2, "alice", "")}, w: cnl(2, "", ""), want: ResultNotHolder,
			after: map[string]seatWant{"default": {2: bk("alice")}}},
		{name: "cancel own hold releases it", setup: []Write{hld(2, "alice", 60, "")}, w: cnl(2, "alice", ""), want: ResultSuccess,
			changes: map[string]ch{"default": {2: ChangeRelease}}},
		{name: "cancel another holder's hold", setup: []Write{hld(2, "alice", 60, "")}, w: cnl(2, "bob", ""), want: ResultNotHolder,
			after: map[string]seatWant{"default": {2: hd("alice", setupExpiry)}}},
		{name: "anonymous cancel of a hold", setup: []Write{hld(2, "alice", 60, "")}, w: cnl(2, "", ""), want: ResultNotHolder,
			after: map[string]seatWant{"default": {2: hd("alice", setupExpiry)}}},
		{name: "cancel seat 0", w: cnl(0, "", ""), want: ResultInvalidSeat},
		{name: "cancel seat N+1", setup: []Write{rsv(n, "", "")}, w: cnl(n+1, "", ""), want: ResultInvalidSeat,
			after: map[string]seatWant{"default": {n: bk("")}}},
		{name: "cancel seat 2^32-1", w: cnl(math.MaxUint32, "x", ""), want: ResultInvalidSeat},
		{name: "cancel in a missing event", w: in("nope", cnl(1, "", "")), want: Result{Code: CodeNoEvent}},
		{name: "cancel in another event", setup: []Write{in("ev", rsv(1, "a", "")), rsv(1, "a", "")}, w: in("ev", cnl(1, "a", "")), want: ResultSuccess,
			after: map[string]seatWant{"default": {1: bk("a")}}, changes: map[string]ch{"ev": {1: ChangeCancel}}},

		// HOLD
		{name: "hold free seat", w: hld(1, "alice", 30, ""), want: held(writeTime + 30_000),
			after: map[string]seatWant{"default": {1: hd("alice", writeTime+30_000)}}, changes: map[string]ch{"default": {1: ChangeHold}}},
		{name: "renew own hold", setup: []Write{hld(1, "alice", 60, "")}, w: hld(1, "alice", 300, ""), want: held(writeTime + 300_000),
			after: map[string]seatWant{"default": {1: hd("alice", writeTime+300_000)}}, changes: map[string]ch{"default": {1: ChangeHold}}},
		{name: "renewal replaces the expiry, even with an earlier one", setup: []Write{hld(1, "alice", 60, "")}, w: hld(1, "alice", 1, ""), want: held(writeTime + 1000),
			after: map[string]seatWant{"default": {1: hd("alice", writeTime+1000)}}, changes: map[string]ch{"default": {1: ChangeHold}}},
		{name: "hold another holder's hold", setup: []Write{hld(1, "alice", 60, "")}, w: hld(1, "bob", 30, ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {1: hd("alice", setupExpiry)}}},
		{name: "hold own booking", setup: []Write{rsv(1, "alice", "")}, w: hld(1, "alice", 30, ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {1: bk("alice")}}},
		{name: "hold another holder's booking", setup: []Write{rsv(1, "alice", "")}, w: hld(1, "bob", 30, ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {1: bk("alice")}}},
		{name: "hold an anonymous booking", setup: []Write{rsv(1, "", "")}, w: hld(1, "bob", 30, ""), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {1: bk("")}}},
		{name: "hold seat 0", w: hld(0, "bob", 30, ""), want: ResultInvalidSeat},
		{name: "hold seat N+1", w: hld(n+1, "bob", 30, ""), want: ResultInvalidSeat},
		{name: "hold for the longest ttl", w: hld(2, "bob", MaxTTL, ""), want: held(writeTime + MaxTTL*1000),
			after: map[string]seatWant{"default": {2: hd("bob", writeTime+MaxTTL*1000)}}, changes: map[string]ch{"default": {2: ChangeHold}}},
		{name: "hold for one second", w: hld(2, "bob", 1, ""), want: held(writeTime + 1000),
			after: map[string]seatWant{"default": {2: hd("bob", writeTime+1000)}}, changes: map[string]ch{"default": {2: ChangeHold}}},
		{name: "hold in a missing event", w: in("nope", hld(1, "bob", 30, "")), want: Result{Code: CodeNoEvent}},
		{name: "hold in another event", w: in("ev", hld(3, "bob", 30, "")), want: held(writeTime + 30_000),
			after: map[string]seatWant{"ev": {3: hd("bob", writeTime+30_000)}}, changes: map[string]ch{"ev": {3: ChangeHold}}},
		{name: "hold released and held again by another", setup: []Write{hld(1, "alice", 60, ""), cnl(1, "alice", "")}, w: hld(1, "bob", 30, ""), want: held(writeTime + 30_000),
			after: map[string]seatWant{"default": {1: hd("bob", writeTime+30_000)}}, changes: map[string]ch{"default": {1: ChangeHold}}},

		// SEVERAL SEATS: all or nothing
		{name: "reserve several free seats", w: many(rsv(0, "a", ""), 1, 2, 3), want: ResultSuccess,
			after:   map[string]seatWant{"default": {1: bk("a"), 2: bk("a"), 3: bk("a")}},
			changes: map[string]ch{"default": {1: ChangeReserve, 2: ChangeReserve, 3: ChangeReserve}}},
		{name: "reserve several, one booked: nothing changes", setup: []Write{rsv(2, "bob", "")}, w: many(rsv(0, "a", ""), 1, 2, 3), want: failed(CodeAlreadyBooked, 2),
			after: map[string]seatWant{"default": {2: bk("bob")}}},
		{name: "reserve several, two booked", setup: []Write{rsv(2, "bob", ""), rsv(4, "", "")}, w: many(rsv(0, "a", ""), 1, 2, 3, 4), want: failed(CodeAlreadyBooked, 2, 4),
			after: map[string]seatWant{"default": {2: bk("bob"), 4: bk("")}}},
		{name: "reserve several, one held by another", setup: []Write{hld(3, "bob", 60, "")}, w: many(rsv(0, "a", ""), 1, 3), want: failed(CodeAlreadyBooked, 3),
			after: map[string]seatWant{"default": {3: hd("bob", setupExpiry)}}},
		{name: "invalid seats come before booked ones", setup: []Write{rsv(2, "bob", "")}, w: many(rsv(0, "a", ""), 0, 2, 6), want: failed(CodeInvalidSeat, 0, 6),
			after: map[string]seatWant{"default": {2: bk("bob")}}},
		{name: "reserve several: confirm own hold, book a free seat", setup: []Write{hld(1, "a", 60, "")}, w: many(rsv(0, "a", ""), 1, 3), want: ResultSuccess,
			after:   map[string]seatWant{"default": {1: bk("a"), 3: bk("a")}},
			changes: map[string]ch{"default": {1: ChangeConfirm, 3: ChangeReserve}}},
		{name: "reserve several: own booking unchanged, free seat booked", setup: []Write{rsv(1, "a", "")}, w: many(rsv(0, "a", ""), 1, 3), want: ResultSuccess,
			after:   map[string]seatWant{"default": {1: bk("a"), 3: bk("a")}},
			changes: map[string]ch{"default": {3: ChangeReserve}}},
		{name: "cancel several: invalid first", setup: []Write{rsv(2, "bob", ""), rsv(3, "me", "")}, w: many(cnl(0, "me", ""), 1, 2, 3, 6), want: failed(CodeInvalidSeat, 6),
			after: map[string]seatWant{"default": {2: bk("bob"), 3: bk("me")}}},
		{name: "cancel several: not holder before not booked", setup: []Write{rsv(2, "bob", ""), rsv(3, "me", ""), hld(5, "bob", 60, "")}, w: many(cnl(0, "me", ""), 1, 2, 3, 4, 5), want: failed(CodeNotHolder, 2, 5),
			after: map[string]seatWant{"default": {2: bk("bob"), 3: bk("me"), 5: hd("bob", setupExpiry)}}},
		{name: "cancel several: not booked", setup: []Write{rsv(3, "me", "")}, w: many(cnl(0, "me", ""), 1, 3, 4), want: failed(CodeNotBooked, 1, 4),
			after: map[string]seatWant{"default": {3: bk("me")}}},
		{name: "cancel several: a booking and a hold of the holder", setup: []Write{rsv(1, "me", ""), hld(2, "me", 60, "")}, w: many(cnl(0, "me", ""), 1, 2), want: ResultSuccess,
			changes: map[string]ch{"default": {1: ChangeCancel, 2: ChangeRelease}}},
		{name: "cancel several anonymous bookings anonymously", setup: []Write{rsv(1, "", ""), rsv(5, "", "")}, w: many(cnl(0, "", ""), 1, 5), want: ResultSuccess,
			changes: map[string]ch{"default": {1: ChangeCancel, 5: ChangeCancel}}},
		{name: "hold several free seats", w: many(hld(0, "h", 30, ""), 1, 2, 3), want: held(writeTime + 30_000),
			after:   map[string]seatWant{"default": {1: hd("h", writeTime+30_000), 2: hd("h", writeTime+30_000), 3: hd("h", writeTime+30_000)}},
			changes: map[string]ch{"default": {1: ChangeHold, 2: ChangeHold, 3: ChangeHold}}},
		{name: "hold several: renew one, hold another", setup: []Write{hld(1, "h", 60, "")}, w: many(hld(0, "h", 30, ""), 1, 2), want: held(writeTime + 30_000),
			after:   map[string]seatWant{"default": {1: hd("h", writeTime+30_000), 2: hd("h", writeTime+30_000)}},
			changes: map[string]ch{"default": {1: ChangeHold, 2: ChangeHold}}},
		{name: "hold several: held by another and booked by the holder", setup: []Write{hld(2, "bob", 60, ""), rsv(3, "h", "")}, w: many(hld(0, "h", 30, ""), 1, 2, 3), want: failed(CodeAlreadyBooked, 2, 3),
			after: map[string]seatWant{"default": {2: hd("bob", setupExpiry), 3: bk("h")}}},
		{name: "hold several: beyond capacity", w: many(hld(0, "h", 30, ""), 4, 5, 6), want: failed(CodeInvalidSeat, 6)},
		{name: "a list of one seat answers like one seat", setup: []Write{rsv(2, "bob", "")}, w: many(rsv(0, "a", ""), 2), want: ResultAlreadyBooked,
			after: map[string]seatWant{"default": {2: bk("bob")}}},
		{name: "several seats of a missing event", w: in("nope", many(rsv(0, "a", ""), 1, 2)), want: Result{Code: CodeNoEvent}},
		{name: "several seats in another event", w: in("ev", many(rsv(0, "a", ""), 1, 3)), want: ResultSuccess,
			after: map[string]seatWant{"ev": {1: bk("a"), 3: bk("a")}}, changes: map[string]ch{"ev": {1: ChangeReserve, 3: ChangeReserve}}},
		{name: "several seats beyond the other event's capacity", w: in("ev", many(rsv(0, "a", ""), 2, 3, 4, 5)), want: failed(CodeInvalidSeat, 4, 5)},
		{name: "the whole event", w: many(rsv(0, "a", ""), seatRange(1, n)...), want: ResultSuccess,
			after:   map[string]seatWant{"default": {1: bk("a"), 2: bk("a"), 3: bk("a"), 4: bk("a"), 5: bk("a")}},
			changes: map[string]ch{"default": {1: ChangeReserve, 2: ChangeReserve, 3: ChangeReserve, 4: ChangeReserve, 5: ChangeReserve}}},

		// EVENTS
		{name: "create an event", w: mkEvent("new", 7, ""), want: ResultSuccess, events: []string{DefaultEvent, "ev", "new"}},
		{name: "create an event of one seat", w: mkEvent("one", 1, ""), want: ResultSuccess, events: []string{DefaultEvent, "ev", "one"}},
		{name: "create an event of MaxSeats seats", w: mkEvent("big", MaxSeats, ""), want: ResultSuccess, events: []string{"big", DefaultEvent, "ev"}},
		{name: "create an existing event", setup: []Write{in("ev", rsv(1, "a", ""))}, w: mkEvent("ev", 10, ""), want: Result{Code: CodeExists},
			after: map[string]seatWant{"ev": {1: bk("a")}}},
		{name: "create the default event", w: mkEvent(DefaultEvent, 10, ""), want: Result{Code: CodeExists}},
		{name: "event names are case-sensitive", w: mkEvent("EV", 2, ""), want: ResultSuccess, events: []string{"EV", DefaultEvent, "ev"}},
		{name: "delete an event", w: delEvent("ev", ""), want: ResultSuccess, events: []string{DefaultEvent}},
		{name: "delete an event with bookings and holds", setup: []Write{in("ev", rsv(1, "a", "")), in("ev", hld(2, "b", 60, "")), rsv(1, "a", "")}, w: delEvent("ev", ""), want: ResultSuccess,
			after: map[string]seatWant{"default": {1: bk("a")}}, events: []string{DefaultEvent}},
		{name: "delete the default event", setup: []Write{rsv(1, "a", "")}, w: delEvent(DefaultEvent, ""), want: Result{Code: CodeInvalidCommand},
			after: map[string]seatWant{"default": {1: bk("a")}}},
		{name: "delete a missing event", w: delEvent("nope", ""), want: Result{Code: CodeNoEvent}},
	}
	for _, tc := range tests {
		for _, withID := range []bool{false, true} {
			name := tc.name
			if withID {
				name += "/with id"
			}
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, testOpts)
				h.init(setupTime, n)
				h.ok(setupTime, mkEvent("ev", 3, ""))
				if tc.setup != nil {
					h.ok(setupTime, tc.setup...)
				}
				before := histories(t, h.f, all...)
				w := tc.w
				if withID {
					w.ID = "req-1"
				}
				got := h.one(writeTime, w)
				if !got.Equal(tc.want) {
					t.Fatalf("%+v = %+v, want %+v", w, got, tc.want)
				}
				writeIndex := h.idx
				wantEvents := tc.events
				if wantEvents == nil {
					wantEvents = all
				}
				if got := h.f.Events(); !slices.Equal(got, wantEvents) {
					t.Fatalf("Events() = %q, want %q", got, wantEvents)
				}
				for _, ev := range wantEvents {
					sawHold := false
					for _, s := range tc.setup {
						if s.Op == OpHold && (s.Event == ev || (s.Event == "" && ev == DefaultEvent)) {
							sawHold = true
						}
					}
					if tc.want.Code == CodeHeld && (w.Event == ev || (w.Event == "" && ev == DefaultEvent)) {
						sawHold = true
					}
					requireEvent(t, h.f, ev, tc.after[ev], sawHold)
				}
				for ev := range tc.after {
					if !slices.Contains(wantEvents, ev) {
						t.Fatalf("test case names event %q that it does not expect", ev)
					}
				}
				after := histories(t, h.f, all...)
				for ev, hs := range after {
					for s := 1; s < len(hs); s++ {
						want := before[ev][s]
						if op, ok := tc.changes[ev][uint32(s)]; ok {
							want = append(slices.Clone(want), Change{Op: op, Holder: w.Holder, Index: writeIndex, TimeMs: writeTime})
						}
						if !slices.Equal(hs[s], want) {
							t.Errorf("History(%q, %d) = %v, want %v", ev, s, hs[s], want)
						}
					}
				}
				checkInvariants(t, h.f)
				if _, ok := h.f.AppliedID(""); ok {
					t.Errorf("the empty id is recorded")
				}
				if !withID {
					return
				}
				if r, ok := h.f.AppliedID("req-1"); !ok || !r.Equal(tc.want) {
					t.Fatalf("AppliedID = %+v %v, want %+v true", r, ok, tc.want)
				}
				// The same write again, later: the recorded answer, and
				// nothing changes.
				d := dump(h.f)
				if again := h.one(writeTime+500, w); !again.Equal(tc.want) {
					t.Fatalf("replay of %+v = %+v, want the recorded %+v", w, again, tc.want)
				}
				requireUnchanged(t, "after the replay", dump(h.f), d)
			})
		}
	}
}

func TestCodeString(t *testing.T) {
	want := map[Code]string{
		CodeSuccess:        "SUCCESS",
		CodeAlreadyBooked:  "FAILED_ALREADY_BOOKED",
		CodeInvalidSeat:    "FAILED_INVALID_SEAT",
		CodeNotBooked:      "FAILED_NOT_BOOKED",
		CodeNotHolder:      "FAILED_NOT_HOLDER",
		CodeHeld:           "HELD",
		CodeNoEvent:        "FAILED_NO_EVENT",
		CodeExists:         "FAILED_EXISTS",
		CodeInvalidCommand: "INVALID_COMMAND",
		CodeTooManyEvents:  "ERROR BUSY",
		0:                  "UNKNOWN",
		11:                 "UNKNOWN",
		255:                "UNKNOWN",
	}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("Code(%d).String() = %q, want %q", c, c.String(), s)
		}
	}
	// The numbers are part of the snapshot format and of format 1.
	for c, n := range map[Code]uint8{CodeSuccess: 1, CodeAlreadyBooked: 2, CodeInvalidSeat: 3, CodeNotBooked: 4, CodeNotHolder: 5, CodeHeld: 6, CodeNoEvent: 7, CodeExists: 8, CodeInvalidCommand: 9, CodeTooManyEvents: 10} {
		if uint8(c) != n {
			t.Errorf("%v = %d, want %d", c, c, n)
		}
	}
	ops := map[ChangeOp]string{ChangeReserve: "RESERVE", ChangeConfirm: "CONFIRM", ChangeHold: "HOLD", ChangeCancel: "CANCEL", ChangeRelease: "RELEASE", ChangeExpire: "EXPIRE", 0: "UNKNOWN", 7: "UNKNOWN"}
	for op, s := range ops {
		if op.String() != s {
			t.Errorf("ChangeOp(%d).String() = %q, want %q", op, op.String(), s)
		}
	}
	for i, op := range []ChangeOp{ChangeReserve, ChangeConfirm, ChangeHold, ChangeCancel, ChangeRelease, ChangeExpire} {
		if int(op) != i+1 {
			t.Errorf("%v = %d, want %d", op, op, i+1)
		}
	}
	if SeatFree != 0 || SeatBooked != 1 || SeatHeld != 2 {
		t.Errorf("seat states %d %d %d, want 0 1 2", SeatFree, SeatBooked, SeatHeld)
	}
}

func TestResultEqual(t *testing.T) {
	tests := []struct {
		a, b Result
		want bool
	}{
		{ResultSuccess, Result{Code: CodeSuccess}, true},
		{ResultSuccess, ResultAlreadyBooked, false},
		{held(5), held(5), true},
		{held(5), held(6), false},
		{failed(CodeAlreadyBooked, 1, 2), failed(CodeAlreadyBooked, 1, 2), true},
		{failed(CodeAlreadyBooked, 1, 2), failed(CodeAlreadyBooked, 1, 3), false},
		{failed(CodeAlreadyBooked, 1), ResultAlreadyBooked, false},
		{Result{Code: CodeAlreadyBooked, Seats: []uint32{}}, ResultAlreadyBooked, true},
	}
	for _, tc := range tests {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%+v.Equal(%+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSummaryCounts(t *testing.T) {
	h := newHarness(t, testOpts)
	if _, err := h.f.Summary(""); !errors.Is(err, ErrNoEvent) {
		t.Fatalf("Summary before Init: %v, want ErrNoEvent", err)
	}
	if h.f.DefaultSeats() != 0 {
		t.Fatalf("DefaultSeats before Init = %d", h.f.DefaultSeats())
	}
	if got := h.f.Events(); len(got) != 0 {
		t.Fatalf("Events before Init = %q", got)
	}
	h.init(1, 10)
	steps := []struct {
		w    Write
		want Result
		sum  Summary
	}{
		{rsv(1, "a", ""), ResultSuccess, Summary{10, 9, 1, 0, false}},
		{rsv(2, "", ""), ResultSuccess, Summary{10, 8, 2, 0, false}},
		{rsv(10, "b", ""), ResultSuccess, Summary{10, 7, 3, 0, false}},
		{rsv(10, "b", ""), ResultSuccess, Summary{10, 7, 3, 0, false}},
		{hld(10, "b", 5, ""), ResultAlreadyBooked, Summary{10, 7, 3, 0, false}}, // a failed hold is not seen
		{hld(3, "c", 5, ""), held(5001), Summary{10, 6, 3, 1, true}},
		{many(hld(0, "c", 5, ""), 3, 4, 5), held(5001), Summary{10, 4, 3, 3, true}},
		{rsv(4, "c", ""), ResultSuccess, Summary{10, 4, 4, 2, true}},
		{cnl(5, "c", ""), ResultSuccess, Summary{10, 5, 4, 1, true}},
		{cnl(1, "b", ""), ResultNotHolder, Summary{10, 5, 4, 1, true}},
		{cnl(1, "a", ""), ResultSuccess, Summary{10, 6, 3, 1, true}},
		{cnl(3, "c", ""), ResultSuccess, Summary{10, 7, 3, 0, true}}, // HELD 0: still seen
		{many(rsv(0, "z", ""), 1, 2), failed(CodeAlreadyBooked, 2), Summary{10, 7, 3, 0, true}},
	}
	for i, s := range steps {
		if got := h.one(1, s.w); !got.Equal(s.want) {
			t.Fatalf("step %d %+v = %+v, want %+v", i, s.w, got, s.want)
		}
		if got, err := h.f.Summary(""); err != nil || got != s.sum {
			t.Fatalf("step %d: Summary = %+v %v, want %+v", i, got, err, s.sum)
		}
		checkInvariants(t, h.f)
	}
	// Expiry keeps the flag too.
	h.tick(6000)
	if got, _ := h.f.Summary(DefaultEvent); got != (Summary{10, 7, 3, 0, true}) {
		t.Fatalf("after expiry: %+v", got)
	}
	if h.f.DefaultSeats() != 10 {
		t.Fatalf("DefaultSeats = %d, want 10", h.f.DefaultSeats())
	}
	// Another event has its own counts and its own flag.
	h.ok(7000, mkEvent("other", 4, ""), in("other", rsv(4, "", "")))
	if got, _ := h.f.Summary("other"); got != (Summary{4, 3, 1, 0, false}) {
		t.Fatalf("Summary(other) = %+v", got)
	}
}

func TestReads(t *testing.T) {
	h := newHarness(t, testOpts)
	for _, s := range []uint32{0, 1, 5} {
		if _, err := h.f.Seat("", s); !errors.Is(err, ErrNoEvent) {
			t.Errorf("Seat(%d) before Init: %v, want ErrNoEvent", s, err)
		}
		if _, err := h.f.History("", s); !errors.Is(err, ErrNoEvent) {
			t.Errorf("History(%d) before Init: %v, want ErrNoEvent", s, err)
		}
	}
	h.init(1, 5)
	h.ok(2, rsv(2, "", ""), rsv(3, "carol@x.org", ""), hld(4, "dan", 10, ""), mkEvent("zeta", 2, ""), mkEvent("alpha", 3, ""), mkEvent("m.i_d-1", 1, ""))
	tests := []struct {
		event string
		seat  uint32
		want  SeatInfo
		err   error
	}{
		{"", 0, SeatInfo{}, ErrInvalidSeat},
		{"", 1, SeatInfo{}, nil},
		{"", 2, bk(""), nil},
		{"", 3, bk("carol@x.org"), nil},
		{DefaultEvent, 3, bk("carol@x.org"), nil},
		{"", 4, hd("dan", 10_002), nil},
		{"", 5, SeatInfo{}, nil},
		{"", 6, SeatInfo{}, ErrInvalidSeat},
		{"", math.MaxUint32, SeatInfo{}, ErrInvalidSeat},
		{"zeta", 2, SeatInfo{}, nil},
		{"zeta", 3, SeatInfo{}, ErrInvalidSeat},
		{"Zeta", 1, SeatInfo{}, ErrNoEvent},
		{"nope", 0, SeatInfo{}, ErrNoEvent},
	}
	for _, tc := range tests {
		got, err := h.f.Seat(tc.event, tc.seat)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Seat(%q, %d) = %+v, %v; want %+v, %v", tc.event, tc.seat, got, err, tc.want, tc.err)
		}
		_, herr := h.f.History(tc.event, tc.seat)
		if !errors.Is(herr, tc.err) || (tc.err == nil) != (herr == nil) {
			t.Errorf("History(%q, %d): %v, want %v", tc.event, tc.seat, herr, tc.err)
		}
	}
	if got, want := h.f.Events(), []string{"alpha", DefaultEvent, "m.i_d-1", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("Events() = %q, want %q (sorted)", got, want)
	}
	if hist, err := h.f.History("", 1); err != nil || hist != nil {
		t.Errorf("History of a seat that never changed = %v, %v; want none", hist, err)
	}
	// History returns a copy.
	hist, _ := h.f.History("", 3)
	hist[0].Holder = "mallory"
	if again, _ := h.f.History("", 3); again[0].Holder != "carol@x.org" {
		t.Errorf("History shares its slice with the state: %v", again)
	}
}

// TestWritesBeforeInit: before the Init entry there is no default event.
func TestWritesBeforeInit(t *testing.T) {
	h := newHarness(t, testOpts)
	got := h.batch(1, rsv(1, "alice", ""), cnl(1, "alice", ""), hld(1, "a", 5, ""), many(rsv(0, "", ""), 1, 2), rsv(1, "", "early"))
	for i, r := range got {
		if !r.Equal(Result{Code: CodeNoEvent}) {
			t.Errorf("write %d before Init = %+v, want FAILED_NO_EVENT", i, r)
		}
	}
	if got := h.batchV1(1, rsv(1, "", ""))[0]; !got.Equal(Result{Code: CodeNoEvent}) {
		t.Errorf("format-1 write before Init = %+v", got)
	}
	if r, ok := h.f.AppliedID("early"); !ok || !r.Equal(Result{Code: CodeNoEvent}) {
		t.Errorf("AppliedID(early) = %v %v, want FAILED_NO_EVENT true", r, ok)
	}
	h.init(2, 3)
	requireEvent(t, h.f, "", nil, false)
	// The id keeps its first answer even though the seat now exists.
	if r := h.one(3, rsv(1, "", "early")); !r.Equal(Result{Code: CodeNoEvent}) {
		t.Errorf("retry of early id = %v, want FAILED_NO_EVENT", r)
	}
	requireEvent(t, h.f, "", nil, false)
	if r := h.one(3, rsv(1, "", "late")); !r.Equal(ResultSuccess) {
		t.Errorf("reserve after Init = %v", r)
	}
	checkInvariants(t, h.f)
}

func TestSecondInitChangesNothing(t *testing.T) {
	for _, seats := range []uint32{2, 5, 10, MaxSeats} {
		t.Run(fmt.Sprint(seats), func(t *testing.T) {
			h := newHarness(t, testOpts)
			h.init(1000, 5)
			h.batch(1000, rsv(1, "alice", "i1"), rsv(5, "", "i2"), hld(2, "h", 60, ""))
			before := dump(h.f)
			h.init(500, seats) // older time: the clock must not move either
			requireSameState(t, "after second Init", dump(h.f), before)
			if h.f.DefaultSeats() != 5 {
				t.Fatalf("DefaultSeats = %d, want 5", h.f.DefaultSeats())
			}
		})
	}
}

func TestBatchAppliedInOrder(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(1, 5)
	got := h.batch(2,
		rsv(1, "alice", ""),
		cnl(1, "alice", ""),
		rsv(1, "bob", ""),
		rsv(1, "alice", ""),
		cnl(2, "", ""),
		rsv(2, "", ""),
		cnl(2, "bob", ""),
		rsv(3, "", "x"),
		cnl(3, "", "x"), // same id in the same batch: first answer, no change
		rsv(6, "", ""),
		mkEvent("e", 2, ""),
		in("e", hld(2, "h", 1, "")),
		in("e", rsv(2, "h", "")),
		delEvent("e", ""),
		in("e", rsv(1, "", "")),
		mkEvent("e", 1, ""),
		in("e", rsv(2, "h", "")),
	)
	want := []Result{
		ResultSuccess, ResultSuccess, ResultSuccess, ResultAlreadyBooked,
		ResultNotBooked, ResultSuccess, ResultNotHolder,
		ResultSuccess, ResultSuccess, ResultInvalidSeat,
		ResultSuccess, held(1002), ResultSuccess, ResultSuccess, {Code: CodeNoEvent}, ResultSuccess, ResultInvalidSeat,
	}
	if !resultsEqual(got, want) {
		t.Fatalf("results = %v, want %v", got, want)
	}
	requireEvent(t, h.f, "", seatWant{1: bk("bob"), 2: bk(""), 3: bk("")}, false)
	requireEvent(t, h.f, "e", nil, false)
	// Every change of seat 1 has the entry's index and time.
	hist, _ := h.f.History("", 1)
	wantHist := []Change{{ChangeReserve, "alice", 2, 2}, {ChangeCancel, "alice", 2, 2}, {ChangeReserve, "bob", 2, 2}}
	if !slices.Equal(hist, wantHist) {
		t.Fatalf("History(1) = %v, want %v", hist, wantHist)
	}
	checkInvariants(t, h.f)
}

// Apply is documented to return nil for entries other than batches. A typed
// nil slice in the interface is not nil: a caller testing resp == nil would
// take it for a batch result.
func TestApplyNonBatchReturnsNil(t *testing.T) {
	f := New(testOpts)
	entries := [][]byte{AppendInit(nil, 1, 5), AppendInit(nil, 2, 7), AppendTick(nil, 3), AppendFormat(nil, 4, 2), AppendFormat(nil, 5, 1)}
	for i, data := range entries {
		got := f.Apply(&raft.Log{Type: raft.LogCommand, Index: uint64(i + 1), Data: data})
		if got != nil {
			t.Errorf("Apply(% x) = %#v (%T), want untyped nil as documented", data, got, got)
		}
	}
	var logs []*raft.Log
	for i, data := range entries {
		logs = append(logs, &raft.Log{Type: raft.LogCommand, Index: uint64(10 + i), Data: data})
	}
	for i, got := range f.ApplyBatch(logs) {
		if got != nil {
			t.Errorf("ApplyBatch entry %d = %#v (%T), want untyped nil", i, got, got)
		}
	}
}

func TestApplyIgnoresNonCommandLogs(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(1000, 3)
	h.batch(1000, rsv(1, "a", "id"), hld(2, "b", 1, ""))
	before := dump(h.f)
	// Entries that would change everything, carried in non-command logs.
	for _, data := range [][]byte{
		AppendBatch(nil, FormatV2, 999_999, []Write{cnl(1, "a", "other"), mkEvent("x", 3, "")}),
		AppendTick(nil, 999_999),
		AppendFormat(nil, 999_999, 2),
		{9, 9, 9}, // would halt as a command
	} {
		for _, typ := range []raft.LogType{raft.LogNoop, raft.LogBarrier, raft.LogConfiguration, raft.LogAddPeerDeprecated, raft.LogRemovePeerDeprecated} {
			if got := h.f.Apply(&raft.Log{Type: typ, Index: 100, Data: data}); got != nil {
				t.Errorf("Apply(%v) = %v, want nil", typ, got)
			}
		}
	}
	requireSameState(t, "after non-command logs", dump(h.f), before)
	if h.f.Halted() != nil {
		t.Fatalf("halted by a non-command log: %v", h.f.Halted())
	}
}

func TestApplyBatchMatchesApply(t *testing.T) {
	entries := [][]byte{
		AppendBatch(nil, FormatV1, 1, []Write{rsv(1, "", "")}), // before Init
		AppendInit(nil, 2, 4),
		AppendBatch(nil, FormatV1, 3, []Write{rsv(1, "a", "x"), rsv(2, "", "")}),
		AppendBatch(nil, FormatV2, 4, []Write{hld(3, "h", 1, "y"), mkEvent("e", 2, ""), in("e", many(rsv(0, "", ""), 1, 2))}),
		AppendTick(nil, 5000),
		AppendFormat(nil, 5001, 2),
		AppendBatch(nil, FormatV2, 6000, []Write{cnl(1, "b", "y"), cnl(1, "a", "x"), cnl(2, "", "")}),
	}
	for _, halting := range []bool{false, true} {
		t.Run(fmt.Sprintf("halting=%v", halting), func(t *testing.T) {
			es := slices.Clone(entries)
			if halting {
				es = slices.Insert(es, 5, []byte{1, 2, 3}) // corrupt: halts, and so do the later ones
			}
			one := New(testOpts)
			var want []interface{}
			var logs []*raft.Log
			for i, e := range es {
				l := &raft.Log{Type: raft.LogCommand, Index: uint64(i + 1), Data: e}
				logs = append(logs, l)
				want = append(want, one.Apply(l))
			}
			logs = append(logs, &raft.Log{Type: raft.LogNoop, Index: 99})
			want = append(want, nil)
			all := New(testOpts)
			got := all.ApplyBatch(logs)
			if len(got) != len(want) {
				t.Fatalf("ApplyBatch returned %d values for %d logs", len(got), len(logs))
			}
			for i := range got {
				ge, gok := got[i].(error)
				we, wok := want[i].(error)
				if gok || wok {
					if !gok || !wok || ge.Error() != we.Error() {
						t.Errorf("log %d: ApplyBatch %v, Apply %v", i, got[i], want[i])
					}
					continue
				}
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("log %d: ApplyBatch %#v, Apply %#v", i, got[i], want[i])
				}
			}
			requireSameState(t, "ApplyBatch vs Apply", dump(all), dump(one))
			if _, isErr := got[len(got)-2].(error); isErr != halting {
				t.Fatalf("last entry: %v", got[len(got)-2])
			}
		})
	}
}

// --- holds and time ---

func TestHoldExpiresAtItsEnd(t *testing.T) {
	// Any entry expires due holds before it does anything else, whatever
	// its type.
	triggers := []struct {
		name  string
		entry func(timeMs int64) []byte
	}{
		{"tick", func(tm int64) []byte { return AppendTick(nil, tm) }},
		{"format-2 batch", func(tm int64) []byte { return AppendBatch(nil, FormatV2, tm, []Write{rsv(5, "", "")}) }},
		{"format-1 batch", func(tm int64) []byte { return AppendBatch(nil, FormatV1, tm, []Write{rsv(5, "", "")}) }},
		{"format entry", func(tm int64) []byte { return AppendFormat(nil, tm, 2) }},
		{"second init", func(tm int64) []byte { return AppendInit(nil, tm, 9) }},
	}
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			h := newHarness(t, testOpts)
			h.init(1000, 5)
			if r := h.one(1000, hld(1, "alice", 10, "h1")); !r.Equal(held(11_000)) {
				t.Fatalf("HOLD = %+v", r)
			}
			holdIndex := h.idx
			if next, ok := h.f.NextExpiry(); !ok || next != 11_000 {
				t.Fatalf("NextExpiry = %d %v, want 11000", next, ok)
			}
			h.raw(tr.entry(10_999)) // one millisecond before its end
			if s, _ := h.f.Seat("", 1); s != hd("alice", 11_000) {
				t.Fatalf("at 10999: seat 1 = %+v, want still held", s)
			}
			h.raw(tr.entry(11_000)) // exactly its end
			expireIndex := h.idx
			if s, _ := h.f.Seat("", 1); s != (SeatInfo{}) {
				t.Fatalf("at 11000: seat 1 = %+v, want free", s)
			}
			hist, _ := h.f.History("", 1)
			want := []Change{{ChangeHold, "alice", holdIndex, 1000}, {ChangeExpire, "alice", expireIndex, 11_000}}
			if !slices.Equal(hist, want) {
				t.Fatalf("History = %v, want %v", hist, want)
			}
			if sum, _ := h.f.Summary(""); sum.Held != 0 || !sum.SawHold {
				t.Fatalf("Summary = %+v", sum)
			}
			if next, ok := h.f.NextExpiry(); ok {
				t.Fatalf("NextExpiry = %d after the only hold expired", next)
			}
			checkInvariants(t, h.f)
		})
	}
}

// The writes of an entry see the holds that expired at its time: a seat
// whose hold ends at the entry's time is free for them.
func TestExpiryBeforeWrites(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	h.ok(0, hld(1, "alice", 2, ""), hld(2, "alice", 3, ""))
	got := h.batch(2000, rsv(1, "bob", ""), rsv(2, "bob", ""), rsv(2, "alice", ""))
	if want := []Result{ResultSuccess, ResultAlreadyBooked, ResultSuccess}; !resultsEqual(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	requireEvent(t, h.f, "", seatWant{1: bk("bob"), 2: bk("alice")}, true)
	// The holder's own RESERVE after the end is a plain RESERVE of a free
	// seat, not a CONFIRM; its CANCEL is NOT_BOOKED.
	h.ok(2000, hld(3, "carol", 1, ""))
	got = h.batch(3000, cnl(3, "carol", ""), rsv(3, "carol", ""))
	if want := []Result{ResultNotBooked, ResultSuccess}; !resultsEqual(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	hist, _ := h.f.History("", 3)
	if ops := []ChangeOp{hist[0].Op, hist[1].Op, hist[2].Op}; !slices.Equal(ops, []ChangeOp{ChangeHold, ChangeExpire, ChangeReserve}) {
		t.Fatalf("History(3) = %v", hist)
	}
	checkInvariants(t, h.f)
}

// A renewed hold ends at its new end, not the old one; a confirmed or
// released one does not end at all.
func TestRenewedConfirmedReleasedHolds(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	h.ok(0, hld(1, "a", 10, ""), hld(2, "a", 10, ""), hld(3, "a", 10, ""), hld(4, "a", 10, ""))
	h.ok(5000, hld(1, "a", 20, ""), rsv(2, "a", ""), cnl(3, "a", ""), hld(3, "b", 30, ""))
	if next, _ := h.f.NextExpiry(); next != 10_000 {
		t.Fatalf("NextExpiry = %d, want 10000 (seat 4)", next)
	}
	h.tick(10_000)
	requireEvent(t, h.f, "", seatWant{1: hd("a", 25_000), 2: bk("a"), 3: hd("b", 35_000)}, true)
	if next, _ := h.f.NextExpiry(); next != 25_000 {
		t.Fatalf("NextExpiry = %d, want 25000", next)
	}
	h.tick(25_000)
	requireEvent(t, h.f, "", seatWant{2: bk("a"), 3: hd("b", 35_000)}, true)
	h.tick(1 << 50)
	requireEvent(t, h.f, "", seatWant{2: bk("a")}, true)
	for s, want := range map[uint32][]ChangeOp{
		1: {ChangeHold, ChangeHold, ChangeExpire},
		2: {ChangeHold, ChangeConfirm},
		3: {ChangeHold, ChangeRelease, ChangeHold, ChangeExpire},
		4: {ChangeHold, ChangeExpire},
	} {
		hist, _ := h.f.History("", s)
		var ops []ChangeOp
		for _, c := range hist {
			ops = append(ops, c.Op)
		}
		if !slices.Equal(ops, want) {
			t.Errorf("History(%d) = %v, want ops %v", s, hist, want)
		}
	}
	checkInvariants(t, h.f)
}

// A new leader whose clock is behind writes entries with earlier times: they
// are applied at the last time, which never goes back, and what expired
// stays expired.
func TestTimeNeverGoesBackwards(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(1000, 5)
	h.ok(1000, hld(1, "alice", 8, ""), hld(2, "bob", 20, "")) // end 9000 and 21000
	h.tick(10_000)                                            // old leader: seat 1 expires
	expireIndex := h.idx
	if h.f.LastTime() != 10_000 {
		t.Fatalf("LastTime = %d", h.f.LastTime())
	}
	// New leader, clock at 5000.
	h.tick(5000)
	if h.f.LastTime() != 10_000 {
		t.Fatalf("LastTime = %d after an earlier tick, want 10000", h.f.LastTime())
	}
	if s, _ := h.f.Seat("", 1); s != (SeatInfo{}) {
		t.Fatalf("seat 1 = %+v: un-expired by an earlier time", s)
	}
	// A hold written at 5000 is made at 10000 and ends ttl after that.
	if r := h.one(5000, hld(3, "carol", 1, "")); !r.Equal(held(11_000)) {
		t.Fatalf("HOLD at an earlier time = %+v, want HELD 11000", r)
	}
	holdIndex := h.idx
	// An entry at 10,999 of the new leader's clock is still at the last time.
	h.tick(10_999)
	requireEvent(t, h.f, "", seatWant{2: hd("bob", 21_000), 3: hd("carol", 11_000)}, true)
	h.tick(11_000)
	requireEvent(t, h.f, "", seatWant{2: hd("bob", 21_000)}, true)
	hist1, _ := h.f.History("", 1)
	if hist1[len(hist1)-1] != (Change{ChangeExpire, "alice", expireIndex, 10_000}) {
		t.Fatalf("History(1) = %v", hist1)
	}
	hist3, _ := h.f.History("", 3)
	if hist3[0] != (Change{ChangeHold, "carol", holdIndex, 10_000}) {
		t.Fatalf("History(3) = %v: the hold is recorded at the clamped time", hist3)
	}
	// Negative and minimal times are clamped as well.
	h.tick(math.MinInt64)
	h.one(-1, rsv(4, "", ""))
	if h.f.LastTime() != 11_000 {
		t.Fatalf("LastTime = %d", h.f.LastTime())
	}
	hist4, _ := h.f.History("", 4)
	if hist4[0].TimeMs != 11_000 {
		t.Fatalf("History(4) = %v", hist4)
	}
	checkInvariants(t, h.f)
}

func TestLastTimeStartsAtZero(t *testing.T) {
	h := newHarness(t, testOpts)
	if h.f.LastTime() != 0 {
		t.Fatalf("LastTime of a new FSM = %d", h.f.LastTime())
	}
	h.init(-50, 3)
	if h.f.LastTime() != 0 {
		t.Fatalf("LastTime after a negative time = %d", h.f.LastTime())
	}
	if r := h.one(-1000, hld(1, "h", 1, "")); !r.Equal(held(1000)) {
		t.Fatalf("HOLD at a negative time = %+v, want HELD 1000", r)
	}
}

// Several holds ending at once, in several events, all expire at the same
// entry, and each records its own holder.
func TestManyHoldsExpireTogether(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 100)
	h.ok(0, mkEvent("b", 50, ""), mkEvent("a", 50, ""))
	h.ok(0, many(hld(0, "x", 5, ""), seatRange(1, 100)...), in("a", many(hld(0, "y", 5, ""), seatRange(1, 50)...)), in("b", hld(50, "z", 5, "")))
	h.ok(1000, in("b", many(hld(0, "w", 4, ""), seatRange(1, 49)...))) // also ends at 5000
	h.tick(4999)
	for _, ev := range []string{"", "a", "b"} {
		if sum, _ := h.f.Summary(ev); sum.Free != 0 {
			t.Fatalf("Summary(%q) at 4999 = %+v", ev, sum)
		}
	}
	h.tick(5000)
	for ev, holder := range map[string]string{"": "x", "a": "y", "b": "w"} {
		sum, _ := h.f.Summary(ev)
		if sum.Held != 0 || sum.Free != sum.Total {
			t.Fatalf("Summary(%q) at 5000 = %+v", ev, sum)
		}
		hist, _ := h.f.History(ev, 1)
		if last := hist[len(hist)-1]; last != (Change{ChangeExpire, holder, h.idx, 5000}) {
			t.Fatalf("History(%q, 1) = %v", ev, hist)
		}
	}
	hist, _ := h.f.History("b", 50)
	if last := hist[len(hist)-1]; last.Holder != "z" || last.Op != ChangeExpire {
		t.Fatalf("History(b, 50) = %v", hist)
	}
	if _, ok := h.f.NextExpiry(); ok {
		t.Fatalf("a hold is left")
	}
	checkInvariants(t, h.f)
}

func TestNextExpiryAndExpiryMoved(t *testing.T) {
	h := newHarness(t, testOpts)
	drain := func() bool {
		select {
		case <-h.f.ExpiryMoved():
			return true
		default:
			return false
		}
	}
	h.init(0, 5)
	drain()
	if _, ok := h.f.NextExpiry(); ok {
		t.Fatal("NextExpiry without holds")
	}
	steps := []struct {
		name  string
		apply func()
		next  int64 // 0: none
	}{
		{"hold", func() { h.ok(0, hld(1, "a", 10, "")) }, 10_000},
		{"an earlier hold", func() { h.ok(1000, hld(2, "a", 2, "")) }, 3000},
		{"renewal of the earliest", func() { h.ok(2000, hld(2, "a", 20, "")) }, 10_000},
		{"confirm of the earliest", func() { h.ok(2000, rsv(1, "a", "")) }, 22_000},
		{"another event", func() { h.ok(2000, mkEvent("e", 2, ""), in("e", hld(1, "b", 5, ""))) }, 7000},
		{"release", func() { h.ok(2000, in("e", cnl(1, "b", ""))) }, 22_000},
		{"expiry", func() { h.tick(22_000) }, 0},
	}
	for _, s := range steps {
		s.apply()
		next, ok := h.f.NextExpiry()
		if ok != (s.next != 0) || next != s.next {
			t.Fatalf("after %s: NextExpiry = %d %v, want %d", s.name, next, ok, s.next)
		}
		if !drain() {
			t.Fatalf("after %s: no ExpiryMoved signal", s.name)
		}
	}
	// Signals coalesce: two changes, one pending value, never a block.
	h.ok(30_000, hld(3, "c", 1, ""))
	h.ok(30_000, hld(4, "c", 1, ""))
	if !drain() || drain() {
		t.Fatal("signals do not coalesce into one")
	}
	// A restore signals too (the expiry index is replaced).
	data := snapshotBytes(t, h.f)
	if err := restore(h.f, data); err != nil {
		t.Fatal(err)
	}
	if !drain() {
		t.Fatal("no ExpiryMoved signal after Restore")
	}
	if next, ok := h.f.NextExpiry(); !ok || next != 31_000 {
		t.Fatalf("NextExpiry after Restore = %d %v, want 31000", next, ok)
	}
}

// --- events ---

// Deleting an event drops its seats, holds and history; an event created
// again with that name starts empty, and the old holds never touch it, not
// even when their time comes.
func TestEventDeleteAndRecreate(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	h.ok(0, mkEvent("show", 10, ""))
	h.ok(1000, in("show", rsv(1, "a", "")), in("show", hld(2, "b", 10, "")), in("show", many(hld(0, "c", 20, ""), 3, 4)), in("show", rsv(5, "", "")), in("show", rsv(6, "x", "")), in("show", cnl(6, "x", "")))
	h.ok(1000, hld(2, "b", 10, "")) // the same seat number in the default event, same end
	if r := h.one(2000, delEvent("show", "")); !r.Equal(ResultSuccess) {
		t.Fatalf("EVENT DELETE = %+v", r)
	}
	if got := h.f.Events(); !slices.Equal(got, []string{DefaultEvent}) {
		t.Fatalf("Events = %q", got)
	}
	for _, err := range []error{
		func() error { _, err := h.f.Summary("show"); return err }(),
		func() error { _, err := h.f.Seat("show", 1); return err }(),
		func() error { _, err := h.f.History("show", 6); return err }(),
	} {
		if !errors.Is(err, ErrNoEvent) {
			t.Fatalf("read of a deleted event: %v, want ErrNoEvent", err)
		}
	}
	if got := h.batch(2000, in("show", rsv(1, "a", "")), in("show", cnl(1, "a", "")), in("show", hld(7, "a", 5, "")), delEvent("show", "")); !resultsEqual(got, []Result{{Code: CodeNoEvent}, {Code: CodeNoEvent}, {Code: CodeNoEvent}, {Code: CodeNoEvent}}) {
		t.Fatalf("writes to a deleted event = %v", got)
	}
	// The same name again, smaller, with a hold on a seat the old event held,
	// ending at the same time as the old hold.
	h.ok(3000, mkEvent("show", 4, ""))
	requireEvent(t, h.f, "show", nil, false)
	for s := uint32(1); s <= 4; s++ {
		if hist, _ := h.f.History("show", s); hist != nil {
			t.Fatalf("History(show, %d) of a new event = %v", s, hist)
		}
	}
	h.ok(3000, in("show", rsv(1, "new", "")), in("show", hld(3, "n", 18, "")), in("show", hld(2, "n", 30, "")))
	requireEvent(t, h.f, "show", seatWant{1: bk("new"), 2: hd("n", 33_000), 3: hd("n", 21_000)}, true)
	before := histories(t, h.f, "show")
	h.tick(11_000) // the old holds of seats 2 end; the default's seat 2 too
	requireEvent(t, h.f, "show", seatWant{1: bk("new"), 2: hd("n", 33_000), 3: hd("n", 21_000)}, true)
	requireEvent(t, h.f, "", nil, true)
	h.tick(20_999)
	requireEvent(t, h.f, "show", seatWant{1: bk("new"), 2: hd("n", 33_000), 3: hd("n", 21_000)}, true)
	if after := histories(t, h.f, "show"); !reflect.DeepEqual(after, before) {
		t.Fatalf("the old holds' ends changed the new event's history:\n%v\n%v", after, before)
	}
	h.tick(21_000) // the old holds of seats 3 and 4 end, and so does the new hold of seat 3
	requireEvent(t, h.f, "show", seatWant{1: bk("new"), 2: hd("n", 33_000)}, true)
	hist, _ := h.f.History("show", 3)
	if len(hist) != 2 || hist[1] != (Change{ChangeExpire, "n", h.idx, 21_000}) {
		t.Fatalf("History(show, 3) = %v", hist)
	}
	checkInvariants(t, h.f)

	// A snapshot taken after deleting holds the new event only.
	r := roundTrip(t, h.f)
	requireSameState(t, "round trip", dump(r), dump(h.f).withoutStale())
}

// NextExpiry may name a hold of a deleted event until its time comes (the
// leader then writes a tick that drops it).
func TestNextExpiryOfDeletedEvent(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	h.ok(0, mkEvent("gone", 3, ""), in("gone", hld(1, "a", 5, "")), hld(1, "a", 9, ""))
	h.ok(1000, delEvent("gone", ""))
	if next, ok := h.f.NextExpiry(); !ok || next != 5000 {
		t.Fatalf("NextExpiry = %d %v, want the deleted event's 5000", next, ok)
	}
	h.tick(5000)
	if next, ok := h.f.NextExpiry(); !ok || next != 9000 {
		t.Fatalf("NextExpiry = %d %v, want 9000", next, ok)
	}
	if s, _ := h.f.Seat("", 1); s != hd("a", 9000) {
		t.Fatalf("default seat 1 = %+v", s)
	}
}

// An event create or delete can be made exactly-once as well.
func TestEventWritesExactlyOnce(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	if r := h.one(1, mkEvent("e", 3, "c1")); !r.Equal(ResultSuccess) {
		t.Fatal(r)
	}
	if r := h.one(2, delEvent("e", "d1")); !r.Equal(ResultSuccess) {
		t.Fatal(r)
	}
	// Replays: the create does not create the event again, the delete does
	// not delete the new one.
	if r := h.one(3, mkEvent("e", 3, "c1")); !r.Equal(ResultSuccess) {
		t.Fatalf("replayed create = %+v", r)
	}
	if got := h.f.Events(); !slices.Equal(got, []string{DefaultEvent}) {
		t.Fatalf("a replayed create created the event: %q", got)
	}
	h.ok(4, mkEvent("e", 2, ""))
	if r := h.one(5, delEvent("e", "d1")); !r.Equal(ResultSuccess) {
		t.Fatalf("replayed delete = %+v", r)
	}
	if got := h.f.Events(); !slices.Equal(got, []string{DefaultEvent, "e"}) {
		t.Fatalf("a replayed delete deleted the event: %q", got)
	}
	// Failures are recorded and replayed as well.
	for _, tc := range []struct {
		w    Write
		want Code
	}{
		{mkEvent("e", 9, "c2"), CodeExists},
		{delEvent("nope", "d2"), CodeNoEvent},
		{delEvent(DefaultEvent, "d3"), CodeInvalidCommand},
	} {
		if r := h.one(6, tc.w); r.Code != tc.want {
			t.Fatalf("%+v = %+v", tc.w, r)
		}
	}
	h.ok(7, delEvent("e", ""), mkEvent("nope", 1, ""))
	if got := h.batch(8, mkEvent("e", 9, "c2"), delEvent("nope", "d2")); !resultsEqual(got, []Result{{Code: CodeExists}, {Code: CodeNoEvent}}) {
		t.Fatalf("replays = %v", got)
	}
	if got := h.f.Events(); !slices.Equal(got, []string{DefaultEvent, "nope"}) {
		t.Fatalf("Events = %q", got)
	}
	checkInvariants(t, h.f)
}

// A create of 0 or more than MaxSeats seats cannot be decoded; the state
// machine answers it INVALID_COMMAND all the same.
func TestCreateEventSeatCountOutOfRange(t *testing.T) {
	s := newState(testOpts)
	res := s.apply(&Entry{Version: FormatV2, Type: TypeBatch, Time: 1, Writes: []Write{
		mkEvent("zero", 0, "z"), mkEvent("huge", MaxSeats+1, ""), mkEvent("max", MaxSeats, ""),
	}}, 1)
	want := []Result{{Code: CodeInvalidCommand}, {Code: CodeInvalidCommand}, ResultSuccess}
	if !resultsEqual(res, want) {
		t.Fatalf("results %v, want %v", res, want)
	}
	if len(s.events) != 1 || s.events["max"] == nil {
		t.Fatalf("events %v", s.events)
	}
	if r, ok := s.ids.lookup("z"); !ok || r.Code != CodeInvalidCommand {
		t.Fatalf("id z = %+v %v", r, ok)
	}
}

// --- seat lists ---

func TestWriteOfMaxSeats(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 200)
	all := seatRange(1, MaxSeatsPerWrite)
	if r := h.one(1, many(hld(0, "h", 60, "h100"), all...)); !r.Equal(held(60_001)) {
		t.Fatalf("HOLD 1-100 = %+v", r)
	}
	if sum, _ := h.f.Summary(""); sum.Held != MaxSeatsPerWrite {
		t.Fatalf("Summary = %+v", sum)
	}
	if r := h.one(2, many(rsv(0, "h", ""), all...)); !r.Equal(ResultSuccess) {
		t.Fatalf("RESERVE 1-100 = %+v", r)
	}
	// 100 seats of which the last is taken: the failure names it alone.
	last := seatRange(101, 200)
	h.ok(3, rsv(200, "x", ""))
	if r := h.one(4, many(rsv(0, "h", ""), last...)); !r.Equal(failed(CodeAlreadyBooked, 200)) {
		t.Fatalf("RESERVE 101-200 = %+v", r)
	}
	// ... and a failure of every seat names all 100.
	if r := h.one(5, many(cnl(0, "x", "c100"), all...)); !r.Equal(failed(CodeNotHolder, all...)) {
		t.Fatalf("CANCEL 1-100 by another = %+v", r)
	}
	if r, _ := h.f.AppliedID("c100"); len(r.Seats) != 100 {
		t.Fatalf("AppliedID(c100) = %+v", r)
	}
	if sum, _ := h.f.Summary(""); sum.Booked != 101 {
		t.Fatalf("Summary = %+v", sum)
	}
	// One seat more is not an entry the decoder accepts: the FSM halts.
	before := dump(h.f)
	h.halts(AppendBatch(nil, FormatV2, 6, []Write{many(rsv(0, "h", ""), seatRange(1, MaxSeatsPerWrite+1)...)}), ErrCorruptData)
	requireSameState(t, "after 101 seats", dump(h.f), func() stateDump { before.Halted = true; return before }())
	checkInvariants(t, h.f)
}

// --- history ---

func TestHistoryKeepsTheNewest16(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 3)
	var all []Change
	for i := 0; i < 40; i++ {
		tm := int64(1000 * (i + 1))
		holder := fmt.Sprint("u", i)
		var w Write
		var op ChangeOp
		switch i % 4 {
		case 0:
			w, op = rsv(2, holder, ""), ChangeReserve
		case 1:
			w, op = cnl(2, fmt.Sprint("u", i-1), ""), ChangeCancel
			holder = w.Holder
		case 2:
			w, op = hld(2, holder, 5, ""), ChangeHold
		case 3:
			w, op = cnl(2, fmt.Sprint("u", i-1), ""), ChangeRelease
			holder = w.Holder
		}
		if r := h.one(tm, w); r.Code != CodeSuccess && r.Code != CodeHeld {
			t.Fatalf("change %d %+v = %+v", i, w, r)
		}
		all = append(all, Change{op, holder, h.idx, tm})
		hist, err := h.f.History("", 2)
		if err != nil {
			t.Fatal(err)
		}
		want := all[max(0, len(all)-HistoryLen):]
		if !slices.Equal(hist, want) {
			t.Fatalf("after %d changes: History = %v, want %v", i+1, hist, want)
		}
		// A snapshot keeps exactly the same history.
		if i%7 == 0 {
			r := roundTrip(t, h.f)
			if got, _ := r.History("", 2); !slices.Equal(got, want) {
				t.Fatalf("after %d changes, restored History = %v, want %v", i+1, got, want)
			}
		}
	}
	if hist, _ := h.f.History("", 2); len(hist) != HistoryLen || hist[0] != all[24] || hist[15] != all[39] {
		t.Fatalf("History after 40 changes = %v", hist)
	}
	// Writes that change nothing record nothing.
	before, _ := h.f.History("", 2)
	h.batch(100_000, cnl(2, "", ""), rsv(2, "a", ""), rsv(2, "a", ""), rsv(2, "b", ""), hld(2, "b", 5, ""), many(rsv(0, "c", ""), 1, 2), cnl(4, "", ""))
	after, _ := h.f.History("", 2)
	if len(after) != HistoryLen || after[HistoryLen-1] != (Change{ChangeReserve, "a", h.idx, 100_000}) || after[HistoryLen-2] != before[HistoryLen-1] {
		t.Fatalf("History = %v; want one RESERVE added to %v", after, before)
	}
	if hist, _ := h.f.History("", 1); hist != nil {
		t.Fatalf("History(1) after a failed write = %v", hist)
	}
	checkInvariants(t, h.f)
}

// --- exactly-once ---

func TestExactlyOnce(t *testing.T) {
	h := newHarness(t, DefaultOptions())
	h.init(1000, 5)

	// First application decides; a second with different content answers
	// the recorded result and changes nothing.
	if r := h.one(1000, rsv(1, "alice", "x")); !r.Equal(ResultSuccess) {
		t.Fatalf("RESERVE 1 alice id=x = %v", r)
	}
	before := dump(h.f)
	if r := h.one(1001, cnl(1, "alice", "x")); !r.Equal(ResultSuccess) {
		t.Fatalf("CANCEL 1 alice id=x = %v, want the recorded SUCCESS", r)
	}
	requireUnchanged(t, "after duplicate id", dump(h.f), before)

	// A failure is recorded too, and replayed even when it would now succeed.
	if r := h.one(1002, rsv(1, "bob", "y")); !r.Equal(ResultAlreadyBooked) {
		t.Fatalf("RESERVE 1 bob id=y = %v", r)
	}
	h.ok(1003, cnl(1, "alice", ""))
	if r := h.one(1004, rsv(1, "bob", "y")); !r.Equal(ResultAlreadyBooked) {
		t.Fatalf("retry RESERVE 1 bob id=y = %v, want the recorded FAILED_ALREADY_BOOKED", r)
	}
	requireEvent(t, h.f, "", nil, false)

	// A HELD result is replayed with its expiry, and the replay does not
	// renew the hold.
	if r := h.one(2000, hld(3, "carol", 60, "h")); !r.Equal(held(62_000)) {
		t.Fatalf("HOLD = %v", r)
	}
	for _, tm := range []int64{2001, 50_000} {
		if r := h.one(tm, hld(3, "carol", 60, "h")); !r.Equal(held(62_000)) {
			t.Fatalf("replayed HOLD at %d = %+v, want HELD 62000", tm, r)
		}
	}
	if s, _ := h.f.Seat("", 3); s != hd("carol", 62_000) {
		t.Fatalf("seat 3 = %+v: the replay changed the hold", s)
	}
	// ... and after the hold expired.
	h.tick(62_000)
	if r := h.one(63_000, hld(3, "carol", 60, "h")); !r.Equal(held(62_000)) {
		t.Fatalf("replayed HOLD after its end = %+v", r)
	}
	if s, _ := h.f.Seat("", 3); s != (SeatInfo{}) {
		t.Fatalf("seat 3 = %+v: the replay held it again", s)
	}

	// A multi-seat failure is replayed with its seats.
	h.ok(64_000, rsv(4, "dave", ""))
	if r := h.one(64_000, many(rsv(0, "eve", "m"), 2, 4, 5)); !r.Equal(failed(CodeAlreadyBooked, 4)) {
		t.Fatalf("RESERVE 2,4,5 = %+v", r)
	}
	h.ok(64_001, cnl(4, "dave", ""))
	if r := h.one(64_002, many(rsv(0, "eve", "m"), 2, 4, 5)); !r.Equal(failed(CodeAlreadyBooked, 4)) {
		t.Fatalf("replayed RESERVE 2,4,5 = %+v", r)
	}
	if r, ok := h.f.AppliedID("m"); !ok || !r.Equal(failed(CodeAlreadyBooked, 4)) {
		t.Fatalf("AppliedID(m) = %+v %v", r, ok)
	}

	// Same id on a different seat, op and event: nothing happens.
	h.ok(64_003, mkEvent("e", 3, ""))
	for _, w := range []Write{cnl(4, "zed", "y"), in("e", rsv(1, "", "y")), hld(5, "z", 5, "y"), mkEvent("f", 2, "y"), delEvent("e", "y")} {
		if r := h.one(64_004, w); !r.Equal(ResultAlreadyBooked) {
			t.Fatalf("%+v with id y = %v, want the recorded FAILED_ALREADY_BOOKED", w, r)
		}
	}
	if got := h.f.Events(); !slices.Equal(got, []string{DefaultEvent, "e"}) {
		t.Fatalf("Events = %q", got)
	}
	requireEvent(t, h.f, "", nil, true)
	requireEvent(t, h.f, "e", nil, false)

	// Ids are case-sensitive.
	if r := h.one(64_005, rsv(2, "", "X")); !r.Equal(ResultSuccess) {
		t.Fatalf("RESERVE 2 id=X = %v", r)
	}

	// Twice within one batch.
	got := h.batch(64_006, rsv(3, "c", "w"), cnl(3, "c", "w"), rsv(3, "d", "v"), cnl(3, "c", "w"))
	if want := []Result{ResultSuccess, ResultSuccess, ResultAlreadyBooked, ResultSuccess}; !resultsEqual(got, want) {
		t.Fatalf("batch with repeated id = %v, want %v", got, want)
	}
	requireEvent(t, h.f, "", seatWant{2: bk(""), 3: bk("c")}, true)

	// Format-1 writes share the ids.
	if r := h.batchV1(64_007, rsv(5, "", "w"))[0]; !r.Equal(ResultSuccess) {
		t.Fatalf("format-1 replay of w = %v", r)
	}
	if r := h.batchV1(64_007, rsv(5, "", "h"))[0]; !r.Equal(held(62_000)) {
		t.Fatalf("format-1 replay of a HOLD id = %+v", r)
	}

	for id, want := range map[string]Result{"x": ResultSuccess, "y": ResultAlreadyBooked, "X": ResultSuccess, "w": ResultSuccess, "v": ResultAlreadyBooked, "h": held(62_000), "m": failed(CodeAlreadyBooked, 4)} {
		if r, ok := h.f.AppliedID(id); !ok || !r.Equal(want) {
			t.Errorf("AppliedID(%q) = %v %v, want %v true", id, r, ok, want)
		}
	}
	for _, id := range []string{"", "unknown", "xx", " x"} {
		if r, ok := h.f.AppliedID(id); ok {
			t.Errorf("AppliedID(%q) = %v true, want unknown", id, r)
		}
	}
	checkInvariants(t, h.f)
}

// --- retention ---

// liveIDs returns which of ids the FSM remembers.
func liveIDs(f *FSM, ids ...string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := f.AppliedID(id); ok {
			out = append(out, id)
		}
	}
	return out
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func idWrites(ids []string) []Write {
	ws := make([]Write, len(ids))
	for i, id := range ids {
		ws[i] = rsv(1, "h", id)
	}
	return ws
}

// noID is a write with no id, used to apply an entry (and so trigger id
// forgetting) at a given time without adding an id.
var noID = rsv(0, "", "")

func TestRetentionManyRecentIDsAllKept(t *testing.T) {
	h := newHarness(t, testOpts) // 1 minute or 3 ids
	h.init(0, 5)
	ids := names("i", 10)
	h.batch(1000, idWrites(ids)...)
	for _, tm := range []int64{1000, 30_000, 60_999, 61_000} { // age ≤ retention
		h.one(tm, noID)
		if got := liveIDs(h.f, ids...); !slices.Equal(got, ids) {
			t.Fatalf("at %d (age %d ms) remembered %v, want all %v", tm, tm-1000, got, ids)
		}
	}
	h.one(61_001, noID) // age > retention: down to the last three
	if got, want := liveIDs(h.f, ids...), ids[7:]; !slices.Equal(got, want) {
		t.Fatalf("after retention remembered %v, want %v", got, want)
	}
	checkInvariants(t, h.f)
}

func TestRetentionFewOldIDsKept(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	old := []string{"a", "b", "c"}
	h.batch(0, idWrites(old)...)
	h.one(1_000_000_000, noID) // far older than the retention, but only MinIDs
	if got := liveIDs(h.f, old...); !slices.Equal(got, old) {
		t.Fatalf("remembered %v, want all of %v", got, old)
	}
	h.one(1_000_000_001, rsv(1, "", "d"))
	if got, want := liveIDs(h.f, "a", "b", "c", "d"), []string{"b", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("remembered %v, want %v", got, want)
	}
	checkInvariants(t, h.f)
}

func TestRetentionOldestFirst(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	a, bb := names("a", 3), names("b", 3)
	h.batch(1000, idWrites(a)...)
	h.batch(50_000, idWrites(bb)...)
	h.one(70_000, noID) // cutoff 10,000: the a's are old, the b's are not
	if got := liveIDs(h.f, append(a, bb...)...); !slices.Equal(got, bb) {
		t.Fatalf("remembered %v, want %v", got, bb)
	}
	h.one(1_000_000, noID) // the b's are old now, but only three are left
	if got := liveIDs(h.f, bb...); !slices.Equal(got, bb) {
		t.Fatalf("remembered %v, want %v", got, bb)
	}
	checkInvariants(t, h.f)
}

// Ids of every kind of write count alike for retention.
func TestRetentionAllWriteKinds(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	h.batch(1000, hld(1, "h", 5, "k1"), mkEvent("e", 2, "k2"), delEvent("e", "k3"), many(rsv(0, "", "k4"), 2, 3), cnl(4, "", "k5"))
	h.one(61_000, noID)
	if got := liveIDs(h.f, "k1", "k2", "k3", "k4", "k5"); len(got) != 5 {
		t.Fatalf("at the retention: %v", got)
	}
	h.one(61_001, noID)
	if got, want := liveIDs(h.f, "k1", "k2", "k3", "k4", "k5"), []string{"k3", "k4", "k5"}; !slices.Equal(got, want) {
		t.Fatalf("after the retention: %v, want %v", got, want)
	}
}

// An entry whose time is older than an earlier entry's is applied at the
// earlier time: ids it records do not look older than they are.
func TestRetentionClampNotEarlier(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(100_000, 5)
	ys := names("y", 4)
	h.batch(0, idWrites(ys)...) // time goes backwards: applied at 100,000
	if h.f.LastTime() != 100_000 {
		t.Fatalf("lastTimeMs = %d after a backwards entry, want 100000", h.f.LastTime())
	}
	h.one(160_000, noID) // age exactly one minute: all kept
	if got := liveIDs(h.f, ys...); !slices.Equal(got, ys) {
		t.Fatalf("at 160000 remembered %v, want all %v (ids recorded at time 0 instead of 100000?)", got, ys)
	}
	h.one(160_001, noID)
	if got := liveIDs(h.f, ys...); !slices.Equal(got, ys[1:]) {
		t.Fatalf("at 160001 remembered %v, want %v", got, ys[1:])
	}
	checkInvariants(t, h.f)
}

// ... and a backwards entry does not turn the clock back, so ids that are old
// by the latest time are still forgotten when it is applied.
func TestRetentionClampNotLater(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 5)
	xs := names("x", 5)
	h.batch(1000, idWrites(xs)...)
	h.tick(100_000)             // its time counts
	h.one(500, rsv(1, "", "y")) // backwards; applied at 100,000: cutoff 40,000
	if got, want := liveIDs(h.f, append(xs, "y")...), []string{"x4", "x5", "y"}; !slices.Equal(got, want) {
		t.Fatalf("remembered %v, want %v", got, want)
	}
	d := dump(h.f)
	if d.LastTimeMs != 100_000 || d.Live[len(d.Live)-1].TimeMs != 100_000 {
		t.Fatalf("lastTimeMs %d, y recorded at %d; want 100000 for both", d.LastTimeMs, d.Live[len(d.Live)-1].TimeMs)
	}
	h.one(math.MinInt64, rsv(2, "", "z"))
	if d := dump(h.f); d.LastTimeMs != 100_000 || d.Live[len(d.Live)-1].TimeMs != 100_000 {
		t.Fatalf("after a negative time: lastTimeMs %d, z at %d", d.LastTimeMs, d.Live[len(d.Live)-1].TimeMs)
	}
	checkInvariants(t, h.f)
}

func TestRetentionDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	// The protocol promises at least 2 minutes or 100,000 ids.
	if o.IDRetention < 2*time.Minute || o.MinIDs < 100_000 || o.IDRetention != IDRetention || o.MinIDs != MinIDs {
		t.Fatalf("DefaultOptions = %+v", o)
	}
	h := newHarness(t, o)
	h.init(0, 5)
	h.batch(0, rsv(1, "", "first"), rsv(1, "", "second"))
	h.one(IDRetention.Milliseconds(), noID)
	h.one(math.MaxInt64, noID) // far later, but only two ids
	if got := liveIDs(h.f, "first", "second"); len(got) != 2 {
		t.Fatalf("remembered %v", got)
	}
}

// TestRetentionManyIDs applies 5000 ids under different rates and checks
// that exactly the ids the rule keeps are remembered, with their results;
// along the way the id table frees chunks (small ones here, to free many).
func TestRetentionManyIDs(t *testing.T) {
	opts := Options{IDRetention: time.Minute, MinIDs: 100}
	p := newPair(t, opts)
	ids := &p.h.f.st.ids
	ids.records, ids.bytes = newChunks[idRecord](5), newChunks[byte](6)
	const seats = 40
	p.apply(Entry{Version: FormatV1, Type: TypeInit, Seats: seats})

	type rec struct {
		id     string
		result Result
	}
	var all []rec
	rng := rand.New(rand.NewPCG(1, 2))
	tm := int64(0)
	compactions, maxLen := 0, 0
	for len(all) < 5000 {
		switch phase := len(all) / 1000; phase {
		case 0, 3:
			tm += 10
		case 1, 4:
			tm += 700
		case 2:
			tm += 5000
		}
		entryTime := tm
		if rng.IntN(10) == 0 {
			entryTime = tm - 100_000
		}
		ws := make([]Write, 1+rng.IntN(5))
		for i := range ws {
			holder := []string{"", "p", "q"}[rng.IntN(3)]
			ws[i] = Write{Op: Op(1 + rng.IntN(2)), Seat: uint32(rng.IntN(seats + 1)), Holder: holder, ID: fmt.Sprintf("id-%d", len(all)+i)}
		}
		firstBefore := ids.records.first
		got := p.apply(Entry{Version: FormatV1, Type: TypeBatch, Time: entryTime, Writes: ws})
		for i, w := range ws {
			all = append(all, rec{w.ID, got[i]})
		}
		if ids.records.first > firstBefore {
			compactions++
		}
		maxLen = max(maxLen, len(ids.records.list)<<ids.records.shift)

		keep := len(all) - len(p.m.ids)
		check := func(i int) {
			r, ok := p.h.f.AppliedID(all[i].id)
			if i >= keep && (!ok || !r.Equal(all[i].result)) {
				t.Fatalf("after %d ids: id %s (#%d) = %v %v, must be remembered as %v (keep from #%d)", len(all), all[i].id, i, r, ok, all[i].result, keep)
			}
			if i < keep && ok {
				t.Fatalf("after %d ids: id %s (#%d) still remembered; keep from #%d", len(all), all[i].id, i, keep)
			}
		}
		if len(all)%97 < 5 {
			for i := range all {
				check(i)
			}
			checkInvariants(t, p.h.f)
		} else {
			for _, i := range []int{0, keep - 1, keep, len(all) - 1} {
				if i >= 0 && i < len(all) {
					check(i)
				}
			}
		}
	}
	p.m.compare(t, p.h.f, nil)
	if compactions == 0 {
		t.Fatalf("the id table never freed a chunk (it held up to %d records)", maxLen)
	}
	if maxLen >= len(all) {
		t.Errorf("the id table held up to %d records for %d ids: freeing chunks does not bound it", maxLen, len(all))
	}
}

// --- formats and halting ---

func TestFormatEntries(t *testing.T) {
	h := newHarness(t, testOpts)
	if h.f.Format() != FormatV1 {
		t.Fatalf("Format of a new FSM = %d, want 1", h.f.Format())
	}
	h.initV1(0, 3)
	h.raise(10, 1)
	if h.f.Format() != FormatV1 {
		t.Fatalf("Format = %d", h.f.Format())
	}
	h.raise(20, 2)
	if h.f.Format() != FormatV2 {
		t.Fatalf("Format = %d after raising to 2", h.f.Format())
	}
	h.raise(30, 1) // never lowers
	if h.f.Format() != FormatV2 {
		t.Fatalf("Format = %d after a Format 1 entry, want still 2", h.f.Format())
	}
	if h.f.LastTime() != 30 {
		t.Fatalf("LastTime = %d: a Format entry's time counts", h.f.LastTime())
	}
	// Format-1 entries still apply in a format-2 cluster.
	if r := h.batchV1(40, rsv(1, "a", ""))[0]; !r.Equal(ResultSuccess) {
		t.Fatalf("format-1 batch = %v", r)
	}
	// The format survives a snapshot.
	if r := roundTrip(t, h.f); r.Format() != FormatV2 {
		t.Fatalf("restored Format = %d", r.Format())
	}
	checkInvariants(t, h.f)
}

// Every entry this build cannot fully understand halts the FSM: Apply
// returns ErrHalted for it and for every later entry, nothing changes,
// Snapshot refuses; a restore of a good snapshot clears the halt.
func TestHalting(t *testing.T) {
	good := AppendBatch(nil, FormatV2, 9_000_000, []Write{rsv(3, "", "d")})
	v1 := AppendBatch(nil, FormatV1, 9_000_000, []Write{rsv(3, "", "d")})
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"version 4", append([]byte{MaxFormat + 1}, good[1:]...), ErrVersion},
		{"version 0", append([]byte{0}, good[1:]...), ErrVersion},
		{"version 255", append([]byte{255}, good[1:]...), ErrVersion},
		{"tick in version 1", append([]byte{1}, AppendTick(nil, 5)[1:]...), ErrEntryType},
		{"format entry in version 1", append([]byte{1}, AppendFormat(nil, 5, 2)[1:]...), ErrEntryType},
		{"init in version 2", append([]byte{2}, AppendInit(nil, 5, 5)[1:]...), ErrEntryType},
		{"type 0", append([]byte{2, 0}, good[2:]...), ErrEntryType},
		{"type 5", append([]byte{2, 5}, good[2:]...), ErrEntryType},
		{"hold in a version-1 batch", append(slices.Clip(v1[:headerLen+1]), byte(OpHold), 3, 1, 'h', 0), ErrEntryType},
		{"event create in a version-1 batch", append(slices.Clip(v1[:headerLen+1]), byte(OpEventCreate), 3, 0, 0), ErrEntryType},
		{"unknown op in version 2", append(slices.Clip(good[:headerLen+1]), 6, 0, 1, 3, 0, 0), ErrEntryType},
		{"format entry raising to 4", AppendFormat(nil, 5, MaxFormat+1), ErrVersion},
		{"format entry raising to 0", AppendFormat(nil, 5, 0), ErrVersion},
		{"corrupt bytes", []byte{1, 2, 3}, ErrCorruptData},
		{"empty", nil, ErrCorruptData},
		{"truncated", good[:len(good)-1], ErrCorruptData},
		{"trailing byte", append(slices.Clone(good), 0), ErrCorruptData},
		{"hold without holder", AppendBatch(nil, FormatV2, 5, []Write{hld(1, "", 5, "")}), ErrCorruptData},
		{"hold of ttl 0", AppendBatch(nil, FormatV2, 5, []Write{hld(1, "h", 0, "")}), ErrCorruptData},
		{"hold of ttl 3601", AppendBatch(nil, FormatV2, 5, []Write{hld(1, "h", MaxTTL+1, "")}), ErrCorruptData},
		{"bad event name", AppendBatch(nil, FormatV2, 5, []Write{in("a b", rsv(1, "", ""))}), ErrCorruptData},
		{"event of 0 seats", AppendBatch(nil, FormatV2, 5, []Write{mkEvent("e", 0, "")}), ErrCorruptData},
		{"event of too many seats", AppendBatch(nil, FormatV2, 5, []Write{mkEvent("e", MaxSeats+1, "")}), ErrCorruptData},
		{"101 seats", AppendBatch(nil, FormatV2, 5, []Write{many(rsv(0, "", ""), seatRange(1, 101)...)}), ErrCorruptData},
		// A good write before a bad one: the whole entry is refused.
		{"second write bad", AppendBatch(nil, FormatV2, 5, []Write{cnl(1, "alice", "c"), hld(3, "", 1, "")}), ErrCorruptData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts
			var halts []error // what the node logs
			opts.OnHalt = func(err error) { halts = append(halts, err) }
			h := newHarness(t, opts)
			h.init(1000, 5)
			h.batch(1000, rsv(1, "alice", "a"), hld(2, "h", 1, ""))
			data := snapshotBytes(t, h.f)
			before := dump(h.f)
			drainExpiry(h.f)
			h.halts(tc.data, tc.want)
			if err := h.f.Halted(); !errors.Is(err, ErrHalted) || !errors.Is(err, tc.want) {
				t.Fatalf("Halted() = %v", err)
			}
			before.Halted = true
			requireSameState(t, "after the halting entry", dump(h.f), before)
			// Later entries, even good ones and ones that would expire
			// the hold, return an error and change nothing.
			for _, later := range [][]byte{good, v1, AppendTick(nil, 1<<40), AppendInit(nil, 1, 3), AppendFormat(nil, 1, 2)} {
				err, _ := h.raw(later).(error)
				if !errors.Is(err, ErrHalted) || !strings.Contains(err.Error(), fmt.Sprint(h.idx)) {
					t.Fatalf("entry after the halt: Apply = %v, want ErrHalted naming index %d", err, h.idx)
				}
			}
			if len(halts) != 1 || !errors.Is(halts[0], ErrHalted) || !errors.Is(halts[0], tc.want) {
				t.Fatalf("OnHalt told %v, want once, of the halting entry", halts)
			}
			res := h.f.ApplyBatch([]*raft.Log{{Type: raft.LogCommand, Index: 50, Data: good}, {Type: raft.LogNoop, Index: 51}})
			if err, _ := res[0].(error); !errors.Is(err, ErrHalted) || res[1] != nil {
				t.Fatalf("ApplyBatch after the halt = %v", res)
			}
			requireSameState(t, "after later entries", dump(h.f), before)
			if _, err := h.f.Snapshot(); !errors.Is(err, ErrHalted) {
				t.Fatalf("Snapshot of a halted FSM = %v, want ErrHalted", err)
			}
			if d := h.f.Digest(); d != "halted" {
				t.Fatalf("Digest of a halted FSM = %q", d)
			}
			// Reads still work.
			if s, err := h.f.Seat("", 1); err != nil || s != bk("alice") {
				t.Fatalf("Seat after the halt = %+v %v", s, err)
			}
			// A corrupt snapshot does not clear the halt; a good one does.
			if err := restore(h.f, data[:len(data)-1]); err == nil {
				t.Fatal("truncated snapshot restored")
			}
			if h.f.Halted() == nil {
				t.Fatal("a failed restore cleared the halt")
			}
			if err := restore(h.f, data); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if h.f.Halted() != nil {
				t.Fatalf("Halted() = %v after a restore", h.f.Halted())
			}
			if r := h.one(9_000_000, cnl(1, "alice", "")); !r.Equal(ResultSuccess) {
				t.Fatalf("write after the restore = %+v", r)
			}
			if s, _ := h.f.Seat("", 2); s != (SeatInfo{}) {
				t.Fatalf("the restored hold did not expire: %+v", s)
			}
		})
	}
}

func drainExpiry(f *FSM) {
	select {
	case <-f.ExpiryMoved():
	default:
	}
}

// A halted FSM does not signal expiry changes: nothing changes.
func TestHaltedDoesNotSignal(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(0, 3)
	h.ok(0, hld(1, "h", 1, ""))
	drainExpiry(h.f)
	h.halts([]byte{9}, ErrCorruptData)
	h.raw(AppendTick(nil, 5000))
	select {
	case <-h.f.ExpiryMoved():
		t.Fatal("ExpiryMoved signalled by a halted FSM")
	default:
	}
}

// From FormatV3 ids are kept for IDRetentionV3 (2 minutes by default)
// instead of IDRetention: the switch happens at the format entry, so every
// replica forgets the same ids at the same log index, and a snapshot taken
// after the raise restores the shorter retention.
func TestRetentionShortensAtFormatV3(t *testing.T) {
	opts := Options{IDRetention: 10 * time.Minute, IDRetentionV3: 2 * time.Minute, MinIDs: 3}
	if d := DefaultOptions(); d.IDRetention != 10*time.Minute || d.IDRetentionV3 != 2*time.Minute || d.MinIDs != 100_000 {
		t.Fatalf("DefaultOptions() = %+v, want 10m, 2m and 100,000 ids as PROTOCOL.md promises", d)
	}
	const minute = 60_000
	h := newHarness(t, opts)
	h.init(0, 5)
	h.raise(0, FormatV2)
	ids := names("i", 6)
	h.batch(1000, idWrites(ids)...)
	h.one(1000+3*minute, noID) // 3 minutes old: kept at format 2
	if got := liveIDs(h.f, ids...); !slices.Equal(got, ids) {
		t.Fatalf("format 2, 3 minutes on: remembered %v, want all %v", got, ids)
	}
	h.raise(1000+3*minute, FormatV3)
	if h.f.Format() != FormatV3 {
		t.Fatalf("Format() = %d after the raise", h.f.Format())
	}
	h.one(1000+3*minute, noID) // the next batch applies the shorter retention
	if got, want := liveIDs(h.f, ids...), ids[3:]; !slices.Equal(got, want) {
		t.Fatalf("format 3, 3 minutes on: remembered %v, want the last MinIDs %v", got, want)
	}
	fresh := names("j", 4)
	h.batch(10*minute, idWrites(fresh)...)
	h.one(10*minute+2*minute, noID) // exactly 2 minutes: kept
	if got := liveIDs(h.f, fresh...); !slices.Equal(got, fresh) {
		t.Fatalf("at 2 minutes remembered %v, want %v", got, fresh)
	}

	// A snapshot of a format-3 state restores the format-3 retention.
	r := &harness{t: t, f: roundTrip(t, h.f), idx: h.idx}
	r.one(10*minute+2*minute+1, noID)
	if got, want := liveIDs(r.f, fresh...), fresh[1:]; !slices.Equal(got, want) {
		t.Fatalf("restored, past 2 minutes: remembered %v, want %v", got, want)
	}
	checkInvariants(t, h.f)
	checkInvariants(t, r.f)
}
