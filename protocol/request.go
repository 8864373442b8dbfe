package protocol

import (
	"errors"
	"strconv"
)

// MaxLine is the longest request line accepted, counted before its '\n'
// (a '\r' before the '\n' counts). Longer lines get ERROR LINE_TOO_LONG.
const MaxLine = 4096

// MaxTokenLen is the longest holder or id the protocol allows.
const MaxTokenLen = 64

// maxSeatNumber bounds the digits a seat may have before it is simply
// invalid; it keeps parsing allocation-free and overflow-free.
const maxSeatNumber = 1 << 31

// Verb identifies what a request asks for.
type Verb uint8

// The verbs of part 1 of the protocol.
const (
	VerbNone    Verb = iota // zero value: not a request
	VerbReserve             // RESERVE <seat> [<holder>] [id=<id>]
	VerbCancel              // CANCEL <seat> [<holder>] [id=<id>]
	VerbStatus              // STATUS [<seat>]
	VerbLeader              // LEADER
)

// String returns the verb as it is written on the wire.
func (v Verb) String() string {
	switch v {
	case VerbReserve:
		return "RESERVE"
	case VerbCancel:
		return "CANCEL"
	case VerbStatus:
		return "STATUS"
	case VerbLeader:
		return "LEADER"
	}
	return "NONE"
}

// IsWrite reports whether the verb changes state (and so becomes a Raft log entry).
func (v Verb) IsWrite() bool { return v == VerbReserve || v == VerbCancel }

// Request is one parsed request line.
type Request struct {
	Verb Verb
	// HasSeat is true when the request names a seat (always for writes; for
	// STATUS it distinguishes "STATUS 3" from the summary "STATUS").
	HasSeat bool
	// Seat is the seat number, or 0 when the seat token was not a decimal
	// number from 1 to 2^31 (such a request is answered FAILED_INVALID_SEAT).
	Seat uint32
	// Holder is empty for an anonymous request.
	Holder string
	// ID is the exactly-once id of a write, empty when absent.
	ID string
}

// Sentinel errors returned by Parse.
var (
	// ErrEmpty means the line holds only spaces and tabs: it is not a
	// request and gets no answer.
	ErrEmpty = errors.New("protocol: empty line")
	// ErrInvalid means the line is not a well-formed request: it is
	// answered INVALID_COMMAND and changes nothing.
	ErrInvalid = errors.New("protocol: invalid command")
)

// maxTokens is one more than the most tokens any request has, so that a
// line with too many tokens is recognised without scanning all of it.
const maxTokens = 5

// Parse parses one request line (without its '\n'; a trailing '\r' is
// ignored). It returns ErrEmpty for a blank line and ErrInvalid for a
// malformed one. Parse does not allocate except for the holder and id
// strings it returns.
func Parse(line []byte) (Request, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	var toks [maxTokens][]byte
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && !isBlank(line[i]) {
			i++
		}
		if n == maxTokens {
			return Request{}, ErrInvalid
		}
		toks[n] = line[start:i]
		n++
	}
	if n == 0 {
		return Request{}, ErrEmpty
	}
	var req Request
	args := toks[1:n]
	switch {
	case equalFold(toks[0], "RESERVE"):
		req.Verb = VerbReserve
	case equalFold(toks[0], "CANCEL"):
		req.Verb = VerbCancel
	case equalFold(toks[0], "STATUS"):
		req.Verb = VerbStatus
		switch len(args) {
		case 0:
			return req, nil
		case 1:
			req.HasSeat = true
			req.Seat = parseSeat(args[0])
			return req, nil
		}
		return Request{}, ErrInvalid
	case equalFold(toks[0], "LEADER"):
		if len(args) != 0 {
			return Request{}, ErrInvalid
		}
		req.Verb = VerbLeader
		return req, nil
	default:
		return Request{}, ErrInvalid
	}

	// RESERVE and CANCEL: <seat> [<holder>] [id=<id>], in that order.
	if len(args) < 1 || len(args) > 3 {
		return Request{}, ErrInvalid
	}
	req.HasSeat = true
	req.Seat = parseSeat(args[0])
	rest := args[1:]
	if len(rest) > 0 && hasIDPrefix(rest[len(rest)-1]) {
		id := rest[len(rest)-1][3:]
		if !ValidID(id) {
			return Request{}, ErrInvalid
		}
		req.ID = string(id)
		rest = rest[:len(rest)-1]
	}
	switch len(rest) {
	case 0:
	case 1:
		if !ValidHolder(rest[0]) {
			return Request{}, ErrInvalid
		}
		req.Holder = string(rest[0])
	default:
		return Request{}, ErrInvalid
	}
	return req, nil
}

// AppendLine appends the canonical request line for r, with its '\n', to dst.
// Parse(AppendLine(nil, r)) yields r again for every request Parse accepts.
func AppendLine(dst []byte, r Request) []byte {
	dst = append(dst, r.Verb.String()...)
	if r.HasSeat {
		dst = append(dst, ' ')
		if r.Seat == 0 {
			// Any token that is not a valid seat number keeps the request
			// answered FAILED_INVALID_SEAT after a round trip.
			dst = append(dst, '0')
		} else {
			dst = strconv.AppendUint(dst, uint64(r.Seat), 10)
		}
	}
	if r.Holder != "" {
		dst = append(dst, ' ')
		dst = append(dst, r.Holder...)
	}
	if r.ID != "" {
		dst = append(dst, " id="...)
		dst = append(dst, r.ID...)
	}
	return append(dst, '\n')
}

// ValidHolder reports whether h is a well-formed holder:
// 1–64 characters from A-Z a-z 0-9 . _ @ : -
func ValidHolder[T string | []byte](h T) bool {
	if len(h) == 0 || len(h) > MaxTokenLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '@' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// ValidID reports whether id is a well-formed exactly-once id:
// 1–64 characters from A-Z a-z 0-9 . _ : -
func ValidID[T string | []byte](id T) bool {
	if len(id) == 0 || len(id) > MaxTokenLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// parseSeat returns the seat number a token names, or 0 when the token is
// not a plain decimal number from 1 to 2^31.
func parseSeat(tok []byte) uint32 {
	if len(tok) == 0 {
		return 0
	}
	for len(tok) > 1 && tok[0] == '0' {
		tok = tok[1:] // leading zeros do not change a decimal number
	}
	if len(tok) > 10 {
		return 0
	}
	var v uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint64(c-'0')
	}
	if v == 0 || v > maxSeatNumber {
		return 0
	}
	return uint32(v)
}

func hasIDPrefix(tok []byte) bool {
	return len(tok) >= 3 && tok[0] == 'i' && tok[1] == 'd' && tok[2] == '='
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// equalFold compares an ASCII token with an upper-case word, ignoring case.
func equalFold(tok []byte, upper string) bool {
	if len(tok) != len(upper) {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}
