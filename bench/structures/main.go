// Command structures compares candidate data structures for the seats of
// seatd's state machine, on the shape the issue asked for: 1,000 events of
// 10,000 seats with 1,000,000 booked seats spread over them at random, each
// record carrying a holder and one history entry. For each it prints the
// heap bytes per booked seat, the cost of an insert, the time to capture a
// snapshot of every event (copy-on-write copy, or a full copy for the Go
// map), the cost of a write right after a capture (when copy-on-write
// copies nodes), the steady write cost, and the time to iterate every
// record (what Persist does). docs/design.md ("The shape of the state")
// has the figures and the choice made from them.
//
// It is its own module so that the candidates stay out of seatd's go.mod:
//
//	cd bench/structures && go run .
package main

import (
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"time"

	"github.com/benbjohnson/immutable"
	gbtree "github.com/google/btree"
	tbtree "github.com/tidwall/btree"
)

type change struct {
	index  uint64
	time   int64
	holder string
	op     uint8
}

type seatRec struct {
	num     uint32
	state   uint8
	holder  string
	expires int64
	hist    []change
}

const events, perEvent, capacity = 1000, 1000, 10000

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

type store interface {
	set(ev int, r seatRec)
	snapshot() func(func(seatRec)) // capture; returns an iterator over the captured state
}

// google/btree, values inline
type gInline struct{ t []*gbtree.BTreeG[seatRec] }

func newGInline() *gInline {
	s := &gInline{}
	for i := 0; i < events; i++ {
		s.t = append(s.t, gbtree.NewG[seatRec](32, func(a, b seatRec) bool { return a.num < b.num }))
	}
	return s
}
func (s *gInline) set(ev int, r seatRec) { s.t[ev].ReplaceOrInsert(r) }
func (s *gInline) snapshot() func(func(seatRec)) {
	c := make([]*gbtree.BTreeG[seatRec], len(s.t))
	for i, t := range s.t {
		c[i] = t.Clone()
	}
	return func(f func(seatRec)) {
		for _, t := range c {
			t.Ascend(func(r seatRec) bool { f(r); return true })
		}
	}
}

// google/btree, pointers to immutable records
type gPtr struct{ t []*gbtree.BTreeG[*seatRec] }

func newGPtr() *gPtr {
	s := &gPtr{}
	for i := 0; i < events; i++ {
		s.t = append(s.t, gbtree.NewG[*seatRec](32, func(a, b *seatRec) bool { return a.num < b.num }))
	}
	return s
}
func (s *gPtr) set(ev int, r seatRec) { rr := r; s.t[ev].ReplaceOrInsert(&rr) }
func (s *gPtr) snapshot() func(func(seatRec)) {
	c := make([]*gbtree.BTreeG[*seatRec], len(s.t))
	for i, t := range s.t {
		c[i] = t.Clone()
	}
	return func(f func(seatRec)) {
		for _, t := range c {
			t.Ascend(func(r *seatRec) bool { f(*r); return true })
		}
	}
}

// tidwall/btree, values inline
type tInline struct{ t []*tbtree.BTreeG[seatRec] }

func newTInline() *tInline {
	s := &tInline{}
	for i := 0; i < events; i++ {
		s.t = append(s.t, tbtree.NewBTreeGOptions(func(a, b seatRec) bool { return a.num < b.num }, tbtree.Options{NoLocks: true}))
	}
	return s
}
func (s *tInline) set(ev int, r seatRec) { s.t[ev].Set(r) }
func (s *tInline) snapshot() func(func(seatRec)) {
	c := make([]*tbtree.BTreeG[seatRec], len(s.t))
	for i, t := range s.t {
		c[i] = t.Copy()
	}
	return func(f func(seatRec)) {
		for _, t := range c {
			t.Scan(func(r seatRec) bool { f(r); return true })
		}
	}
}

// benbjohnson/immutable SortedMap
type cmp32 struct{}

func (cmp32) Compare(a, b uint32) int {
	if a < b {
		return -1
	} else if a > b {
		return 1
	}
	return 0
}

type imm struct {
	t []*immutable.SortedMap[uint32, seatRec]
}

func newImm() *imm {
	s := &imm{}
	for i := 0; i < events; i++ {
		s.t = append(s.t, immutable.NewSortedMap[uint32, seatRec](cmp32{}))
	}
	return s
}
func (s *imm) set(ev int, r seatRec) { s.t[ev] = s.t[ev].Set(r.num, r) }
func (s *imm) snapshot() func(func(seatRec)) {
	c := append([]*immutable.SortedMap[uint32, seatRec](nil), s.t...)
	return func(f func(seatRec)) {
		for _, t := range c {
			it := t.Iterator()
			for !it.Done() {
				_, v, _ := it.Next()
				f(v)
			}
		}
	}
}

// Go map, copied at snapshot
type gomap struct{ t []map[uint32]seatRec }

func newMap() *gomap {
	s := &gomap{}
	for i := 0; i < events; i++ {
		s.t = append(s.t, map[uint32]seatRec{})
	}
	return s
}
func (s *gomap) set(ev int, r seatRec) { s.t[ev][r.num] = r }
func (s *gomap) snapshot() func(func(seatRec)) {
	c := make([]map[uint32]seatRec, len(s.t))
	for i, t := range s.t {
		m := make(map[uint32]seatRec, len(t))
		for k, v := range t {
			m[k] = v
		}
		c[i] = m
	}
	return func(f func(seatRec)) {
		for _, t := range c {
			keys := make([]uint32, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			for _, k := range keys {
				f(t[k])
			}
		}
	}
}

func main() {
	for _, c := range []struct {
		name string
		mk   func() store
	}{
		{"google/btree inline", func() store { return newGInline() }},
		{"google/btree *rec", func() store { return newGPtr() }},
		{"tidwall/btree inline", func() store { return newTInline() }},
		{"benbjohnson/immutable", func() store { return newImm() }},
		{"go map + copy", func() store { return newMap() }},
	} {
		rng := rand.New(rand.NewSource(1))
		var seats [events][]uint32
		for e := 0; e < events; e++ {
			for _, v := range rng.Perm(capacity)[:perEvent] {
				seats[e] = append(seats[e], uint32(v))
			}
		}
		h0 := heap()
		s := c.mk()
		t0 := time.Now()
		for e := 0; e < events; e++ {
			for _, n := range seats[e] {
				h := fmt.Sprintf("holder%07d", e*perEvent+int(n))
				s.set(e, seatRec{num: uint32(n + 1), state: 1, holder: h, hist: []change{{index: uint64(n), time: 1, holder: h, op: 1}}})
			}
		}
		build := time.Since(t0)
		h1 := heap()
		// snapshot capture
		t1 := time.Now()
		it := s.snapshot()
		capture := time.Since(t1)
		// writes right after the capture (COW cost), random seats
		t2 := time.Now()
		var maxw time.Duration
		for i := 0; i < 100000; i++ {
			e := rng.Intn(events)
			n := seats[e][rng.Intn(perEvent)]
			w0 := time.Now()
			s.set(e, seatRec{num: uint32(n + 1), state: 1, holder: "x"})
			if d := time.Since(w0); d > maxw {
				maxw = d
			}
		}
		after := time.Since(t2) / 100000
		t3 := time.Now()
		cnt := 0
		it(func(seatRec) { cnt++ })
		iter := time.Since(t3)
		// steady-state write cost
		t4 := time.Now()
		for i := 0; i < 100000; i++ {
			e := rng.Intn(events)
			n := seats[e][rng.Intn(perEvent)]
			s.set(e, seatRec{num: uint32(n + 1), state: 1, holder: "x"})
		}
		steady := time.Since(t4) / 100000
		fmt.Printf("%-22s bytes/seat %4.0f  insert %4dns  capture %9s  write-after-capture %4dns (max %s)  steady write %4dns  iterate %s (%d)\n",
			c.name, float64(h1-h0)/float64(events*perEvent), build.Nanoseconds()/int64(events*perEvent), capture.Round(time.Microsecond),
			after.Nanoseconds(), maxw.Round(time.Microsecond), steady.Nanoseconds(), iter.Round(time.Millisecond), cnt)
		runtime.KeepAlive(s)
	}
}
