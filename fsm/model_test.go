package fsm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// entryGen builds random entries that exercise everything: writes of every
// kind and of one or several seats, events created, deleted and created
// again, holds whose ends are hit exactly, time going backwards, ticks,
// format entries and Init entries.
type entryGen struct {
	rng     intner
	tm      int64
	ids     []string
	holders []string
	events  []string
}

// intner is the source of the generator's choices: a seeded PRNG, or the
// bytes of a fuzz input.
type intner interface{ IntN(n int) int }

// byteSource makes choices from fuzz input bytes; when they run out, every
// choice is 0.
type byteSource struct{ data []byte }

func (b *byteSource) IntN(n int) int {
	v := 0
	for k := 1; k < n && k < 1<<16; k <<= 8 {
		if len(b.data) == 0 {
			break
		}
		v = v<<8 | int(b.data[0])
		b.data = b.data[1:]
	}
	if n <= 1 {
		return 0
	}
	return v % n
}

func newEntryGen(seed uint64) *entryGen {
	return newEntryGenFrom(rand.New(rand.NewPCG(seed, 99)))
}

func newEntryGenFrom(src intner) *entryGen {
	return &entryGen{
		rng:     src,
		tm:      1_000_000,
		ids:     names("r", 40),
		holders: []string{"", "a", "b", "A"},
		events:  []string{"", "", DefaultEvent, "x", "y", "big"},
	}
}

// time returns the next entry's time: mostly forward, sometimes backwards
// (a new leader with a slower clock), sometimes exactly at or just before
// the end of a hold the model knows.
func (g *entryGen) time(m *model) int64 {
	switch r := g.rng.IntN(100); {
	case r < 15:
		var ends []int64
		for _, ev := range m.events {
			for _, s := range ev.recs {
				if s.state == SeatHeld {
					ends = append(ends, s.expires)
				}
			}
		}
		if len(ends) > 0 {
			slices.Sort(ends)
			return ends[g.rng.IntN(len(ends))] - int64(g.rng.IntN(2))
		}
	case r < 25:
		return g.tm - int64(g.rng.IntN(5000)) // behind the log
	}
	g.tm += int64(g.rng.IntN(2500))
	return g.tm
}

func (g *entryGen) seat(event string) uint32 {
	if event == "big" && g.rng.IntN(3) == 0 {
		return []uint32{MaxSeats - 1, MaxSeats, MaxSeats + 1, 500_000}[g.rng.IntN(4)]
	}
	switch g.rng.IntN(10) {
	case 0:
		return 0
	case 1:
		return uint32(7 + g.rng.IntN(3)) // often beyond the event
	}
	return uint32(1 + g.rng.IntN(6))
}

func (g *entryGen) write() Write {
	var w Write
	w.Event = g.events[g.rng.IntN(len(g.events))]
	switch r := g.rng.IntN(100); {
	case r < 30:
		w.Op = OpReserve
	case r < 55:
		w.Op = OpCancel
	case r < 80:
		w.Op = OpHold
	case r < 90:
		w.Op = OpEventCreate
	default:
		w.Op = OpEventDelete
	}
	if g.rng.IntN(2) == 0 {
		w.ID = g.ids[g.rng.IntN(len(g.ids))]
	}
	switch w.Op {
	case OpEventCreate, OpEventDelete:
		if w.Event == "" {
			w.Event = "x"
		}
		if w.Op == OpEventCreate {
			w.Count = uint32(1 + g.rng.IntN(8))
			if w.Event == "big" {
				w.Count = MaxSeats
			}
		}
		return w
	}
	w.Holder = g.holders[g.rng.IntN(len(g.holders))]
	if w.Op == OpHold {
		w.Holder = g.holders[1+g.rng.IntN(len(g.holders)-1)]
		w.TTL = uint32(1 + g.rng.IntN(4))
	}
	w.Seat = g.seat(w.Event)
	if g.rng.IntN(10) < 3 {
		set := map[uint32]bool{w.Seat: true}
		for n, tries := 2+g.rng.IntN(4), 0; len(set) < n && tries < 3*n; tries++ {
			set[g.seat(w.Event)] = true
		}
		if len(set) == 1 {
			set[w.Seat+1] = true
		}
		w.Seat = 0
		for s := range set {
			w.Seats = append(w.Seats, s)
		}
		slices.Sort(w.Seats)
	}
	return w
}

func (g *entryGen) entry(m *model) Entry {
	e := Entry{Time: g.time(m), Version: FormatV2}
	switch r := g.rng.IntN(100); {
	case r < 3:
		e.Version, e.Type, e.Seats = FormatV1, TypeInit, uint32(1+g.rng.IntN(8))
	case r < 10:
		e.Type = TypeTick
	case r < 12:
		e.Type, e.Format = TypeFormat, uint8(1+g.rng.IntN(2))
	default:
		e.Type = TypeBatch
		e.Writes = make([]Write, 1+g.rng.IntN(6))
		v1 := g.rng.IntN(4) == 0
		for i := range e.Writes {
			e.Writes[i] = g.write()
			v1 = v1 && CanEncode(FormatV1, &e.Writes[i])
		}
		if v1 {
			e.Version = FormatV1
		}
	}
	return e
}

// TestRandomAgainstModel applies random entries to the FSM and to the model
// and compares everything after each one; midway it takes snapshots, checks
// them (Digest and state equal after a round trip, isolation of a snapshot
// persisted later) and goes on with the restored FSM.
func TestRandomAgainstModel(t *testing.T) {
	seeds, steps := uint64(24), 500
	if testing.Short() {
		seeds = 4
	}
	for seed := uint64(0); seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newEntryGen(seed)
			opts := Options{IDRetention: time.Duration(g.rng.IntN(8000)) * time.Millisecond, MinIDs: g.rng.IntN(6)}
			p := newPair(t, opts)
			// twin gets the same entries in batches through ApplyBatch.
			twin := New(opts)
			var pending []*raft.Log
			type captured struct {
				snap   raft.FSMSnapshot
				want   stateDump
				digest string
				at     int
			}
			var held []captured
			e0 := Entry{Version: FormatV1, Type: TypeInit, Time: g.tm, Seats: uint32(1 + g.rng.IntN(8))}
			p.apply(e0)
			pending = append(pending, &raft.Log{Type: raft.LogCommand, Index: p.h.idx, Data: encodeEntry(e0)})
			counts := map[string]int{}
			for step := 0; step < steps; step++ {
				e := g.entry(p.m)
				res := p.apply(e)
				pending = append(pending, &raft.Log{Type: raft.LogCommand, Index: p.h.idx, Data: encodeEntry(e)})
				if len(pending) >= 1+g.rng.IntN(8) {
					twin.ApplyBatch(pending)
					pending = pending[:0]
				}
				for i, r := range res {
					counts[fmt.Sprintf("%d/%v", e.Writes[i].Op, r.Code)]++
				}
				p.m.compare(t, p.h.f, g.ids)
				checkInvariants(t, p.h.f)

				switch step % 100 {
				case 40: // a snapshot persisted later, while entries go on
					s, err := p.h.f.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, captured{s, dump(p.h.f).withoutStale(), p.h.f.Digest(), step})
				case 80: // a round trip, and go on with the restored FSM
					for _, c := range held {
						r := New(opts)
						if err := restore(r, persist(t, c.snap)); err != nil {
							t.Fatalf("restore of the snapshot of step %d: %v", c.at, err)
						}
						requireSameState(t, fmt.Sprintf("snapshot of step %d, persisted at step %d", c.at, step), dump(r), c.want)
						if r.Digest() != c.digest {
							t.Fatalf("snapshot of step %d: Digest differs", c.at)
						}
					}
					held = nil
					digest := p.h.f.Digest()
					r := roundTrip(t, p.h.f)
					requireSameState(t, fmt.Sprintf("round trip at step %d", step), dump(r), dump(p.h.f).withoutStale())
					if r.Digest() != digest {
						t.Fatalf("step %d: Digest %s after a round trip, want %s", step, r.Digest(), digest)
					}
					p.h.f = r
					p.m.restored()
					p.m.compare(t, p.h.f, g.ids)
				}
			}
			twin.ApplyBatch(pending)
			if twin.Digest() != p.h.f.Digest() {
				t.Fatalf("an FSM fed with ApplyBatch has Digest %s, the one fed with Apply %s", twin.Digest(), p.h.f.Digest())
			}
			// Every kind of outcome was reached.
			if seed == 0 {
				for _, k := range []string{"1/SUCCESS", "1/FAILED_ALREADY_BOOKED", "1/FAILED_INVALID_SEAT", "1/FAILED_NO_EVENT", "2/FAILED_NOT_BOOKED", "2/FAILED_NOT_HOLDER", "3/HELD", "4/FAILED_EXISTS", "5/INVALID_COMMAND", "5/SUCCESS"} {
					if counts[k] == 0 {
						t.Errorf("no write had outcome %s: %v", k, counts)
					}
				}
			}
		})
	}
}
