package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testOpts is the small retention most tests use: ids are kept for a minute
// of log time or for the last three ids, whichever keeps more.
var testOpts = Options{IDRetention: time.Minute, MinIDs: 3}

var (
	holder64 = strings.Repeat("h", 64)
	id64     = strings.Repeat("I", 64)
	event64  = strings.Repeat("E", 64)
)

// --- building writes and entries ---

func rsv(seat uint32, holder, id string) Write {
	return Write{Op: OpReserve, Seat: seat, Holder: holder, ID: id}
}

func cnl(seat uint32, holder, id string) Write {
	return Write{Op: OpCancel, Seat: seat, Holder: holder, ID: id}
}

// hld is a HOLD of one seat for ttl seconds.
func hld(seat uint32, holder string, ttl uint32, id string) Write {
	return Write{Op: OpHold, Seat: seat, Holder: holder, TTL: ttl, ID: id}
}

// mkEvent is an EVENT CREATE.
func mkEvent(name string, count uint32, id string) Write {
	return Write{Op: OpEventCreate, Event: name, Count: count, ID: id}
}

// delEvent is an EVENT DELETE.
func delEvent(name, id string) Write {
	return Write{Op: OpEventDelete, Event: name, ID: id}
}

// in returns w acting on event ev.
func in(ev string, w Write) Write {
	w.Event = ev
	return w
}

// many returns w naming the seats s (a write of several seats).
func many(w Write, s ...uint32) Write {
	w.Seat = 0
	w.Seats = s
	return w
}

// seatRange returns the seats lo..hi.
func seatRange(lo, hi uint32) []uint32 {
	var out []uint32
	for s := lo; s <= hi; s++ {
		out = append(out, s)
	}
	return out
}

// encodeEntry encodes e in its own version with the codec's Append functions.
// withVersion sets the version byte of an encoded entry: the production
// encoders write ticks and format entries in version 2, and every later
// version reads them the same.
func withVersion(b []byte, v uint8) []byte {
	if v != 0 {
		b[0] = v
	}
	return b
}

func encodeEntry(e Entry) []byte {
	switch e.Type {
	case TypeInit:
		return AppendInit(nil, e.Time, e.Seats)
	case TypeTick:
		return withVersion(AppendTick(nil, e.Time), e.Version)
	case TypeFormat:
		return withVersion(AppendFormat(nil, e.Time, e.Format), e.Version)
	case TypeBatch:
		return AppendBatch(nil, e.Version, e.Time, e.Writes)
	}
	panic(fmt.Sprintf("encodeEntry: type %d", e.Type))
}

// --- the harness ---

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

// none applies data, which must return an untyped nil (Init, Tick, Format).
func (h *harness) none(what string, data []byte) {
	h.t.Helper()
	if got := h.raw(data); got != nil {
		h.t.Fatalf("%s at index %d returned %#v (%T), want untyped nil", what, h.idx, got, got)
	}
}

// init creates the cluster as this build's first leader does: an Init
// entry, then a Format entry raising the cluster to format 2. The Format
// entry is applied at the Init entry's index, so that the log indexes the
// tables expect in histories stay those of the writes.
func (h *harness) init(timeMs int64, seats uint32) {
	h.t.Helper()
	h.initV1(timeMs, seats)
	h.idx--
	h.raise(timeMs, FormatV2)
}

// initV1 applies an Init entry alone: the cluster stays at format 1, as one
// the first release created.
func (h *harness) initV1(timeMs int64, seats uint32) {
	h.t.Helper()
	h.none(fmt.Sprintf("Init(%d seats)", seats), AppendInit(nil, timeMs, seats))
}

// tick applies a Tick entry.
func (h *harness) tick(timeMs int64) {
	h.t.Helper()
	h.none(fmt.Sprintf("Tick(%d)", timeMs), AppendTick(nil, timeMs))
}

// raise applies a Format entry raising the cluster to v.
func (h *harness) raise(timeMs int64, v uint8) {
	h.t.Helper()
	h.none(fmt.Sprintf("Format(%d)", v), AppendFormat(nil, timeMs, v))
}

// batchIn applies a Batch entry of the given format and returns its
// results, failing the test unless Apply returns one result per write.
func (h *harness) batchIn(format uint8, timeMs int64, ws ...Write) []Result {
	h.t.Helper()
	got := h.raw(AppendBatch(nil, format, timeMs, ws))
	res, ok := got.([]Result)
	if !ok {
		h.t.Fatalf("batch at index %d returned %T (%v), want []Result", h.idx, got, got)
	}
	if len(res) != len(ws) {
		h.t.Fatalf("batch at index %d: %d results for %d writes", h.idx, len(res), len(ws))
	}
	return res
}

// batch applies a format-2 Batch entry.
func (h *harness) batch(timeMs int64, ws ...Write) []Result {
	h.t.Helper()
	return h.batchIn(FormatV2, timeMs, ws...)
}

// batchV1 applies a format-1 Batch entry.
func (h *harness) batchV1(timeMs int64, ws ...Write) []Result {
	h.t.Helper()
	return h.batchIn(FormatV1, timeMs, ws...)
}

// one applies a format-2 batch of a single write and returns its result.
func (h *harness) one(timeMs int64, w Write) Result {
	h.t.Helper()
	return h.batch(timeMs, w)[0]
}

// ok applies the writes in one format-2 batch; each must take effect
// (SUCCESS or HELD).
func (h *harness) ok(timeMs int64, ws ...Write) {
	h.t.Helper()
	for i, r := range h.batch(timeMs, ws...) {
		if r.Code != CodeSuccess && r.Code != CodeHeld {
			h.t.Fatalf("setup write %d %+v = %v", i, ws[i], r)
		}
	}
}

// halts applies data and requires the FSM to halt on it with an error
// wrapping ErrHalted and want.
func (h *harness) halts(data []byte, want error) error {
	h.t.Helper()
	got := h.raw(data)
	err, isErr := got.(error)
	if !isErr {
		h.t.Fatalf("Apply(% x) = %#v, want an error wrapping ErrHalted and %v", data, got, want)
	}
	if !errors.Is(err, ErrHalted) || (want != nil && !errors.Is(err, want)) {
		h.t.Fatalf("Apply(% x) = %v, want an error wrapping ErrHalted and %v", data, err, want)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("log index %d", h.idx)) {
		h.t.Errorf("halting error %q does not name log index %d", err, h.idx)
	}
	return err
}

func eq(a, b Result) bool { return a.Equal(b) }

func resultsEqual(a, b []Result) bool { return slices.EqualFunc(a, b, eq) }

// held is the result of a hold that took effect until exp.
func held(exp int64) Result { return Result{Code: CodeHeld, Expires: exp} }

// failed is the result of a write of several seats that failed on seats.
func failed(c Code, seats ...uint32) Result { return Result{Code: c, Seats: seats} }

// --- dumping and comparing the whole state ---

type seatDump struct {
	Num     uint32
	State   SeatState
	Holder  string
	Expires int64
	Hist    []Change
}

type eventDump struct {
	Name         string
	ID           uint64
	Seats        uint32
	Booked, Held int
	SawHold      bool
	Recs         []seatDump
}

// stateDump is a deep copy of everything an FSM holds, for comparisons.
type stateDump struct {
	Format      uint8
	LastTimeMs  int64
	NextEventID uint64
	Events      []eventDump
	Live        []liveID // remembered ids, oldest first
	IDs         map[string]Result
	// Expiries are the expiry index's entries for holds of existing
	// events; Stale those of deleted events (dropped when due, and not
	// rebuilt by a restore).
	Expiries    []expiryKey
	Stale       []expiryKey
	RetentionMs int64
	MinIDs      int
	Halted      bool
}

// smallIDChunks gives an FSM that remembers no id yet an id table of tiny
// chunks: 4 records, 64 id bytes, 8 seats, so that a few ids fill and free
// chunks and ids and seat lists start new ones.
func smallIDChunks(f *FSM) {
	ids := &f.st.ids
	if ids.len() != 0 || ids.records.end != 0 {
		panic("smallIDChunks on a table that holds ids")
	}
	ids.records, ids.bytes, ids.seats = newChunks[idRecord](2), newChunks[byte](6), newChunks[uint32](3)
}

// liveID is one remembered id in a stateDump.
type liveID struct {
	ID     string
	TimeMs int64
	Result Result
}

func dump(f *FSM) stateDump {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	d := stateDump{
		Format:      s.format,
		LastTimeMs:  s.lastTimeMs,
		NextEventID: s.nextEventID,
		IDs:         make(map[string]Result),
		RetentionMs: s.ids.retentionMs,
		MinIDs:      s.ids.minIDs,
		Halted:      f.halted != nil,
	}
	for id, a := range s.ids.view().all() {
		r := a.result
		r.Seats = slices.Clone(r.Seats)
		d.Live = append(d.Live, liveID{strings.Clone(id), a.timeMs, r})
		if got, ok := s.ids.lookup(id); ok {
			got.Seats = slices.Clone(got.Seats)
			d.IDs[strings.Clone(id)] = got
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.events)) {
		e := s.events[name]
		ed := eventDump{Name: e.name, ID: e.id, Seats: e.seats, Booked: e.booked, Held: e.held, SawHold: e.sawHold}
		e.recs.Scan(func(r seatRec) bool {
			ed.Recs = append(ed.Recs, seatDump{r.num, r.state, r.holder, r.expires, slices.Clone(r.history())})
			return true
		})
		d.Events = append(d.Events, ed)
	}
	s.expiries.Scan(func(k expiryKey) bool {
		if s.byID[k.event] != nil {
			d.Expiries = append(d.Expiries, k)
		} else {
			d.Stale = append(d.Stale, k)
		}
		return true
	})
	return d
}

// withoutStale is d without the expiry entries of deleted events, which a
// restored state does not have.
func (d stateDump) withoutStale() stateDump {
	d.Stale = nil
	return d
}

func (d stateDump) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "format=%d last=%d nextEvent=%d ret=%d min=%d halted=%v\n", d.Format, d.LastTimeMs, d.NextEventID, d.RetentionMs, d.MinIDs, d.Halted)
	for _, e := range d.Events {
		fmt.Fprintf(&b, "  event %q id=%d seats=%d booked=%d held=%d sawHold=%v\n", e.Name, e.ID, e.Seats, e.Booked, e.Held, e.SawHold)
		for _, r := range e.Recs {
			fmt.Fprintf(&b, "    seat %d state=%d holder=%q expires=%d hist=%v\n", r.Num, r.State, r.Holder, r.Expires, r.Hist)
		}
	}
	for _, a := range d.Live {
		fmt.Fprintf(&b, "  id %q t=%d %+v\n", a.ID, a.TimeMs, a.Result)
	}
	fmt.Fprintf(&b, "  expiries %v stale %v\n", d.Expiries, d.Stale)
	return b.String()
}

func requireSameState(t testing.TB, what string, got, want stateDump) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: state differs\n got: %v\nwant: %v", what, got, want)
	}
}

// requireUnchanged checks that nothing but the clock moved.
func requireUnchanged(t testing.TB, what string, got, want stateDump) {
	t.Helper()
	got.LastTimeMs = want.LastTimeMs
	requireSameState(t, what, got, want)
}

// checkInvariants verifies the internal consistency of an FSM's state, and
// what holds of every state reached by applying entries: holds end after the
// log's time, histories and ids are in log order.
func checkInvariants(t testing.TB, f *FSM) {
	t.Helper()
	checkState(t, f, true)
}

// checkConsistent verifies what must hold of any state, also one restored
// from an arbitrary (fuzzed) snapshot: the derived counters and indexes
// agree with the records.
func checkConsistent(t testing.TB, f *FSM) {
	t.Helper()
	checkState(t, f, false)
}

func checkState(t testing.TB, f *FSM, strict bool) {
	t.Helper()
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	if s.format < FormatV1 || s.format > MaxFormat {
		t.Fatalf("format %d", s.format)
	}
	if len(s.byID) != len(s.events) {
		t.Fatalf("%d events by id, %d by name", len(s.byID), len(s.events))
	}
	live := map[expiryKey]bool{}
	for name, e := range s.events {
		if e.name != name || s.byID[e.id] != e {
			t.Fatalf("event %q (id %d) is not indexed under its name and id", name, e.id)
		}
		if !validEventName(name) || (e.id == 0) != (name == DefaultEvent) || (e.id != 0 && e.id >= s.nextEventID) {
			t.Fatalf("event %q has id %d (next %d)", name, e.id, s.nextEventID)
		}
		if e.seats == 0 || e.seats > MaxSeats {
			t.Fatalf("event %q has %d seats", name, e.seats)
		}
		booked, heldN := 0, 0
		e.recs.Scan(func(r seatRec) bool {
			if r.num == 0 || r.num > e.seats {
				t.Fatalf("event %q: record of seat %d of %d", name, r.num, e.seats)
			}
			// A booked seat restored from a format-1 snapshot has no
			// history; a free seat has a record only for its history.
			if (r.state == SeatFree && len(r.hist) == 0) || len(r.hist) > 2*HistoryLen {
				t.Fatalf("event %q seat %d (state %d): %d changes stored", name, r.num, r.state, len(r.hist))
			}
			for i, c := range r.hist {
				if c.Op == 0 || c.Op > maxChangeOp {
					t.Fatalf("event %q seat %d: bad history %v", name, r.num, r.hist)
				}
				if strict && i > 0 && (c.Index < r.hist[i-1].Index || c.TimeMs < r.hist[i-1].TimeMs) {
					t.Fatalf("event %q seat %d: history out of log order %v", name, r.num, r.hist)
				}
				if strict && c.TimeMs > s.lastTimeMs {
					t.Fatalf("event %q seat %d: change after the last time %d: %v", name, r.num, s.lastTimeMs, c)
				}
			}
			switch r.state {
			case SeatFree:
				if r.holder != "" || r.expires != 0 {
					t.Fatalf("event %q: free seat %d has holder %q expires %d", name, r.num, r.holder, r.expires)
				}
			case SeatBooked:
				booked++
				if r.expires != 0 {
					t.Fatalf("event %q: booked seat %d expires %d", name, r.num, r.expires)
				}
			case SeatHeld:
				heldN++
				if r.holder == "" {
					t.Fatalf("event %q: seat %d held anonymously", name, r.num)
				}
				// A hold ends after the log time, except at the very end
				// of int64, where its end saturates to the log time itself
				// (a fuzzed entry time; no clock gets there).
				if strict && r.expires <= s.lastTimeMs && r.expires != math.MaxInt64 {
					t.Fatalf("event %q: seat %d held until %d, but the log is at %d", name, r.num, r.expires, s.lastTimeMs)
				}
				k := expiryKey{r.expires, e.id, r.num}
				if _, ok := s.expiries.Get(k); !ok {
					t.Fatalf("event %q: hold of seat %d until %d is not in the expiry index", name, r.num, r.expires)
				}
				live[k] = true
			default:
				t.Fatalf("event %q: seat %d in state %d", name, r.num, r.state)
			}
			return true
		})
		if booked != e.booked || heldN != e.held {
			t.Fatalf("event %q: counters booked %d held %d, records %d and %d", name, e.booked, e.held, booked, heldN)
		}
		if strict && heldN > 0 && !e.sawHold {
			t.Fatalf("event %q holds seats but has not seen a hold", name)
		}
	}
	s.expiries.Scan(func(k expiryKey) bool {
		if s.byID[k.event] != nil && !live[k] {
			t.Fatalf("expiry index entry %+v names no live hold", k)
		}
		return true
	})
	ids := &s.ids
	if ids.head > ids.records.end || ids.records.first > ids.head {
		t.Fatalf("oldest id %d outside the records %d..%d", ids.head, ids.records.first, ids.records.end)
	}
	if n := len(ids.index) + len(ids.overflow); n != ids.len() {
		t.Fatalf("%d ids remembered, %d indexed", ids.len(), n)
	}
	n, prevTime, prevID := ids.head, int64(0), ""
	for id, a := range ids.view().all() {
		if got, ok := ids.find(id); !ok || got != n {
			t.Fatalf("live id %q (number %d) found as %d, %v", id, n, got, ok)
		}
		if strict && a.timeMs > s.lastTimeMs {
			t.Fatalf("id %q time %d after last time %d", id, a.timeMs, s.lastTimeMs)
		}
		if strict && n > ids.head && a.timeMs < prevTime {
			t.Fatalf("id times go backwards: %q at %d after %q at %d", id, a.timeMs, prevID, prevTime)
		}
		n, prevTime, prevID = n+1, a.timeMs, id
	}
}

// --- snapshots ---

// fakeSink is a raft.SnapshotSink that keeps what is written in memory.
type fakeSink struct {
	bytes.Buffer
	closed, cancelled int
}

var _ raft.SnapshotSink = (*fakeSink)(nil)

func (s *fakeSink) ID() string    { return "test-snapshot" }
func (s *fakeSink) Cancel() error { s.cancelled++; return nil }
func (s *fakeSink) Close() error  { s.closed++; return nil }

// persist runs snap's Persist and returns its bytes.
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

// roundTrip snapshots f and restores the bytes into a fresh FSM.
func roundTrip(t testing.TB, f *FSM) *FSM {
	t.Helper()
	r := New(f.opts)
	if err := restore(r, snapshotBytes(t, f)); err != nil {
		t.Fatalf("Restore of a fresh snapshot: %v", err)
	}
	return r
}

// --- the reference model ---

// model is an independent, deliberately naive implementation of the write
// semantics (parts 1 and 3), of holds that expire in log time, of seat
// history and of the documented id retention, used as the reference the FSM
// is compared against. It works on decoded entries.
type model struct {
	format uint8
	last   int64
	events map[string]*mEvent
	// stale are the ends of holds of deleted events that have not fallen
	// due yet: the FSM's NextExpiry may still name them.
	stale   []int64
	ids     []modelID // every id still remembered, oldest first
	retMs   int64     // before FormatV3
	retV3Ms int64
	minIDs  int
}

type mEvent struct {
	seats   uint32
	sawHold bool
	recs    map[uint32]*mSeat // seats that have ever changed
}

type mSeat struct {
	state   SeatState
	holder  string
	expires int64
	hist    []Change // the newest HistoryLen changes
}

type modelID struct {
	id     string
	timeMs int64
	result Result
}

func newModel(opts Options) *model {
	return &model{format: FormatV1, events: map[string]*mEvent{}, retMs: opts.IDRetention.Milliseconds(), retV3Ms: retentionV3(opts).Milliseconds(), minIDs: opts.MinIDs}
}

func (m *model) lookup(id string) (Result, bool) {
	for _, a := range m.ids {
		if a.id == id {
			return a.result, true
		}
	}
	return Result{}, false
}

func (m *model) event(name string) *mEvent {
	if name == "" {
		name = DefaultEvent
	}
	return m.events[name]
}

func (s *mSeat) change(c Change) {
	s.hist = append(s.hist, c)
	if len(s.hist) > HistoryLen {
		s.hist = slices.Clone(s.hist[len(s.hist)-HistoryLen:])
	}
}

// apply applies an entry at log index index and returns the results of a
// batch (nil for other entries).
func (m *model) apply(e Entry, index uint64) []Result {
	if e.Time > m.last {
		m.last = e.Time
	}
	now := m.last
	for _, ev := range m.events {
		for _, s := range ev.recs {
			if s.state == SeatHeld && s.expires <= now {
				s.change(Change{Op: ChangeExpire, Holder: s.holder, Index: index, TimeMs: now})
				s.state, s.holder, s.expires = SeatFree, "", 0
			}
		}
	}
	m.stale = slices.DeleteFunc(m.stale, func(t int64) bool { return t <= now })
	switch e.Type {
	case TypeInit:
		if m.events[DefaultEvent] == nil {
			m.events[DefaultEvent] = &mEvent{seats: e.Seats, recs: map[uint32]*mSeat{}}
		}
		return nil
	case TypeFormat:
		if e.Format > m.format {
			m.format = e.Format
		}
		return nil
	case TypeTick:
		return nil
	}
	out := make([]Result, 0, len(e.Writes))
	for _, w := range e.Writes {
		if w.ID != "" {
			if r, ok := m.lookup(w.ID); ok {
				out = append(out, r)
				continue
			}
		}
		var r Result
		switch w.Op {
		case OpEventCreate:
			switch {
			case w.Count < 1 || w.Count > MaxSeats:
				r = Result{Code: CodeInvalidCommand}
			case m.events[w.Event] != nil:
				r = Result{Code: CodeExists}
			default:
				m.events[w.Event] = &mEvent{seats: w.Count, recs: map[uint32]*mSeat{}}
				r = ResultSuccess
			}
		case OpEventDelete:
			switch ev := m.events[w.Event]; {
			case w.Event == DefaultEvent:
				r = Result{Code: CodeInvalidCommand}
			case ev == nil:
				r = Result{Code: CodeNoEvent}
			default:
				for _, s := range ev.recs {
					if s.state == SeatHeld {
						m.stale = append(m.stale, s.expires)
					}
				}
				delete(m.events, w.Event)
				r = ResultSuccess
			}
		default:
			r = m.seatWrite(w, index, now)
		}
		if w.ID != "" {
			m.ids = append(m.ids, modelID{w.ID, now, r})
		}
		out = append(out, r)
	}
	// Forget ids while more than minIDs are kept and the oldest is older
	// than the retention.
	ret := m.retMs
	if m.format >= FormatV3 {
		ret = m.retV3Ms
	}
	for len(m.ids) > m.minIDs && now-m.ids[0].timeMs > ret {
		m.ids = m.ids[1:]
	}
	return out
}

func (m *model) seatWrite(w Write, index uint64, now int64) Result {
	ev := m.event(w.Event)
	if ev == nil {
		return Result{Code: CodeNoEvent}
	}
	list := w.Seats
	if list == nil {
		list = []uint32{w.Seat}
	}
	fails := map[Code][]uint32{}
	var todo []uint32
	var ops []ChangeOp
	for _, n := range list {
		if n < 1 || n > ev.seats {
			fails[CodeInvalidSeat] = append(fails[CodeInvalidSeat], n)
			continue
		}
		state, holder := SeatFree, ""
		if s := ev.recs[n]; s != nil {
			state, holder = s.state, s.holder
		}
		mine := w.Holder != "" && w.Holder == holder
		var op ChangeOp
		var fail Code
		switch w.Op {
		case OpReserve:
			switch {
			case state == SeatFree:
				op = ChangeReserve
			case state == SeatHeld && mine:
				op = ChangeConfirm
			case state == SeatBooked && mine:
				// already the holder's: nothing changes
			default:
				fail = CodeAlreadyBooked
			}
		case OpCancel:
			switch {
			case state == SeatFree:
				fail = CodeNotBooked
			case state == SeatBooked && w.Holder == holder:
				op = ChangeCancel
			case state == SeatHeld && mine:
				op = ChangeRelease
			default:
				fail = CodeNotHolder
			}
		case OpHold:
			if state == SeatFree || (state == SeatHeld && mine) {
				op = ChangeHold
			} else {
				fail = CodeAlreadyBooked
			}
		}
		if fail != 0 {
			fails[fail] = append(fails[fail], n)
		} else {
			todo = append(todo, n)
			ops = append(ops, op)
		}
	}
	for _, c := range []Code{CodeInvalidSeat, CodeNotHolder, CodeNotBooked, CodeAlreadyBooked} {
		if len(fails[c]) > 0 {
			r := Result{Code: c}
			if w.Seats != nil {
				r.Seats = fails[c]
			}
			return r
		}
	}
	exp := holdExpiryModel(now, w.TTL)
	for i, n := range todo {
		if ops[i] == 0 {
			continue
		}
		s := ev.recs[n]
		if s == nil {
			s = &mSeat{}
			ev.recs[n] = s
		}
		switch ops[i] {
		case ChangeReserve, ChangeConfirm:
			s.state, s.holder, s.expires = SeatBooked, w.Holder, 0
		case ChangeCancel, ChangeRelease:
			s.state, s.holder, s.expires = SeatFree, "", 0
		case ChangeHold:
			s.state, s.holder, s.expires = SeatHeld, w.Holder, exp
			ev.sawHold = true
		}
		// A cluster at format 1 keeps no history, and so no record of a
		// free seat.
		if m.format >= FormatV2 {
			s.change(Change{Op: ops[i], Holder: w.Holder, Index: index, TimeMs: now})
		}
		if s.state == SeatFree && len(s.hist) == 0 {
			delete(ev.recs, n)
		}
	}
	if w.Op == OpHold {
		return Result{Code: CodeHeld, Expires: exp}
	}
	return ResultSuccess
}

// restored tells the model that the FSM was restored from a snapshot: the
// expiry index is rebuilt from the seats, without the holds of deleted
// events.
func (m *model) restored() { m.stale = nil }

// summary counts an event's seats.
func (ev *mEvent) summary() Summary {
	s := Summary{Total: int(ev.seats), SawHold: ev.sawHold}
	for _, r := range ev.recs {
		switch r.state {
		case SeatBooked:
			s.Booked++
		case SeatHeld:
			s.Held++
		}
	}
	s.Free = s.Total - s.Booked - s.Held
	return s
}

// seatsToCheck returns the seats of an event worth comparing: all of a
// small event, and for a large one those that changed and the edges.
func (ev *mEvent) seatsToCheck() []uint32 {
	if ev.seats <= 64 {
		return seatRange(0, ev.seats+1)
	}
	out := []uint32{0, 1, ev.seats, ev.seats + 1}
	for n := range ev.recs {
		out = append(out, n)
	}
	return out
}

// compare checks every observable of f against the model.
func (m *model) compare(t testing.TB, f *FSM, idPool []string) {
	t.Helper()
	names := slices.Sorted(maps.Keys(m.events))
	if got := f.Events(); !slices.Equal(got, names) && !(len(got) == 0 && len(names) == 0) {
		t.Fatalf("Events() = %q, model has %q", got, names)
	}
	if got := f.Format(); got != m.format {
		t.Fatalf("Format() = %d, model %d", got, m.format)
	}
	if got := f.LastTime(); got != m.last {
		t.Fatalf("LastTime() = %d, model %d", got, m.last)
	}
	wantDefault := uint32(0)
	if ev := m.events[DefaultEvent]; ev != nil {
		wantDefault = ev.seats
	}
	if got := f.DefaultSeats(); got != wantDefault {
		t.Fatalf("DefaultSeats() = %d, model %d", got, wantDefault)
	}
	var ends []int64
	for _, name := range names {
		ev := m.events[name]
		if got, err := f.Summary(name); err != nil || got != ev.summary() {
			t.Fatalf("Summary(%q) = %+v, %v; model %+v", name, got, err, ev.summary())
		}
		for _, n := range ev.seatsToCheck() {
			info, err := f.Seat(name, n)
			hist, herr := f.History(name, n)
			if n == 0 || n > ev.seats {
				if !errors.Is(err, ErrInvalidSeat) || !errors.Is(herr, ErrInvalidSeat) {
					t.Fatalf("Seat(%q, %d) = %v, History: %v; want ErrInvalidSeat", name, n, err, herr)
				}
				continue
			}
			var want SeatInfo
			var wantHist []Change
			if s := ev.recs[n]; s != nil {
				want = SeatInfo{State: s.state, Holder: s.holder, Expires: s.expires}
				wantHist = s.hist
			}
			if err != nil || info != want {
				t.Fatalf("Seat(%q, %d) = %+v, %v; model %+v", name, n, info, err, want)
			}
			if herr != nil || !slices.Equal(hist, wantHist) {
				t.Fatalf("History(%q, %d) = %v, %v; model %v", name, n, hist, herr, wantHist)
			}
		}
		for _, s := range ev.recs {
			if s.state == SeatHeld {
				ends = append(ends, s.expires)
			}
		}
	}
	for _, name := range []string{"no-such-event", "x"} {
		if m.events[name] != nil {
			continue
		}
		if _, err := f.Summary(name); !errors.Is(err, ErrNoEvent) {
			t.Fatalf("Summary(%q) of a missing event: %v", name, err)
		}
		if _, err := f.Seat(name, 1); !errors.Is(err, ErrNoEvent) {
			t.Fatalf("Seat(%q) of a missing event: %v", name, err)
		}
	}
	ends = append(ends, m.stale...)
	next, ok := f.NextExpiry()
	if len(ends) == 0 {
		if ok {
			t.Fatalf("NextExpiry() = %d, true; the model has no hold", next)
		}
	} else if !ok || next != slices.Min(ends) {
		t.Fatalf("NextExpiry() = %d, %v; model %d", next, ok, slices.Min(ends))
	}
	for _, id := range idPool {
		r, ok := f.AppliedID(id)
		wr, wok := m.lookup(id)
		if !r.Equal(wr) || ok != wok {
			t.Fatalf("AppliedID(%q) = %+v %v, model %+v %v", id, r, ok, wr, wok)
		}
	}
}

// pair drives an FSM and the model with the same entries.
type pair struct {
	h *harness
	m *model
}

func newPair(t testing.TB, opts Options) *pair {
	return &pair{h: newHarness(t, opts), m: newModel(opts)}
}

// apply encodes e, applies it to both and requires the same results.
func (p *pair) apply(e Entry) []Result {
	p.h.t.Helper()
	got := p.h.raw(encodeEntry(e))
	want := p.m.apply(e, p.h.idx)
	if e.Type != TypeBatch {
		if got != nil {
			p.h.t.Fatalf("entry %+v at index %d returned %#v, want nil", e, p.h.idx, got)
		}
		return nil
	}
	res, ok := got.([]Result)
	if !ok || !resultsEqual(res, want) {
		p.h.t.Fatalf("entry at index %d (time %d) %+v:\n got %+v\nwant %+v", p.h.idx, e.Time, e.Writes, got, want)
	}
	return res
}

func sortedKeys(m map[uint32]SeatInfo) []uint32 {
	out := slices.Collect(maps.Keys(m))
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// holdExpiryModel is the model's own rule for a hold's end: now plus the
// ttl, saturating at the end of int64 (a log time is whatever the leader
// wrote; fuzzed entries reach it).
func holdExpiryModel(now int64, ttl uint32) int64 {
	if d := int64(ttl) * 1000; now <= math.MaxInt64-d {
		return now + d
	}
	return math.MaxInt64
}

// retentionV3 is the id retention opts give from FormatV3, as the FSM
// reads them (zero: IDRetention).
func retentionV3(opts Options) time.Duration {
	if opts.IDRetentionV3 != 0 {
		return opts.IDRetentionV3
	}
	return opts.IDRetention
}
