package fsm

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const benchSeats = MaxSeats

// benchIDs are precomputed unique ids, so that building an entry in the loop
// allocates nothing. The pool is larger than MinIDs and log time advances a
// second per entry, so by the time an id comes round again it has long been
// forgotten and the write is applied anew.
var benchIDs = sync.OnceValue(func() []string {
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%07d", i)
	}
	return ids
})

// BenchmarkApplyBatch applies entries of 1 and of 64 reserves of distinct
// seats, each with an id and a holder, to an event of a million seats with
// the production id retention: format-1 entries of one seat each, and
// format-2 entries of one seat and of a list of four. The k-th write of the
// run books its seats on even passes over the event and cancels them on
// odd passes, so every write succeeds. Encoding the entry is inside the
// loop (into a reused buffer).
func BenchmarkApplyBatch(b *testing.B) {
	for _, format := range []uint8{FormatV1, FormatV2} {
		for _, size := range []int{1, 64} {
			for _, perWrite := range []int{1, 4} {
				if format == FormatV1 && perWrite > 1 {
					continue
				}
				b.Run(fmt.Sprintf("format=%d/writes=%d/seats=%d", format, size, perWrite), func(b *testing.B) {
					benchApply(b, format, size, perWrite)
				})
			}
		}
	}
}

func benchApply(b *testing.B, format uint8, size, perWrite int) {
	f := New(DefaultOptions())
	f.Apply(&raft.Log{Type: raft.LogCommand, Index: 1, Data: AppendInit(nil, 0, benchSeats)})
	event := ""
	if format == FormatV2 {
		f.Apply(&raft.Log{Type: raft.LogCommand, Index: 2, Data: AppendBatch(nil, FormatV2, 0, []Write{mkEvent("bench", benchSeats, "")})})
		event = "bench"
	}
	buf := make([]byte, 0, 96*size)
	l := &raft.Log{Type: raft.LogCommand}
	ids := benchIDs()
	seats := make([]uint32, perWrite)
	w := Write{Event: event, Holder: "bench-holder"}
	k := 0 // writes so far
	passes := benchSeats / perWrite
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendBatchHeader(buf[:0], format, int64(i)*1000, size)
		for j := 0; j < size; j++ {
			w.Op = OpReserve
			if (k/passes)%2 == 1 {
				w.Op = OpCancel
			}
			first := uint32((k%passes)*perWrite) + 1
			if perWrite == 1 {
				w.Seat, w.Seats = first, nil
			} else {
				for s := range seats {
					seats[s] = first + uint32(s)
				}
				w.Seat, w.Seats = 0, seats
			}
			w.ID = ids[k%len(ids)]
			buf = AppendWrite(buf, format, &w)
			k++
		}
		l.Index = uint64(i + 3)
		l.Data = buf
		res, ok := f.Apply(l).([]Result)
		if !ok || len(res) != size || !res[0].Equal(ResultSuccess) || !res[size-1].Equal(ResultSuccess) {
			b.Fatalf("entry %d: %v", i, f.Apply(l))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/write")
}

func BenchmarkDecode(b *testing.B) {
	for _, format := range []uint8{FormatV1, FormatV2} {
		for _, size := range []int{1, 64} {
			b.Run(fmt.Sprintf("format=%d/writes=%d", format, size), func(b *testing.B) {
				ws := make([]Write, size)
				for i := range ws {
					ws[i] = rsv(uint32(i*15_000+1), "bench-holder", benchIDs()[i])
					if format == FormatV2 {
						ws[i] = in("bench", ws[i])
						if i%2 == 1 {
							ws[i] = many(ws[i], uint32(i*15_000+1), uint32(i*15_000+2), uint32(i*15_000+9))
						}
					}
				}
				data := AppendBatch(nil, format, 1_700_000_000_000, ws)
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := Decode(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSnapshotCapture measures Snapshot() (the part that holds the
// FSM's lock) on states of 10 and of 1,000 events, each of a million seats
// with 1,000 booked: it costs O(events), whatever the seats hold. Persist
// (the encoding, outside the lock) is measured separately.
func BenchmarkSnapshotCapture(b *testing.B) {
	for _, events := range []int{10, 1000} {
		f := New(DefaultOptions())
		idx := uint64(1)
		apply := func(data []byte) {
			f.Apply(&raft.Log{Type: raft.LogCommand, Index: idx, Data: data})
			idx++
		}
		apply(AppendInit(nil, 0, benchSeats))
		for e := 0; e < events; e++ {
			name := fmt.Sprint("ev", e)
			apply(AppendBatch(nil, FormatV2, 0, []Write{mkEvent(name, benchSeats, "")}))
			for s := 0; s < 1000; s += MaxSeatsPerWrite {
				apply(AppendBatch(nil, FormatV2, 0, []Write{in(name, many(rsv(0, "h", ""), seatRange(uint32(s+1), uint32(s+MaxSeatsPerWrite))...))}))
			}
		}
		b.Run(fmt.Sprintf("events=%d/capture", events), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				snap, err := f.Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				snap.Release()
			}
		})
		b.Run(fmt.Sprintf("events=%d/persist", events), func(b *testing.B) {
			b.ReportAllocs()
			var sink fakeSink
			for i := 0; i < b.N; i++ {
				snap, err := f.Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				sink.Reset()
				if err := snap.Persist(&sink); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(sink.Len()))
			}
		})
	}
}

// BenchmarkAppliedIDs measures what the table of applied ids costs: it
// applies one million writes with ids (the bench client's "r<run>.<client>.
// <seq>", 64 per entry, all within the retention) that fail at once (their
// event does not exist), so that the table is all that grows, and reports
// per id the heap it keeps, the snapshot bytes it adds, and the time a full
// garbage collection spends with the table live (gc-ns/id: what the table
// adds to every GC cycle of a loaded node).
func BenchmarkAppliedIDs(b *testing.B) {
	const n, perEntry = 1_000_000, 64
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("r1764773000.%d.%d", i%64, i/64)
	}
	for b.Loop() {
		b.StopTimer()
		before := scaleHeap()
		gcBefore := timeGC()
		b.StartTimer()
		f := New(DefaultOptions())
		f.Apply(&raft.Log{Type: raft.LogCommand, Index: 1, Data: AppendInit(nil, 0, 5)})
		f.Apply(&raft.Log{Type: raft.LogCommand, Index: 2, Data: AppendFormat(nil, 0, FormatV3)})
		var buf []byte
		writes := make([]Write, perEntry)
		for i := 0; i < n; i += perEntry {
			for j := range writes {
				writes[j] = Write{Op: OpReserve, Event: "none", Seat: 1, Holder: "h", ID: ids[i+j]}
			}
			buf = AppendBatch(buf[:0], FormatV3, int64(i/perEntry), writes)
			if res, ok := f.Apply(&raft.Log{Type: raft.LogCommand, Index: uint64(3 + i/perEntry), Data: buf}).([]Result); !ok || res[0].Code != CodeNoEvent {
				b.Fatalf("entry %d: %v", i/perEntry, res)
			}
		}
		b.StopTimer()
		heap := scaleHeap() - before
		gc := timeGC() - gcBefore
		snap, err := f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		var sink fakeSink
		if err := snap.Persist(&sink); err != nil {
			b.Fatal(err)
		}
		if got := f.st.ids.len(); got != n {
			b.Fatalf("%d ids remembered, want %d", got, n)
		}
		b.ReportMetric(float64(heap)/n, "heapB/id")
		b.ReportMetric(float64(sink.Len())/n, "snapB/id")
		b.ReportMetric(float64(gc.Nanoseconds())/n, "gc-ns/id")
		runtime.KeepAlive(f)
		b.StartTimer()
	}
}

// timeGC returns how long one full garbage collection takes now (the best
// of three, so that a stray pause does not count).
func timeGC() time.Duration {
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		runtime.GC()
		best = min(best, time.Since(start))
	}
	return best
}
