package fsm

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testOpts is the small retention most tests use: ids are kept for a minute
// of log time or for the last three ids, whichever keeps more.
var testOpts = Options{IDRetention: time.Minute, MinIDs: 3}

// harness drives one FSM with raft log entries of increasing index.
type harness struct {
	t   testing.TB
	f   *FSM
	idx uint64
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	return &harness{t: t, f: New(opts)}
}

// raw applies data as the next LogCommand entry and returns Apply's value.
func (h *harness) raw(data []byte) interface{} {
	h.idx++
	return h.f.Apply(&raft.Log{Type: raft.LogCommand, Index: h.idx, Data: data})
}

// init applies an Init entry. It must return no results; whether that is an
// untyped nil, as documented, is checked by TestApplyInitReturnsNil alone.
func (h *harness) init(timeMs int64, seats uint32) {
	h.t.Helper()
	got := h.raw(AppendInit(nil, timeMs, seats))
	if res, ok := got.([]Result); got != nil && (!ok || res != nil) {
		h.t.Fatalf("Init(%d seats) at index %d returned %#v, want nil", seats, h.idx, got)
	}
}

// batch applies a Batch entry and returns its results, failing the test when
// Apply does not return one result per write.
func (h *harness) batch(timeMs int64, ws ...Write) []Result {
	h.t.Helper()
	got := h.raw(AppendBatch(nil, timeMs, ws))
	res, ok := got.([]Result)
	if !ok {
		h.t.Fatalf("batch at index %d returned %T (%v), want []Result", h.idx, got, got)
	}
	if len(res) != len(ws) {
		h.t.Fatalf("batch at index %d: %d results for %d writes", h.idx, len(res), len(ws))
	}
	return res
}

// one applies a batch of a single write and returns its result.
func (h *harness) one(timeMs int64, w Write) Result {
	h.t.Helper()
	return h.batch(timeMs, w)[0]
}

func rsv(seat uint32, holder, id string) Write {
	return Write{Op: OpReserve, Seat: seat, Holder: holder, ID: id}
}

func cnl(seat uint32, holder, id string) Write {
	return Write{Op: OpCancel, Seat: seat, Holder: holder, ID: id}
}

// stateDump is a deep copy of everything an FSM holds, for comparisons.
type stateDump struct {
	Seats       []seat
	Booked      int
	LastTimeMs  int64
	Live        []appliedID // remembered ids, oldest first
	IDs         map[string]Result
	RetentionMs int64
	MinIDs      int
}

func dump(f *FSM) stateDump {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	return stateDump{
		Seats:       append([]seat{}, s.seats...),
		Booked:      s.booked,
		LastTimeMs:  s.lastTimeMs,
		Live:        append([]appliedID{}, s.order[s.head:]...),
		IDs:         maps.Clone(s.ids),
		RetentionMs: s.retentionMs,
		MinIDs:      s.minIDs,
	}
}

func (d stateDump) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "seats=%d booked=%d last=%d ret=%d min=%d\n", len(d.Seats), d.Booked, d.LastTimeMs, d.RetentionMs, d.MinIDs)
	for i, s := range d.Seats {
		if s.booked {
			fmt.Fprintf(&b, "  seat %d booked by %q\n", i+1, s.holder)
		}
	}
	for _, a := range d.Live {
		fmt.Fprintf(&b, "  id %q t=%d %v\n", a.id, a.timeMs, a.result)
	}
	return b.String()
}

func requireSameState(t testing.TB, what string, got, want stateDump) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: state differs\n got: %v\nwant: %v", what, got, want)
	}
}

// checkInvariants verifies the internal consistency of an FSM's state.
func checkInvariants(t testing.TB, f *FSM) {
	t.Helper()
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	booked := 0
	for i, st := range s.seats {
		if st.booked {
			booked++
		} else if st.holder != "" {
			t.Fatalf("free seat %d has holder %q", i+1, st.holder)
		}
	}
	if booked != s.booked {
		t.Fatalf("booked counter %d, %d seats booked", s.booked, booked)
	}
	if s.head < 0 || s.head > len(s.order) {
		t.Fatalf("head %d outside order of %d", s.head, len(s.order))
	}
	live := s.order[s.head:]
	if len(live) != len(s.ids) {
		t.Fatalf("%d live ids in order, %d in map", len(live), len(s.ids))
	}
	for i, a := range live {
		if r, ok := s.ids[a.id]; !ok || r != a.result {
			t.Fatalf("live id %q (result %v) has map entry %v, %v", a.id, a.result, r, ok)
		}
		if a.timeMs > s.lastTimeMs {
			t.Fatalf("id %q time %d after last time %d", a.id, a.timeMs, s.lastTimeMs)
		}
		if i > 0 && a.timeMs < live[i-1].timeMs {
			t.Fatalf("id times go backwards: %q at %d after %q at %d", a.id, a.timeMs, live[i-1].id, live[i-1].timeMs)
		}
	}
}

// fakeSink is a raft.SnapshotSink that keeps what is written in memory.
type fakeSink struct {
	bytes.Buffer
	closed, cancelled int
}

var _ raft.SnapshotSink = (*fakeSink)(nil)

func (s *fakeSink) ID() string    { return "test-snapshot" }
func (s *fakeSink) Cancel() error { s.cancelled++; return nil }
func (s *fakeSink) Close() error  { s.closed++; return nil }

// persist takes a raft snapshot of f and returns its bytes.
func persist(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	var sink fakeSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	snap.Release()
	if sink.closed != 1 || sink.cancelled != 0 {
		t.Fatalf("Persist closed the sink %d times and cancelled it %d times, want 1 and 0", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return persist(t, snap)
}

// closeTracker is the io.ReadCloser handed to Restore.
type closeTracker struct {
	io.Reader
	closed int
}

func (c *closeTracker) Close() error { c.closed++; return nil }

func restore(f *FSM, data []byte) error {
	rc := &closeTracker{Reader: bytes.NewReader(data)}
	err := f.Restore(rc)
	if rc.closed != 1 {
		panic(fmt.Sprintf("Restore closed its reader %d times, want 1", rc.closed))
	}
	return err
}

// model is an independent, deliberately naive implementation of the
// protocol's part-1 write semantics and of the documented id retention, used
// as the reference the FSM is compared against.
type model struct {
	seats   int
	holders map[uint32]string // booked seats only
	last    int64
	ids     []modelID // every id still remembered, oldest first
	retMs   int64
	minIDs  int
}

type modelID struct {
	id     string
	timeMs int64
	result Result
}

func newModel(opts Options) *model {
	return &model{holders: map[uint32]string{}, retMs: opts.IDRetention.Milliseconds(), minIDs: opts.MinIDs}
}

func (m *model) lookup(id string) (Result, bool) {
	for _, a := range m.ids {
		if a.id == id {
			return a.result, true
		}
	}
	return 0, false
}

func (m *model) apply(e Entry) []Result {
	m.last = max(m.last, e.Time)
	if e.Type == TypeInit {
		if m.seats == 0 {
			m.seats = int(e.Seats)
		}
		return nil
	}
	var out []Result
	for _, w := range e.Writes {
		if w.ID != "" {
			if r, ok := m.lookup(w.ID); ok {
				out = append(out, r)
				continue
			}
		}
		var r Result
		h, booked := m.holders[w.Seat]
		switch {
		case w.Seat < 1 || int64(w.Seat) > int64(m.seats):
			r = ResultInvalidSeat
		case w.Op == OpReserve && !booked:
			m.holders[w.Seat] = w.Holder
			r = ResultSuccess
		case w.Op == OpReserve && w.Holder != "" && h == w.Holder:
			r = ResultSuccess
		case w.Op == OpReserve:
			r = ResultAlreadyBooked
		case !booked:
			r = ResultNotBooked
		case h != w.Holder:
			r = ResultNotHolder
		default:
			delete(m.holders, w.Seat)
			r = ResultSuccess
		}
		if w.ID != "" {
			m.ids = append(m.ids, modelID{w.ID, m.last, r})
		}
		out = append(out, r)
	}
	// Forget ids while more than minIDs are kept and the oldest is older
	// than the retention.
	for len(m.ids) > m.minIDs && m.last-m.ids[0].timeMs > m.retMs {
		m.ids = m.ids[1:]
	}
	return out
}

// compare checks every observable of f against the model.
func (m *model) compare(t testing.TB, f *FSM, idPool []string) {
	t.Helper()
	total, free, booked := f.Summary()
	if total != m.seats || booked != len(m.holders) || free != m.seats-len(m.holders) {
		t.Fatalf("Summary = %d %d %d, model has %d seats, %d booked", total, free, booked, m.seats, len(m.holders))
	}
	for n := uint32(0); n <= uint32(m.seats)+1; n++ {
		b, h, ok := f.SeatStatus(n)
		wh, wb := m.holders[n]
		wok := n >= 1 && int(n) <= m.seats
		if b != wb || h != wh || ok != wok {
			t.Fatalf("SeatStatus(%d) = %v %q %v, want %v %q %v", n, b, h, ok, wb, wh, wok)
		}
	}
	for _, id := range idPool {
		r, ok := f.AppliedID(id)
		wr, wok := m.lookup(id)
		if r != wr || ok != wok {
			t.Fatalf("AppliedID(%q) = %v %v, want %v %v", id, r, ok, wr, wok)
		}
	}
	if got := dump(f).LastTimeMs; got != m.last {
		t.Fatalf("lastTimeMs = %d, want %d", got, m.last)
	}
}
