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

// b is the expected state of one booked seat in table tests.
type b = map[uint32]string

// requireSeats checks every seat of f: those in want are booked by the given
// holder ("" = anonymously), all others are free; and the summary agrees.
func requireSeats(t *testing.T, f *FSM, n int, want b) {
	t.Helper()
	for s := uint32(1); s <= uint32(n); s++ {
		booked, holder, ok := f.SeatStatus(s)
		wh, wb := want[s]
		if !ok || booked != wb || holder != wh {
			t.Errorf("SeatStatus(%d) = booked %v holder %q ok %v, want booked %v holder %q ok true", s, booked, holder, ok, wb, wh)
		}
	}
	total, free, booked := f.Summary()
	if total != n || booked != len(want) || free != n-len(want) {
		t.Errorf("Summary() = %d total %d free %d booked, want %d %d %d", total, free, booked, n, n-len(want), len(want))
	}
}

func TestWriteSemantics(t *testing.T) {
	const n = 5
	tests := []struct {
		name  string
		setup []Write // applied first, each must succeed
		w     Write
		want  Result
		after b
	}{
		// RESERVE
		{"reserve free anonymous", nil, rsv(1, "", ""), ResultSuccess, b{1: ""}},
		{"reserve free with holder", nil, rsv(2, "alice", ""), ResultSuccess, b{2: "alice"}},
		{"reserve last seat", nil, rsv(n, "bob", ""), ResultSuccess, b{n: "bob"}},
		{"reserve own booking again", []Write{rsv(3, "alice", "")}, rsv(3, "alice", ""), ResultSuccess, b{3: "alice"}},
		{"reserve booked by another holder", []Write{rsv(3, "alice", "")}, rsv(3, "bob", ""), ResultAlreadyBooked, b{3: "alice"}},
		{"holders are case-sensitive", []Write{rsv(3, "alice", "")}, rsv(3, "Alice", ""), ResultAlreadyBooked, b{3: "alice"}},
		{"anonymous reserve of holder's booking", []Write{rsv(3, "alice", "")}, rsv(3, "", ""), ResultAlreadyBooked, b{3: "alice"}},
		{"holder reserve of anonymous booking", []Write{rsv(3, "", "")}, rsv(3, "alice", ""), ResultAlreadyBooked, b{3: ""}},
		{"anonymous re-reserve of anonymous booking", []Write{rsv(3, "", "")}, rsv(3, "", ""), ResultAlreadyBooked, b{3: ""}},
		{"reserve seat 0", nil, rsv(0, "alice", ""), ResultInvalidSeat, b{}},
		{"reserve seat N+1", nil, rsv(n+1, "alice", ""), ResultInvalidSeat, b{}},
		{"reserve seat 2^32-1", nil, rsv(math.MaxUint32, "", ""), ResultInvalidSeat, b{}},
		{"reserve invalid seat leaves bookings", []Write{rsv(1, "alice", "")}, rsv(n+1, "alice", ""), ResultInvalidSeat, b{1: "alice"}},
		// CANCEL
		{"cancel free seat", nil, cnl(1, "alice", ""), ResultNotBooked, b{}},
		{"anonymous cancel of free seat", nil, cnl(1, "", ""), ResultNotBooked, b{}},
		{"cancel own booking", []Write{rsv(2, "alice", ""), rsv(4, "bob", "")}, cnl(2, "alice", ""), ResultSuccess, b{4: "bob"}},
		{"cancel another holder's booking", []Write{rsv(2, "alice", "")}, cnl(2, "bob", ""), ResultNotHolder, b{2: "alice"}},
		{"cancel with holder of other case", []Write{rsv(2, "alice", "")}, cnl(2, "ALICE", ""), ResultNotHolder, b{2: "alice"}},
		{"anonymous cancel of anonymous booking", []Write{rsv(2, "", "")}, cnl(2, "", ""), ResultSuccess, b{}},
		{"holder cancel of anonymous booking", []Write{rsv(2, "", "")}, cnl(2, "alice", ""), ResultNotHolder, b{2: ""}},
		{"anonymous cancel of holder's booking", []Write{rsv(2, "alice", "")}, cnl(2, "", ""), ResultNotHolder, b{2: "alice"}},
		{"cancel seat 0", nil, cnl(0, "", ""), ResultInvalidSeat, b{}},
		{"cancel seat N+1", []Write{rsv(n, "", "")}, cnl(n+1, "", ""), ResultInvalidSeat, b{n: ""}},
		{"cancel seat 2^32-1", nil, cnl(math.MaxUint32, "x", ""), ResultInvalidSeat, b{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testOpts)
			h.init(1000, n)
			for i, w := range tc.setup {
				if r := h.one(1000, w); r != ResultSuccess {
					t.Fatalf("setup write %d %+v = %v", i, w, r)
				}
			}
			// Once on its own, and once more with an id: the result is the
			// same and the id records it.
			if got := h.one(2000, tc.w); got != tc.want {
				t.Fatalf("%+v = %v, want %v", tc.w, got, tc.want)
			}
			requireSeats(t, h.f, n, tc.after)
			if _, ok := h.f.AppliedID(""); ok {
				t.Errorf("a write without id recorded the empty id")
			}
		})
		t.Run(tc.name+"/with id", func(t *testing.T) {
			h := newHarness(t, testOpts)
			h.init(1000, n)
			for _, w := range tc.setup {
				h.one(1000, w)
			}
			w := tc.w
			w.ID = "req-1"
			if got := h.one(2000, w); got != tc.want {
				t.Fatalf("%+v = %v, want %v", w, got, tc.want)
			}
			if r, ok := h.f.AppliedID("req-1"); !ok || r != tc.want {
				t.Fatalf("AppliedID = %v %v, want %v true", r, ok, tc.want)
			}
			requireSeats(t, h.f, n, tc.after)
		})
	}
}

func TestResultString(t *testing.T) {
	want := map[Result]string{
		ResultSuccess:       "SUCCESS",
		ResultAlreadyBooked: "FAILED_ALREADY_BOOKED",
		ResultInvalidSeat:   "FAILED_INVALID_SEAT",
		ResultNotBooked:     "FAILED_NOT_BOOKED",
		ResultNotHolder:     "FAILED_NOT_HOLDER",
		0:                   "UNKNOWN",
		6:                   "UNKNOWN",
	}
	for r, s := range want {
		if r.String() != s {
			t.Errorf("Result(%d).String() = %q, want %q", r, r.String(), s)
		}
	}
}

func TestSummaryCounts(t *testing.T) {
	h := newHarness(t, testOpts)
	if total, free, booked := h.f.Summary(); total != 0 || free != 0 || booked != 0 {
		t.Fatalf("Summary before Init = %d %d %d, want 0 0 0", total, free, booked)
	}
	if h.f.Seats() != 0 {
		t.Fatalf("Seats before Init = %d", h.f.Seats())
	}
	h.init(1, 10)
	steps := []struct {
		w                   Write
		want                Result
		total, free, booked int
	}{
		{rsv(1, "a", ""), ResultSuccess, 10, 9, 1},
		{rsv(2, "", ""), ResultSuccess, 10, 8, 2},
		{rsv(10, "b", ""), ResultSuccess, 10, 7, 3},
		{rsv(10, "b", ""), ResultSuccess, 10, 7, 3}, // own seat again: no change
		{rsv(2, "", ""), ResultAlreadyBooked, 10, 7, 3},
		{rsv(11, "b", ""), ResultInvalidSeat, 10, 7, 3},
		{cnl(3, "a", ""), ResultNotBooked, 10, 7, 3},
		{cnl(1, "b", ""), ResultNotHolder, 10, 7, 3},
		{cnl(1, "a", ""), ResultSuccess, 10, 8, 2},
		{cnl(2, "", ""), ResultSuccess, 10, 9, 1},
		{cnl(10, "b", ""), ResultSuccess, 10, 10, 0},
	}
	for i, s := range steps {
		if got := h.one(2, s.w); got != s.want {
			t.Fatalf("step %d %+v = %v, want %v", i, s.w, got, s.want)
		}
		if total, free, booked := h.f.Summary(); total != s.total || free != s.free || booked != s.booked {
			t.Fatalf("step %d: Summary = %d %d %d, want %d %d %d", i, total, free, booked, s.total, s.free, s.booked)
		}
		checkInvariants(t, h.f)
	}
	if h.f.Seats() != 10 {
		t.Fatalf("Seats = %d, want 10", h.f.Seats())
	}
}

func TestSeatStatus(t *testing.T) {
	h := newHarness(t, testOpts)
	for _, s := range []uint32{0, 1, 5} {
		if booked, holder, ok := h.f.SeatStatus(s); ok || booked || holder != "" {
			t.Errorf("SeatStatus(%d) before Init = %v %q %v, want not a seat", s, booked, holder, ok)
		}
	}
	h.init(1, 5)
	h.batch(2, rsv(2, "", ""), rsv(3, "carol@x.org", ""))
	tests := []struct {
		seat   uint32
		booked bool
		holder string
		ok     bool
	}{
		{0, false, "", false},
		{1, false, "", true},
		{2, true, "", true},
		{3, true, "carol@x.org", true},
		{5, false, "", true},
		{6, false, "", false},
		{math.MaxUint32, false, "", false},
	}
	for _, tc := range tests {
		booked, holder, ok := h.f.SeatStatus(tc.seat)
		if booked != tc.booked || holder != tc.holder || ok != tc.ok {
			t.Errorf("SeatStatus(%d) = %v %q %v, want %v %q %v", tc.seat, booked, holder, ok, tc.booked, tc.holder, tc.ok)
		}
	}
}

func TestWritesBeforeInit(t *testing.T) {
	h := newHarness(t, testOpts)
	got := h.batch(1, rsv(1, "alice", ""), rsv(1, "", ""), cnl(1, "alice", ""), cnl(0, "", ""), rsv(1, "", "early"))
	for i, r := range got {
		if r != ResultInvalidSeat {
			t.Errorf("write %d before Init = %v, want FAILED_INVALID_SEAT", i, r)
		}
	}
	if r, ok := h.f.AppliedID("early"); !ok || r != ResultInvalidSeat {
		t.Errorf("AppliedID(early) = %v %v, want FAILED_INVALID_SEAT true", r, ok)
	}
	if total, free, booked := h.f.Summary(); total != 0 || free != 0 || booked != 0 {
		t.Fatalf("Summary = %d %d %d, want 0 0 0", total, free, booked)
	}
	h.init(2, 3)
	requireSeats(t, h.f, 3, b{})
	// The id keeps its first answer even though the seat now exists.
	if r := h.one(3, rsv(1, "", "early")); r != ResultInvalidSeat {
		t.Errorf("retry of early id = %v, want FAILED_INVALID_SEAT", r)
	}
	requireSeats(t, h.f, 3, b{})
	if r := h.one(3, rsv(1, "", "late")); r != ResultSuccess {
		t.Errorf("reserve after Init = %v", r)
	}
	checkInvariants(t, h.f)
}

func TestSecondInitChangesNothing(t *testing.T) {
	for _, seats := range []uint32{2, 5, 10, MaxSeats} {
		t.Run(fmt.Sprint(seats), func(t *testing.T) {
			h := newHarness(t, testOpts)
			h.init(1000, 5)
			h.batch(1000, rsv(1, "alice", "i1"), rsv(5, "", "i2"))
			before := dump(h.f)
			h.init(500, seats) // older time: the clock must not move either
			requireSameState(t, "after second Init", dump(h.f), before)
			if h.f.Seats() != 5 {
				t.Fatalf("Seats = %d, want 5", h.f.Seats())
			}
			requireSeats(t, h.f, 5, b{1: "alice", 5: ""})
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
	)
	want := []Result{
		ResultSuccess, ResultSuccess, ResultSuccess, ResultAlreadyBooked,
		ResultNotBooked, ResultSuccess, ResultNotHolder,
		ResultSuccess, ResultSuccess, ResultInvalidSeat,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("results = %v, want %v", got, want)
	}
	requireSeats(t, h.f, 5, b{1: "bob", 2: "", 3: ""})
	checkInvariants(t, h.f)
}

// Apply is documented to return nil for an Init entry. A typed nil slice in
// the interface is not nil: a caller testing resp == nil would take it for a
// batch result.
func TestApplyInitReturnsNil(t *testing.T) {
	f := New(testOpts)
	for i, data := range [][]byte{AppendInit(nil, 1, 5), AppendInit(nil, 2, 7)} {
		got := f.Apply(&raft.Log{Type: raft.LogCommand, Index: uint64(i + 1), Data: data})
		if got != nil {
			t.Errorf("Apply(Init) #%d = %#v (%T), want untyped nil as documented", i+1, got, got)
		}
	}
	got := f.ApplyBatch([]*raft.Log{{Type: raft.LogCommand, Index: 3, Data: AppendInit(nil, 3, 5)}})
	if got[0] != nil {
		t.Errorf("ApplyBatch(Init) = %#v (%T), want untyped nil", got[0], got[0])
	}
}

func TestApplyIgnoresNonCommandLogs(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(1000, 3)
	h.batch(1000, rsv(1, "a", "id"))
	before := dump(h.f)
	// A batch that would cancel seat 1 carried in non-command log types.
	data := AppendBatch(nil, 999_999, []Write{cnl(1, "a", "other")})
	for _, typ := range []raft.LogType{raft.LogNoop, raft.LogBarrier, raft.LogConfiguration, raft.LogAddPeerDeprecated} {
		if got := h.f.Apply(&raft.Log{Type: typ, Index: 100, Data: data}); got != nil {
			t.Errorf("Apply(%v) = %v, want nil", typ, got)
		}
	}
	requireSameState(t, "after non-command logs", dump(h.f), before)
}

func TestApplyBatchMatchesApply(t *testing.T) {
	entries := [][]byte{
		AppendBatch(nil, 1, []Write{rsv(1, "", "")}), // before Init
		AppendInit(nil, 2, 4),
		AppendBatch(nil, 3, []Write{rsv(1, "a", "x"), rsv(2, "", "")}),
		{1, 2, 3}, // corrupt
		AppendBatch(nil, 4, []Write{cnl(1, "b", "y"), cnl(1, "a", "x"), cnl(2, "", "")}),
	}
	one := New(testOpts)
	var want []interface{}
	var logs []*raft.Log
	for i, e := range entries {
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
}

// --- exactly-once ---

func TestExactlyOnce(t *testing.T) {
	h := newHarness(t, DefaultOptions())
	h.init(1000, 5)

	// First application decides; a second with different content answers
	// the recorded result and changes nothing.
	if r := h.one(1000, rsv(1, "alice", "x")); r != ResultSuccess {
		t.Fatalf("RESERVE 1 alice id=x = %v", r)
	}
	before := dump(h.f)
	if r := h.one(1001, cnl(1, "alice", "x")); r != ResultSuccess {
		t.Fatalf("CANCEL 1 alice id=x = %v, want the recorded SUCCESS", r)
	}
	after := dump(h.f)
	after.LastTimeMs = before.LastTimeMs // time moves on; nothing else may
	requireSameState(t, "after duplicate id", after, before)
	requireSeats(t, h.f, 5, b{1: "alice"})
	if r, ok := h.f.AppliedID("x"); !ok || r != ResultSuccess {
		t.Fatalf("AppliedID(x) = %v %v", r, ok)
	}

	// A failure is recorded too, and replayed even when it would now succeed.
	if r := h.one(1002, rsv(1, "bob", "y")); r != ResultAlreadyBooked {
		t.Fatalf("RESERVE 1 bob id=y = %v", r)
	}
	if r := h.one(1003, cnl(1, "alice", "")); r != ResultSuccess {
		t.Fatalf("CANCEL 1 alice = %v", r)
	}
	if r := h.one(1004, rsv(1, "bob", "y")); r != ResultAlreadyBooked {
		t.Fatalf("retry RESERVE 1 bob id=y = %v, want the recorded FAILED_ALREADY_BOOKED", r)
	}
	requireSeats(t, h.f, 5, b{})

	// Same id on a different seat and op: nothing happens to that seat.
	if r := h.one(1005, cnl(4, "zed", "y")); r != ResultAlreadyBooked {
		t.Fatalf("CANCEL 4 zed id=y = %v", r)
	}
	if r := h.one(1005, rsv(4, "", "x")); r != ResultSuccess {
		t.Fatalf("RESERVE 4 id=x = %v", r)
	}
	requireSeats(t, h.f, 5, b{})

	// Invalid seat results are recorded as well.
	if r := h.one(1006, rsv(9, "", "z")); r != ResultInvalidSeat {
		t.Fatalf("RESERVE 9 id=z = %v", r)
	}
	if r := h.one(1006, rsv(2, "", "z")); r != ResultInvalidSeat {
		t.Fatalf("RESERVE 2 id=z = %v, want recorded FAILED_INVALID_SEAT", r)
	}
	requireSeats(t, h.f, 5, b{})

	// Ids are case-sensitive.
	if r := h.one(1007, rsv(2, "", "X")); r != ResultSuccess {
		t.Fatalf("RESERVE 2 id=X = %v", r)
	}
	requireSeats(t, h.f, 5, b{2: ""})

	// Twice within one batch.
	got := h.batch(1008, rsv(3, "c", "w"), cnl(3, "c", "w"), rsv(3, "d", "v"), cnl(3, "c", "w"))
	if want := []Result{ResultSuccess, ResultSuccess, ResultAlreadyBooked, ResultSuccess}; !slices.Equal(got, want) {
		t.Fatalf("batch with repeated id = %v, want %v", got, want)
	}
	requireSeats(t, h.f, 5, b{2: "", 3: "c"})

	for id, want := range map[string]Result{"x": ResultSuccess, "y": ResultAlreadyBooked, "z": ResultInvalidSeat, "X": ResultSuccess, "w": ResultSuccess, "v": ResultAlreadyBooked} {
		if r, ok := h.f.AppliedID(id); !ok || r != want {
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
	// A fourth id: the oldest old one goes, the others are still needed to
	// keep three.
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

// An entry whose time is older than an earlier entry's is applied at the
// earlier time: ids it records do not look older than they are.
func TestRetentionClampNotEarlier(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(100_000, 5)
	ys := names("y", 4)
	h.batch(0, idWrites(ys)...) // time goes backwards: applied at 100,000
	if d := dump(h.f); d.LastTimeMs != 100_000 {
		t.Fatalf("lastTimeMs = %d after a backwards entry, want 100000", d.LastTimeMs)
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
	h.init(100_000, 5)          // ignored, but its time counts
	h.one(500, rsv(1, "", "y")) // backwards; applied at 100,000: cutoff 40,000
	if got, want := liveIDs(h.f, append(xs, "y")...), []string{"x4", "x5", "y"}; !slices.Equal(got, want) {
		t.Fatalf("remembered %v, want %v", got, want)
	}
	d := dump(h.f)
	if d.LastTimeMs != 100_000 || d.Live[len(d.Live)-1].timeMs != 100_000 {
		t.Fatalf("lastTimeMs %d, y recorded at %d; want 100000 for both", d.LastTimeMs, d.Live[len(d.Live)-1].timeMs)
	}
	// Negative times are clamped as well.
	h.one(math.MinInt64, rsv(2, "", "z"))
	if d := dump(h.f); d.LastTimeMs != 100_000 || d.Live[len(d.Live)-1].timeMs != 100_000 {
		t.Fatalf("after a negative time: lastTimeMs %d, z at %d", d.LastTimeMs, d.Live[len(d.Live)-1].timeMs)
	}
	checkInvariants(t, h.f)
}

func TestRetentionDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if o.IDRetention < 10*time.Minute || o.MinIDs < 100_000 {
		t.Fatalf("DefaultOptions = %+v, the protocol promises at least 10 minutes or 100,000 ids", o)
	}
	h := newHarness(t, o)
	h.init(0, 5)
	h.batch(0, rsv(1, "", "first"), rsv(1, "", "second"))
	h.one(10*60*1000, noID)    // ten minutes later: still there
	h.one(math.MaxInt64, noID) // far later, but only two ids
	if got := liveIDs(h.f, "first", "second"); len(got) != 2 {
		t.Fatalf("remembered %v", got)
	}
}

// TestRetentionManyIDs applies 5000 ids under different rates and checks
// after every entry that exactly the ids the rule keeps are remembered, with
// their results; along the way the id log is compacted.
func TestRetentionManyIDs(t *testing.T) {
	opts := Options{IDRetention: time.Minute, MinIDs: 100}
	h := newHarness(t, opts)
	m := newModel(opts)
	const seats = 40
	h.init(0, seats)
	m.apply(Entry{Type: TypeInit, Seats: seats})

	type rec struct {
		id     string
		result Result
	}
	var all []rec
	rng := rand.New(rand.NewPCG(1, 2))
	tm := int64(0)
	compactions, maxLen := 0, 0
	for len(all) < 5000 {
		// Rates: a burst (everything within the retention), a slow phase
		// (MinIDs decides), a jump, and an occasional backwards time.
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
		n := 1 + rng.IntN(5)
		ws := make([]Write, n)
		for i := range ws {
			holder := []string{"", "p", "q"}[rng.IntN(3)]
			seat := uint32(rng.IntN(seats + 1))
			op := OpReserve
			if rng.IntN(2) == 0 {
				op = OpCancel
			}
			ws[i] = Write{Op: op, Seat: seat, Holder: holder, ID: fmt.Sprintf("id-%d", len(all)+i)}
		}
		headBefore := h.f.st.head
		got := h.batch(entryTime, ws...)
		want := m.apply(Entry{Type: TypeBatch, Time: entryTime, Writes: ws})
		if !slices.Equal(got, want) {
			t.Fatalf("entry at %d: results %v, model %v", entryTime, got, want)
		}
		for i, w := range ws {
			all = append(all, rec{w.ID, got[i]})
		}
		if h.f.st.head < headBefore {
			compactions++
		}
		maxLen = max(maxLen, len(h.f.st.order))

		// Ids the model remembers are a suffix of all; those must be there,
		// with their first results, and all earlier ones gone.
		keep := len(all) - len(m.ids)
		check := func(i int) {
			r, ok := h.f.AppliedID(all[i].id)
			if i >= keep && (!ok || r != all[i].result) {
				t.Fatalf("after %d ids at time %d: id %s (#%d) = %v %v, must be remembered as %v (keep from #%d)", len(all), m.last, all[i].id, i, r, ok, all[i].result, keep)
			}
			if i < keep && ok {
				t.Fatalf("after %d ids at time %d: id %s (#%d) still remembered; keep from #%d", len(all), m.last, all[i].id, i, keep)
			}
		}
		if len(all)%97 < 5 {
			for i := range all {
				check(i)
			}
			checkInvariants(t, h.f)
		} else {
			for _, i := range []int{0, keep - 1, keep, len(all) - 1} {
				if i >= 0 && i < len(all) {
					check(i)
				}
			}
		}
		if len(m.ids) < opts.MinIDs && len(all) >= opts.MinIDs {
			t.Fatalf("model keeps %d ids < MinIDs", len(m.ids))
		}
	}
	for i := range all {
		r, ok := h.f.AppliedID(all[i].id)
		if _, mok := m.lookup(all[i].id); mok != ok || (ok && r != all[i].result) {
			t.Fatalf("final: id %s = %v %v, model remembers %v", all[i].id, r, ok, mok)
		}
	}
	m.compare(t, h.f, nil)
	checkInvariants(t, h.f)
	if compactions == 0 {
		t.Fatalf("the id log was never compacted (max len %d)", maxLen)
	}
	if maxLen >= len(all) {
		t.Errorf("id log grew to %d entries for %d ids: compaction does not bound it", maxLen, len(all))
	}
	t.Logf("%d ids, %d remembered, %d compactions, longest id log %d", len(all), len(m.ids), compactions, maxLen)
}

// TestRandomAgainstModel applies random entries (Init included, times
// sometimes backwards, ids reused) and compares everything with the model.
func TestRandomAgainstModel(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			opts := Options{IDRetention: time.Duration(rng.IntN(5000)) * time.Millisecond, MinIDs: rng.IntN(6)}
			h := newHarness(t, opts)
			m := newModel(opts)
			pool := names("r", 30)
			holders := []string{"", "a", "b", "A"}
			tm := int64(0)
			for step := 0; step < 400; step++ {
				tm += int64(rng.IntN(400)) - 100
				if rng.IntN(40) == 0 {
					seats := uint32(1 + rng.IntN(8))
					h.init(tm, seats)
					m.apply(Entry{Type: TypeInit, Time: tm, Seats: seats})
					continue
				}
				ws := make([]Write, 1+rng.IntN(6))
				for i := range ws {
					ws[i] = Write{Op: Op(1 + rng.IntN(2)), Seat: uint32(rng.IntN(10)), Holder: holders[rng.IntN(len(holders))]}
					if rng.IntN(3) > 0 {
						ws[i].ID = pool[rng.IntN(len(pool))]
					}
				}
				got := h.batch(tm, ws...)
				want := m.apply(Entry{Type: TypeBatch, Time: tm, Writes: ws})
				if !slices.Equal(got, want) {
					t.Fatalf("step %d %+v: results %v, model %v", step, ws, got, want)
				}
				m.compare(t, h.f, pool)
				checkInvariants(t, h.f)
			}
		})
	}
}

func TestCorruptEntryChangesNothing(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(1000, 5)
	h.batch(1000, rsv(1, "alice", "a"), rsv(2, "", "b"))
	before := dump(h.f)
	good := AppendBatch(nil, 9_000_000, []Write{cnl(1, "alice", "c"), rsv(3, "", "d")})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrShortEntry},
		{"truncated", good[:len(good)-1], ErrCorruptData},
		{"trailing byte", append(append([]byte{}, good...), 0), ErrCorruptData},
		{"second write bad op", func() []byte {
			d := AppendBatch(nil, 9_000_000, []Write{cnl(1, "alice", "c"), {Op: 3, Seat: 3}})
			return d
		}(), ErrCorruptData},
	} {
		got := h.raw(tc.data)
		err, ok := got.(error)
		if !ok {
			t.Fatalf("%s: Apply returned %T %v, want an error", tc.name, got, got)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v does not wrap %v", tc.name, err, tc.want)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(h.idx)) {
			t.Errorf("%s: error %q does not name the log index %d", tc.name, err, h.idx)
		}
		requireSameState(t, tc.name, dump(h.f), before)
	}
	// The intact entry still applies afterwards.
	if got := h.batch(9_000_000, cnl(1, "alice", "c"), rsv(3, "", "d")); !slices.Equal(got, []Result{ResultSuccess, ResultSuccess}) {
		t.Fatalf("good entry after corrupt ones = %v", got)
	}
}

// An entry of a newer version or type halts the FSM: applying later entries
// without it would diverge from nodes that understood it, and a snapshot
// would claim entries that were skipped.
func TestUnknownVersionOrTypeHalts(t *testing.T) {
	good := AppendBatch(nil, 9_000_000, []Write{rsv(3, "", "d")})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"newer version", append([]byte{9}, good[1:]...), ErrVersion},
		{"unknown type", append([]byte{1, 7}, good[2:]...), ErrEntryType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testOpts)
			h.init(1000, 5)
			h.batch(1000, rsv(1, "alice", "a"))
			before := dump(h.f)
			err, _ := h.raw(tc.data).(error)
			if !errors.Is(err, ErrHalted) || !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want ErrHalted wrapping %v", err, tc.want)
			}
			if h.f.Halted() == nil {
				t.Fatal("Halted() = nil after an unknown entry")
			}
			err, _ = h.raw(good).(error)
			if !errors.Is(err, ErrHalted) {
				t.Fatalf("entry after the unknown one: Apply = %v, want ErrHalted", err)
			}
			requireSameState(t, tc.name, dump(h.f), before)
			if _, err := h.f.Snapshot(); !errors.Is(err, ErrHalted) {
				t.Fatalf("Snapshot of a halted FSM = %v, want ErrHalted", err)
			}
		})
	}
}
