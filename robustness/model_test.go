package robustness

import (
	"fmt"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// states runs one model step from s and returns the possible next states.
func states(s groupState, in *modelInput, result string) []groupState {
	var out []groupState
	for _, n := range modelStep(s, in, modelOutput{result: result, unknown: result == "?"}) {
		out = append(out, n.(groupState))
	}
	return out
}

func group(slots ...slot) groupState {
	s := groupState{init: true, exists: true, first: 1}
	copy(s.seats[:], slots)
	return s
}

func write(kind OpKind, holder string, seats ...int) *modelInput {
	return &modelInput{kind: kind, event: DefaultEvent, first: 1, seats: seats, multi: len(seats) > 1, holder: holder,
		callMs: 10_000, retMs: 10_010}
}

func TestModelMultiSeatAnswers(t *testing.T) {
	s := group(slot{phase: seatBooked, holder: "a"}, slot{phase: seatHeld, holder: "b", lo: 99_000, hi: 99_000}, slot{}, slot{phase: seatBooked})
	cases := []struct {
		in   *modelInput
		want string // the only answer the model accepts
	}{
		{write(OpReserve, "c", 1, 2, 3), "FAILED_ALREADY_BOOKED 1,2"},
		{write(OpReserve, "c", 1), "FAILED_ALREADY_BOOKED"},
		{write(OpReserve, "c", 0, 1, 3), "FAILED_INVALID_SEAT 0"},
		{write(OpCancel, "a", 1, 2, 3), "FAILED_NOT_HOLDER 2"},
		{write(OpCancel, "a", 1, 3), "FAILED_NOT_BOOKED 3"},
		{write(OpCancel, "", 3, 4), "FAILED_NOT_BOOKED 3"},
		{write(OpCancel, "", 1, 4), "FAILED_NOT_HOLDER 1"},
		{write(OpCancel, "", 4), "SUCCESS"},
		{write(OpCancel, "b", 2), "SUCCESS"},
		{write(OpReserve, "b", 2, 3), "SUCCESS"},
		{write(OpReserve, "a", 1, 3), "SUCCESS"},
		{write(OpHold, "c", 2, 3), "FAILED_ALREADY_BOOKED 2"},
		{write(OpHold, "b", 2, 3, 4), "FAILED_ALREADY_BOOKED 4"},
		{write(OpReserve, "c", 1, 2, 3, 4), "FAILED_ALREADY_BOOKED 1,2,4"},
	}
	answers := []string{"SUCCESS", "FAILED_ALREADY_BOOKED", "FAILED_NOT_BOOKED", "FAILED_NOT_HOLDER", "FAILED_INVALID_SEAT",
		"FAILED_ALREADY_BOOKED 1,2", "FAILED_ALREADY_BOOKED 1,2,4", "FAILED_ALREADY_BOOKED 2", "FAILED_ALREADY_BOOKED 4",
		"FAILED_INVALID_SEAT 0", "FAILED_NOT_HOLDER 2", "FAILED_NOT_HOLDER 1", "FAILED_NOT_BOOKED 3", "FAILED_NO_EVENT"}
	for _, c := range cases {
		for _, a := range answers {
			got := len(states(s, c.in, a)) > 0
			if got != (a == c.want) {
				t.Errorf("%v %q %v answered %q: accepted %v, want only %q", c.in.kind, c.in.holder, c.in.seats, a, got, c.want)
			}
		}
	}
	// A failure changes nothing; a success changes every seat.
	if n := states(s, write(OpReserve, "c", 2, 3), "FAILED_ALREADY_BOOKED 2"); len(n) != 1 || n[0] != s {
		t.Errorf("a failed write changed the state: %v", n)
	}
	n := states(s, write(OpReserve, "b", 2, 3), "SUCCESS")
	if len(n) != 1 || n[0].seats[1] != (slot{phase: seatBooked, holder: "b"}) || n[0].seats[2] != (slot{phase: seatBooked, holder: "b"}) {
		t.Errorf("confirm and reserve: %v", n)
	}
}

func TestModelExpiry(t *testing.T) {
	held := group(slot{phase: seatHeld, holder: "h", lo: 10_000, hi: 10_000})
	at := func(kind OpKind, call, ret int64) *modelInput {
		in := write(kind, "x", 1)
		in.callMs, in.retMs = call, ret
		return in
	}
	cases := []struct {
		name   string
		in     *modelInput
		result string
		ok     bool
	}{
		{"write long after the end sees it expired", at(OpReserve, 10_100, 10_200), "SUCCESS", true},
		{"write long after the end cannot see it held", at(OpReserve, 10_100, 10_200), "FAILED_ALREADY_BOOKED", false},
		{"write well before the end sees it held", at(OpReserve, 9_000, 9_900), "FAILED_ALREADY_BOOKED", true},
		{"write well before the end cannot see it expired", at(OpReserve, 9_000, 9_900), "SUCCESS", false},
		{"write around the end: expired", at(OpReserve, 9_900, 10_020), "SUCCESS", true},
		{"write around the end: not yet", at(OpReserve, 9_900, 10_020), "FAILED_ALREADY_BOOKED", true},
		{"read long after the end may lag", at(OpStatus, 20_000, 20_010), "HELD h 10000", true},
		{"read long after the end may see it expired", at(OpStatus, 20_000, 20_010), "FREE", true},
		{"read before the end cannot see it expired", at(OpStatus, 9_000, 9_900), "FREE", false},
		{"read names the wrong expiry", at(OpStatus, 9_000, 9_900), "HELD h 10001", false},
	}
	for _, c := range cases {
		if got := len(states(held, c.in, c.result)) > 0; got != c.ok {
			t.Errorf("%s: %q accepted %v, want %v", c.name, c.result, got, c.ok)
		}
	}
	// An unknown write long after the end: expired either way, since the
	// write that was applied saw it so; the one that was not applied may
	// leave it (a read may lag).
	n := states(held, at(OpReserve, 10_100, 10_200), "?")
	if len(n) != 3 {
		t.Errorf("unknown write after the end: %d states, want 3 (held, free, booked): %v", len(n), n)
	}
}

func TestModelHoldExpiryBounds(t *testing.T) {
	in := write(OpHold, "h", 1, 2)
	in.ttlMs = 2000
	// call 10000, return 10010: the entry's time is in [9950, 10060].
	for _, c := range []struct {
		exp int64
		ok  bool
	}{{11_949, false}, {11_950, true}, {12_000, true}, {12_060, true}, {12_061, false}} {
		n := states(group(), in, fmt.Sprintf("HELD %d", c.exp))
		if got := len(n) > 0; got != c.ok {
			t.Errorf("HELD %d accepted %v, want %v", c.exp, got, c.ok)
		}
		if c.ok && (n[0].seats[0] != slot{phase: seatHeld, holder: "h", lo: c.exp, hi: c.exp} || n[0].seats[1] != n[0].seats[0]) {
			t.Errorf("HELD %d: state %v", c.exp, n[0])
		}
	}
	// A hold whose answer is unknown ends in a range, which a STATUS
	// then pins down.
	n := states(group(), in, "?")
	if len(n) != 2 {
		t.Fatalf("unknown HOLD: %v", n)
	}
	var heldState groupState
	for _, s := range n {
		if s.seats[0].phase == seatHeld {
			heldState = s
		}
	}
	if sl := heldState.seats[0]; sl.lo != 11_950 || sl.hi != 12_060 {
		t.Fatalf("unknown HOLD: range [%d, %d], want [11950, 12060]", sl.lo, sl.hi)
	}
	read := write(OpStatus, "", 1)
	after := states(heldState, read, "HELD h 12000")
	if len(after) != 1 || after[0].seats[0].lo != 12_000 || after[0].seats[0].hi != 12_000 || after[0].seats[1].lo != 11_950 {
		t.Errorf("STATUS of a hold in a range: %v", after)
	}
	// The seats of one hold expire together.
	for _, s := range states(heldState, write(OpStatus, "", 1), "FREE") {
		if s.seats[1].phase != seatFree {
			t.Errorf("seat 1 of a hold expired without seat 2: %v", s)
		}
	}
}

func TestModelEvents(t *testing.T) {
	s := groupState{init: true, exists: false, first: 5}
	in := func(kind OpKind, seats ...int) *modelInput {
		return &modelInput{kind: kind, event: "ev", first: 5, seats: seats, multi: len(seats) > 1, holder: "h", callMs: 1, retMs: 2}
	}
	if len(states(s, in(OpReserve, 5, 6), "FAILED_NO_EVENT")) != 1 || len(states(s, in(OpStatus, 5), "FAILED_NO_EVENT")) != 1 {
		t.Error("no event: FAILED_NO_EVENT expected")
	}
	if len(states(s, in(OpEventDelete), "FAILED_NO_EVENT")) != 1 {
		t.Error("deleting a missing event")
	}
	created := states(s, in(OpEventCreate), "SUCCESS")
	if len(created) != 1 || !created[0].exists {
		t.Fatalf("create: %v", created)
	}
	booked := states(created[0], in(OpReserve, 5, 6), "SUCCESS")
	if len(states(booked[0], in(OpEventCreate), "FAILED_EXISTS")) != 1 {
		t.Error("creating an existing event")
	}
	deleted := states(booked[0], in(OpEventDelete), "SUCCESS")
	again := states(deleted[0], in(OpEventCreate), "SUCCESS")
	if len(again) != 1 || again[0] != created[0] {
		t.Errorf("an event created again starts free: %v", again)
	}
}

// TestModelHistories checks whole histories with porcupine, partitions and
// all.
func TestModelHistories(t *testing.T) {
	start := time.Now().UnixMilli()
	ms := func(v int64) int64 { return v * 1e6 } // ms since the start, in ns
	held := fmt.Sprintf("HELD %d", start+1000+1000)
	legal := []*Op{
		{Kind: OpEventCreate, Event: "ev", Count: 100, Call: ms(0), Return: ms(5), Result: "SUCCESS"},
		{Client: 1, Kind: OpHold, Event: "ev", Seats: []int{5, 6}, Holder: "h", TTL: 1, Call: ms(990), Return: ms(1010), Result: held},
		{Client: 2, Kind: OpReserve, Event: "ev", Seats: []int{6, 7}, Holder: "x", Call: ms(1100), Return: ms(1120), Result: "FAILED_ALREADY_BOOKED 6"},
		{Client: 2, Kind: OpStatus, Event: "ev", Seats: []int{5}, Call: ms(2500), Return: ms(2510), Result: "HELD h " + held[5:]},
		{Client: 2, Kind: OpReserve, Event: "ev", Seats: []int{6, 7}, Holder: "y", Call: ms(2600), Return: ms(2610), Result: "SUCCESS"},
		{Client: 1, Kind: OpReserve, Event: "ev", Seats: []int{5, 6}, Holder: "h", Call: ms(2700), Return: ms(2710), Result: "FAILED_ALREADY_BOOKED 6"},
		{Client: 3, Kind: OpReserve, Seats: []int{5}, Holder: "z", Call: ms(2700), Return: ms(2710), Result: "SUCCESS"},
	}
	if res, _, _, err := checkLinearizable(legal, fixedWallClock(start), t.TempDir(), 10*time.Second); err != nil || res != porcupine.Ok {
		t.Fatalf("legal history: %v %v", res, err)
	}
	// The holder confirms after its hold ended and another took a seat.
	illegal := append(append([]*Op(nil), legal...),
		&Op{Client: 1, Kind: OpReserve, Event: "ev", Seats: []int{5, 6}, Holder: "h", Call: ms(2800), Return: ms(2810), Result: "SUCCESS"})
	if res, _, _, err := checkLinearizable(illegal, fixedWallClock(start), t.TempDir(), 10*time.Second); err != nil || res != porcupine.Illegal {
		t.Fatalf("illegal history: %v %v", res, err)
	}
}

func TestCheckHistory(t *testing.T) {
	start := time.Now().UnixMilli()
	hold := &Op{Kind: OpHold, Seats: []int{1, 2}, Holder: "h", TTL: 1, Call: 0, Return: 20e6, Result: fmt.Sprintf("HELD %d", start+1010)}
	booking := &Op{Kind: OpReserve, Seats: []int{1}, Holder: "k", Call: 1500e6, Return: 1520e6, Result: "SUCCESS"}
	byHolder := map[string][]*Op{"h": {hold}, "k": {booking}}
	k := seatKey{DefaultEvent, 1}
	good := fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,k,13,%d", start+10, start+1100, start+1510)
	if p := checkHistory(k, good, "BOOKED k", byHolder, fixedWallClock(start), start+5000); len(p) != 0 {
		t.Errorf("good history: %v", p)
	}
	for _, bad := range []string{
		fmt.Sprintf("HISTORY 2 HOLD,h,10,%d RESERVE,k,13,%d", start+10, start+1510),                            // reserve of a held seat
		fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,k,13,%d", start+10, start+900, start+1510),  // expired early
		fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,k,13,%d", start+20, start+1100, start+1510), // not the HELD answer's time
		fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,k,13,%d", start+10, start+1100, start+1800), // outside the op's life
		fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,x,13,%d", start+10, start+1100, start+1510), // nobody's op
		fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,k,11,%d", start+10, start+1100, start+1510), // index goes back
		fmt.Sprintf("HISTORY 2 HOLD,h,10,%d EXPIRE,h,12,%d", start+10, start+1100),                             // ends free, reads booked
	} {
		if p := checkHistory(k, bad, "BOOKED k", byHolder, fixedWallClock(start), start+5000); len(p) == 0 {
			t.Errorf("bad history passed: %s", bad)
		}
	}
}

func TestCheckNoDoubleBooking(t *testing.T) {
	start := time.Now().UnixMilli()
	ms := func(v int64) int64 { return v * 1e6 }
	hold := &Op{Kind: OpHold, Seats: []int{8}, Holder: "h", TTL: 3, Call: ms(0), Return: ms(10), Result: fmt.Sprintf("HELD %d", start+3005)}
	// A renewal that shortens the hold, then another holder's booking
	// after the short hold ended: fine.
	renew := &Op{Kind: OpHold, Seats: []int{8}, Holder: "h", TTL: 1, Call: ms(20), Return: ms(30), Result: fmt.Sprintf("HELD %d", start+1025)}
	other := &Op{Kind: OpReserve, Seats: []int{8}, Holder: "k", Call: ms(1500), Return: ms(1510), Result: "SUCCESS"}
	if p := checkNoDoubleBooking([]*Op{hold, renew, other}, fixedWallClock(start)); len(p) != 0 {
		t.Errorf("renewed hold: %v", p)
	}
	// Without the renewal the seat was still held.
	if p := checkNoDoubleBooking([]*Op{hold, other}, fixedWallClock(start)); len(p) != 1 {
		t.Errorf("held seat booked by another: %v", p)
	}
	// Two bookings, the first cancelled in between.
	b1 := &Op{Kind: OpReserve, Seats: []int{1, 2}, Holder: "a", Call: ms(0), Return: ms(10), Result: "SUCCESS"}
	b2 := &Op{Kind: OpReserve, Seats: []int{2}, Holder: "b", Call: ms(40), Return: ms(50), Result: "SUCCESS"}
	cancel := &Op{Kind: OpCancel, Seats: []int{2}, Holder: "a", Call: ms(20), Return: ms(30), Result: "SUCCESS"}
	if p := checkNoDoubleBooking([]*Op{b1, cancel, b2}, fixedWallClock(start)); len(p) != 0 {
		t.Errorf("cancelled booking: %v", p)
	}
	if p := checkNoDoubleBooking([]*Op{b1, b2}, fixedWallClock(start)); len(p) != 1 {
		t.Errorf("double booking not found: %v", p)
	}
}
