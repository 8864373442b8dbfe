package fsm

import "time"

// Result is the outcome of one write, recorded for its id and answered to
// the client.
type Result uint8

// Write results. The zero value is not a result.
const (
	ResultSuccess       Result = 1
	ResultAlreadyBooked Result = 2
	ResultInvalidSeat   Result = 3
	ResultNotBooked     Result = 4
	ResultNotHolder     Result = 5
)

// String returns the protocol word for the result.
func (r Result) String() string {
	switch r {
	case ResultSuccess:
		return "SUCCESS"
	case ResultAlreadyBooked:
		return "FAILED_ALREADY_BOOKED"
	case ResultInvalidSeat:
		return "FAILED_INVALID_SEAT"
	case ResultNotBooked:
		return "FAILED_NOT_BOOKED"
	case ResultNotHolder:
		return "FAILED_NOT_HOLDER"
	}
	return "UNKNOWN"
}

// The protocol promises that an applied id is remembered for at least
// IDRetention or for the last MinIDs ids, whichever keeps more.
const (
	IDRetention = 10 * time.Minute
	MinIDs      = 100_000
)

// seat is one seat's state. A free seat has booked == false and no holder.
type seat struct {
	booked bool
	holder string
}

// appliedID is one remembered exactly-once id, in apply order.
type appliedID struct {
	id     string
	timeMs int64
	result Result
}

// state is the whole replicated state. It is plain data: Apply logic works on
// it without any Raft types, so it is unit-tested and reused by Restore.
type state struct {
	seats  []seat // seats[i] is seat i+1; empty until the Init entry
	booked int
	// lastTimeMs is the largest entry time applied so far; entry times are
	// clamped to it so that time never goes backwards along the log.
	lastTimeMs int64
	ids        map[string]Result
	// order holds the remembered ids oldest first; order[head:] is live.
	order []appliedID
	head  int

	retentionMs int64
	minIDs      int
}

func newState(retention time.Duration, minIDs int) *state {
	return &state{
		ids:         make(map[string]Result),
		retentionMs: retention.Milliseconds(),
		minIDs:      minIDs,
	}
}

// apply applies one decoded entry and returns the results of its writes
// (nil for an Init entry).
func (s *state) apply(e *Entry) []Result {
	if e.Time > s.lastTimeMs {
		s.lastTimeMs = e.Time
	}
	switch e.Type {
	case TypeInit:
		if len(s.seats) == 0 {
			s.seats = make([]seat, e.Seats)
		}
		return nil
	case TypeBatch:
		results := make([]Result, len(e.Writes))
		for i := range e.Writes {
			results[i] = s.applyWrite(&e.Writes[i])
		}
		s.forgetOldIDs()
		return results
	}
	return nil
}

func (s *state) applyWrite(w *Write) Result {
	if w.ID != "" && !mutNoDedup {
		if r, ok := s.ids[w.ID]; ok {
			return r
		}
	}
	var r Result
	switch w.Op {
	case OpReserve:
		r = s.reserve(w.Seat, w.Holder)
	case OpCancel:
		r = s.cancel(w.Seat, w.Holder)
	}
	if w.ID != "" {
		s.ids[w.ID] = r
		s.order = append(s.order, appliedID{id: w.ID, timeMs: s.lastTimeMs, result: r})
	}
	return r
}

func (s *state) reserve(n uint32, holder string) Result {
	if n == 0 || int(n) > len(s.seats) {
		return ResultInvalidSeat
	}
	st := &s.seats[n-1]
	if !st.booked {
		st.booked, st.holder = true, holder
		s.booked++
		return ResultSuccess
	}
	if holder != "" && st.holder == holder {
		return ResultSuccess
	}
	return ResultAlreadyBooked
}

func (s *state) cancel(n uint32, holder string) Result {
	if n == 0 || int(n) > len(s.seats) {
		return ResultInvalidSeat
	}
	st := &s.seats[n-1]
	if !st.booked {
		return ResultNotBooked
	}
	if st.holder != holder {
		return ResultNotHolder
	}
	st.booked, st.holder = false, ""
	s.booked--
	return ResultSuccess
}

// forgetOldIDs drops the oldest ids while more than minIDs are kept and the
// oldest is older than the retention, measured in log time.
func (s *state) forgetOldIDs() {
	cutoff := s.lastTimeMs - s.retentionMs
	for len(s.order)-s.head > s.minIDs && s.order[s.head].timeMs < cutoff {
		// The element is not cleared: a snapshot may still be reading it.
		delete(s.ids, s.order[s.head].id)
		s.head++
	}
	// Compact once the dead prefix is the larger part of the slice.
	if s.head > 1024 && s.head*2 > len(s.order) {
		s.order = append(s.order[:0:0], s.order[s.head:]...)
		s.head = 0
	}
}
