package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	holder64 = strings.Repeat("h", 64)
	id64     = strings.Repeat("I", 64)
)

// richState builds an FSM (testOpts) with holders, anonymous bookings, ids of
// every result and some ids already forgotten, so the id log has a dead
// prefix when a snapshot is taken.
func richState(t testing.TB) *harness {
	t.Helper()
	h := newHarness(t, testOpts)
	h.init(1000, 20)
	want := []Result{ResultSuccess, ResultSuccess, ResultSuccess, ResultAlreadyBooked, ResultNotBooked}
	if got := h.batch(1000, rsv(1, "alice", "a1"), rsv(2, "", "a2"), rsv(3, "bob", "a3"), rsv(3, "carol", "a4"), cnl(4, "", "a5")); !slices.Equal(got, want) {
		t.Fatalf("setup: %v, want %v", got, want)
	}
	want = []Result{ResultSuccess, ResultSuccess, ResultNotHolder, ResultInvalidSeat}
	if got := h.batch(70_000, rsv(5, "", "b1"), rsv(20, "x.y_z@q:r-1", "b2"), cnl(1, "bob", "b3"), rsv(21, "", id64)); !slices.Equal(got, want) {
		t.Fatalf("setup: %v, want %v", got, want)
	}
	h.batch(80_000, rsv(6, "", ""), rsv(7, holder64, ""), rsv(8, "bob", ""), cnl(8, "bob", ""))
	d := dump(h.f)
	if len(d.Live) != 4 || d.LastTimeMs != 80_000 {
		t.Fatalf("setup did not produce the intended state:\n%v", d)
	}
	return h
}

// allIDs are the ids richState and the follow-up entries use.
var allIDs = []string{"a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", id64, "c1", "c2", "c3", "d1", "old1", "old2"}

// followUp are entries applied to an FSM and to its restored copy; they move
// time backwards and forwards across the retention boundary of the ids
// recorded before the snapshot.
var followUp = []struct {
	time   int64
	writes []Write
}{
	{10, []Write{rsv(9, "", "c1"), cnl(5, "", "c2"), rsv(1, "zed", "")}}, // backwards: applied at 80,000
	{130_000, []Write{noID}},                     // b* at 70,000: exactly a minute old, kept
	{130_001, []Write{noID}},                     // b1..b3 forgotten, 3 left
	{140_000, []Write{cnl(1, "alice", "c3")}},    // c1, c2 at 80,000 exactly a minute old; id64 goes
	{140_001, []Write{rsv(1, "", "d1")}},         // c1 goes
	{140_002, []Write{cnl(9, "", "c1")}},         // c1 forgotten: applies anew
	{1_000_000, []Write{rsv(2, "", "a2"), noID}}, // a2 long forgotten: applies anew
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := richState(t)
	data := snapshotBytes(t, h.f)

	r := newHarness(t, testOpts)
	if err := restore(r.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "restored", dump(r.f), dump(h.f))
	checkInvariants(t, r.f)
	compareObservable(t, r.f, h.f)

	// The restored state snapshots to the same bytes.
	if again := snapshotBytes(t, r.f); !bytes.Equal(again, data) {
		t.Fatalf("snapshot of restored state differs:\n%x\n%x", again, data)
	}

	for i, e := range followUp {
		got := r.batch(e.time, e.writes...)
		want := h.batch(e.time, e.writes...)
		if !slices.Equal(got, want) {
			t.Fatalf("follow-up %d at %d: restored %v, original %v", i, e.time, got, want)
		}
		requireSameState(t, fmt.Sprintf("after follow-up %d", i), dump(r.f), dump(h.f))
		compareObservable(t, r.f, h.f)
	}
	// Spot-check that the follow-ups did what their comments say, so the
	// comparison above covered id expiry.
	if got, want := liveIDs(r.f, allIDs...), []string{"a2", "c1", "d1"}; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("remembered ids %v, want %v", got, want)
	}
}

// compareObservable compares everything the FSM exposes.
func compareObservable(t *testing.T, got, want *FSM) {
	t.Helper()
	if got.Seats() != want.Seats() {
		t.Fatalf("Seats %d, want %d", got.Seats(), want.Seats())
	}
	gt, gf, gb := got.Summary()
	wt, wf, wb := want.Summary()
	if gt != wt || gf != wf || gb != wb {
		t.Fatalf("Summary %d %d %d, want %d %d %d", gt, gf, gb, wt, wf, wb)
	}
	for n := uint32(0); n <= uint32(want.Seats())+1; n++ {
		b1, h1, ok1 := got.SeatStatus(n)
		b2, h2, ok2 := want.SeatStatus(n)
		if b1 != b2 || h1 != h2 || ok1 != ok2 {
			t.Fatalf("SeatStatus(%d) = %v %q %v, want %v %q %v", n, b1, h1, ok1, b2, h2, ok2)
		}
	}
	for _, id := range allIDs {
		r1, ok1 := got.AppliedID(id)
		r2, ok2 := want.AppliedID(id)
		if r1 != r2 || ok1 != ok2 {
			t.Fatalf("AppliedID(%q) = %v %v, want %v %v", id, r1, ok1, r2, ok2)
		}
	}
}

func TestSnapshotFormat(t *testing.T) {
	h := newHarness(t, testOpts)
	h.init(300, 3)
	h.batch(200, rsv(1, "", "x"), rsv(3, "ab", ""), rsv(2, "", "yz"), cnl(2, "", ""))
	got := snapshotBytes(t, h.f)
	var want []byte
	want = append(want, "SEATSNAP"...)
	want = append(want, 1)
	want = binary.AppendVarint(want, 300)
	want = append(want, 3, 1, 0, 0, 1, 2, 'a', 'b')
	want = append(want, 2, 1, 'x')
	want = binary.AppendVarint(want, 300)
	want = append(want, byte(ResultSuccess), 2, 'y', 'z')
	want = binary.AppendVarint(want, 300)
	want = append(want, byte(ResultSuccess))
	want = append(want, "END!"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("snapshot bytes\n got %q\nwant %q", got, want)
	}
}

func TestSnapshotOfEmptyFSM(t *testing.T) {
	data := snapshotBytes(t, New(testOpts))
	r := richState(t)
	if err := restore(r.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "restored empty", dump(r.f), dump(New(testOpts)))
	if total, free, booked := r.f.Summary(); total != 0 || free != 0 || booked != 0 {
		t.Fatalf("Summary = %d %d %d", total, free, booked)
	}
	if got := liveIDs(r.f, allIDs...); got != nil {
		t.Fatalf("ids survived the restore: %v", got)
	}
	// Uninitialised again: writes are invalid, and the next Init takes.
	if got := r.one(1, rsv(1, "", "")); got != ResultInvalidSeat {
		t.Fatalf("write after restoring an empty snapshot = %v", got)
	}
	r.init(2, 2)
	if r.f.Seats() != 2 {
		t.Fatalf("Seats = %d after Init, want 2", r.f.Seats())
	}
}

func TestRestoreReplacesState(t *testing.T) {
	src := richState(t)
	data := snapshotBytes(t, src.f)

	// Another FSM with more seats, other bookings, other ids and a later clock.
	dst := newHarness(t, testOpts)
	dst.init(5_000_000, 30)
	dst.batch(5_000_000, rsv(4, "mallory", "old1"), rsv(9, "", "old2"), rsv(30, "eve", "a1"), rsv(20, "", ""))
	if err := restore(dst.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "after restore", dump(dst.f), dump(src.f))
	compareObservable(t, dst.f, src.f)
	for _, id := range []string{"old1", "old2"} {
		if _, ok := dst.f.AppliedID(id); ok {
			t.Errorf("id %q from before the restore survived", id)
		}
	}
	if r, _ := dst.f.AppliedID("a1"); r != 0 {
		t.Errorf("AppliedID(a1) = %v, want forgotten as in the snapshot", r)
	}
	if b, h, _ := dst.f.SeatStatus(4); b || h != "" {
		t.Errorf("seat 4 still booked by %q after restore", h)
	}
	// The clock came from the snapshot, not from before.
	if d := dump(dst.f); d.LastTimeMs != 80_000 {
		t.Errorf("lastTimeMs = %d, want 80000", d.LastTimeMs)
	}
	checkInvariants(t, dst.f)
}

// A snapshot reflects the state when Snapshot() returned, whatever is applied
// before Persist runs: bookings, new ids, forgotten ids, compaction.
func TestSnapshotIsolation(t *testing.T) {
	h := richState(t)
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := dump(h.f)

	// Append one id (possibly into spare capacity of the shared id log).
	h.one(80_000, rsv(10, "", "e0"))
	// Change bookings, then forget every id from the snapshot and push
	// enough ids through to compact the id log more than once.
	h.batch(80_001, cnl(1, "alice", ""), rsv(11, "", ""), cnl(5, "", "e1"), rsv(1, "other", ""))
	h.init(80_002, 99)
	tm := int64(200_000)
	compacted := false
	for i := 0; i < 400; i++ {
		ws := make([]Write, 10)
		for j := range ws {
			ws[j] = rsv(uint32(12+j%5), "p", fmt.Sprintf("f%d-%d", i, j))
		}
		head := h.f.st.head
		h.batch(tm, ws...)
		compacted = compacted || h.f.st.head < head
		tm += 61_000
	}
	if !compacted {
		t.Fatalf("the id log was never compacted; the test does not cover it")
	}
	for _, id := range []string{"b1", "b2", "b3", id64} {
		if _, ok := h.f.AppliedID(id); ok {
			t.Fatalf("id %q still remembered; the test does not cover forgetting", id)
		}
	}

	data := persist(t, snap)
	r := newHarness(t, testOpts)
	if err := restore(r.f, data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	requireSameState(t, "restored snapshot", dump(r.f), want)
}

// Persist runs concurrently with Apply (raft does so); with -race this
// checks that the shared id log is never written where a snapshot reads it.
func TestSnapshotPersistConcurrentWithApply(t *testing.T) {
	for round := 0; round < 5; round++ {
		h := richState(t)
		snaps := make([]*snapshotAt, 0, 8)
		var wg sync.WaitGroup
		tm := int64(100_000)
		for i := 0; i < 2000; i++ {
			if i%250 == round {
				snap, err := h.f.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				s := &snapshotAt{want: dump(h.f)}
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
				ws[j] = Write{Op: Op(1 + (i+j)%2), Seat: uint32(1 + (i*7+j)%20), Holder: []string{"", "u", "v"}[j%3], ID: fmt.Sprintf("g%d-%d", i, j)}
			}
			h.batch(tm, ws...)
			tm += int64(i%3) * 7_000
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
		}
	}
}

type snapshotAt struct {
	want stateDump
	data []byte
	err  error
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

// seatFlagOffset is where the first seat's flag byte is in data.
func seatFlagOffset(t *testing.T, data []byte) int {
	t.Helper()
	off := len(snapshotMagic) + 1
	_, n := binary.Varint(data[off:])
	off += n
	seats, n := binary.Uvarint(data[off:])
	if seats == 0 {
		t.Fatalf("snapshot has no seats")
	}
	return off + n
}

// freeSeatFlagOffset walks the seats of data and returns the offset of the
// first free seat's flag.
func freeSeatFlagOffset(t *testing.T, data []byte) int {
	t.Helper()
	off := len(snapshotMagic) + 1
	_, n := binary.Varint(data[off:])
	off += n
	seats, n := binary.Uvarint(data[off:])
	off += n
	for i := uint64(0); i < seats; i++ {
		if data[off] == 0 {
			return off
		}
		l, n := binary.Uvarint(data[off+1:])
		off += 1 + n + int(l)
	}
	t.Fatalf("snapshot has no free seat")
	return 0
}

// handSnapshot encodes a snapshot at time 5: seats seats, the first of them
// with the given flag byte(s) and holder (the others free), then the ids,
// each at time 5 with result SUCCESS.
func handSnapshot(seats uint64, flag, holder string, ids ...string) []byte {
	out := []byte(snapshotMagic)
	out = append(out, snapshotVersion)
	out = binary.AppendVarint(out, 5)
	out = binary.AppendUvarint(out, seats)
	for i := uint64(0); i < seats; i++ {
		if i > 0 {
			out = append(out, 0)
			continue
		}
		out = append(out, flag...)
		if flag == string(rune(1)) {
			out = binary.AppendUvarint(out, uint64(len(holder)))
			out = append(out, holder...)
		}
	}
	out = binary.AppendUvarint(out, uint64(len(ids)))
	for _, id := range ids {
		out = binary.AppendUvarint(out, uint64(len(id)))
		out = append(out, id...)
		out = binary.AppendVarint(out, 5)
		out = append(out, byte(ResultSuccess))
	}
	return append(out, snapshotEnd...)
}

func TestRestoreCorruptSnapshot(t *testing.T) {
	src := richState(t)
	data := snapshotBytes(t, src.f)

	dst := newHarness(t, testOpts)
	dst.init(3, 4)
	dst.batch(4, rsv(2, "keep", "kept-id"), rsv(3, "", ""))
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
	patch := func(off int, b ...byte) []byte {
		out := slices.Clone(data)
		copy(out[off:], b)
		return out
	}

	for n := 0; n < len(data); n++ {
		try(fmt.Sprintf("truncated to %d of %d bytes", n, len(data)), data[:n])
	}
	for i := 0; i < len(snapshotMagic); i++ {
		try(fmt.Sprintf("magic byte %d", i), patch(i, data[i]^0x20))
	}
	for _, v := range []byte{0, 2, 255} {
		try(fmt.Sprintf("version %d", v), patch(len(snapshotMagic), v))
	}
	flag := seatFlagOffset(t, data)
	for _, f := range []byte{2, 0x80, 255} {
		try(fmt.Sprintf("seat flag %d", f), patch(flag, f))
	}
	// The same on a free seat, so that nothing but the flag is wrong.
	free := freeSeatFlagOffset(t, data)
	for _, f := range []byte{2, 3, 255} {
		try(fmt.Sprintf("free seat's flag %d", f), patch(free, f))
	}
	// Snapshots that are well-formed except for one too-long string.
	try("booked seat with 65-byte holder", handSnapshot(1, string(rune(1)), strings.Repeat("h", 65)))
	try("id of 65 bytes, complete", handSnapshot(0, "", "", strings.Repeat("i", 65)))
	for _, ok := range [][]byte{
		handSnapshot(1, string(rune(1)), holder64),
		handSnapshot(0, "", "", id64),
	} {
		scratch := New(testOpts)
		if err := restore(scratch, ok); err != nil {
			t.Fatalf("a snapshot with 64-byte strings is refused: %v", err)
		}
	}
	// Seat 1 is booked by "alice": its holder length follows the flag.
	if data[flag] != 1 || data[flag+1] != 5 {
		t.Fatalf("unexpected first seat encoding % x", data[flag:flag+2])
	}
	try("holder of 65 bytes", patch(flag+1, 65))
	try("holder longer than the snapshot", patch(flag+1, 0x7f))
	try("end marker", patch(len(data)-1, '?'))

	// A seat count beyond MaxSeats.
	var big []byte
	big = append(big, snapshotMagic...)
	big = append(big, snapshotVersion)
	big = binary.AppendVarint(big, 0)
	big = binary.AppendUvarint(big, MaxSeats+1)
	try("seat count MaxSeats+1", big)
	try("seat count 2^64-1", append(big[:len(big)-3], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	// An id longer than the protocol allows, and an id count larger than
	// what follows.
	var ids []byte
	ids = append(ids, snapshotMagic...)
	ids = append(ids, snapshotVersion)
	ids = binary.AppendVarint(ids, 0)
	ids = binary.AppendUvarint(ids, 0)
	ids = binary.AppendUvarint(ids, 1)
	try("id of 65 bytes", append(binary.AppendUvarint(slices.Clone(ids), 65), strings.Repeat("i", 65)...))
	try("id count too large", append(binary.AppendUvarint(slices.Clone(ids[:len(ids)-1]), 1<<40), "END!"...))
	try("not a snapshot", []byte("hello, world"))

	// The intact snapshot still restores.
	if err := restore(dst.f, data); err != nil {
		t.Fatalf("Restore of the intact snapshot: %v", err)
	}
	requireSameState(t, "intact snapshot", dump(dst.f), dump(src.f))
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
				total, free, booked := h.f.Summary()
				if total != free+booked {
					t.Errorf("Summary %d != %d + %d", total, free, booked)
					return
				}
				h.f.SeatStatus(uint32(1 + g))
				h.f.AppliedID("b1")
				h.f.Seats()
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
		h.batch(int64(100_000+i*1000), rsv(uint32(1+i%20), "", fmt.Sprint("cr", i)), cnl(uint32(1+(i+7)%20), "", ""))
	}
	close(stop)
	wg.Wait()
	checkInvariants(t, h.f)
}
