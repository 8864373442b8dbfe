package fsm

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

const benchSeats = 1_000_000

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
// seats, each with an id and a holder, to an FSM with a million seats and the
// production id retention. The k-th write of the run books seat k mod 10⁶ on
// even passes over the seats and cancels it on odd passes, so every write
// succeeds and the map never runs out of free seats. Encoding the entry is
// inside the loop (into a reused buffer, without allocating).
func BenchmarkApplyBatch(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("writes=%d", size), func(b *testing.B) {
			f := New(DefaultOptions())
			f.Apply(&raft.Log{Type: raft.LogCommand, Index: 1, Data: AppendInit(nil, 0, benchSeats)})
			buf := make([]byte, 0, 64*size)
			l := &raft.Log{Type: raft.LogCommand}
			ids := benchIDs()
			k := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf = AppendBatchHeader(buf[:0], int64(i)*1000, size)
				for j := 0; j < size; j++ {
					op := OpReserve
					if (k/benchSeats)%2 == 1 {
						op = OpCancel
					}
					buf = AppendWrite(buf, Write{Op: op, Seat: uint32(k%benchSeats) + 1, Holder: "bench-holder", ID: ids[k%len(ids)]})
					k++
				}
				l.Index = uint64(i + 2)
				l.Data = buf
				res, ok := f.Apply(l).([]Result)
				if !ok || len(res) != size || res[0] != ResultSuccess || res[size-1] != ResultSuccess {
					b.Fatalf("entry %d: %v", i, res)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/write")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("writes=%d", size), func(b *testing.B) {
			ws := make([]Write, size)
			for i := range ws {
				ws[i] = rsv(uint32(i*15_000+1), "bench-holder", benchIDs()[i])
			}
			data := AppendBatch(nil, 1_700_000_000_000, ws)
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
