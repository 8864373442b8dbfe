package fsm

import "slices"

// Code is the kind of outcome of one write.
type Code uint8

// Write outcomes. The zero value is not an outcome. The numbers are part of
// the snapshot format (and 1–5 of format 1's): never renumber them.
const (
	CodeSuccess        Code = 1
	CodeAlreadyBooked  Code = 2
	CodeInvalidSeat    Code = 3
	CodeNotBooked      Code = 4
	CodeNotHolder      Code = 5
	CodeHeld           Code = 6 // a HOLD took effect; Result.Expires says until when
	CodeNoEvent        Code = 7
	CodeExists         Code = 8
	CodeInvalidCommand Code = 9  // a write the protocol forbids (EVENT DELETE default)
	CodeTooManyEvents  Code = 10 // EVENT CREATE when the cluster holds MaxEvents events
	maxCode                 = CodeTooManyEvents
)

// String returns the protocol word of the code (for logs and tests; the
// node formats answers with package protocol).
func (c Code) String() string {
	switch c {
	case CodeSuccess:
		return "SUCCESS"
	case CodeAlreadyBooked:
		return "FAILED_ALREADY_BOOKED"
	case CodeInvalidSeat:
		return "FAILED_INVALID_SEAT"
	case CodeNotBooked:
		return "FAILED_NOT_BOOKED"
	case CodeNotHolder:
		return "FAILED_NOT_HOLDER"
	case CodeHeld:
		return "HELD"
	case CodeNoEvent:
		return "FAILED_NO_EVENT"
	case CodeExists:
		return "FAILED_EXISTS"
	case CodeInvalidCommand:
		return "INVALID_COMMAND"
	case CodeTooManyEvents:
		return "ERROR BUSY"
	}
	return "UNKNOWN"
}

// Result is the outcome of one write: what its id records and what the
// client is answered.
type Result struct {
	Code Code
	// Expires is when a hold that took effect (CodeHeld) ends: leader
	// time, Unix milliseconds.
	Expires int64
	// Seats are, for a failed write that named several seats, the seats
	// that caused the failure (ascending). A write of one seat has none:
	// its answer is part 1's bare word.
	Seats []uint32
}

// Results of the writes of part 1, which carry nothing but their code.
var (
	ResultSuccess       = Result{Code: CodeSuccess}
	ResultAlreadyBooked = Result{Code: CodeAlreadyBooked}
	ResultInvalidSeat   = Result{Code: CodeInvalidSeat}
	ResultNotBooked     = Result{Code: CodeNotBooked}
	ResultNotHolder     = Result{Code: CodeNotHolder}
)

// Equal reports whether two results are the same outcome.
func (r Result) Equal(o Result) bool {
	return r.Code == o.Code && r.Expires == o.Expires && slices.Equal(r.Seats, o.Seats)
}
