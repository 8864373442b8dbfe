package replica

import (
	"errors"
	"fmt"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
)

// resultLine is the answer line of a write's result.
func resultLine(r fsm.Result) string {
	var word string
	switch r.Code {
	case fsm.CodeSuccess:
		return protocol.Success
	case fsm.CodeHeld:
		return protocol.HeldLine(r.Expires)
	case fsm.CodeAlreadyBooked:
		word = protocol.FailedAlreadyBooked
	case fsm.CodeInvalidSeat:
		word = protocol.FailedInvalidSeat
	case fsm.CodeNotBooked:
		word = protocol.FailedNotBooked
	case fsm.CodeNotHolder:
		word = protocol.FailedNotHolder
	case fsm.CodeNoEvent:
		return protocol.FailedNoEvent
	case fsm.CodeExists:
		return protocol.FailedExists
	case fsm.CodeInvalidCommand:
		return protocol.InvalidCommand
	case fsm.CodeTooManyEvents:
		return protocol.ErrorLine(protocol.Busy, fmt.Sprintf("the cluster holds %d events, the most it may; delete some first", fsm.MaxEvents))
	default:
		return protocol.ErrorLine(protocol.Timeout, "unknown result from the state machine")
	}
	if len(r.Seats) > 0 {
		return protocol.SeatsLine(word, r.Seats)
	}
	return word
}

// ReadLocal answers a read from the local state machine, without asking the
// leader: linearizable only on a leader whose leadership was just confirmed
// (the read batcher), possibly stale anywhere else.
func (r *Replica) ReadLocal(req protocol.Request) string {
	switch req.Verb {
	case protocol.VerbLeader:
		return protocol.LeaderLine(r.cfg.ID)
	case protocol.VerbEventList:
		return protocol.EventsLine(r.fsm.Events())
	case protocol.VerbHistory:
		changes, err := r.fsm.History(req.Event, req.Seat)
		if err != nil {
			return lookupFailure(err)
		}
		out := make([]protocol.Change, len(changes))
		for i, c := range changes {
			out[i] = protocol.Change{Op: c.Op.String(), Holder: c.Holder, Index: c.Index, TimeMs: c.TimeMs}
		}
		return protocol.HistoryLine(out)
	}
	if req.HasSeat {
		s, err := r.fsm.Seat(req.Event, req.Seat)
		switch {
		case err != nil:
			return lookupFailure(err)
		case s.State == fsm.SeatBooked:
			return protocol.BookedLine(s.Holder)
		case s.State == fsm.SeatHeld:
			return protocol.HeldStatusLine(s.Holder, s.Expires)
		}
		return protocol.Free
	}
	sum, err := r.fsm.Summary(req.Event)
	if err != nil {
		return lookupFailure(err)
	}
	return protocol.SummaryLine(sum.Total, sum.Free, sum.Booked, sum.Held, sum.SawHold)
}

// lookupFailure is the answer to a read of a seat or event that does not
// exist.
func lookupFailure(err error) string {
	if errors.Is(err, fsm.ErrNoEvent) {
		return protocol.FailedNoEvent
	}
	return protocol.FailedInvalidSeat
}
