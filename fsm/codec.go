package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EntryVersion is the version byte every log entry written by this code
// starts with. Apply refuses entries of any other version.
const EntryVersion = 1

// EntryType is the second byte of a log entry.
type EntryType uint8

// Entry types.
const (
	// TypeInit creates the cluster's seats. It is written once, by the first
	// leader of a new cluster; later Init entries change nothing.
	TypeInit EntryType = 1
	// TypeBatch carries one or more client writes, applied in order.
	TypeBatch EntryType = 2
)

// Op is one write operation inside a batch.
type Op uint8

// Write operations.
const (
	OpReserve Op = 1
	OpCancel  Op = 2
)

// Limits that bound what a decoded entry may claim, so that a corrupt entry
// can never make a node allocate without bound.
const (
	// MaxSeats is the largest seat count a cluster may be created with.
	MaxSeats = 1_000_000
	// MaxBatch is the largest number of writes one entry may carry.
	MaxBatch = 1 << 16
	// maxToken is the longest holder or id (the protocol allows 64).
	maxToken = 64
)

// Write is one client write: reserve or cancel a seat for a holder
// (empty = anonymous), optionally under an exactly-once id.
type Write struct {
	Op     Op
	Seat   uint32 // 0 = not a valid seat number; answered ResultInvalidSeat
	Holder string
	ID     string
}

// Entry is a decoded log entry.
type Entry struct {
	Type EntryType
	// Time is the leader's wall clock in Unix milliseconds when it built
	// the entry. Apply uses max(Time, time of the previous entry).
	Time int64
	// Seats is the seat count of a TypeInit entry.
	Seats uint32
	// Writes are the writes of a TypeBatch entry, in order.
	Writes []Write
}

// Errors returned by Decode. A node that meets one applies nothing for that
// entry; every node meets the same error for the same bytes, so state never
// diverges.
var (
	ErrShortEntry  = errors.New("fsm: truncated log entry")
	ErrVersion     = errors.New("fsm: unsupported log entry version")
	ErrEntryType   = errors.New("fsm: unknown log entry type")
	ErrCorruptData = errors.New("fsm: corrupt log entry")
)

const headerLen = 1 + 1 + 8 // version, type, time

// AppendInit appends the encoding of an Init entry to dst.
//
//	version(1) type(1)=1 time(8, big-endian) seats(uvarint)
func AppendInit(dst []byte, timeMs int64, seats uint32) []byte {
	dst = appendHeader(dst, TypeInit, timeMs)
	return binary.AppendUvarint(dst, uint64(seats))
}

// AppendBatch appends the encoding of a Batch entry to dst.
//
//	version(1) type(1)=2 time(8, big-endian) count(uvarint)
//	then per write: op(1) seat(uvarint) len(uvarint) holder len(uvarint) id
func AppendBatch(dst []byte, timeMs int64, writes []Write) []byte {
	dst = appendHeader(dst, TypeBatch, timeMs)
	dst = binary.AppendUvarint(dst, uint64(len(writes)))
	for i := range writes {
		dst = AppendWrite(dst, writes[i])
	}
	return dst
}

// AppendBatchHeader appends the header of a Batch entry of count writes; the
// caller then appends each write with AppendWrite. It lets a batcher encode
// writes as they arrive without building a []Write first.
func AppendBatchHeader(dst []byte, timeMs int64, count int) []byte {
	dst = appendHeader(dst, TypeBatch, timeMs)
	return binary.AppendUvarint(dst, uint64(count))
}

// AppendWrite appends one write of a Batch entry.
func AppendWrite(dst []byte, w Write) []byte {
	dst = append(dst, byte(w.Op))
	dst = binary.AppendUvarint(dst, uint64(w.Seat))
	dst = binary.AppendUvarint(dst, uint64(len(w.Holder)))
	dst = append(dst, w.Holder...)
	dst = binary.AppendUvarint(dst, uint64(len(w.ID)))
	return append(dst, w.ID...)
}

func appendHeader(dst []byte, t EntryType, timeMs int64) []byte {
	dst = append(dst, EntryVersion, byte(t))
	return binary.BigEndian.AppendUint64(dst, uint64(timeMs))
}

// Decode parses a log entry. It never panics and never allocates more than a
// small multiple of len(data); malformed input yields an error wrapping one of
// the sentinels above.
func Decode(data []byte) (Entry, error) {
	var e Entry
	if len(data) < headerLen {
		return e, ErrShortEntry
	}
	if data[0] != EntryVersion {
		return e, fmt.Errorf("%w: %d", ErrVersion, data[0])
	}
	e.Type = EntryType(data[1])
	e.Time = int64(binary.BigEndian.Uint64(data[2:10]))
	d := decoder{buf: data[headerLen:]}
	switch e.Type {
	case TypeInit:
		n := d.uvarint()
		if d.err == nil && (n == 0 || n > MaxSeats) {
			return e, fmt.Errorf("%w: seat count %d out of range", ErrCorruptData, n)
		}
		e.Seats = uint32(n)
	case TypeBatch:
		n := d.uvarint()
		// Every write takes at least 4 bytes, which bounds the allocation
		// by the entry's own size.
		if d.err == nil && (n == 0 || n > MaxBatch || n > uint64(len(d.buf))/4) {
			return e, fmt.Errorf("%w: batch of %d writes in %d bytes", ErrCorruptData, n, len(d.buf))
		}
		if d.err == nil {
			e.Writes = make([]Write, n)
			for i := range e.Writes {
				w := &e.Writes[i]
				w.Op = Op(d.byte())
				if d.err == nil && w.Op != OpReserve && w.Op != OpCancel {
					return Entry{}, fmt.Errorf("%w: unknown op %d", ErrCorruptData, w.Op)
				}
				seat := d.uvarint()
				if seat > 1<<32-1 {
					d.fail()
				}
				w.Seat = uint32(seat)
				w.Holder = d.str()
				w.ID = d.str()
			}
		}
	default:
		return e, fmt.Errorf("%w: %d", ErrEntryType, e.Type)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail()
	}
	if d.err != nil {
		return Entry{}, d.err
	}
	return e, nil
}

// decoder reads a byte slice and remembers the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorruptData
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
