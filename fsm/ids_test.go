package fsm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// modelEntry is what the id table must remember of one id.
type modelEntry struct {
	id     string
	timeMs int64
	result Result
}

// randomResult returns a result of any shape the table stores: a bare code,
// a HELD with its end, or a failure naming 1–MaxSeatsPerWrite seats.
func randomResult(rng *rand.Rand, timeMs int64) Result {
	switch rng.IntN(4) {
	case 0:
		return Result{Code: CodeHeld, Expires: timeMs + rng.Int64N(1e6) - 5e5}
	case 1:
		seats := make([]uint32, 1+rng.IntN(MaxSeatsPerWrite))
		for i := range seats {
			seats[i] = uint32(i*3 + rng.IntN(3))
		}
		return Result{Code: CodeAlreadyBooked, Seats: seats}
	}
	return Result{Code: Code(1 + rng.IntN(int(maxCode)))}
}

func randomID(rng *rand.Rand, k int) string {
	if rng.IntN(10) == 0 { // the longest the protocol allows
		return fmt.Sprintf("%064d", k)
	}
	return fmt.Sprintf("%s-%d", strings.Repeat("x", rng.IntN(20)), k)
}

// The id table remembers exactly the ids the retention rule keeps, with
// their results, whatever its chunk lengths and however its hash collides;
// a view keeps reading what the table held when it was taken while ids are
// added and forgotten; and forgetting frees the chunks.
func TestIDTableAgainstModel(t *testing.T) {
	hashes := map[string]func(string) uint64{
		"maphash":       nil, // newIDTable's
		"three buckets": func(id string) uint64 { return uint64(len(id) % 3) },
		"one bucket":    func(string) uint64 { return 42 },
	}
	shapes := map[string][3]uint{"production": {idRecordShift, idBytesShift, idSeatsShift}, "tiny": {2, 6, 7}}
	for hname, hash := range hashes {
		for sname, shape := range shapes {
			t.Run(hname+"/"+sname, func(t *testing.T) {
				tbl := newIDTable(Options{IDRetention: time.Minute, MinIDs: 50})
				tbl.records, tbl.bytes, tbl.seats = newChunks[idRecord](shape[0]), newChunks[byte](shape[1]), newChunks[uint32](shape[2])
				if hash != nil {
					tbl.hash = hash
				}
				checkIDTable(t, &tbl, 10_000)
			})
		}
	}
}

func checkIDTable(t *testing.T, tbl *idTable, n int) {
	rng := rand.New(rand.NewPCG(7, 11))
	var live, gone []modelEntry
	type pinned struct {
		view idView
		want []modelEntry
	}
	var views []pinned
	now := int64(0)
	maxRecordChunks := 0
	for k := 0; k < n; k++ {
		// Bursts and lulls, so that the ids kept are sometimes the
		// retention's and sometimes the last MinIDs.
		now += []int64{1, 10, 900}[k/500%3]
		e := modelEntry{randomID(rng, k), now, randomResult(rng, now)}
		if _, ok := tbl.lookup(e.id); ok {
			t.Fatalf("new id %q found before it was added", e.id)
		}
		tbl.add(e.id, e.timeMs, e.result)
		live = append(live, e)
		if rng.IntN(3) == 0 {
			tbl.forgetOld(now)
			for len(live) > 50 && live[0].timeMs < now-60_000 {
				gone, live = append(gone, live[0]), live[1:]
			}
		}
		if rng.IntN(200) == 0 {
			views = append(views, pinned{tbl.view(), slices.Clone(live)})
		}
		maxRecordChunks = max(maxRecordChunks, len(tbl.records.list))
		if k%50 != 0 && k != n-1 {
			continue
		}
		if tbl.len() != len(live) || len(tbl.index)+len(tbl.overflow) != len(live) {
			t.Fatalf("after %d ids: table holds %d (%d indexed, %d overflow), want %d", k+1, tbl.len(), len(tbl.index), len(tbl.overflow), len(live))
		}
		for _, e := range live {
			if r, ok := tbl.lookup(e.id); !ok || !r.Equal(e.result) {
				t.Fatalf("after %d ids: %q = %v, %v; want %v", k+1, e.id, r, ok, e.result)
			}
		}
		for _, e := range gone[max(0, len(gone)-2000):] {
			if _, ok := tbl.lookup(e.id); ok {
				t.Fatalf("after %d ids: forgotten id %q found", k+1, e.id)
			}
		}
		for _, p := range views {
			requireViewHolds(t, p.view, p.want)
		}
	}
	if len(gone) == 0 || len(views) == 0 {
		t.Fatalf("%d ids forgotten, %d views: the test covers nothing", len(gone), len(views))
	}
	// Chunks are freed: the table never held many more records than are
	// live at once.
	size := 1 << tbl.records.shift
	if most := maxRecordChunks * size; tbl.records.first == 0 || most > 2*n/3+2*size {
		t.Errorf("records of %d ids held in up to %d chunks of %d; first kept %d", n, maxRecordChunks, size, tbl.records.first)
	}
}

func requireViewHolds(t *testing.T, v idView, want []modelEntry) {
	t.Helper()
	if v.len() != len(want) {
		t.Fatalf("view holds %d ids, want %d", v.len(), len(want))
	}
	i := 0
	for id, e := range v.all() {
		if w := want[i]; id != w.id || e.timeMs != w.timeMs || !e.result.Equal(w.result) {
			t.Fatalf("view's id %d is %q at %d %v, want %q at %d %v", i, id, e.timeMs, e.result, w.id, w.timeMs, w.result)
		}
		i++
	}
}

// A lookup's seats, the view's and the table's memory stay as they were
// whatever the caller does later with the table (chunks are never reused).
func TestIDTableResultSurvivesForgetting(t *testing.T) {
	tbl := newIDTable(Options{IDRetention: time.Second, MinIDs: 0})
	tbl.records, tbl.bytes, tbl.seats = newChunks[idRecord](1), newChunks[byte](6), newChunks[uint32](2)
	tbl.add("a", 0, Result{Code: CodeAlreadyBooked, Seats: []uint32{4, 7}})
	r, _ := tbl.lookup("a")
	for k := 0; k < 100; k++ {
		tbl.add(fmt.Sprint("b", k), int64(k)*1000, Result{Code: CodeNotBooked, Seats: []uint32{uint32(k), uint32(k) + 1}})
		tbl.forgetOld(int64(k) * 1000)
	}
	if _, ok := tbl.lookup("a"); ok {
		t.Fatal("a is still remembered: the test covers nothing")
	}
	if !slices.Equal(r.Seats, []uint32{4, 7}) {
		t.Fatalf("a's seats became %v", r.Seats)
	}
	if got := len(tbl.seats.list); got > 2 {
		t.Errorf("%d seat chunks kept for 2 ids' seats", got)
	}
}
