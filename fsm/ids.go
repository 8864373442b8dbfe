package fsm

import (
	"hash/maphash"
	"iter"
	"unsafe"
)

// idRecord is one remembered exactly-once id. It holds no pointer — the id's
// bytes and its result's seats are positions in the table's byte and seat
// chunks — so that the garbage collector never scans the table, however
// many millions of ids a sale leaves in it.
type idRecord struct {
	timeMs int64
	idAt   uint64 // position of the id's first byte in idTable.bytes
	// more is the result's Expires when its code is CodeHeld (such a result
	// names no seats), else the position of its first seat in idTable.seats.
	more   uint64
	idLen  uint8 // ids are at most maxToken (64) bytes
	nSeats uint8 // results name at most MaxSeatsPerWrite (100) seats
	code   Code
}

// Chunk lengths (log2): 4,096 records of 32 bytes, 16 KB of id bytes, 4,096 seats.
const (
	idRecordShift = 12
	idBytesShift  = 14
	idSeatsShift  = 12
)

// idTable remembers the results of applied exactly-once ids for at least
// the retention (in log time) or the last minIDs ids, whichever keeps more.
// Ids are numbered in apply order from 0; an id's number is the position
// of its record.
type idTable struct {
	records chunks[idRecord]
	bytes   chunks[byte]
	seats   chunks[uint32]
	head    uint64 // number of the oldest remembered id; records.end is past the newest

	// index maps the hash of a remembered id to its number. An id whose
	// hash a remembered id already had is in overflow instead (with a
	// 64-bit hash, next to never; the table is right either way).
	index    map[uint64]uint64
	overflow map[string]uint64
	hash     func(string) uint64

	// retentionMs is the retention of the cluster's format: legacyMs
	// before FormatV3, v3Ms from it (useFormat).
	retentionMs, legacyMs, v3Ms int64
	minIDs                      int
}

func newIDTable(opts Options) idTable {
	legacy := opts.IDRetention.Milliseconds()
	v3 := legacy
	if opts.IDRetentionV3 != 0 {
		v3 = opts.IDRetentionV3.Milliseconds()
	}
	seed := maphash.MakeSeed() // the index is local to this process: nothing replicated depends on it
	return idTable{
		records:     newChunks[idRecord](idRecordShift),
		bytes:       newChunks[byte](idBytesShift),
		seats:       newChunks[uint32](idSeatsShift),
		index:       make(map[uint64]uint64),
		overflow:    make(map[string]uint64),
		hash:        func(id string) uint64 { return maphash.String(seed, id) },
		retentionMs: legacy, legacyMs: legacy, v3Ms: v3, minIDs: opts.MinIDs,
	}
}

// useFormat sets the retention of the cluster's format version.
func (t *idTable) useFormat(format uint8) {
	if format >= FormatV3 {
		t.retentionMs = t.v3Ms
	} else {
		t.retentionMs = t.legacyMs
	}
}

// find returns the number of a remembered id.
func (t *idTable) find(id string) (uint64, bool) {
	if n, ok := t.index[t.hash(id)]; ok && t.idOf(n) == id {
		return n, true
	}
	if len(t.overflow) == 0 {
		return 0, false
	}
	n, ok := t.overflow[id]
	return n, ok
}

func (t *idTable) lookup(id string) (Result, bool) {
	n, ok := t.find(id)
	if !ok {
		return Result{}, false
	}
	return t.resultOf(n), true
}

func (t *idTable) idOf(n uint64) string { return recordID(&t.records.at(n, 1)[0], &t.bytes) }

// recordID returns a record's id. The string shares the byte chunks, which
// is sound because bytes once reserved and written by add are never written
// again (see chunks), and it copies nothing, so that neither the index,
// forgetting nor a snapshot allocates per id.
func recordID(r *idRecord, bytes *chunks[byte]) string {
	b := bytes.at(r.idAt, int(r.idLen))
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (t *idTable) resultOf(n uint64) Result {
	return recordResult(&t.records.at(n, 1)[0], &t.seats)
}

// recordResult returns a record's result; its Seats share the seat chunks
// (never written again) and must not be modified.
func recordResult(r *idRecord, seats *chunks[uint32]) Result {
	res := Result{Code: r.code}
	switch {
	case r.code == CodeHeld:
		res.Expires = int64(r.more)
	case r.nSeats > 0:
		res.Seats = seats.at(r.more, int(r.nSeats))
	}
	return res
}

// add remembers an id that is not remembered. The id is at most maxToken
// bytes and the result names at most MaxSeatsPerWrite seats, and a HELD
// result none (the decoders and apply ensure all three).
func (t *idTable) add(id string, timeMs int64, r Result) {
	rec := idRecord{timeMs: timeMs, idLen: uint8(len(id)), nSeats: uint8(len(r.Seats)), code: r.Code}
	var b []byte
	rec.idAt, b = t.bytes.reserve(len(id))
	copy(b, id)
	switch {
	case r.Code == CodeHeld:
		rec.more = uint64(r.Expires)
	case len(r.Seats) > 0:
		var s []uint32
		rec.more, s = t.seats.reserve(len(r.Seats))
		copy(s, r.Seats)
	}
	n, slot := t.records.reserve(1)
	slot[0] = rec
	if h := t.hash(id); !hasKey(t.index, h) {
		t.index[h] = n
	} else {
		t.overflow[recordID(&slot[0], &t.bytes)] = n
	}
}

func hasKey(m map[uint64]uint64, k uint64) bool {
	_, ok := m[k]
	return ok
}

// len returns how many ids are remembered.
func (t *idTable) len() int { return int(t.records.end - t.head) }

// forgetOld drops the oldest ids while more than minIDs are kept and the
// oldest is older than the retention, measured in log time, and frees the
// chunks that hold only what it dropped.
func (t *idTable) forgetOld(nowMs int64) {
	cutoff := nowMs - t.retentionMs
	seatsEnd := uint64(0) // past the seats of the newest dropped id that names some
	oldHead := t.head
	for t.len() > t.minIDs {
		r := &t.records.at(t.head, 1)[0]
		if r.timeMs >= cutoff {
			break
		}
		id := recordID(r, &t.bytes)
		h := t.hash(id)
		if n, ok := t.index[h]; ok && n == t.head {
			delete(t.index, h)
		} else {
			delete(t.overflow, id)
		}
		if r.code != CodeHeld && r.nSeats > 0 {
			seatsEnd = r.more + uint64(r.nSeats)
		}
		t.head++
	}
	if t.head == oldHead {
		return
	}
	// Ids, their bytes and their seats are reserved in the same order: all
	// bytes before the oldest remembered id's, and all seats up to the
	// newest dropped id's, belong to dropped ids.
	t.records.forgetBefore(t.head)
	if t.len() == 0 {
		t.bytes.forgetBefore(t.bytes.end)
	} else {
		t.bytes.forgetBefore(t.records.at(t.head, 1)[0].idAt)
	}
	t.seats.forgetBefore(seatsEnd)
}

// view returns what a snapshot needs of the table: a copy that reads the
// ids remembered now while the table goes on. It costs O(chunks).
func (t *idTable) view() idView {
	return idView{records: t.records.view(), bytes: t.bytes.view(), seats: t.seats.view(), head: t.head}
}

// idView is a snapshot's view of the id table (see view).
type idView struct {
	records chunks[idRecord]
	bytes   chunks[byte]
	seats   chunks[uint32]
	head    uint64
}

// idEntry is one remembered id's time and result, as a view reads it.
type idEntry struct {
	timeMs int64
	result Result // Seats share the table's chunks: never modify them
}

func (v *idView) len() int { return int(v.records.end - v.head) }

// all returns the view's ids, oldest first.
func (v idView) all() iter.Seq2[string, idEntry] {
	return func(yield func(string, idEntry) bool) {
		for n := v.head; n < v.records.end; n++ {
			r := &v.records.at(n, 1)[0]
			if !yield(recordID(r, &v.bytes), idEntry{r.timeMs, recordResult(r, &v.seats)}) {
				return
			}
		}
	}
}
