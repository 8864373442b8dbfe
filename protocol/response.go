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
	Free                = "FREE"
	Booked              = "BOOKED"
	InvalidCommand      = "INVALID_COMMAND"
)

// ErrorCode is the code word of an "ERROR <CODE> [text]" response.
type ErrorCode string

// The error codes of the protocol. For a write, every code but NoLeader,
// LineTooLong, Busy and ShuttingDown leaves the outcome unknown.
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

// SummaryLine returns the answer to the summary STATUS request.
func SummaryLine(total, free, booked int) string {
	b := make([]byte, 0, 48)
	b = append(b, "SEATS "...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, " FREE "...)
	b = strconv.AppendInt(b, int64(free), 10)
	b = append(b, " BOOKED "...)
	b = strconv.AppendInt(b, int64(booked), 10)
	return string(b)
}

// LeaderLine returns the answer to LEADER.
func LeaderLine(nodeID string) string { return "LEADER " + nodeID }

// Kind classifies a response line, which is what a client's exit status and
// retry decision depend on.
type Kind uint8

// Response kinds.
const (
	KindOK      Kind = iota // SUCCESS, FREE, BOOKED…, SEATS…, LEADER…
	KindFailed              // FAILED_* and INVALID_COMMAND
	KindError               // ERROR …
	KindUnknown             // anything else (a protocol violation by the server)
)

// Classify returns the kind of a response line.
func Classify(resp string) Kind {
	word, _, _ := strings.Cut(resp, " ")
	switch word {
	case Success, Free, Booked, "SEATS", "LEADER":
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
