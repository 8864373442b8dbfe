package fsm

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"

	"github.com/hashicorp/raft"
)

// Snapshot format, version 2 (integers are varints or uvarints unless noted;
// a str is its length as a uvarint and its bytes):
//
//	magic "SEATSNAP" (8 bytes) version (1 byte) = 2
//	then sections, each a tag byte and its body, in this order:
//	'C' once:    format(1) lastTimeMs(varint) nextEventID(uvarint)
//	'E' per event, by name:
//	             name(str) id(uvarint) seats(uvarint) flags(1; bit 0: has seen a hold)
//	             nrecs(uvarint), then per record, by seat:
//	               gap to the previous seat (the first: the seat)(uvarint) state(1)
//	               holder(str) unless free, expires(varint) if held
//	               nchanges(uvarint, at most 16), then per change, oldest first:
//	                 op(1; bit 7 set: same holder as the previous change, the
//	                 first compared with the record's holder) [holder(str) if bit 7 clear]
//	                 index (the first absolute, then the gap; uvarint)
//	                 time (the first absolute, then the difference; varint)
//	'I' once:    nids(uvarint), then per id, oldest first:
//	               id(str) timeMs(varint) code(1) expires(varint, if HELD)
//	               nseats(uvarint) seats (first, then gaps; uvarint)
//	'Z' once:    "END!" (4 bytes), then nothing
//
// A section this build does not know stops the restore with an error: a
// newer build wrote it, and skipping it would lose state. Version 1 (the
// first release: one flat seat array) is still read; see readV1.
const (
	snapshotMagic     = "SEATSNAP"
	snapshotVersion   = 2
	snapshotVersionV1 = 1
	snapshotEnd       = "END!"

	sectionCluster = 'C'
	sectionEvent   = 'E'
	sectionIDs     = 'I'
	sectionEnd     = 'Z'

	sameHolder = 0x80
)

// ErrSnapshot is wrapped by every error reading a malformed snapshot or one
// this build cannot understand.
var ErrSnapshot = errors.New("fsm: bad snapshot")

type snapshot struct{ st *capturedState }

// Persist encodes the captured state into the sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(yieldingWriter{sink}, 64<<10)
	if err := s.st.encode(w); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// yieldingWriter gives the processor to the node's other goroutines after
// each chunk the snapshot encoder writes. Encoding a large state is a
// second or so of pure CPU; with few Ps (the scripts run each node at
// GOMAXPROCS=1) the Go scheduler would let it run 10 ms at a time, and every
// goroutine on a request's path (connection, batcher, Raft, Apply) would
// wait that long at each hand-off: requests took ~100 ms throughout a
// snapshot (scripts/sustained.sh, docs/benchmarks.md "Sustained load").
// Yielding every 64 KB (a fraction of a millisecond of encoding) lets them
// run at once; the snapshot takes about as long.
type yieldingWriter struct{ w io.Writer }

func (y yieldingWriter) Write(p []byte) (int, error) {
	n, err := y.w.Write(p)
	runtime.Gosched()
	return n, err
}

// Release is a no-op: the snapshot holds no resources.
func (s *snapshot) Release() {}

type encoder struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
}

func (e *encoder) uv(v uint64)  { e.w.Write(e.buf[:binary.PutUvarint(e.buf[:], v)]) }
func (e *encoder) sv(v int64)   { e.w.Write(e.buf[:binary.PutVarint(e.buf[:], v)]) }
func (e *encoder) str(s string) { e.uv(uint64(len(s))); e.w.WriteString(s) }
func (e *encoder) byte(b byte)  { e.w.WriteByte(b) }
func (e *encoder) seats(s []uint32) {
	e.uv(uint64(len(s)))
	prev := uint32(0)
	for _, n := range s {
		e.uv(uint64(n - prev))
		prev = n
	}
}

// encode writes the snapshot: in version 1 while the cluster runs format
// 1 (a node of the first release may have to install it from this node, as
// a lagging follower, and only reads version 1), in version 2 otherwise.
func (c *capturedState) encode(w *bufio.Writer) error {
	if c.format == FormatV1 && c.fitsV1() {
		return c.encodeV1(w)
	}
	e := &encoder{w: w}
	w.WriteString(snapshotMagic)
	e.byte(snapshotVersion)

	e.byte(sectionCluster)
	e.byte(c.format)
	e.sv(c.lastTimeMs)
	e.uv(c.nextEventID)

	slices.SortFunc(c.events, func(a, b event) int { return cmp.Compare(a.name, b.name) })
	for i := range c.events {
		ev := &c.events[i]
		e.byte(sectionEvent)
		e.str(ev.name)
		e.uv(ev.id)
		e.uv(uint64(ev.seats))
		var flags byte
		if ev.sawHold {
			flags |= 1
		}
		e.byte(flags)
		e.uv(uint64(ev.recs.Len()))
		prev := uint32(0)
		ev.recs.Scan(func(r seatRec) bool {
			e.uv(uint64(r.num - prev))
			prev = r.num
			e.byte(byte(r.state))
			if r.state != SeatFree {
				e.str(r.holder)
			}
			if r.state == SeatHeld {
				e.sv(r.expires)
			}
			hist := r.history()
			e.uv(uint64(len(hist)))
			ref, prevIndex, prevTime := r.holder, uint64(0), int64(0)
			for _, ch := range hist {
				op := byte(ch.Op)
				if ch.Holder == ref {
					e.byte(op | sameHolder)
				} else {
					e.byte(op)
					e.str(ch.Holder)
				}
				ref = ch.Holder
				e.uv(ch.Index - prevIndex)
				e.sv(ch.TimeMs - prevTime)
				prevIndex, prevTime = ch.Index, ch.TimeMs
			}
			return true
		})
	}

	e.byte(sectionIDs)
	e.uv(uint64(c.ids.len()))
	for id, a := range c.ids.all() {
		e.str(id)
		e.sv(a.timeMs)
		e.byte(byte(a.result.Code))
		if a.result.Code == CodeHeld {
			e.sv(a.result.Expires)
		}
		e.seats(a.result.Seats)
	}
	e.byte(sectionEnd)
	_, err := w.WriteString(snapshotEnd)
	return err // bufio.Writer keeps the first error; Flush reports it too
}

// fitsV1 reports whether the state is one the first release could hold:
// the default event alone, no holds, no history, part-1 results. A cluster
// at format 1 always is (no format-2 entry is written before the raise).
func (c *capturedState) fitsV1() bool {
	if c.nextEventID != 1 { // an event was created once: version 1 cannot say so
		return false
	}
	for i := range c.events {
		ev := &c.events[i]
		if ev.name != DefaultEvent || ev.held > 0 || ev.sawHold {
			return false
		}
		fits := true
		ev.recs.Scan(func(r seatRec) bool {
			fits = r.state == SeatBooked && len(r.hist) == 0
			return fits
		})
		if !fits {
			return false
		}
	}
	for _, a := range c.ids.all() {
		if a.result.Code > CodeNotHolder || a.result.Seats != nil {
			return false
		}
	}
	return true
}

// encodeV1 writes the first release's format (see readV1).
func (c *capturedState) encodeV1(w *bufio.Writer) error {
	e := &encoder{w: w}
	w.WriteString(snapshotMagic)
	e.byte(snapshotVersionV1)
	e.sv(c.lastTimeMs)
	var def *event
	if len(c.events) == 1 {
		def = &c.events[0]
	}
	if def == nil {
		e.uv(0)
	} else {
		e.uv(uint64(def.seats))
		next := uint32(1)
		def.recs.Scan(func(r seatRec) bool {
			for ; next < r.num; next++ {
				e.byte(0)
			}
			e.byte(1)
			e.str(r.holder)
			next++
			return true
		})
		for ; next <= def.seats; next++ {
			e.byte(0)
		}
	}
	e.uv(uint64(c.ids.len()))
	for id, a := range c.ids.all() {
		e.str(id)
		e.sv(a.timeMs)
		e.byte(byte(a.result.Code))
	}
	_, err := w.WriteString(snapshotEnd)
	return err
}

// snapReader reads a snapshot and remembers the first error.
type snapReader struct {
	r    *bufio.Reader
	err  error
	what string // what was being read when err happened

	// holders interns holder strings: the seats of one multi-seat write
	// share their holder in the live state, and a restored state should
	// not cost more memory than the one it was taken from.
	holders map[string]string
	scratch [maxToken]byte
	// changes is a slab the restored histories are cut from, so that a
	// million records do not cost a million small allocations. Each
	// history gets a capacity equal to its length, so appending to it
	// later copies it out of the slab.
	changes []Change
}

func (d *snapReader) failf(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *snapReader) at(what string) { d.what = what }

func (d *snapReader) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.failf("%w", err)
	}
	return v
}

func (d *snapReader) sv() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		d.failf("%w", err)
	}
	return v
}

func (d *snapReader) byte() byte {
	if d.err != nil {
		return 0
	}
	b, err := d.r.ReadByte()
	if err != nil {
		d.failf("%w", err)
	}
	return b
}

// token reads a string (at most maxToken bytes) into the reader's scratch
// space; the bytes are valid until the next call.
func (d *snapReader) token() []byte {
	n := d.uv()
	if d.err != nil {
		return nil
	}
	if n > maxToken {
		d.failf("string of %d bytes", n)
		return nil
	}
	b := d.scratch[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.failf("%w", err)
		return nil
	}
	return b
}

func (d *snapReader) str() string { return string(d.token()) }

// holder reads a string and returns the interned copy.
func (d *snapReader) holder() string {
	b := d.token()
	if s, ok := d.holders[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.holders == nil {
		d.holders = make(map[string]string)
	}
	d.holders[s] = s
	return s
}

func (d *snapReader) seats(limit uint64) []uint32 {
	n := d.uv()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > limit {
		d.failf("%d seats", n)
		return nil
	}
	out := make([]uint32, n)
	prev := uint64(0)
	for i := range out {
		g := d.uv()
		if d.err != nil {
			return nil
		}
		if (i > 0 && g == 0) || g > math.MaxUint32-prev {
			d.failf("seats not ascending")
			return nil
		}
		prev += g
		out[i] = uint32(prev)
	}
	return out
}

// readSnapshot decodes a snapshot into a fresh state.
func readSnapshot(r io.Reader, opts Options) (*state, error) {
	d := &snapReader{r: bufio.NewReaderSize(r, 64<<10)}
	head := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(d.r, head); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrSnapshot, err)
	}
	if string(head[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a seatd snapshot (magic %q)", ErrSnapshot, head[:len(snapshotMagic)])
	}
	var st *state
	switch v := head[len(snapshotMagic)]; v {
	case snapshotVersionV1:
		st = d.readV1(opts)
	case snapshotVersion:
		st = d.readV2(opts)
	default:
		return nil, fmt.Errorf("%w: snapshot version %d is newer than this build understands (up to %d): upgrade this node", ErrSnapshot, v, snapshotVersion)
	}
	if d.err == nil {
		if _, err := d.r.ReadByte(); err != io.EOF {
			d.at("the end")
			d.failf("data after the end marker")
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSnapshot, d.what, d.err)
	}
	return st, nil
}

func (d *snapReader) readV2(opts Options) *state {
	st := newState(opts)
	d.at("cluster section")
	if tag := d.byte(); d.err == nil && tag != sectionCluster {
		d.failf("section %q where the cluster section belongs", tag)
	}
	st.format = d.byte()
	st.lastTimeMs = d.sv()
	st.nextEventID = d.uv()
	switch {
	case d.err != nil:
	case st.format < FormatV1 || st.format > MaxFormat:
		d.failf("cluster format %d is newer than this build applies (up to %d): upgrade this node", st.format, MaxFormat)
	default:
		st.ids.useFormat(st.format)
	case st.nextEventID < 1:
		d.failf("next event id 0 (the default event has id 0)")
	}
	lastName := ""
	for d.err == nil {
		d.at("section tag")
		tag := d.byte()
		if d.err != nil {
			break
		}
		switch tag {
		case sectionEvent:
			e := d.readEvent(st, lastName)
			if d.err == nil {
				lastName = e.name
				st.addEvent(e)
			}
			continue
		case sectionIDs:
			d.readIDs(st)
		default:
			d.failf("unknown section %q (written by a newer build?)", tag)
		}
		break
	}
	d.at("end section")
	if tag := d.byte(); d.err == nil && tag != sectionEnd {
		d.failf("section %q where the end belongs", tag)
	}
	d.readEnd()
	return st
}

func (d *snapReader) readEvent(st *state, lastName string) *event {
	d.at("event")
	name := d.str()
	id := d.uv()
	seats := d.uv()
	flags := d.byte()
	nrecs := d.uv()
	if d.err != nil {
		return nil
	}
	d.at("event " + name)
	switch {
	case !validEventName(name):
		d.failf("bad event name %q", name)
	case name <= lastName:
		d.failf("events out of order or repeated")
	case (id == 0) != (name == DefaultEvent), id != 0 && id >= st.nextEventID, st.byID[id] != nil:
		d.failf("event id %d", id)
	case seats == 0 || seats > MaxSeats:
		d.failf("seat count %d", seats)
	case flags > 1:
		d.failf("flags %#x", flags)
	case nrecs > seats:
		d.failf("%d records for %d seats", nrecs, seats)
	}
	if d.err != nil {
		return nil
	}
	e := newEvent(name, id, uint32(seats))
	e.sawHold = flags&1 != 0
	prev := uint64(0)
	for i := uint64(0); i < nrecs && d.err == nil; i++ {
		gap := d.uv()
		if d.err == nil && (gap == 0 || gap > seats-prev) {
			d.failf("a seat %d after seat %d, in an event of %d seats", gap, prev, seats)
		}
		num := prev + gap
		prev = num
		rec := seatRec{num: uint32(num), state: SeatState(d.byte())}
		switch rec.state {
		case SeatFree:
		case SeatBooked:
			rec.holder = d.holder()
			e.booked++
		case SeatHeld:
			rec.holder = d.holder()
			rec.expires = d.sv()
			if d.err == nil && rec.holder == "" {
				d.failf("seat %d held anonymously", num)
			}
			e.held++
			st.expiries.Set(expiryKey{rec.expires, id, rec.num})
		default:
			d.failf("seat %d in state %d", num, rec.state)
		}
		rec.hist = d.readHistory(rec.holder)
		if d.err == nil && rec.state == SeatFree && len(rec.hist) == 0 {
			d.failf("seat %d free without history", num)
		}
		if d.err == nil {
			e.recs.Load(rec)
		}
	}
	return e
}

func (d *snapReader) readHistory(ref string) []Change {
	n := d.uv()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > HistoryLen {
		d.failf("history of %d changes", n)
		return nil
	}
	if len(d.changes) < int(n) {
		d.changes = make([]Change, 4096)
	}
	hist := d.changes[:n:n]
	d.changes = d.changes[n:]
	var index uint64
	var timeMs int64
	for i := range hist {
		op := d.byte()
		c := &hist[i]
		c.Op = ChangeOp(op &^ sameHolder)
		if op&sameHolder != 0 {
			c.Holder = ref
		} else {
			c.Holder = d.holder()
		}
		ref = c.Holder
		index += d.uv()
		timeMs += d.sv()
		c.Index, c.TimeMs = index, timeMs
		if d.err == nil && (c.Op == 0 || c.Op > maxChangeOp) {
			d.failf("history operation %d", c.Op)
		}
	}
	return hist
}

func (d *snapReader) readIDs(st *state) {
	d.at("ids")
	n := d.uv()
	for i := uint64(0); i < n && d.err == nil; i++ {
		id := d.str()
		var a idEntry
		a.timeMs = d.sv()
		a.result.Code = Code(d.byte())
		if a.result.Code == CodeHeld {
			a.result.Expires = d.sv()
		}
		a.result.Seats = d.seats(MaxSeatsPerWrite)
		if d.err != nil {
			return
		}
		d.addID(st, id, a)
	}
}

func (d *snapReader) addID(st *state, id string, a idEntry) {
	switch _, dup := st.ids.find(id); {
	case id == "":
		d.failf("empty id")
	case a.result.Code == 0 || a.result.Code > maxCode:
		d.failf("id %q has unknown result %d", id, a.result.Code)
	case a.result.Code == CodeHeld && a.result.Seats != nil:
		d.failf("id %q has a HELD result that names seats", id)
	case dup:
		d.failf("id %q appears twice", id)
	default:
		st.ids.add(id, a.timeMs, a.result)
	}
}

func (d *snapReader) readEnd() {
	if d.err != nil {
		return
	}
	end := make([]byte, len(snapshotEnd))
	if _, err := io.ReadFull(d.r, end); err != nil || string(end) != snapshotEnd {
		d.failf("end marker")
	}
}

// readV1 reads the first release's snapshot: one seat array, which becomes
// the default event; no history, holds or other events.
//
//	magic "SEATSNAP" version(1)=1 lastTimeMs(varint)
//	seatCount(uvarint), then per seat: 0 (free) | 1 holder(str) (booked)
//	idCount(uvarint), then per id, oldest first: id(str) timeMs(varint) result(1)
//	"END!"
func (d *snapReader) readV1(opts Options) *state {
	st := newState(opts)
	d.at("time")
	st.lastTimeMs = d.sv()
	d.at("seat count")
	nseats := d.uv()
	if d.err == nil && nseats > MaxSeats {
		d.failf("%d seats", nseats)
	}
	if d.err != nil {
		return nil
	}
	var e *event
	if nseats > 0 {
		e = newEvent(DefaultEvent, 0, uint32(nseats))
		st.addEvent(e)
	}
	d.at("seats")
	for i := uint64(1); i <= nseats && d.err == nil; i++ {
		switch flag := d.byte(); {
		case d.err != nil:
		case flag == 1:
			e.recs.Load(seatRec{num: uint32(i), state: SeatBooked, holder: d.holder()})
			e.booked++
		case flag != 0:
			d.failf("seat %d has flag %d", i, flag)
		}
	}
	d.at("ids")
	nids := d.uv()
	for i := uint64(0); i < nids && d.err == nil; i++ {
		id := d.str()
		var a idEntry
		a.timeMs = d.sv()
		a.result.Code = Code(d.byte())
		if d.err == nil && a.result.Code > CodeNotHolder {
			d.failf("id %q has unknown result %d", id, a.result.Code)
		}
		if d.err == nil {
			d.addID(st, id, a)
		}
	}
	d.at("end marker")
	d.readEnd()
	return st
}
