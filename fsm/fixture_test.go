package fsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// The fixtures in testdata/v1 were written by the build before events (entry
// and snapshot version 1); see testdata/v1/README.md.
const (
	fixtureDir           = "testdata/v1"
	fixtureSnapshotIndex = 35
)

// readFixtureLog reads log.bin: magic "SEATLOG1", then per entry index,
// term (uvarints), type (1 byte), length (uvarint) and data.
func readFixtureLog(t *testing.T) []*raft.Log {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, "log.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("SEATLOG1")) {
		t.Fatalf("log.bin: no SEATLOG1 magic")
	}
	r := bytes.NewReader(data[8:])
	var logs []*raft.Log
	for r.Len() > 0 {
		var l raft.Log
		var err error
		if l.Index, err = binary.ReadUvarint(r); err != nil {
			t.Fatalf("log.bin: index: %v", err)
		}
		if l.Term, err = binary.ReadUvarint(r); err != nil {
			t.Fatalf("log.bin: term: %v", err)
		}
		typ, err := r.ReadByte()
		if err != nil {
			t.Fatalf("log.bin: type: %v", err)
		}
		l.Type = raft.LogType(typ)
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			t.Fatalf("log.bin: entry %d: length %d of %d left: %v", l.Index, n, r.Len(), err)
		}
		l.Data = make([]byte, n)
		r.Read(l.Data)
		logs = append(logs, &l)
	}
	return logs
}

// fixtureWrite is one line of answers.txt: a write sent and its answer.
type fixtureWrite struct {
	line   string
	w      Write
	answer Result
}

// readAnswers parses answers.txt: "RESERVE|CANCEL <seat> [<holder>] id=<id> => <answer>".
func readAnswers(t *testing.T) []fixtureWrite {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, "answers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	codes := map[string]Code{}
	for c := CodeSuccess; c <= maxCode; c++ {
		codes[c.String()] = c
	}
	var out []fixtureWrite
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		req, ans, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("answers.txt: %q", line)
		}
		code, ok := codes[ans]
		if !ok {
			t.Fatalf("answers.txt: answer %q", ans)
		}
		f := strings.Fields(req)
		seat, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			t.Fatalf("answers.txt: %q: %v", line, err)
		}
		w := Write{Seat: uint32(seat)}
		switch f[0] {
		case "RESERVE":
			w.Op = OpReserve
		case "CANCEL":
			w.Op = OpCancel
		default:
			t.Fatalf("answers.txt: verb %q", f[0])
		}
		for _, tok := range f[2:] {
			if id, ok := strings.CutPrefix(tok, "id="); ok {
				w.ID = id
			} else {
				w.Holder = tok
			}
		}
		if w.ID == "" {
			t.Fatalf("answers.txt: a write without id: %q", line)
		}
		out = append(out, fixtureWrite{line, w, Result{Code: code}})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readFinal parses final.txt: "STATUS <seat> => FREE|BOOKED [<holder>]"
// and the summary line "STATUS => SEATS ...".
func readFinal(t *testing.T) (map[uint32]SeatInfo, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, "final.txt"))
	if err != nil {
		t.Fatal(err)
	}
	seats := map[uint32]SeatInfo{}
	var summary string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		req, ans, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("final.txt: %q", line)
		}
		if req == "STATUS" {
			summary = ans
			continue
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(req, "STATUS "), 10, 32)
		if err != nil {
			t.Fatalf("final.txt: %q", line)
		}
		switch f := strings.Fields(ans); {
		case len(f) == 1 && f[0] == "FREE":
			seats[uint32(n)] = SeatInfo{}
		case len(f) == 1 && f[0] == "BOOKED":
			seats[uint32(n)] = bk("")
		case len(f) == 2 && f[0] == "BOOKED":
			seats[uint32(n)] = bk(f[1])
		default:
			t.Fatalf("final.txt: %q", line)
		}
	}
	return seats, summary
}

// formatSummary is the part-1 summary line of an event that never saw a
// hold.
func formatSummary(s Summary) string {
	return fmt.Sprintf("SEATS %d FREE %d BOOKED %d", s.Total, s.Free, s.Booked)
}

// TestV1Fixtures restores the old build's snapshot, replays its log after
// the snapshot's index and checks that the state is what the old cluster
// answered, that every write re-sent with its id gets its recorded answer
// and changes nothing, and that the state survives a format-2 snapshot.
func TestV1Fixtures(t *testing.T) {
	snap, err := os.ReadFile(filepath.Join(fixtureDir, "snapshot.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) < 9 || string(snap[:8]) != snapshotMagic || snap[8] != snapshotVersionV1 {
		t.Fatalf("snapshot.bin is not a format-1 snapshot: % x", snap[:min(len(snap), 9)])
	}
	answers := readAnswers(t)
	byID := map[string]fixtureWrite{}
	for _, a := range answers {
		if prev, ok := byID[a.w.ID]; ok && !prev.answer.Equal(a.answer) {
			t.Fatalf("answers.txt: id %s answered %v and %v", a.w.ID, prev.answer, a.answer)
		}
		byID[a.w.ID] = a
	}
	wantSeats, wantSummary := readFinal(t)
	if len(wantSeats) != 20 || wantSummary != "SEATS 20 FREE 4 BOOKED 16" {
		t.Fatalf("final.txt: %d seats, summary %q", len(wantSeats), wantSummary)
	}

	f := New(DefaultOptions())
	if err := restore(f, snap); err != nil {
		t.Fatalf("Restore(snapshot.bin): %v", err)
	}
	// A cluster at format 1 snapshots in the first release's format, byte
	// for byte what that release wrote: a node of it can install it.
	if again := snapshotBytes(t, f); !bytes.Equal(again, snap) {
		t.Fatalf("the snapshot of the restored fixture differs from snapshot.bin:\n%q\n%q", again, snap)
	}
	if f.Format() != FormatV1 || f.DefaultSeats() != 20 || len(f.Events()) != 1 {
		t.Fatalf("restored format %d, %d seats, events %q", f.Format(), f.DefaultSeats(), f.Events())
	}
	restoredTime := f.LastTime()
	if restoredTime < 1_700_000_000_000 {
		t.Fatalf("restored time %d", restoredTime)
	}
	checkInvariants(t, f)

	// Replay the log after the snapshot. Each entry carries one write of
	// answers.txt, and is answered as the old cluster answered it.
	logs := readFixtureLog(t)
	if len(logs) != 16 || logs[0].Index != 33 || logs[len(logs)-1].Index != 48 {
		t.Fatalf("log.bin holds %d entries", len(logs))
	}
	replayed := 0
	for _, l := range logs {
		if l.Index <= fixtureSnapshotIndex || l.Type != raft.LogCommand {
			continue
		}
		e, err := Decode(l.Data)
		if err != nil || e.Version != FormatV1 || e.Type != TypeBatch {
			t.Fatalf("entry %d: %+v, %v", l.Index, e, err)
		}
		res, ok := f.Apply(l).([]Result)
		if !ok || len(res) != len(e.Writes) {
			t.Fatalf("entry %d: Apply = %v", l.Index, f.Apply(l))
		}
		for i, w := range e.Writes {
			a, ok := byID[w.ID]
			if !ok {
				t.Fatalf("entry %d: write %+v is not in answers.txt", l.Index, w)
			}
			if !reflect.DeepEqual(a.w, w) {
				t.Fatalf("entry %d: write %+v, answers.txt sent %q", l.Index, w, a.line)
			}
			if !res[i].Equal(a.answer) {
				t.Errorf("entry %d: %q answered %v, the old cluster %v", l.Index, a.line, res[i], a.answer)
			}
		}
		replayed++
	}
	if replayed != 13 {
		t.Fatalf("replayed %d entries, want 13 (36 to 48)", replayed)
	}
	if f.LastTime() < restoredTime {
		t.Fatalf("time went back: %d < %d", f.LastTime(), restoredTime)
	}

	checkFinal := func(t *testing.T, f *FSM) {
		t.Helper()
		for n := uint32(1); n <= 20; n++ {
			if got, err := f.Seat("", n); err != nil || got != wantSeats[n] {
				t.Errorf("seat %d = %+v, %v; final.txt says %+v", n, got, err, wantSeats[n])
			}
		}
		sum, err := f.Summary("")
		if err != nil || formatSummary(sum) != wantSummary || sum.SawHold || sum.Held != 0 {
			t.Errorf("Summary = %+v, %v; final.txt says %q", sum, err, wantSummary)
		}
	}
	checkFinal(t, f)
	checkInvariants(t, f)

	// Every id'd write re-sent (as a format-1 entry, as an old leader
	// would): the recorded answer, and nothing changes.
	digest := f.Digest()
	idx := logs[len(logs)-1].Index
	for _, a := range answers {
		idx++
		got := f.Apply(&raft.Log{Type: raft.LogCommand, Index: idx, Data: AppendBatch(nil, FormatV1, 0, []Write{a.w})})
		res, ok := got.([]Result)
		if !ok || len(res) != 1 || !res[0].Equal(a.answer) {
			t.Errorf("re-sent %q: %v", a.line, got)
		}
		if r, ok := f.AppliedID(a.w.ID); !ok || !r.Equal(a.answer) {
			t.Errorf("AppliedID(%s) = %v %v", a.w.ID, r, ok)
		}
	}
	if f.Digest() != digest {
		t.Fatalf("re-sending the writes changed the state")
	}
	// And re-sent as format-2 entries, the same.
	for _, a := range answers {
		idx++
		res, _ := f.Apply(&raft.Log{Type: raft.LogCommand, Index: idx, Data: AppendBatch(nil, FormatV2, 0, []Write{a.w})}).([]Result)
		if len(res) != 1 || !res[0].Equal(a.answer) {
			t.Errorf("re-sent %q in format 2: %v", a.line, res)
		}
	}
	if f.Digest() != digest {
		t.Fatalf("re-sending the writes in format 2 changed the state")
	}
	checkFinal(t, f)

	// Still at format 1, the snapshot is in version 1 and restores to the
	// same state.
	v1 := snapshotBytes(t, f)
	if v1[8] != snapshotVersionV1 {
		t.Fatalf("snapshot version %d at format 1", v1[8])
	}
	g := New(DefaultOptions())
	if err := restore(g, v1); err != nil {
		t.Fatalf("Restore of the format-1 snapshot: %v", err)
	}
	if g.Digest() != digest {
		t.Fatalf("Digest after the round trip %s, want %s", g.Digest(), digest)
	}
	requireSameState(t, "format-1 round trip", dump(g), dump(f))
	checkFinal(t, g)

	// The upgraded cluster goes on: format 2, events, holds.
	h := &harness{t: t, f: g, idx: idx}
	h.raise(0, FormatV2)
	if got := h.batch(0, hld(7, "zoe", 60, "p3-h7"), mkEvent("gala", 10, ""), rsv(7, "x", "")); got[0].Code != CodeHeld || !got[1].Equal(ResultSuccess) || !got[2].Equal(ResultAlreadyBooked) {
		t.Fatalf("format-2 writes after the upgrade: %v", got)
	}
	checkInvariants(t, g)
}

// The old build's snapshot alone, restored and snapshotted again in format 2,
// gives the same state.
func TestV1FixtureSnapshotOnly(t *testing.T) {
	snap, err := os.ReadFile(filepath.Join(fixtureDir, "snapshot.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f := New(DefaultOptions())
	if err := restore(f, snap); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1-r1", "p1-anon13", "p1-bad21", "p1-race3"} {
		if _, ok := f.AppliedID(id); !ok {
			t.Errorf("id %s of the snapshot is not remembered", id)
		}
	}
	if _, ok := f.AppliedID("p1-race4"); ok {
		t.Errorf("id p1-race4 is after the snapshot's index")
	}
	if r, _ := f.AppliedID("p1-bad21"); !r.Equal(ResultInvalidSeat) {
		t.Errorf("p1-bad21 = %v", r)
	}
	g := roundTrip(t, f)
	if g.Digest() != f.Digest() {
		t.Fatalf("Digest differs after the round trip")
	}
	requireSameState(t, "round trip", dump(g), dump(f))
	// Replaying the whole log, the entries the snapshot holds included,
	// gives the same as replaying only the later ones: their ids are
	// remembered.
	all, later := roundTrip(t, f), roundTrip(t, f)
	for _, l := range readFixtureLog(t) {
		all.Apply(l)
		if l.Index > fixtureSnapshotIndex {
			later.Apply(l)
		}
	}
	requireSameState(t, "whole log vs later entries", dump(all), dump(later))
}
