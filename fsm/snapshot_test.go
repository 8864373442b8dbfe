package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

// richState builds an FSM (testOpts) with every kind of content: several
// events, booked (named and anonymous), held and free-with-history seats, a
// seat whose history overflowed, the expiry of a deleted event's hold, ids of
// every result (with seats and with expiries), and ids already forgotten so
// that the id log has a dead prefix.
func richState(t testing.TB) *harness {
	t.Helper()
	h := newHarness(t, testOpts)
	smallIDChunks(h.f) // so that ids cross chunks, and later ones free some
	h.init(1000, 20)
	h.raise(1000, FormatV2)
	want := []Result{ResultSuccess, ResultSuccess, ResultSuccess, ResultAlreadyBooked, ResultNotBooked}
	if got := h.batch(1000, rsv(1, "alice", "a1"), rsv(2, "", "a2"), rsv(3, "bob", "a3"), rsv(3, "carol", "a4"), cnl(4, "", "a5")); !resultsEqual(got, want) {
		t.Fatalf("setup: %v, want %v", got, want)
	}
	want = []Result{
		ResultSuccess, ResultSuccess, ResultNotHolder, ResultInvalidSeat, held(370_000),
		ResultSuccess, ResultSuccess, held(670_000), failed(CodeAlreadyBooked, 15, 16), {Code: CodeNoEvent},
		{Code: CodeExists}, {Code: CodeInvalidCommand}, failed(CodeInvalidSeat, 101), ResultSuccess,
	}
	if got := h.batch(70_000,
		rsv(5, "", "b1"), rsv(20, "x.y_z@q:r-1", "b2"), cnl(1, "bob", "b3"), rsv(21, "", id64), hld(4, "carol", 300, "b4"),
		mkEvent("concert", 100, "b5"), in("concert", many(rsv(0, "x", "b6"), seatRange(10, 20)...)), in("concert", many(hld(0, "y", 600, "b7"), seatRange(30, 35)...)),
		in("concert", many(rsv(0, "z", "b8"), 15, 16, 40)), in("nope", rsv(1, "", "b9")),
		mkEvent("concert", 5, "b10"), delEvent(DefaultEvent, "b11"), in("concert", many(rsv(0, "z", "b12"), 99, 100, 101)), mkEvent("zz", 1, ""),
	); !resultsEqual(got, want) {
		t.Fatalf("setup: %v, want %v", got, want)
	}
	h.ok(80_000, rsv(6, "", ""), rsv(7, holder64, ""), rsv(8, "bob", ""), cnl(8, "bob", ""), cnl(5, "", ""),
		mkEvent("gone", 3, ""), in("gone", hld(1, "g", 10, "")), delEvent("gone", ""), in("zz", hld(1, "h", 3600, "")))
	// Seat 9: 21 changes, so the stored history has been trimmed once.
	for i := 0; i < 21; i++ {
		w := rsv(9, fmt.Sprint("p", i/2), "")
		if i%2 == 1 {
			w.Op = OpCancel
		}
		h.ok(80_000+int64(i), w)
	}
	d := dump(h.f)
	if len(d.Live) != 13 || d.LastTimeMs != 80_020 || len(d.Stale) != 1 || len(d.Events) != 3 {
		t.Fatalf("setup did not produce the intended state:\n%v", d)
	}
	checkInvariants(t, h.f)
	return h
}

// richIDs are the ids richState and the follow-up entries use.
var richIDs = []string{"a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", id64, "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "c1", "c2", "c3", "d1", "old1", "old2"}

// followUp are entries applied to an FSM and to its restored copy; they move
// time backwards and forwards across the ids' retention and the holds' ends.
var followUp = []Entry{
	{Version: 2, Type: TypeBatch, Time: 10, Writes: []Write{rsv(10, "", "c1"), cnl(9, "p10", "c2"), rsv(1, "zed", "")}}, // backwards: at 80,020
	{Version: 2, Type: TypeTick, Time: 90_000},                          // the deleted event's hold falls due
	{Version: 2, Type: TypeBatch, Time: 130_000, Writes: []Write{noID}}, // b* at 70,000: exactly a minute old, kept
	{Version: 2, Type: TypeBatch, Time: 130_001, Writes: []Write{noID}}, // b* forgotten, 3 left
	{Version: 2, Type: TypeBatch, Time: 140_021, Writes: []Write{cnl(1, "alice", "c3")}},
	{Version: 2, Type: TypeBatch, Time: 140_022, Writes: []Write{mkEvent("gone", 2, "d1"), in("gone", hld(1, "g", 1, ""))}},
	{Version: 2, Type: TypeTick, Time: 369_999},
	{Version: 2, Type: TypeTick, Time: 370_000}, // seat 4's hold ends
	{Version: 1, Type: TypeBatch, Time: 670_000, Writes: []Write{rsv(4, "carol", "")}},
	{Version: 2, Type: TypeBatch, Time: 670_000, Writes: []Write{in("concert", many(rsv(0, "q", ""), 30, 31)), in("zz", rsv(1, "h", ""))}},
	{Version: 2, Type: TypeFormat, Time: 700_000, Format: 2},
	{Version: 2, Type: TypeBatch, Time: 4_000_000, Writes: []Write{rsv(2, "", "a2"), noID, in("zz", rsv(1, "i", ""))}}, // a2 long forgotten: applies anew
}

// compareObservable compares everything the FSM exposes.
func compareObservable(t testing.TB, got, want *FSM) {
	t.Helper()
	if !slices.Equal(got.Events(), want.Events()) {
		t.Fatalf("Events %q, want %q", got.Events(), want.Events())
	}
	if got.DefaultSeats() != want.DefaultSeats() || got.Format() != want.Format() || got.LastTime() != want.LastTime() {
		t.Fatalf("DefaultSeats %d Format %d LastTime %d, want %d %d %d", got.DefaultSeats(), got.Format(), got.LastTime(), want.DefaultSeats(), want.Format(), want.LastTime())
	}
	for _, ev := range want.Events() {
		gs, _ := got.Summary(ev)
		ws, _ := want.Summary(ev)
		if gs != ws {
			t.Fatalf("Summary(%q) %+v, want %+v", ev, gs, ws)
		}
		for n := uint32(0); n <= uint32(ws.Total)+1; n++ {
			s1, e1 := got.Seat(ev, n)
			s2, e2 := want.Seat(ev, n)
			h1, _ := got.History(ev, n)
			h2, _ := want.History(ev, n)
			if s1 != s2 || !errors.Is(e1, e2) || !slices.Equal(h1, h2) {
				t.Fatalf("Seat(%q, %d) = %+v %v %v, want %+v %v %v", ev, n, s1, e1, h1, s2, e2, h2)
			}
		}
	}
	for _, id := range richIDs {
		r1, ok1 := got.AppliedID(id)
		r2, ok2 := want.AppliedID(id)
		if !r1.Equal(r2) || ok1 != ok2 {
			t.Fatalf("AppliedID(%q) = %v %v, want %v %v", id, r1, ok1, r2, ok2)
		}
	}
	if got.Digest() != want.Digest() {
		t.Fatalf("Digest %s, want %s", got.Digest(), want.Digest())
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := richState(t)
	data := snapshotBytes(t, h.f)

	r := newHarness(t, testOpts)
	if err := restore(r.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "restored", dump(r.f), dump(h.f).withoutStale())
	checkInvariants(t, r.f)
	compareObservable(t, r.f, h.f)

	// The restored state snapshots to the same bytes.
	if again := snapshotBytes(t, r.f); !bytes.Equal(again, data) {
		t.Fatalf("snapshot of restored state differs:\n%x\n%x", again, data)
	}

	r.idx = h.idx
	for i, e := range followUp {
		data := encodeEntry(e)
		got, want := r.raw(data), h.raw(data)
		if gr, ok := got.([]Result); ok {
			if wr, ok := want.([]Result); !ok || !resultsEqual(gr, wr) {
				t.Fatalf("follow-up %d: restored %v, original %v", i, got, want)
			}
		} else if got != nil || want != nil {
			t.Fatalf("follow-up %d: restored %v, original %v", i, got, want)
		}
		requireSameState(t, fmt.Sprintf("after follow-up %d", i), dump(r.f).withoutStale(), dump(h.f).withoutStale())
		compareObservable(t, r.f, h.f)
		checkInvariants(t, r.f)
	}
	// Spot-check that the follow-ups did what their comments say, so the
	// comparison above covered id expiry and the holds' ends.
	if got, want := liveIDs(r.f, richIDs...), []string{"a2", "c3", "d1"}; !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("remembered ids %v, want %v", got, want)
	}
	if s, _ := r.f.Seat("", 4); s != bk("carol") {
		t.Fatalf("seat 4 = %+v: the restored hold did not expire", s)
	}
	if sum, _ := r.f.Summary("concert"); sum.Held != 0 || sum.Booked != 13 {
		t.Fatalf("concert = %+v", sum)
	}
	if s, _ := r.f.Seat("zz", 1); s != bk("h") {
		t.Fatalf("zz seat 1 = %+v", s)
	}
}

// --- a hand encoder, to pin the format and to build corrupt snapshots ---

type hChange struct {
	op     byte
	same   bool // same holder as the previous change (the first: the record's)
	holder string
	index  uint64 // the first absolute, then the gap
	time   int64  // the first absolute, then the difference
}

type hRec struct {
	gap     uint64
	state   byte
	holder  string
	expires int64
	hist    []hChange
	nhist   *uint64 // overrides len(hist)
}

type hEvent struct {
	name  string
	id    uint64
	seats uint64
	flags byte
	recs  []hRec
	nrecs *uint64 // overrides len(recs)
}

type hID struct {
	id      string
	time    int64
	code    byte
	expires int64
	seats   []uint64 // first, then gaps
}

type hSnap struct {
	version   byte
	format    byte
	last      int64
	next      uint64
	events    []hEvent
	ids       []hID
	noCluster bool
	noIDs     bool
	before    []byte // raw bytes before the ids section
	after     []byte // raw bytes after the ids section
	end       string // the end marker ("" = "END!")
	trailing  []byte
}

func (s hSnap) encode() []byte {
	b := []byte(snapshotMagic)
	b = append(b, s.version)
	if !s.noCluster {
		b = append(b, sectionCluster, s.format)
		b = binary.AppendVarint(b, s.last)
		b = binary.AppendUvarint(b, s.next)
	}
	for _, e := range s.events {
		b = append(b, sectionEvent)
		b = appendStr(b, e.name)
		b = binary.AppendUvarint(b, e.id)
		b = binary.AppendUvarint(b, e.seats)
		b = append(b, e.flags)
		n := uint64(len(e.recs))
		if e.nrecs != nil {
			n = *e.nrecs
		}
		b = binary.AppendUvarint(b, n)
		for _, r := range e.recs {
			b = binary.AppendUvarint(b, r.gap)
			b = append(b, r.state)
			if r.state != byte(SeatFree) {
				b = appendStr(b, r.holder)
			}
			if r.state == byte(SeatHeld) {
				b = binary.AppendVarint(b, r.expires)
			}
			n := uint64(len(r.hist))
			if r.nhist != nil {
				n = *r.nhist
			}
			b = binary.AppendUvarint(b, n)
			for _, c := range r.hist {
				if c.same {
					b = append(b, c.op|sameHolder)
				} else {
					b = append(b, c.op)
					b = appendStr(b, c.holder)
				}
				b = binary.AppendUvarint(b, c.index)
				b = binary.AppendVarint(b, c.time)
			}
		}
	}
	b = append(b, s.before...)
	if !s.noIDs {
		b = append(b, sectionIDs)
		b = binary.AppendUvarint(b, uint64(len(s.ids)))
		for _, a := range s.ids {
			b = appendStr(b, a.id)
			b = binary.AppendVarint(b, a.time)
			b = append(b, a.code)
			if a.code == byte(CodeHeld) {
				b = binary.AppendVarint(b, a.expires)
			}
			b = binary.AppendUvarint(b, uint64(len(a.seats)))
			for _, g := range a.seats {
				b = binary.AppendUvarint(b, g)
			}
		}
	}
	b = append(b, s.after...)
	b = append(b, sectionEnd)
	if s.end == "" {
		b = append(b, snapshotEnd...)
	} else {
		b = append(b, s.end...)
	}
	return append(b, s.trailing...)
}

func u64(v uint64) *uint64 { return &v }

// tinyState builds a small state that uses every part of the format.
func tinyState(t testing.TB) *harness {
	h := newHarness(t, testOpts)
	h.init(300, 3)  // index 1
	h.raise(300, 2) // index 2
	h.batch(200,    // index 3, applied at 300
		rsv(1, "", "x"),      // seat 1: booked anonymously
		hld(3, "ab", 1, "h"), // seat 3: held until 1300
		rsv(2, "w", "yz"),    // seat 2: booked and cancelled: free with history
		cnl(2, "w", ""),      //
		mkEvent("b", 2, ""),  // event b (id 1)
		in("b", many(rsv(0, "q", "m"), 1, 2)),
		in("b", many(cnl(0, "r", "n"), 1, 2)), // NOT_HOLDER 1,2
	)
	h.tick(301) // index 4
	return h
}

// tinySnap is tinyState's snapshot, by hand.
func tinySnap() hSnap {
	return hSnap{
		version: 2, format: 2, last: 301, next: 2,
		events: []hEvent{
			{name: "b", id: 1, seats: 2, recs: []hRec{
				{gap: 1, state: 1, holder: "q", hist: []hChange{{op: 1, same: true, index: 3, time: 300}}},
				{gap: 1, state: 1, holder: "q", hist: []hChange{{op: 1, same: true, index: 3, time: 300}}},
			}},
			{name: "default", id: 0, seats: 3, flags: 1, recs: []hRec{
				{gap: 1, state: 1, holder: "", hist: []hChange{{op: 1, same: true, index: 3, time: 300}}},
				{gap: 1, state: 0, hist: []hChange{{op: 1, holder: "w", index: 3, time: 300}, {op: 4, same: true, index: 0, time: 0}}},
				{gap: 1, state: 2, holder: "ab", expires: 1300, hist: []hChange{{op: 3, same: true, index: 3, time: 300}}},
			}},
		},
		ids: []hID{
			{id: "x", time: 300, code: 1},
			{id: "h", time: 300, code: 6, expires: 1300},
			{id: "yz", time: 300, code: 1},
			{id: "m", time: 300, code: 1},
			{id: "n", time: 300, code: 5, seats: []uint64{1, 1}},
		},
	}
}

func TestSnapshotFormat(t *testing.T) {
	got := snapshotBytes(t, tinyState(t).f)
	want := tinySnap().encode()
	if !bytes.Equal(got, want) {
		t.Fatalf("snapshot bytes\n got %q\nwant %q", got, want)
	}
	// The same, written out, for a reader of the format.
	lit := "SEATSNAP\x02" +
		"C\x02\xda\x04\x02" +
		"E\x01b\x01\x02\x00\x02" +
		"\x01\x01\x01q\x01\x81\x03\xd8\x04" +
		"\x01\x01\x01q\x01\x81\x03\xd8\x04" +
		"E\x07default\x00\x03\x01\x03" +
		"\x01\x01\x00\x01\x81\x03\xd8\x04" +
		"\x01\x00\x02\x01\x01w\x03\xd8\x04\x84\x00\x00" +
		"\x01\x02\x02ab\xa8\x14\x01\x83\x03\xd8\x04" +
		"I\x05" +
		"\x01x\xd8\x04\x01\x00" +
		"\x01h\xd8\x04\x06\xa8\x14\x00" +
		"\x02yz\xd8\x04\x01\x00" +
		"\x01m\xd8\x04\x01\x00" +
		"\x01n\xd8\x04\x05\x02\x01\x01" +
		"ZEND!"
	if string(got) != lit {
		t.Fatalf("snapshot bytes\n got %q\nwant %q", got, lit)
	}
}

func TestSnapshotOfEmptyFSM(t *testing.T) {
	// A new FSM runs format 1: its snapshot is in version 1 (time 0, no
	// seats, no ids).
	data := snapshotBytes(t, New(testOpts))
	if want := snapshotMagic + "\x01\x00\x00\x00" + snapshotEnd; string(data) != want {
		t.Fatalf("empty snapshot %q, want %q", data, want)
	}
	r := richState(t)
	if err := restore(r.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "restored empty", dump(r.f), dump(New(testOpts)))
	if got := liveIDs(r.f, richIDs...); got != nil {
		t.Fatalf("ids survived the restore: %v", got)
	}
	if _, ok := r.f.NextExpiry(); ok {
		t.Fatalf("a hold survived the restore")
	}
	// Uninitialised again: writes find no event, and the next Init takes.
	if got := r.one(1, rsv(1, "", "")); !got.Equal(Result{Code: CodeNoEvent}) {
		t.Fatalf("write after restoring an empty snapshot = %v", got)
	}
	r.init(2, 2)
	if r.f.DefaultSeats() != 2 {
		t.Fatalf("DefaultSeats = %d after Init, want 2", r.f.DefaultSeats())
	}
}

func TestRestoreReplacesState(t *testing.T) {
	src := richState(t)
	data := snapshotBytes(t, src.f)

	// Another FSM with more seats, other events, bookings, holds, ids and a
	// later clock.
	dst := newHarness(t, testOpts)
	dst.init(5_000_000, 30)
	dst.ok(5_000_000, rsv(4, "mallory", "old1"), rsv(9, "", "old2"), rsv(30, "eve", "a1"), hld(20, "h", 10, ""),
		mkEvent("concert", 7, ""), in("concert", hld(1, "h", 20, "")), mkEvent("other", 3, ""))
	dst.raise(5_000_000, 2)
	if err := restore(dst.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "after restore", dump(dst.f), dump(src.f).withoutStale())
	compareObservable(t, dst.f, src.f)
	for _, id := range []string{"old1", "old2", "a1"} {
		if _, ok := dst.f.AppliedID(id); ok {
			t.Errorf("id %q from before the restore survived", id)
		}
	}
	if next, _ := dst.f.NextExpiry(); next != 370_000 {
		t.Errorf("NextExpiry = %d after restore, want 370000 (the snapshot's)", next)
	}
	checkInvariants(t, dst.f)
}

// A snapshot reflects the state when Snapshot() returned, whatever is applied
// before Persist runs: bookings, holds and their ends, events deleted and
// created, histories trimmed, new ids, forgotten ids, compaction.
func TestSnapshotIsolation(t *testing.T) {
	h := richState(t)
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := dump(h.f).withoutStale()
	wantDigest := h.f.Digest()

	h.one(80_020, rsv(10, "", "e0")) // possibly into spare capacity of the shared id log
	h.ok(80_021, cnl(1, "alice", ""), rsv(11, "", ""), rsv(1, "other", ""), hld(12, "x", 5, ""), rsv(4, "carol", ""))
	h.ok(80_022, delEvent("concert", ""), mkEvent("concert", 3, ""), in("concert", rsv(1, "", "")), in("zz", cnl(1, "h", "")), cnl(9, "p10", ""))
	for i := 0; i < 40; i++ { // seat 9's history, shared with the snapshot, grows and is trimmed
		w := rsv(9, "s", "")
		if i%2 == 1 {
			w.Op = OpCancel
		}
		h.ok(80_023, w)
	}
	h.raise(80_024, 2)
	tm := int64(200_000)
	compacted := false
	for i := 0; i < 400; i++ {
		ws := make([]Write, 10)
		for j := range ws {
			ws[j] = rsv(uint32(13+j%5), "p", fmt.Sprintf("f%d-%d", i, j))
		}
		first := h.f.st.ids.records.first
		h.batch(tm, ws...)
		compacted = compacted || h.f.st.ids.records.first > first
		tm += 61_000
	}
	if !compacted {
		t.Fatalf("the id table never freed a chunk; the test does not cover it")
	}
	for _, id := range []string{"b1", "b2", "b3", id64} {
		if _, ok := h.f.AppliedID(id); ok {
			t.Fatalf("id %q still remembered; the test does not cover forgetting", id)
		}
	}

	data := persist(t, snap)
	r := New(testOpts)
	if err := restore(r, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "restored snapshot", dump(r), want)
	if r.Digest() != wantDigest {
		t.Fatalf("Digest of the restored snapshot %s, want %s (at capture)", r.Digest(), wantDigest)
	}
}

// Persist runs concurrently with Apply (raft does so); with -race this
// checks that nothing a snapshot shares (seat trees, histories, the id log)
// is written where the snapshot reads it.
func TestSnapshotPersistConcurrentWithApply(t *testing.T) {
	for round := 0; round < 4; round++ {
		h := richState(t)
		type snapshotAt struct {
			want   stateDump
			digest string
			data   []byte
			err    error
		}
		var snaps []*snapshotAt
		var wg sync.WaitGroup
		tm := int64(100_000)
		for i := 0; i < 1500; i++ {
			if i%200 == round {
				s := &snapshotAt{want: dump(h.f).withoutStale(), digest: h.f.Digest()}
				snap, err := h.f.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				snaps = append(snaps, s)
				wg.Add(1)
				go func() {
					defer wg.Done()
					var sink fakeSink
					s.err = snap.Persist(&sink)
					s.data = sink.Bytes()
				}()
			}
			ws := make([]Write, 1+i%7)
			for j := range ws {
				seat := uint32(1 + (i*7+j)%20)
				holder := []string{"u", "v", "w"}[j%3]
				switch (i + j) % 5 {
				case 0:
					ws[j] = rsv(seat, holder, "")
				case 1:
					ws[j] = cnl(seat, holder, "")
				case 2:
					ws[j] = hld(seat, holder, uint32(1+j), "")
				case 3:
					ws[j] = in("concert", many(hld(0, holder, 2, ""), seat, seat+50))
				case 4:
					ws[j] = in("concert", many(cnl(0, holder, ""), seat, seat+50))
				}
				ws[j].ID = fmt.Sprintf("g%d-%d", i, j)
			}
			if i%300 == 150 {
				ws = append(ws, delEvent("zz", ""), mkEvent("zz", 3, ""))
			}
			h.batch(tm, ws...)
			tm += int64(i%3) * 700
		}
		wg.Wait()
		for i, s := range snaps {
			if s.err != nil {
				t.Fatalf("Persist %d: %v", i, s.err)
			}
			r := New(testOpts)
			if err := restore(r, s.data); err != nil {
				t.Fatalf("Restore %d: %v", i, err)
			}
			requireSameState(t, fmt.Sprintf("round %d snapshot %d", round, i), dump(r), s.want)
			if r.Digest() != s.digest {
				t.Fatalf("round %d snapshot %d: Digest differs", round, i)
			}
		}
	}
}

// Snapshot() costs O(events), not O(seats): it allocates the same for an
// event of a hundred booked seats as for one of a hundred thousand.
func TestSnapshotCaptureIsCheap(t *testing.T) {
	allocs := func(booked int) float64 {
		h := newHarness(t, DefaultOptions())
		h.init(0, MaxSeats)
		h.ok(0, mkEvent("e", 10, ""))
		for s := 0; s < booked; s += MaxSeatsPerWrite {
			h.ok(1, many(rsv(0, "h", fmt.Sprint("id", s)), seatRange(uint32(s+1), uint32(s+MaxSeatsPerWrite))...))
		}
		return testing.AllocsPerRun(20, func() {
			snap, err := h.f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			snap.Release()
		})
	}
	small, big := allocs(100), allocs(100_000)
	if big != small || small > 16 {
		t.Fatalf("Snapshot() allocates %v times with 100 booked seats, %v with 100,000: want a small constant", small, big)
	}
}

// failingSink fails every write.
type failingSink struct{ fakeSink }

var errSinkFull = errors.New("sink full")

func (s *failingSink) Write([]byte) (int, error) { return 0, errSinkFull }

func TestPersistCancelsOnError(t *testing.T) {
	h := richState(t)
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink failingSink
	if err := snap.Persist(&sink); err == nil {
		t.Fatalf("Persist into a failing sink succeeded")
	} else if !errors.Is(err, errSinkFull) {
		t.Errorf("Persist error %v does not wrap the sink's error", err)
	}
	if sink.cancelled != 1 || sink.closed != 0 {
		t.Fatalf("sink cancelled %d, closed %d times; want 1, 0", sink.cancelled, sink.closed)
	}
}

func TestRestoreCorruptSnapshot(t *testing.T) {
	good := tinySnap()
	if err := restore(New(testOpts), good.encode()); err != nil {
		t.Fatalf("the hand-made snapshot is refused: %v", err)
	}

	dst := richState(t)
	before := dump(dst.f)
	try := func(name string, bad []byte) {
		t.Helper()
		err := restore(dst.f, bad)
		if err == nil {
			t.Errorf("%s: Restore succeeded", name)
		} else if !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: error %v does not wrap ErrSnapshot", name, err)
		}
		requireSameState(t, name, dump(dst.f), before)
	}
	// mod returns a copy of the good snapshot changed by f.
	mod := func(f func(s *hSnap)) []byte {
		s := tinySnap()
		s.events = slices.Clone(s.events)
		for i := range s.events {
			s.events[i].recs = slices.Clone(s.events[i].recs)
			for j := range s.events[i].recs {
				s.events[i].recs[j].hist = slices.Clone(s.events[i].recs[j].hist)
			}
		}
		s.ids = slices.Clone(s.ids)
		f(&s)
		return s.encode()
	}
	def := func(s *hSnap) *hEvent { return &s.events[1] }

	data := good.encode()
	for n := 0; n < len(data); n++ {
		try(fmt.Sprintf("truncated to %d of %d bytes", n, len(data)), data[:n])
	}
	for i := 0; i < len(snapshotMagic); i++ {
		bad := slices.Clone(data)
		bad[i] ^= 0x20
		try(fmt.Sprintf("magic byte %d", i), bad)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"not a snapshot", []byte("hello, world")},
		{"version 0", mod(func(s *hSnap) { s.version = 0 })},
		{"version 3", mod(func(s *hSnap) { s.version = 3 })}, // snapshot versions stop at 2
		{"version 255", mod(func(s *hSnap) { s.version = 255 })},
		{"cluster format 4", mod(func(s *hSnap) { s.format = MaxFormat + 1 })},
		{"cluster format 0", mod(func(s *hSnap) { s.format = 0 })},
		{"no cluster section", mod(func(s *hSnap) { s.noCluster = true })},
		{"unknown section before the events", mod(func(s *hSnap) {
			s.noCluster = true
			s.before = nil
			s.events = nil
			s.version = 2
			s.trailing = nil
		})[:9:9]},
		{"unknown section tag after the cluster", func() []byte {
			d := (hSnap{version: 2, format: 1, next: 1}).encode()
			return slices.Concat(d[:len(snapshotMagic)+1+4], []byte("X\x00"), d[len(snapshotMagic)+1+4:])
		}()},
		{"unknown section tag after the events", mod(func(s *hSnap) { s.before = []byte("X\x00") })},
		{"unknown section tag after the ids", mod(func(s *hSnap) { s.after = []byte("X\x00") })},
		{"an event section after the ids", mod(func(s *hSnap) { s.after = []byte{sectionEvent} })},
		{"no ids section", mod(func(s *hSnap) { s.noIDs = true })},
		{"two ids sections", mod(func(s *hSnap) { s.after = []byte{sectionIDs, 0} })},
		{"bad end marker", mod(func(s *hSnap) { s.end = "END?" })},
		{"short end marker", mod(func(s *hSnap) { s.end = "END" })},
		{"trailing data", mod(func(s *hSnap) { s.trailing = []byte("trailing") })},
		{"trailing zero", mod(func(s *hSnap) { s.trailing = []byte{0} })},
		{"events out of order", mod(func(s *hSnap) { s.events[0], s.events[1] = s.events[1], s.events[0] })},
		{"event twice", mod(func(s *hSnap) { s.events[0] = s.events[1] })},
		{"bad event name", mod(func(s *hSnap) { s.events[0].name = "a b" })},
		{"empty event name", mod(func(s *hSnap) { s.events[0].name = "" })},
		{"event name of 65 bytes", mod(func(s *hSnap) { s.events[0].name = strings.Repeat("a", 65) })},
		{"default event with id 1", mod(func(s *hSnap) { def(s).id = 1; s.events = s.events[1:] })},
		{"other event with id 0", mod(func(s *hSnap) { s.events[0].id = 0 })},
		{"event id not below the next id", mod(func(s *hSnap) { s.events[0].id = 2 })},
		{"two events with one id", mod(func(s *hSnap) {
			s.events = append(s.events, hEvent{name: "c", id: 1, seats: 1})
		})},
		{"event of 0 seats", mod(func(s *hSnap) { s.events[0].seats = 0; s.events[0].recs = nil })},
		{"event of MaxSeats+1 seats", mod(func(s *hSnap) { s.events[0].seats = MaxSeats + 1 })},
		{"event flags 2", mod(func(s *hSnap) { s.events[0].flags = 2 })},
		{"event flags 0x81", mod(func(s *hSnap) { s.events[0].flags = 0x81 })},
		{"more records than seats", mod(func(s *hSnap) { s.events[0].nrecs = u64(3) })},
		{"record count larger than the records", mod(func(s *hSnap) { def(s).recs = def(s).recs[:2]; def(s).nrecs = u64(3) })},
		{"seat beyond capacity", mod(func(s *hSnap) { def(s).recs[2].gap = 2 })},
		{"first seat 0", mod(func(s *hSnap) { def(s).recs[0].gap = 0 })},
		{"seat repeated", mod(func(s *hSnap) { def(s).recs[1].gap = 0 })},
		{"seat state 3", mod(func(s *hSnap) { def(s).recs[0].state = 3 })},
		{"free record without history", mod(func(s *hSnap) { def(s).recs[1].hist = nil })},
		{"held anonymously", mod(func(s *hSnap) { def(s).recs[2].holder = "" })},
		{"holder of 65 bytes", mod(func(s *hSnap) { def(s).recs[0].holder = strings.Repeat("h", 65) })},
		{"history of 17 changes", mod(func(s *hSnap) {
			def(s).recs[0].hist = slices.Repeat([]hChange{{op: 1, same: true, index: 1}}, 17)
		})},
		{"history count larger than the changes", mod(func(s *hSnap) { def(s).recs[0].nhist = u64(2) })},
		{"history op 0", mod(func(s *hSnap) { def(s).recs[0].hist[0].op = 0 })},
		{"history op 7", mod(func(s *hSnap) { def(s).recs[0].hist[0].op = 7 })},
		{"history op 0x41", mod(func(s *hSnap) { def(s).recs[0].hist[0].op = 0x41 })},
		{"history holder of 65 bytes", mod(func(s *hSnap) { def(s).recs[1].hist[0].holder = strings.Repeat("h", 65) })},
		{"duplicate ids", mod(func(s *hSnap) { s.ids[1].id = "x"; s.ids[1].code = 1 })},
		{"empty id", mod(func(s *hSnap) { s.ids[0].id = "" })},
		{"id of 65 bytes", mod(func(s *hSnap) { s.ids[0].id = strings.Repeat("i", 65) })},
		{"id result 0", mod(func(s *hSnap) { s.ids[0].code = 0 })},
		{"id result 11", mod(func(s *hSnap) { s.ids[0].code = 11 })},
		{"id of 101 seats", mod(func(s *hSnap) { s.ids[4].seats = append([]uint64{1}, slices.Repeat([]uint64{1}, 100)...) })},
		{"id seats not ascending", mod(func(s *hSnap) { s.ids[4].seats = []uint64{2, 0} })},
		{"id seats beyond 2^32-1", mod(func(s *hSnap) { s.ids[4].seats = []uint64{math.MaxUint32, 1} })},
		{"HELD id naming seats", mod(func(s *hSnap) { s.ids[1].seats = []uint64{3} })}, // a hold that took effect failed no seat
		{"id count larger than the ids", func() []byte {
			d := (hSnap{version: 2, format: 1, next: 1}).encode()
			return slices.Concat(d[:len(d)-6], binary.AppendUvarint(nil, 1<<40), []byte("ZEND!"))
		}()},
	}
	for _, tc := range tests {
		try(tc.name, tc.data)
	}

	// The limits are accepted.
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"history of 16 changes", mod(func(s *hSnap) {
			def(s).recs[0].hist = slices.Repeat([]hChange{{op: 1, same: true, index: 1}}, 16)
		})},
		{"holder, id and event name of 64 bytes", mod(func(s *hSnap) {
			def(s).recs[0].holder = holder64
			s.ids[0].id = id64
			s.events[0].name = event64
		})},
		{"id of 100 seats", mod(func(s *hSnap) { s.ids[4].seats = append([]uint64{1}, slices.Repeat([]uint64{1}, 99)...) })},
		{"event of MaxSeats seats", mod(func(s *hSnap) { s.events[0].seats = MaxSeats })},
		{"no events", mod(func(s *hSnap) { s.events = nil })},
		{"a free record whose history names holders", mod(func(s *hSnap) {
			def(s).recs[1].hist = []hChange{{op: 3, holder: "a", index: 1, time: 5}, {op: 6, same: true, index: 1}}
		})},
	} {
		if err := restore(New(testOpts), tc.data); err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
		}
	}

	// The intact snapshot still restores.
	want := tinyState(t)
	if err := restore(dst.f, good.encode()); err != nil {
		t.Fatalf("Restore of the intact snapshot: %v", err)
	}
	requireSameState(t, "intact snapshot", dump(dst.f), dump(want.f))
}

// --- the format-1 snapshot ---

type v1Seat struct {
	booked bool
	holder string
}

type v1ID struct {
	id   string
	time int64
	code byte
}

func encodeV1(last int64, seats []v1Seat, ids []v1ID) []byte {
	b := append([]byte(snapshotMagic), 1)
	b = binary.AppendVarint(b, last)
	b = binary.AppendUvarint(b, uint64(len(seats)))
	for _, s := range seats {
		if s.booked {
			b = append(b, 1)
			b = appendStr(b, s.holder)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, a := range ids {
		b = appendStr(b, a.id)
		b = binary.AppendVarint(b, a.time)
		b = append(b, a.code)
	}
	return append(b, snapshotEnd...)
}

func TestRestoreV1Snapshot(t *testing.T) {
	data := encodeV1(7000, []v1Seat{{true, "alice"}, {}, {true, ""}, {}}, []v1ID{{"i1", 6000, 1}, {"i2", 6500, 2}, {"i3", 7000, 3}, {"i4", 7000, 4}, {"i5", 7000, 5}})
	h := newHarness(t, testOpts)
	if err := restore(h.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if h.f.Format() != FormatV1 || h.f.LastTime() != 7000 || h.f.DefaultSeats() != 4 || !slices.Equal(h.f.Events(), []string{DefaultEvent}) {
		t.Fatalf("restored format %d time %d seats %d events %q", h.f.Format(), h.f.LastTime(), h.f.DefaultSeats(), h.f.Events())
	}
	requireEvent(t, h.f, "", seatWant{1: bk("alice"), 3: bk("")}, false)
	for i, id := range []string{"i1", "i2", "i3", "i4", "i5"} {
		if r, ok := h.f.AppliedID(id); !ok || !r.Equal(Result{Code: Code(i + 1)}) {
			t.Errorf("AppliedID(%q) = %+v %v", id, r, ok)
		}
	}
	// Booked seats of format 1 have no history until they change.
	if hist, _ := h.f.History("", 1); hist != nil {
		t.Fatalf("History(1) = %v", hist)
	}
	checkInvariants(t, h.f)
	// Format-1 writes keep format 1's shape: no history, no record of a
	// free seat. Once the cluster is raised, writes of format 2 work on it,
	// events can be created, history is kept, and it snapshots in format 2
	// to the same state.
	h.idx = 100
	if got := h.batchV1(8000, cnl(1, "alice", ""), rsv(2, "", "i1")); !resultsEqual(got, []Result{ResultSuccess, ResultSuccess}) {
		t.Fatalf("format-1 writes = %v", got)
	}
	if hist, _ := h.f.History("", 1); hist != nil {
		t.Fatalf("History(1) after a format-1 cancel = %v", hist)
	}
	h.raise(8000, FormatV2)
	if got := h.batch(8000, cnl(3, "", ""), hld(4, "b", 5, ""), mkEvent("e", 3, "")); !resultsEqual(got, []Result{ResultSuccess, held(13_000), ResultSuccess}) {
		t.Fatalf("format-2 writes = %v", got)
	}
	if hist, _ := h.f.History("", 3); !slices.Equal(hist, []Change{{ChangeCancel, "", 103, 8000}}) {
		t.Fatalf("History(3) = %v", hist)
	}
	r := roundTrip(t, h.f)
	requireSameState(t, "v1, then v2", dump(r), dump(h.f))
	checkInvariants(t, r)

	// A format-1 snapshot of an uninitialised cluster has no default event.
	e := New(testOpts)
	if err := restore(e, encodeV1(5, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if len(e.Events()) != 0 || e.LastTime() != 5 {
		t.Fatalf("events %q, time %d", e.Events(), e.LastTime())
	}
}

func TestRestoreCorruptV1Snapshot(t *testing.T) {
	good := encodeV1(7000, []v1Seat{{true, "alice"}, {}}, []v1ID{{"i1", 6000, 1}, {"i2", 6500, 5}})
	dst := richState(t)
	before := dump(dst.f)
	try := func(name string, bad []byte) {
		t.Helper()
		if err := restore(dst.f, bad); !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrSnapshot", name, err)
		}
		requireSameState(t, name, dump(dst.f), before)
	}
	for n := 0; n < len(good); n++ {
		try(fmt.Sprintf("truncated to %d of %d bytes", n, len(good)), good[:n])
	}
	flag := len(snapshotMagic) + 1 + 2 + 1 // after the magic, version, time (2 bytes) and seat count
	for _, f := range []byte{2, 0x80, 255} {
		bad := slices.Clone(good)
		bad[flag] = f
		try(fmt.Sprintf("seat flag %d", f), bad)
	}
	try("trailing data", append(slices.Clone(good), 0))
	try("bad end", append(slices.Clone(good[:len(good)-1]), '?'))
	try("result 6 in format 1", encodeV1(1, nil, []v1ID{{"i", 1, 6}}))
	try("result 0", encodeV1(1, nil, []v1ID{{"i", 1, 0}}))
	try("empty id", encodeV1(1, nil, []v1ID{{"", 1, 1}}))
	try("duplicate ids", encodeV1(1, nil, []v1ID{{"i", 1, 1}, {"i", 2, 1}}))
	try("holder of 65 bytes", encodeV1(1, []v1Seat{{true, strings.Repeat("h", 65)}}, nil))
	big := binary.AppendUvarint(binary.AppendVarint(append([]byte(snapshotMagic), 1), 0), MaxSeats+1)
	try("MaxSeats+1 seats", big)
	try("seat count 2^64-1", append(binary.AppendVarint(append([]byte(snapshotMagic), 1), 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	if err := restore(dst.f, good); err != nil {
		t.Fatalf("the intact snapshot: %v", err)
	}
}

// Reads are safe while Apply, Snapshot and Restore run (checked by -race).
func TestConcurrentReadsApplyRestore(t *testing.T) {
	h := richState(t)
	data := snapshotBytes(t, h.f)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, ev := range h.f.Events() {
					sum, err := h.f.Summary(ev)
					if err == nil && sum.Total != sum.Free+sum.Booked+sum.Held {
						t.Errorf("Summary %+v", sum)
						return
					}
				}
				h.f.Seat("", uint32(1+g))
				h.f.History("concert", uint32(10+g))
				h.f.AppliedID("b1")
				h.f.DefaultSeats()
				h.f.NextExpiry()
				h.f.LastTime()
				h.f.Format()
				if g == 0 {
					h.f.Digest()
				}
			}
		}()
	}
	for i := 0; i < 300; i++ {
		switch i % 50 {
		case 10:
			if err := restore(h.f, data); err != nil {
				t.Fatal(err)
			}
		case 20:
			if _, err := h.f.Snapshot(); err != nil {
				t.Fatal(err)
			}
		case 30:
			if err := restore(h.f, data[:len(data)-1]); err == nil {
				t.Fatal("truncated snapshot restored")
			}
		}
		h.batch(int64(100_000+i*1000), rsv(uint32(1+i%20), "", fmt.Sprint("cr", i)), cnl(uint32(1+(i+7)%20), "", ""), in("concert", hld(uint32(1+i%100), "h", 2, "")))
	}
	close(stop)
	wg.Wait()
	checkInvariants(t, h.f)
}

// Digest tells states apart by everything they hold, and nothing else: not
// the expiry index (derived), not how the state was reached.
func TestDigest(t *testing.T) {
	base := func() *harness {
		h := newHarness(t, testOpts)
		h.init(1000, 5)
		h.ok(1000, rsv(1, "a", "i"), hld(2, "b", 60, ""), mkEvent("e", 3, ""))
		return h
	}
	want := base().f.Digest()
	if len(want) != 32 || base().f.Digest() != want {
		t.Fatalf("Digest %q is not a stable 128-bit hex string", want)
	}
	variants := []struct {
		name   string
		change func(h *harness)
	}{
		{"a seat booked", func(h *harness) { h.ok(1000, rsv(3, "", "")) }},
		{"only a history entry", func(h *harness) { h.ok(1000, rsv(3, "", ""), cnl(3, "", "")) }},
		{"a holder", func(h *harness) { h.ok(1000, cnl(1, "a", ""), rsv(1, "b", "")) }},
		{"a hold's end", func(h *harness) { h.ok(1000, hld(2, "b", 61, "")) }},
		{"an id", func(h *harness) { h.one(1000, rsv(0, "", "j")) }},
		{"a failed write without id: the clock", func(h *harness) { h.one(1001, rsv(0, "", "")) }},
		{"the clock, by a tick", func(h *harness) { h.tick(2000) }},
		{"an event", func(h *harness) { h.ok(1000, mkEvent("f", 3, "")) }},
		{"the next event id", func(h *harness) { h.ok(1000, mkEvent("f", 3, ""), delEvent("f", "")) }},
		{"a hold seen", func(h *harness) { h.ok(1000, in("e", hld(1, "b", 1, "")), in("e", cnl(1, "b", ""))) }},
	}
	// The format alone tells two states apart.
	v1, v2 := newHarness(t, testOpts), newHarness(t, testOpts)
	v1.initV1(1000, 5)
	v2.init(1000, 5)
	if v1.f.Digest() == v2.f.Digest() {
		t.Error("a cluster at format 1 and one at format 2 have the same Digest")
	}
	seen := map[string]string{want: "base"}
	for _, v := range variants {
		h := base()
		v.change(h)
		d := h.f.Digest()
		if prev, dup := seen[d]; dup {
			t.Errorf("%s: Digest equals that of %s", v.name, prev)
		}
		seen[d] = v.name
	}
	// The same state with a different expiry index (a deleted event's hold
	// still pending on one, not on the other) has the same Digest.
	a, b := base(), base()
	a.ok(1000, mkEvent("g", 2, ""), in("g", hld(1, "x", 5, "")), delEvent("g", ""))
	b.ok(1000, mkEvent("g", 2, ""), delEvent("g", ""))
	if a.f.Digest() != b.f.Digest() {
		t.Fatalf("Digest depends on the expiry index")
	}
	if r := roundTrip(t, a.f); r.Digest() != a.f.Digest() {
		t.Fatalf("Digest differs after a round trip")
	}
}
