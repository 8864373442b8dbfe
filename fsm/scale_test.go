package fsm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// scaleSink is a raft.SnapshotSink writing to a file, as raft's file
// snapshot store does (without its fsync).
type scaleSink struct {
	*os.File
	n int
}

func (s *scaleSink) Write(p []byte) (int, error) {
	n, err := s.File.Write(p)
	s.n += n
	return n, err
}
func (s *scaleSink) ID() string    { return "scale" }
func (s *scaleSink) Cancel() error { return nil }
func (s *scaleSink) Close() error  { return nil }

func scaleHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// scaleState builds an FSM with 1,000 events of 10,000 seats and booked
// seats spread over them at random (the same in every run), booked by
// 100-seat RESERVEs with ids, as a sale would leave them.
func scaleState(tb testing.TB, booked int) (*FSM, uint64) {
	f := New(DefaultOptions())
	idx := uint64(1)
	apply := func(data []byte) {
		if res, ok := f.Apply(&raft.Log{Type: raft.LogCommand, Index: idx, Data: data}).(error); ok {
			tb.Fatalf("entry %d: %v", idx, res)
		}
		idx++
	}
	now := int64(1_700_000_000_000)
	apply(AppendInit(nil, now, 5))
	apply(AppendFormat(nil, now, FormatV2))
	const events, capacity = 1000, 10_000
	var creates []Write
	for e := 0; e < events; e++ {
		creates = append(creates, Write{Op: OpEventCreate, Event: fmt.Sprintf("event-%04d", e), Count: capacity, ID: fmt.Sprintf("create-%d", e)})
	}
	apply(AppendBatch(nil, FormatV2, now, creates))
	rng := rand.New(rand.NewPCG(1, 2))
	perEvent := booked / events
	var batch []Write
	for e := 0; e < events; e++ {
		perm := rng.Perm(capacity)[:perEvent]
		for i := 0; i < len(perm); i += MaxSeatsPerWrite {
			seats := make([]uint32, 0, MaxSeatsPerWrite)
			for _, s := range perm[i:min(i+MaxSeatsPerWrite, len(perm))] {
				seats = append(seats, uint32(s+1))
			}
			slices.Sort(seats)
			w := Write{Op: OpReserve, Event: fmt.Sprintf("event-%04d", e), Seats: seats,
				Holder: fmt.Sprintf("buyer-%d-%d", e, i), ID: fmt.Sprintf("fill-%d-%d", e, i)}
			if len(seats) == 1 {
				w.Seat, w.Seats = seats[0], nil
			}
			batch = append(batch, w)
			if len(batch) == 64 {
				now++
				apply(AppendBatch(nil, FormatV2, now, batch))
				batch = batch[:0]
			}
		}
	}
	if len(batch) > 0 {
		apply(AppendBatch(nil, FormatV2, now+1, batch))
	}
	return f, idx
}

// BenchmarkScale measures the state machine at 0, 100,000 and 1,000,000
// booked seats spread over 1,000 events of 10,000 seats: memory per booked
// seat, snapshot size, the time Snapshot() holds the lock (raft calls it on
// the goroutine that applies entries, so it is an Apply stall), the time
// Persist takes (concurrently with Apply), the longest single Apply of a
// one-write entry while Persist runs, and the time Restore takes (the
// state-machine part of a restart). Run it once per size:
//
//	go test -run='^$' -bench=BenchmarkScale -benchtime=1x ./fsm/
func BenchmarkScale(b *testing.B) {
	for _, booked := range []int{0, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("booked=%d", booked), func(b *testing.B) {
			for range b.N {
				h0 := scaleHeap()
				f, idx := scaleState(b, booked)
				h1 := scaleHeap()

				start := time.Now()
				snap, err := f.Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				capture := time.Since(start)

				file, err := os.Create(filepath.Join(b.TempDir(), "state.bin"))
				if err != nil {
					b.Fatal(err)
				}
				sink := &scaleSink{File: file}
				var persist time.Duration
				var wg sync.WaitGroup
				done := make(chan struct{})
				wg.Go(func() {
					defer close(done)
					t := time.Now()
					if err := snap.Persist(sink); err != nil {
						b.Error(err)
					}
					persist = time.Since(t)
				})
				// Apply one-write entries while Persist runs; the longest
				// one is the stall a client would see.
				var stall time.Duration
				applied := 0
				now := f.LastTime()
				for k := 0; ; k++ {
					select {
					case <-done:
					default:
						now++
						w := Write{Op: OpReserve, Event: "event-0000", Seat: uint32(k%10_000 + 1), Holder: "late", ID: fmt.Sprintf("late-%d", k)}
						t := time.Now()
						f.Apply(&raft.Log{Type: raft.LogCommand, Index: idx, Data: AppendBatch(nil, FormatV2, now, []Write{w})})
						stall = max(stall, time.Since(t))
						idx++
						applied++
						continue
					}
					break
				}
				wg.Wait()

				file.Close()
				start = time.Now()
				g := New(DefaultOptions())
				in, err := os.Open(file.Name())
				if err != nil {
					b.Fatal(err)
				}
				if err := g.Restore(in); err != nil {
					b.Fatal(err)
				}
				restore := time.Since(start)

				if booked > 0 {
					b.ReportMetric(float64(h1-h0)/float64(booked), "heap-B/booked-seat")
				} else {
					b.ReportMetric(float64(h1-h0)/1000, "heap-B/empty-event")
				}
				b.ReportMetric(float64(sink.n), "snapshot-B")
				b.ReportMetric(float64(capture.Microseconds())/1000, "capture-ms")
				b.ReportMetric(float64(persist.Microseconds())/1000, "persist-ms")
				b.ReportMetric(float64(stall.Microseconds())/1000, "max-apply-ms")
				b.ReportMetric(float64(applied), "applies-during-persist")
				b.ReportMetric(float64(restore.Microseconds())/1000, "restore-ms")
				runtime.KeepAlive(f)
			}
		})
	}
}

// BenchmarkPersistHandOffs measures what a snapshot of a large state does to
// the node's other goroutines when they share one P (the scripts run each
// node at GOMAXPROCS=1): while Persist of 1,000,000 booked seats runs, a
// goroutine hands a token to another and back, as a request's path hands
// work between goroutines, and the slowest round trip is reported. Without
// yielding, the encoder holds the P for the scheduler's 10 ms time slice at
// every hand-off (docs/benchmarks.md, "Sustained load").
//
//	go test -run='^$' -bench=BenchmarkPersistHandOffs -benchtime=1x ./fsm/
func BenchmarkPersistHandOffs(b *testing.B) {
	f, _ := scaleState(b, 1_000_000)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range b.N {
		snap, err := f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		file, err := os.Create(filepath.Join(b.TempDir(), "state.bin"))
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := snap.Persist(&scaleSink{File: file}); err != nil {
				b.Error(err)
			}
		}()
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() {
			for range ping {
				pong <- struct{}{}
			}
		}()
		var worst time.Duration
		rounds := 0
	loop:
		for {
			select {
			case <-done:
				break loop
			default:
			}
			t := time.Now()
			ping <- struct{}{}
			<-pong
			worst = max(worst, time.Since(t))
			rounds++
		}
		close(ping)
		file.Close()
		b.ReportMetric(float64(worst.Microseconds())/1000, "max-handoff-ms")
		b.ReportMetric(float64(rounds), "handoffs")
	}
}
