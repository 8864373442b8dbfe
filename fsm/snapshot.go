package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// Snapshot format, version 1 (all integers varint/uvarint unless noted):
//
//	magic "SEATSNAP" (8 bytes) version (1 byte) = 1
//	lastTimeMs (varint)
//	seatCount (uvarint), then per seat: 0 (free) | 1 len holder (booked)
//	idCount (uvarint), then per id, oldest first: len id timeMs(varint) result(1 byte)
//	end marker "END!" (4 bytes)
const (
	snapshotMagic   = "SEATSNAP"
	snapshotVersion = 1
	snapshotEnd     = "END!"
)

// ErrSnapshot is wrapped by every error reading a malformed snapshot.
var ErrSnapshot = errors.New("fsm: bad snapshot")

type snapshot struct {
	seats      []seat
	lastTimeMs int64
	ids        []appliedID
}

// Persist encodes the captured state into the sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 64<<10)
	if err := s.encode(w); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot holds no resources.
func (s *snapshot) Release() {}

func (s *snapshot) encode(w *bufio.Writer) error {
	var buf [binary.MaxVarintLen64]byte
	uv := func(v uint64) { w.Write(buf[:binary.PutUvarint(buf[:], v)]) }
	sv := func(v int64) { w.Write(buf[:binary.PutVarint(buf[:], v)]) }
	str := func(s string) { uv(uint64(len(s))); w.WriteString(s) }

	w.WriteString(snapshotMagic)
	w.WriteByte(snapshotVersion)
	sv(s.lastTimeMs)
	uv(uint64(len(s.seats)))
	for _, st := range s.seats {
		if !st.booked {
			w.WriteByte(0)
			continue
		}
		w.WriteByte(1)
		str(st.holder)
	}
	uv(uint64(len(s.ids)))
	for _, a := range s.ids {
		str(a.id)
		sv(a.timeMs)
		w.WriteByte(byte(a.result))
	}
	_, err := w.WriteString(snapshotEnd)
	return err // bufio.Writer keeps the first error; Flush reports it too
}

// readSnapshot decodes a snapshot into a fresh state.
func readSnapshot(r io.Reader, opts Options) (*state, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	fail := func(what string, err error) (*state, error) {
		if err == nil {
			return nil, fmt.Errorf("%w: %s", ErrSnapshot, what)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrSnapshot, what, err)
	}
	head := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(br, head); err != nil {
		return fail("header", err)
	}
	if string(head[:len(snapshotMagic)]) != snapshotMagic {
		return fail("magic", nil)
	}
	if head[len(snapshotMagic)] != snapshotVersion {
		return fail(fmt.Sprintf("unsupported version %d", head[len(snapshotMagic)]), nil)
	}
	readStr := func() (string, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return "", err
		}
		if n > maxToken {
			return "", fmt.Errorf("string of %d bytes", n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return string(b), err
	}

	st := newState(opts.IDRetention, opts.MinIDs)
	var err error
	if st.lastTimeMs, err = binary.ReadVarint(br); err != nil {
		return fail("time", err)
	}
	nseats, err := binary.ReadUvarint(br)
	if err != nil || nseats > MaxSeats {
		return fail("seat count", err)
	}
	st.seats = make([]seat, nseats)
	for i := range st.seats {
		flag, err := br.ReadByte()
		if err != nil || flag > 1 {
			return fail("seat flag", err)
		}
		if flag == 1 {
			st.seats[i].booked = true
			if st.seats[i].holder, err = readStr(); err != nil {
				return fail("holder", err)
			}
			st.booked++
		}
	}
	nids, err := binary.ReadUvarint(br)
	if err != nil {
		return fail("id count", err)
	}
	for i := uint64(0); i < nids; i++ {
		var a appliedID
		if a.id, err = readStr(); err != nil {
			return fail("id", err)
		}
		if a.timeMs, err = binary.ReadVarint(br); err != nil {
			return fail("id time", err)
		}
		r, err := br.ReadByte()
		if err != nil {
			return fail("id result", err)
		}
		a.result = Result(r)
		if a.result < ResultSuccess || a.result > ResultNotHolder {
			return fail(fmt.Sprintf("id %q has unknown result %d", a.id, r), nil)
		}
		if _, dup := st.ids[a.id]; dup {
			return fail(fmt.Sprintf("id %q appears twice", a.id), nil)
		}
		st.order = append(st.order, a)
		st.ids[a.id] = a.result
	}
	end := make([]byte, len(snapshotEnd))
	if _, err := io.ReadFull(br, end); err != nil || string(end) != snapshotEnd {
		return fail("end marker", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return fail("data after the end marker", err)
	}
	return st, nil
}
