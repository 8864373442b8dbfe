package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Format versions. Every log entry starts with the format version it needs:
// a node applies entries of every version up to MaxFormat and halts on a
// newer one. The cluster's format (FSM.Format, replicated) starts at 1 and
// is raised by a TypeFormat entry, which the leader writes only once every
// member reports that it supports the new version (docs/design.md, "Formats
// and upgrades"); before that the leader writes nothing a member of the older
// version could not apply.
const (
	// FormatV1 is the format of the first release: one seat space, RESERVE
	// and CANCEL of one seat. Its entries are Init and Batch.
	FormatV1 = 1
	// FormatV2 adds events, several seats per write, holds, history, tick
	// entries that carry time forward, and format entries.
	FormatV2 = 2
	// FormatV3 changes no entry, only how long applied ids are kept: from
	// the log index where the cluster is raised to it, IDRetentionV3 (2
	// minutes of log time) instead of IDRetention (10), and still at least
	// the last MinIDs ids. Raising it through the log makes every replica
	// forget the same ids at the same entry, whatever build wrote them.
	FormatV3 = 3
	// MaxFormat is the newest format this build can apply.
	MaxFormat = FormatV3
)

// EntryType is the second byte of a log entry.
type EntryType uint8

// Entry types. A type is defined within a format version.
const (
	// TypeInit (version 1) creates the default event. It is written once,
	// by the first leader of a new cluster; later Init entries change
	// nothing.
	TypeInit EntryType = 1
	// TypeBatch (every version) carries one or more client writes,
	// applied in order. Version 1 knows only OpReserve and OpCancel of one
	// seat of the default event.
	TypeBatch EntryType = 2
	// TypeTick (version 2 on) carries nothing but the leader's time, so that
	// holds expire on a cluster that has nothing else to write.
	TypeTick EntryType = 3
	// TypeFormat (version 2 on) raises the cluster's format version.
	TypeFormat EntryType = 4
)

// Op is one write operation inside a batch.
type Op uint8

// Write operations. OpReserve and OpCancel exist in every version; the
// others from version 2 on.
const (
	OpReserve     Op = 1
	OpCancel      Op = 2
	OpHold        Op = 3
	OpEventCreate Op = 4
	OpEventDelete Op = 5
)

// Limits that bound what a decoded entry may claim, so that a corrupt entry
// can never make a node allocate without bound.
const (
	// MaxSeats is the largest seat count of an event.
	MaxSeats = 1_000_000
	// MaxBatch is the largest number of writes one entry may carry.
	MaxBatch = 1 << 16
	// MaxSeatsPerWrite is the most seats one write may name.
	MaxSeatsPerWrite = 100
	// MaxTTL is the longest hold, in seconds.
	MaxTTL = 3600
	// MaxEvents is the most events a cluster holds at once (the default
	// event included): it bounds the memory of events, the time Snapshot
	// takes under the lock (O(events)) and the length of EVENT LIST's
	// answer.
	MaxEvents = 100_000
	// maxToken is the longest holder, id or event name (the protocol
	// allows 64).
	maxToken = 64
)

// DefaultEvent is the name of the event the Init entry creates; a write
// whose Event is empty names it.
const DefaultEvent = "default"

// Write is one client write.
type Write struct {
	Op Op
	// Event names the event of a seat write ("" = the default event), or
	// the event an OpEventCreate or OpEventDelete acts on.
	Event string
	// Seat is the seat of a write that names one seat (0 = not a valid
	// seat number, answered CodeInvalidSeat).
	Seat uint32
	// Seats are the seats of a write that names several, ascending and
	// distinct; nil for a write of one seat. Its failures name seats.
	Seats []uint32
	// Holder is empty for an anonymous write. A hold always has one.
	Holder string
	// ID is the exactly-once id, empty when absent.
	ID string
	// TTL is a hold's time to live in seconds (1 to MaxTTL).
	TTL uint32
	// Count is the seat count of OpEventCreate (1 to MaxSeats).
	Count uint32
}

// seatList returns the seats the write names.
func (w *Write) seatList(buf *[1]uint32) []uint32 {
	if w.Seats != nil {
		return w.Seats
	}
	buf[0] = w.Seat
	return buf[:]
}

// Entry is a decoded log entry.
type Entry struct {
	// Version is the format version the entry was written in.
	Version uint8
	Type    EntryType
	// Time is the leader's wall clock in Unix milliseconds when it built
	// the entry. Apply uses max(Time, time of the previous entry).
	Time int64
	// Seats is the seat count of a TypeInit entry.
	Seats uint32
	// Format is the version a TypeFormat entry raises the cluster to.
	Format uint8
	// Writes are the writes of a TypeBatch entry, in order.
	Writes []Write
}

// Errors returned by Decode. Every error halts the state machine (ErrHalted):
// an entry a node cannot fully understand is never skipped.
var (
	// ErrVersion: the entry needs a newer format than this build knows.
	ErrVersion = errors.New("fsm: log entry of an unsupported format version")
	// ErrEntryType: a type or op that this build does not know in the
	// entry's version.
	ErrEntryType = errors.New("fsm: log entry of an unknown type or operation")
	// ErrCorruptData: bytes that are not a valid entry.
	ErrCorruptData = errors.New("fsm: corrupt log entry")
)

const headerLen = 1 + 1 + 8 // version, type, time

// AppendInit appends the encoding of an Init entry (version 1) to dst.
//
//	version(1)=1 type(1)=1 time(8, big-endian) seats(uvarint)
func AppendInit(dst []byte, timeMs int64, seats uint32) []byte {
	dst = appendHeader(dst, FormatV1, TypeInit, timeMs)
	return binary.AppendUvarint(dst, uint64(seats))
}

// AppendTick appends the encoding of a Tick entry (version 2).
//
//	version(1)=2 type(1)=3 time(8)
func AppendTick(dst []byte, timeMs int64) []byte {
	return appendHeader(dst, FormatV2, TypeTick, timeMs)
}

// AppendFormat appends the encoding of a Format entry (version 2) that raises
// the cluster to format version v.
//
//	version(1)=2 type(1)=4 time(8) format(1)
func AppendFormat(dst []byte, timeMs int64, v uint8) []byte {
	dst = appendHeader(dst, FormatV2, TypeFormat, timeMs)
	return append(dst, v)
}

// AppendBatch appends the encoding of a Batch entry of the given format
// version to dst. Every write must pass Check in that version.
func AppendBatch(dst []byte, format uint8, timeMs int64, writes []Write) []byte {
	dst = AppendBatchHeader(dst, format, timeMs, len(writes))
	for i := range writes {
		dst = AppendWrite(dst, format, &writes[i])
	}
	return dst
}

// AppendBatchHeader appends the header of a Batch entry of count writes; the
// caller then appends each write with AppendWrite in the same format. It lets
// a batcher encode writes as they arrive without building a []Write first.
//
//	version(1) type(1)=2 time(8) count(uvarint) writes...
func AppendBatchHeader(dst []byte, format uint8, timeMs int64, count int) []byte {
	dst = appendHeader(dst, format, TypeBatch, timeMs)
	return binary.AppendUvarint(dst, uint64(count))
}

// Errors of Check: why a write cannot go into a batch.
var (
	// ErrNeedsFormat: the write is of a kind the format does not have
	// (a part-3 write while the cluster still runs format 1).
	ErrNeedsFormat = errors.New("fsm: the write needs a newer log format")
	// ErrInvalidWrite: the write breaks a rule Decode enforces (a hold
	// without a holder, a ttl out of range, seats not ascending, ...);
	// written into the log, it would halt every node.
	ErrInvalidWrite = errors.New("fsm: invalid write")
)

// Check reports whether w can be written in a batch of the given format:
// nil, an error wrapping ErrNeedsFormat, or one wrapping ErrInvalidWrite.
// It applies exactly the rules Decode applies to a decoded write, so that a
// leader never writes what its voters would refuse.
func Check(format uint8, w *Write) error {
	if format < FormatV1 || format > MaxFormat {
		return fmt.Errorf("%w: format %d", ErrNeedsFormat, format)
	}
	if err := checkWrite(format, w); err != nil {
		if errors.Is(err, ErrEntryType) {
			return fmt.Errorf("%w: %v", ErrNeedsFormat, err)
		}
		return fmt.Errorf("%w: %v", ErrInvalidWrite, err)
	}
	return nil
}

// CanEncode reports whether the format has the kind of write w is (Check
// does not fail with ErrNeedsFormat): AppendWrite panics exactly when it
// does not.
func CanEncode(format uint8, w *Write) bool { return !errors.Is(Check(format, w), ErrNeedsFormat) }

// checkWrite is the rule book of a write of the given version, shared by
// Check and Decode. Its errors wrap ErrEntryType (a kind the version does
// not have) or ErrCorruptData (anything else).
func checkWrite(version uint8, w *Write) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCorruptData}, args...)...)
	}
	switch {
	case w.Op == OpReserve || w.Op == OpCancel:
	case version >= FormatV2 && (w.Op == OpHold || w.Op == OpEventCreate || w.Op == OpEventDelete):
	default:
		return fmt.Errorf("%w: op %d in version %d", ErrEntryType, w.Op, version)
	}
	if len(w.Holder) > maxToken || len(w.ID) > maxToken {
		return bad("a holder or id over %d bytes", maxToken)
	}
	if version == FormatV1 {
		if w.Event != "" || w.Seats != nil || w.TTL != 0 || w.Count != 0 {
			return fmt.Errorf("%w: events, seat lists and holds in version 1", ErrEntryType)
		}
		return nil
	}
	switch w.Op {
	case OpEventCreate, OpEventDelete:
		if !validEventName(w.Event) {
			return bad("event name %q", w.Event)
		}
		if w.Seats != nil || w.Seat != 0 || w.Holder != "" || w.TTL != 0 {
			return bad("seats, a holder or a ttl on an event write")
		}
		if w.Op == OpEventCreate && (w.Count == 0 || w.Count > MaxSeats) {
			return bad("event of %d seats", w.Count)
		}
		if w.Op == OpEventDelete && w.Count != 0 {
			return bad("a count on EVENT DELETE")
		}
		return nil
	}
	if w.Event != "" && !validEventName(w.Event) {
		return bad("event name %q", w.Event)
	}
	if w.Count != 0 {
		return bad("a count on a seat write")
	}
	if w.Seats != nil {
		// (A list of one seat is encoded, and decoded, as one seat.)
		if len(w.Seats) < 1 || len(w.Seats) > MaxSeatsPerWrite {
			return bad("a write of %d seats", len(w.Seats))
		}
		for i := 1; i < len(w.Seats); i++ {
			if w.Seats[i] <= w.Seats[i-1] {
				return bad("seats not ascending")
			}
		}
	}
	switch {
	case w.Op == OpHold && (w.Holder == "" || w.TTL == 0 || w.TTL > MaxTTL):
		return bad("a hold of ttl %d by holder %q", w.TTL, w.Holder)
	case w.Op != OpHold && w.TTL != 0:
		return bad("a ttl on a write that is not a hold")
	}
	return nil
}

// AppendWrite appends one write of a Batch entry in the given format. It
// panics when the format does not have the write's kind (Check's
// ErrNeedsFormat): the voters of that format could not apply it. It encodes
// a write that breaks Decode's other rules as it is (tests make corrupt
// entries so); a leader calls Check first.
//
// Version 1:  op(1) seat(uvarint) holder(str) id(str)
// Version 2:  op(1), then for RESERVE, CANCEL and HOLD:
//
//	event(str) nseats(uvarint) first-seat(uvarint) then the gap to each next
//	seat (uvarint, > 0) holder(str) id(str) and for HOLD ttl(uvarint)
//
// for EVENT CREATE: event(str) count(uvarint) id(str);
// for EVENT DELETE: event(str) id(str).
// A str is its length (uvarint) and its bytes.
func AppendWrite(dst []byte, format uint8, w *Write) []byte {
	if !CanEncode(format, w) {
		panic(fmt.Sprintf("fsm: write op %d cannot be encoded in format %d: %v", w.Op, format, Check(format, w)))
	}
	dst = append(dst, byte(w.Op))
	if format == FormatV1 {
		dst = binary.AppendUvarint(dst, uint64(w.Seat))
		dst = appendStr(dst, w.Holder)
		return appendStr(dst, w.ID)
	}
	dst = appendStr(dst, w.Event)
	switch w.Op {
	case OpEventCreate:
		dst = binary.AppendUvarint(dst, uint64(w.Count))
		return appendStr(dst, w.ID)
	case OpEventDelete:
		return appendStr(dst, w.ID)
	}
	var one [1]uint32
	seats := w.seatList(&one)
	dst = binary.AppendUvarint(dst, uint64(len(seats)))
	prev := uint32(0)
	for i, s := range seats {
		if i == 0 {
			dst = binary.AppendUvarint(dst, uint64(s))
		} else {
			dst = binary.AppendUvarint(dst, uint64(s-prev))
		}
		prev = s
	}
	dst = appendStr(dst, w.Holder)
	dst = appendStr(dst, w.ID)
	if w.Op == OpHold {
		dst = binary.AppendUvarint(dst, uint64(w.TTL))
	}
	return dst
}

func appendHeader(dst []byte, version uint8, t EntryType, timeMs int64) []byte {
	dst = append(dst, version, byte(t))
	return binary.BigEndian.AppendUint64(dst, uint64(timeMs))
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Decode parses a log entry. It never panics and never allocates more than a
// small multiple of len(data); malformed input yields an error wrapping one of
// the sentinels above.
func Decode(data []byte) (Entry, error) {
	var e Entry
	if len(data) < headerLen {
		return e, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorruptData, len(data))
	}
	e.Version = data[0]
	if e.Version < FormatV1 || e.Version > MaxFormat {
		return e, fmt.Errorf("%w: version %d (this build applies 1 to %d)", ErrVersion, e.Version, MaxFormat)
	}
	e.Type = EntryType(data[1])
	e.Time = int64(binary.BigEndian.Uint64(data[2:10]))
	d := decoder{buf: data[headerLen:]}
	switch {
	case e.Type == TypeInit && e.Version == FormatV1:
		n := d.uvarint()
		if d.err == nil && (n == 0 || n > MaxSeats) {
			return e, fmt.Errorf("%w: seat count %d out of range", ErrCorruptData, n)
		}
		e.Seats = uint32(n)
	case e.Type == TypeBatch:
		n := d.uvarint()
		// Every write takes at least 4 bytes, which bounds the allocation
		// by the entry's own size.
		if d.err == nil && (n == 0 || n > MaxBatch || n > uint64(len(d.buf))/4) {
			return e, fmt.Errorf("%w: batch of %d writes in %d bytes", ErrCorruptData, n, len(d.buf))
		}
		if d.err == nil {
			e.Writes = make([]Write, n)
			for i := range e.Writes {
				if err := d.write(e.Version, &e.Writes[i]); err != nil {
					return Entry{}, err
				}
				if d.err != nil {
					break
				}
			}
		}
	case e.Type == TypeTick && e.Version >= FormatV2:
	case e.Type == TypeFormat && e.Version >= FormatV2:
		e.Format = d.byte()
		if d.err == nil && (e.Format < FormatV1 || e.Format > MaxFormat) {
			return e, fmt.Errorf("%w: a format entry raising the cluster to version %d (this build applies 1 to %d)", ErrVersion, e.Format, MaxFormat)
		}
	default:
		return e, fmt.Errorf("%w: type %d in version %d", ErrEntryType, e.Type, e.Version)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail()
	}
	if d.err != nil {
		return Entry{}, d.err
	}
	return e, nil
}

// write decodes one write of a batch of the given version and checks it
// with checkWrite.
func (d *decoder) write(version uint8, w *Write) error {
	w.Op = Op(d.byte())
	if d.err != nil {
		return nil
	}
	if w.Op < OpReserve || w.Op > OpEventDelete || (version == FormatV1 && w.Op > OpCancel) {
		return fmt.Errorf("%w: op %d in version %d", ErrEntryType, w.Op, version)
	}
	if version == FormatV1 {
		w.Seat = d.seat()
		w.Holder = d.str()
		w.ID = d.str()
		return d.check(version, w)
	}
	w.Event = d.str()
	switch w.Op {
	case OpEventCreate:
		n := d.uvarint()
		if d.err == nil && (n == 0 || n > MaxSeats) {
			return fmt.Errorf("%w: event of %d seats", ErrCorruptData, n)
		}
		w.Count = uint32(n)
		w.ID = d.str()
		return d.check(version, w)
	case OpEventDelete:
		w.ID = d.str()
		return d.check(version, w)
	}
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > MaxSeatsPerWrite) {
		return fmt.Errorf("%w: a write of %d seats", ErrCorruptData, n)
	}
	if d.err != nil {
		return nil
	}
	if n == 1 {
		w.Seat = d.seat()
	} else {
		w.Seats = make([]uint32, n)
		for i := range w.Seats {
			v := d.uvarint()
			if i > 0 {
				// The gap to the next seat: positive, and not past the
				// largest seat number (checked before adding, so that
				// it cannot wrap).
				prev := uint64(w.Seats[i-1])
				if d.err == nil && (v == 0 || v > math.MaxUint32-prev) {
					return fmt.Errorf("%w: seats not ascending", ErrCorruptData)
				}
				v += prev
			}
			if v > math.MaxUint32 {
				d.fail()
				return nil
			}
			w.Seats[i] = uint32(v)
		}
	}
	w.Holder = d.str()
	w.ID = d.str()
	if w.Op == OpHold {
		ttl := d.uvarint()
		if ttl > MaxTTL {
			ttl = MaxTTL + 1 // out of range either way; keeps it in 32 bits for the check
		}
		w.TTL = uint32(ttl)
	}
	return d.check(version, w)
}

// check applies checkWrite to a write decoded without error so far.
func (d *decoder) check(version uint8, w *Write) error {
	if d.err != nil {
		return nil
	}
	return checkWrite(version, w)
}

// decoder reads a byte slice and remembers the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed", ErrCorruptData)
	}
	d.buf = nil
}

func (d *decoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail()
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) seat() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail()
		return 0
	}
	return uint32(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > maxToken || n > uint64(len(d.buf)) {
		d.fail()
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

// validEventName mirrors the protocol's rule (1–64 of A-Z a-z 0-9 . _ -);
// fsm is a leaf and does not import the protocol package.
func validEventName(name string) bool {
	if len(name) == 0 || len(name) > maxToken {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}
