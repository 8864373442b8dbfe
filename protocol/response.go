package protocol

import (
	"strconv"
	"strings"
)

// Fixed response lines (without their '\n').
const (
	Success             = "SUCCESS"
	FailedAlreadyBooked = "FAILED_ALREADY_BOOKED"
	FailedInvalidSeat   = "FAILED_INVALID_SEAT"
	FailedNotBooked     = "FAILED_NOT_BOOKED"
	FailedNotHolder     = "FAILED_NOT_HOLDER"
	FailedNoEvent       = "FAILED_NO_EVENT"
	FailedExists        = "FAILED_EXISTS"
	Free                = "FREE"
	Booked              = "BOOKED"
	Held                = "HELD"
	Events              = "EVENTS"
	History             = "HISTORY"
	InvalidCommand      = "INVALID_COMMAND"
)

// ErrorCode is the code word of an "ERROR <CODE> [text]" response.
type ErrorCode string

// The error codes of the protocol. For a write, every code but NoLeader,
// LineTooLong, Busy, ShuttingDown and Forbidden leaves the outcome unknown.
const (
	NoLeader     ErrorCode = "NO_LEADER"     // no leader within the node's wait; nothing applied
	Timeout      ErrorCode = "TIMEOUT"       // sent towards the leader, no result in time: outcome unknown
	LineTooLong  ErrorCode = "LINE_TOO_LONG" // line over MaxLine bytes; the connection closes
	Busy         ErrorCode = "BUSY"          // load shed; nothing applied
	ShuttingDown ErrorCode = "SHUTTING_DOWN" // node stopping; nothing applied
	Forbidden    ErrorCode = "FORBIDDEN"     // the client's identity may not act as the holder named; nothing applied

	// NotLeader is spoken only between nodes: the node a request was
	// forwarded to is not the leader, so the sender may try the real
	// leader. It applied nothing — or, for a write with an id, may have,
	// which a retry with the same id resolves. Clients never see it.
	NotLeader ErrorCode = "NOT_LEADER"
)

// ErrorLine returns the response line "ERROR <code>" followed by text when
// text is not empty.
func ErrorLine(code ErrorCode, text string) string {
	if text == "" {
		return "ERROR " + string(code)
	}
	return "ERROR " + string(code) + " " + text
}

// BookedLine returns the STATUS answer for a booked seat.
func BookedLine(holder string) string {
	if holder == "" {
		return Booked
	}
	return Booked + " " + holder
}

// HeldLine returns the answer to a HOLD that took effect.
func HeldLine(expiresMs int64) string {
	return string(strconv.AppendInt([]byte(Held+" "), expiresMs, 10))
}

// HeldStatusLine returns the STATUS answer for a held seat.
func HeldStatusLine(holder string, expiresMs int64) string {
	b := make([]byte, 0, 32+len(holder))
	b = append(b, Held+" "...)
	b = append(b, holder...)
	b = append(b, ' ')
	return string(strconv.AppendInt(b, expiresMs, 10))
}

// SeatsLine returns a failure word followed by the seats that caused it,
// every one of them, comma-separated: FAILED_ALREADY_BOOKED 4,9.
func SeatsLine(word string, seats []uint32) string {
	b := make([]byte, 0, len(word)+8*len(seats))
	b = append(b, word...)
	for i, s := range seats {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(s), 10)
	}
	return string(b)
}

// SummaryLine returns the answer to the summary STATUS request. An event
// that has seen a hold (withHeld) adds " HELD <held>"; one that never did
// keeps part 1's line byte for byte.
func SummaryLine(total, free, booked, held int, withHeld bool) string {
	b := make([]byte, 0, 64)
	b = append(b, "SEATS "...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, " FREE "...)
	b = strconv.AppendInt(b, int64(free), 10)
	b = append(b, " BOOKED "...)
	b = strconv.AppendInt(b, int64(booked), 10)
	if withHeld {
		b = append(b, " HELD "...)
		b = strconv.AppendInt(b, int64(held), 10)
	}
	return string(b)
}

// EventsLine returns the answer to EVENT LIST.
func EventsLine(names []string) string {
	n := len(Events)
	for _, name := range names {
		n += 1 + len(name)
	}
	b := make([]byte, 0, n)
	b = append(b, Events...)
	for _, name := range names {
		b = append(b, ' ')
		b = append(b, name...)
	}
	return string(b)
}

// Change is one entry of a seat's history as HISTORY shows it.
type Change struct {
	Op     string // HOLD, RESERVE, CONFIRM, CANCEL, RELEASE or EXPIRE
	Holder string // "" for anonymous
	Index  uint64 // the Raft log index of the entry that made the change
	TimeMs int64  // the leader's time of that entry, Unix milliseconds
}

// HistoryLine returns the answer to HISTORY: the word, the number of
// changes, then each change oldest first as op,holder,index,time-ms (an
// anonymous holder is empty: RESERVE,,12,1767225600000).
func HistoryLine(changes []Change) string {
	b := make([]byte, 0, 16+len(changes)*48)
	b = append(b, History+" "...)
	b = strconv.AppendInt(b, int64(len(changes)), 10)
	for _, c := range changes {
		b = append(b, ' ')
		b = append(b, c.Op...)
		b = append(b, ',')
		b = append(b, c.Holder...)
		b = append(b, ',')
		b = strconv.AppendUint(b, c.Index, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, c.TimeMs, 10)
	}
	return string(b)
}

// LeaderLine returns the answer to LEADER.
func LeaderLine(nodeID string) string { return "LEADER " + nodeID }

// Kind classifies a response line, which is what a client's exit status and
// retry decision depend on.
type Kind uint8

// Response kinds.
const (
	KindOK      Kind = iota // SUCCESS, FREE, BOOKED…, HELD…, SEATS…, LEADER…, EVENTS…, HISTORY…
	KindFailed              // FAILED_* and INVALID_COMMAND
	KindError               // ERROR …
	KindUnknown             // anything else (a protocol violation by the server)
)

// Classify returns the kind of a response line.
func Classify(resp string) Kind {
	word, _, _ := strings.Cut(resp, " ")
	switch word {
	case Success, Free, Booked, Held, Events, History, "SEATS", "LEADER":
		return KindOK
	case InvalidCommand:
		return KindFailed
	case "ERROR":
		return KindError
	}
	if strings.HasPrefix(word, "FAILED_") {
		return KindFailed
	}
	return KindUnknown
}

// ErrorCodeOf returns the code of an ERROR response line, or "" when resp is
// not an ERROR line.
func ErrorCodeOf(resp string) ErrorCode {
	rest, ok := strings.CutPrefix(resp, "ERROR ")
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(rest, " ")
	return ErrorCode(code)
}
