package fsm

import (
	"math"
	"time"

	"github.com/tidwall/btree"
)

// The protocol promises that an applied id is remembered for at least 2
// minutes of log time or for the last MinIDs ids, whichever keeps more.
// Clusters keep IDRetention (the first releases' 10 minutes) until they are
// raised to FormatV3, then IDRetentionV3.
const (
	IDRetention   = 10 * time.Minute
	IDRetentionV3 = 2 * time.Minute
	MinIDs        = 100_000
)

// HistoryLen is how many changes of each seat are kept: the newest ones.
const HistoryLen = 16

// SeatState is what a seat is now.
type SeatState uint8

// Seat states. Their numbers are part of the snapshot format.
const (
	SeatFree   SeatState = 0
	SeatBooked SeatState = 1
	SeatHeld   SeatState = 2
)

// String names the state as the HTTP read API does: free, booked, held.
func (s SeatState) String() string {
	switch s {
	case SeatFree:
		return "free"
	case SeatBooked:
		return "booked"
	case SeatHeld:
		return "held"
	}
	return "unknown"
}

// ChangeOp is the kind of one change in a seat's history.
type ChangeOp uint8

// History operations. Their numbers are part of the snapshot format.
const (
	ChangeReserve ChangeOp = 1 // a free seat booked
	ChangeConfirm ChangeOp = 2 // a held seat booked by its holder
	ChangeHold    ChangeOp = 3 // a free seat held, or a hold renewed by its holder
	ChangeCancel  ChangeOp = 4 // a booking cancelled
	ChangeRelease ChangeOp = 5 // a hold cancelled by its holder
	ChangeExpire  ChangeOp = 6 // a hold that ran out
	maxChangeOp            = ChangeExpire
)

// String returns the word HISTORY shows for the operation.
func (op ChangeOp) String() string {
	switch op {
	case ChangeReserve:
		return "RESERVE"
	case ChangeConfirm:
		return "CONFIRM"
	case ChangeHold:
		return "HOLD"
	case ChangeCancel:
		return "CANCEL"
	case ChangeRelease:
		return "RELEASE"
	case ChangeExpire:
		return "EXPIRE"
	}
	return "UNKNOWN"
}

// Change is one change of a seat, as it is kept and replicated.
type Change struct {
	Op     ChangeOp
	Holder string // "" for anonymous
	Index  uint64 // log index of the entry that made the change
	TimeMs int64  // log time of that entry (Unix milliseconds)
}

// seatRec is one seat that is booked or held, or that has been and keeps
// its history. A seat without a record is free and has no history: an event
// costs memory in proportion to the seats that have changed, not to its
// capacity.
//
// Records are values inside a copy-on-write B-tree: a snapshot shares them,
// so a record is never changed in place, only replaced. Its history slice
// is append-only (a snapshot's copy sees only the entries below its own
// length) and is reallocated when it is trimmed, never shifted.
type seatRec struct {
	num     uint32
	state   SeatState
	holder  string
	expires int64 // for SeatHeld: the log time at which the hold ends
	hist    []Change
}

// history returns the newest HistoryLen changes, oldest first.
func (r *seatRec) history() []Change {
	if len(r.hist) > HistoryLen {
		return r.hist[len(r.hist)-HistoryLen:]
	}
	return r.hist
}

// record appends a change to the history. Up to 2×HistoryLen are stored so
// that trimming (a copy into a new array) happens once every HistoryLen
// changes, not on every one.
func (r *seatRec) record(c Change) {
	if len(r.hist) == 2*HistoryLen {
		kept := make([]Change, HistoryLen-1, 2*HistoryLen)
		copy(kept, r.hist[len(r.hist)-HistoryLen+1:])
		r.hist = kept
	}
	r.hist = append(r.hist, c)
}

func lessSeat(a, b seatRec) bool { return a.num < b.num }

// event is one event: its capacity and the records of its seats.
type event struct {
	name string
	// id is unique among every event the cluster ever created (the default
	// event is 0); the expiry index names events by it, so that the holds
	// of a deleted event are never mistaken for those of a new event with
	// the same name.
	id      uint64
	seats   uint32 // capacity: seats 1..seats
	booked  int
	held    int
	sawHold bool // a HOLD took effect here: the summary shows HELD
	recs    *btree.BTreeG[seatRec]
}

func newEvent(name string, id uint64, seats uint32) *event {
	return &event{name: name, id: id, seats: seats, recs: newSeatTree()}
}

func newSeatTree() *btree.BTreeG[seatRec] {
	return btree.NewBTreeGOptions(lessSeat, btree.Options{NoLocks: true})
}

func (e *event) get(n uint32) (seatRec, bool) { return e.recs.Get(seatRec{num: n}) }

// expiryKey names one hold in the expiry index, ordered by when it ends.
type expiryKey struct {
	expires int64
	event   uint64
	seat    uint32
}

func lessExpiry(a, b expiryKey) bool {
	if a.expires != b.expires {
		return a.expires < b.expires
	}
	if a.event != b.event {
		return a.event < b.event
	}
	return a.seat < b.seat
}

// state is the whole replicated state. It is plain data: Apply logic works on
// it without any Raft types, so it is unit-tested and reused by Restore.
type state struct {
	// format is the cluster's format version, raised by Format entries.
	format uint8
	// lastTimeMs is the largest entry time applied so far; entry times are
	// clamped to it so that time never goes backwards along the log.
	lastTimeMs  int64
	nextEventID uint64
	events      map[string]*event // by name; "default" once Init is applied
	byID        map[uint64]*event // the same events by id (derived)
	// expiries indexes every live hold by its end (derived from the
	// records; not in snapshots). An entry whose event was deleted is
	// skipped when it falls due.
	expiries *btree.BTreeG[expiryKey]
	ids      idTable
	// expiryMoved is set when the earliest hold changed, so that the FSM
	// can tell the leader's ticker.
	expiryMoved bool
}

func newState(opts Options) *state {
	return &state{
		format:      FormatV1,
		nextEventID: 1,
		events:      make(map[string]*event),
		byID:        make(map[uint64]*event),
		expiries:    btree.NewBTreeGOptions(lessExpiry, btree.Options{NoLocks: true}),
		ids:         newIDTable(opts),
	}
}

// event returns the event a write or read names ("" = default), or nil.
func (s *state) event(name string) *event {
	if name == "" {
		name = DefaultEvent
	}
	return s.events[name]
}

func (s *state) addEvent(e *event) {
	s.events[e.name] = e
	s.byID[e.id] = e
}

// apply applies one decoded entry at log index index and returns the
// results of its writes (nil for other entries).
func (s *state) apply(e *Entry, index uint64) []Result {
	if e.Time > s.lastTimeMs {
		s.lastTimeMs = e.Time
	}
	now := s.lastTimeMs
	s.expireDue(now, index)
	switch e.Type {
	case TypeInit:
		if s.events[DefaultEvent] == nil {
			s.addEvent(newEvent(DefaultEvent, 0, e.Seats))
		}
	case TypeFormat:
		s.format = max(s.format, e.Format)
		s.ids.useFormat(s.format)
	case TypeBatch:
		results := make([]Result, len(e.Writes))
		for i := range e.Writes {
			results[i] = s.applyWrite(&e.Writes[i], index, now)
		}
		s.ids.forgetOld(now)
		return results
	}
	return nil
}

func (s *state) applyWrite(w *Write, index uint64, now int64) Result {
	if w.ID != "" && !hookIgnoreAppliedIDs() {
		if r, ok := s.ids.lookup(w.ID); ok {
			return r
		}
	}
	var r Result
	switch w.Op {
	case OpEventCreate:
		r = s.createEvent(w.Event, w.Count)
	case OpEventDelete:
		r = s.deleteEvent(w.Event)
	default:
		r = s.applySeats(w, index, now)
	}
	if w.ID != "" {
		s.ids.add(w.ID, now, r)
	}
	return r
}

func (s *state) createEvent(name string, seats uint32) Result {
	if seats == 0 || seats > MaxSeats {
		return Result{Code: CodeInvalidCommand}
	}
	if s.events[name] != nil || name == DefaultEvent {
		// The default event is Init's alone (id 0), even before Init.
		return Result{Code: CodeExists}
	}
	if len(s.events) >= MaxEvents {
		return Result{Code: CodeTooManyEvents}
	}
	s.addEvent(newEvent(name, s.nextEventID, seats))
	s.nextEventID++
	return ResultSuccess
}

// deleteEvent removes an event with its seats, holds and history. Its
// entries in the expiry index stay until they fall due and are then
// skipped: deleting costs the same whatever the event holds.
func (s *state) deleteEvent(name string) Result {
	if name == DefaultEvent {
		return Result{Code: CodeInvalidCommand}
	}
	e := s.events[name]
	if e == nil {
		return Result{Code: CodeNoEvent}
	}
	delete(s.events, name)
	delete(s.byID, e.id)
	return ResultSuccess
}

// seatOutcome is what a seat write would do to one seat.
type seatOutcome struct {
	code  Code     // CodeSuccess, or the failure it causes
	op    ChangeOp // the change on success; 0 when the seat stays as it is
	rec   seatRec  // the seat's record as judged (valid when found)
	found bool
}

// judge decides what write w would do to one seat, now.
func judge(w *Write, rec seatRec, found bool) seatOutcome {
	st := SeatFree
	if found {
		st = rec.state
	}
	mine := w.Holder != "" && rec.holder == w.Holder
	switch w.Op {
	case OpReserve:
		switch {
		case st == SeatFree:
			return seatOutcome{code: CodeSuccess, op: ChangeReserve}
		case st == SeatHeld && mine:
			return seatOutcome{code: CodeSuccess, op: ChangeConfirm}
		case st == SeatBooked && mine:
			return seatOutcome{code: CodeSuccess}
		}
		return seatOutcome{code: CodeAlreadyBooked}
	case OpCancel:
		switch {
		case st == SeatFree:
			return seatOutcome{code: CodeNotBooked}
		case st == SeatBooked && rec.holder == w.Holder:
			return seatOutcome{code: CodeSuccess, op: ChangeCancel}
		case st == SeatHeld && mine:
			return seatOutcome{code: CodeSuccess, op: ChangeRelease}
		}
		return seatOutcome{code: CodeNotHolder}
	case OpHold:
		switch {
		case st == SeatFree, st == SeatHeld && mine:
			return seatOutcome{code: CodeSuccess, op: ChangeHold}
		}
		return seatOutcome{code: CodeAlreadyBooked}
	}
	return seatOutcome{code: CodeInvalidCommand}
}

// failurePrecedence orders failures when the seats of one write fail in
// different ways: the answer names the first kind in this order, with
// every seat that failed that way.
var failurePrecedence = [...]Code{CodeInvalidSeat, CodeNotHolder, CodeNotBooked, CodeAlreadyBooked}

// applySeats applies a RESERVE, CANCEL or HOLD: every seat changes, or none.
func (s *state) applySeats(w *Write, index uint64, now int64) Result {
	e := s.event(w.Event)
	if e == nil {
		return Result{Code: CodeNoEvent}
	}
	var one [1]uint32
	seats := w.seatList(&one)
	var failed [len(failurePrecedence)][]uint32
	nfailed := 0
	var oneOutcome [1]seatOutcome // a write of one seat allocates nothing here
	outcomes := oneOutcome[:]
	if len(seats) > 1 {
		outcomes = make([]seatOutcome, len(seats))
	}
	for i, n := range seats {
		if n == 0 || n > e.seats {
			outcomes[i] = seatOutcome{code: CodeInvalidSeat}
		} else {
			rec, found := e.get(n)
			outcomes[i] = judge(w, rec, found)
			outcomes[i].rec, outcomes[i].found = rec, found
		}
		if c := outcomes[i].code; c != CodeSuccess {
			for k, p := range failurePrecedence {
				if p == c {
					failed[k] = append(failed[k], n)
				}
			}
			nfailed++
		}
	}
	if nfailed > 0 {
		hookPartialWrite(seats, outcomes, func(i int) { s.changeSeat(e, seats[i], &outcomes[i], w, index, now) })
		for k, list := range failed {
			if len(list) > 0 {
				r := Result{Code: failurePrecedence[k]}
				if w.Seats != nil {
					r.Seats = list
				}
				return r
			}
		}
	}
	for i, n := range seats {
		s.changeSeat(e, n, &outcomes[i], w, index, now)
	}
	if w.Op == OpHold {
		return Result{Code: CodeHeld, Expires: holdExpiry(now, w.TTL)}
	}
	return ResultSuccess
}

// holdExpiry is when a hold made at log time now for ttl seconds ends. It
// saturates rather than wrap for a log time near the end of int64 (no real
// clock, but an entry's time is whatever its leader wrote).
func holdExpiry(now int64, ttl uint32) int64 {
	d := int64(ttl) * 1000
	if now > math.MaxInt64-d {
		return math.MaxInt64
	}
	return now + d
}

// changeSeat makes the change o judged for seat n and records it in the
// history. A cluster still at format 1 keeps no history (its state must be
// exactly what the first release held, seat for seat, so that every node
// agrees whether it replayed the log or restored that release's snapshot),
// and so keeps no record for a free seat.
func (s *state) changeSeat(e *event, n uint32, o *seatOutcome, w *Write, index uint64, now int64) {
	op := o.op
	if op == 0 {
		return
	}
	rec := o.rec
	if !o.found {
		rec = seatRec{num: n}
	}
	if rec.state == SeatHeld {
		s.expiries.Delete(expiryKey{rec.expires, e.id, n})
		s.expiryMoved = true
	}
	switch rec.state {
	case SeatBooked:
		e.booked--
	case SeatHeld:
		e.held--
	}
	switch op {
	case ChangeReserve, ChangeConfirm:
		rec.state, rec.holder, rec.expires = SeatBooked, w.Holder, 0
		e.booked++
	case ChangeHold:
		rec.state, rec.holder, rec.expires = SeatHeld, w.Holder, holdExpiry(now, w.TTL)
		e.held++
		e.sawHold = true
		s.expiries.Set(expiryKey{rec.expires, e.id, n})
		s.expiryMoved = true
	case ChangeCancel, ChangeRelease:
		rec.state, rec.holder, rec.expires = SeatFree, "", 0
	}
	if s.format >= FormatV2 {
		rec.record(Change{Op: op, Holder: w.Holder, Index: index, TimeMs: now})
	}
	if rec.state == SeatFree && len(rec.hist) == 0 {
		e.recs.Delete(rec)
		return
	}
	e.recs.Set(rec)
}

// expireDue frees every hold whose end has come at log time now.
func (s *state) expireDue(now int64, index uint64) {
	if hookHoldsNeverExpire() {
		return
	}
	now = hookExpiryClock(now)
	for {
		k, ok := s.expiries.Min()
		if !ok || k.expires > now {
			return
		}
		s.expiries.PopMin()
		s.expiryMoved = true
		e := s.byID[k.event]
		if e == nil {
			continue // the event was deleted
		}
		rec, found := e.get(k.seat)
		if !found || rec.state != SeatHeld || rec.expires != k.expires {
			continue
		}
		e.held--
		holder := rec.holder
		rec.state, rec.holder, rec.expires = SeatFree, "", 0
		rec.record(Change{Op: ChangeExpire, Holder: holder, Index: index, TimeMs: now})
		e.recs.Set(rec)
	}
}

// nextExpiry returns the log time at which the earliest hold ends.
func (s *state) nextExpiry() (int64, bool) {
	k, ok := s.expiries.Min()
	return k.expires, ok
}

// capture returns what a snapshot needs of the state, sharing everything
// with s: the seat trees are copied on write and the id table's chunks are
// never written again. It costs O(events) and O(id chunks: a few thousand at
// millions of ids), whatever the seats hold.
func (s *state) capture() *capturedState {
	c := &capturedState{
		format:      s.format,
		lastTimeMs:  s.lastTimeMs,
		nextEventID: s.nextEventID,
		events:      make([]event, 0, len(s.events)),
		ids:         s.ids.view(),
	}
	for _, e := range s.events {
		ec := *e
		ec.recs = e.recs.Copy()
		c.events = append(c.events, ec)
	}
	return c
}

// capturedState is a snapshot's view of the state: events by value with
// copy-on-write copies of their seat trees, and a view of the id table.
// It is encoded concurrently with Apply.
type capturedState struct {
	format      uint8
	lastTimeMs  int64
	nextEventID uint64
	events      []event // in no particular order; encode sorts them
	ids         idView
}
