package protocol

import (
	"errors"
	"slices"
	"strconv"
)

// MaxLine is the longest request line accepted, counted before its '\n'
// (a '\r' before the '\n' counts). Longer lines get ERROR LINE_TOO_LONG.
const MaxLine = 4096

// MaxTokenLen is the longest holder, id or event name the protocol allows.
const MaxTokenLen = 64

// Limits of part 3 of the protocol.
const (
	// MaxSeatsPerRequest is the most seats one request may name.
	MaxSeatsPerRequest = 100
	// MaxEventSeats is the largest seat count of an event.
	MaxEventSeats = 1_000_000
	// DefaultTTL and MaxTTL are a hold's default and longest time to live,
	// in seconds.
	DefaultTTL = 300
	MaxTTL     = 3600
	// DefaultEvent is the event that exists from cluster creation; a seat
	// request without event= names it.
	DefaultEvent = "default"
)

// maxSeatNumber bounds the digits a single seat may have before it is simply
// invalid; it keeps parsing allocation-free and overflow-free.
const maxSeatNumber = 1 << 31

// Verb identifies what a request asks for.
type Verb uint8

// The verbs of the protocol.
const (
	VerbNone        Verb = iota // zero value: not a request
	VerbReserve                 // RESERVE <seats> [<holder>] [id=] [event=]
	VerbCancel                  // CANCEL <seats> [<holder>] [id=] [event=]
	VerbStatus                  // STATUS [<seat>] [event=]
	VerbLeader                  // LEADER
	VerbHold                    // HOLD <seats> <holder> [ttl=] [event=] [id=]
	VerbHistory                 // HISTORY <seat> [event=]
	VerbEventCreate             // EVENT CREATE <name> <N> [id=]
	VerbEventDelete             // EVENT DELETE <name> [id=]
	VerbEventList               // EVENT LIST
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
	case VerbHold:
		return "HOLD"
	case VerbHistory:
		return "HISTORY"
	case VerbEventCreate:
		return "EVENT CREATE"
	case VerbEventDelete:
		return "EVENT DELETE"
	case VerbEventList:
		return "EVENT LIST"
	}
	return "NONE"
}

// IsWrite reports whether the verb changes state (and so becomes a Raft log entry).
func (v Verb) IsWrite() bool {
	switch v {
	case VerbReserve, VerbCancel, VerbHold, VerbEventCreate, VerbEventDelete:
		return true
	}
	return false
}

// Request is one parsed request line.
type Request struct {
	Verb Verb
	// HasSeat is true when the request names seats (always for RESERVE,
	// CANCEL, HOLD and HISTORY; for STATUS it tells "STATUS 3" from the
	// summary "STATUS").
	HasSeat bool
	// Seat is the seat of a request that names one seat, or 0 when the
	// seat token was not a decimal number from 1 to 2^31 (such a request
	// is answered FAILED_INVALID_SEAT).
	Seat uint32
	// Seats holds the seats of a request that names more than one, in
	// ascending order without repeats (a list or range that names a single
	// seat is stored in Seat). A 0 among them stands for seat 0, which no
	// event has.
	Seats []uint32
	// Holder is empty for an anonymous request.
	Holder string
	// ID is the exactly-once id of a write, empty when absent.
	ID string
	// Event is the event a seat request names ("" for the default event),
	// or the name an EVENT CREATE or EVENT DELETE acts on.
	Event string
	// TTL is a HOLD's time to live in seconds; 0 means DefaultTTL.
	TTL uint32
	// Count is the seat count of EVENT CREATE.
	Count uint32
}

// SeatCount returns how many seats the request names.
func (r *Request) SeatCount() int {
	switch {
	case !r.HasSeat:
		return 0
	case r.Seats != nil:
		return len(r.Seats)
	}
	return 1
}

// AppendSeats appends the seats the request names to dst.
func (r *Request) AppendSeats(dst []uint32) []uint32 {
	switch {
	case !r.HasSeat:
		return dst
	case r.Seats != nil:
		return append(dst, r.Seats...)
	}
	return append(dst, r.Seat)
}

// IsPart1 reports whether the request is one of part 1 of the protocol: a
// RESERVE or CANCEL of one seat of the default event, a STATUS of the
// default event, or LEADER. Such requests are served identically by nodes
// of every format version.
func (r *Request) IsPart1() bool {
	switch r.Verb {
	case VerbReserve, VerbCancel, VerbStatus:
		return r.Seats == nil && r.Event == ""
	case VerbLeader:
		return true
	}
	return false
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

// maxTokens is one more than the most tokens any request has (HOLD <seats>
// <holder> ttl= event= id=), so that a line with too many tokens is
// recognised without scanning all of it.
const maxTokens = 7

// Option keys a request may carry, as a bit set of the ones it allows.
const (
	optID = 1 << iota
	optEvent
	optTTL
)

// Parse parses one request line (without its '\n'; a trailing '\r' is
// ignored). It returns ErrEmpty for a blank line and ErrInvalid for a
// malformed one. Parse allocates only the strings it returns and, for a
// request naming several seats, their slice.
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
	// Positional arguments come first, then options (key=value) in any
	// order; a positional argument after an option is malformed. As in
	// part 1, the first argument of a seat request is its seat token,
	// whatever it looks like ("RESERVE id=x" is seat "id=x", invalid),
	// except that STATUS may begin with its event= option.
	split := func(args [][]byte) (pos, opts [][]byte) {
		npos := 0
		for npos < len(args) && !isOption(args[npos]) {
			npos++
		}
		return args[:npos], args[npos:]
	}
	var pos, opts [][]byte
	allowed := 0
	switch {
	case equalFold(toks[0], "RESERVE"), equalFold(toks[0], "CANCEL"), equalFold(toks[0], "HOLD"):
		req.Verb = VerbReserve
		allowed = optID | optEvent
		if equalFold(toks[0], "CANCEL") {
			req.Verb = VerbCancel
		} else if equalFold(toks[0], "HOLD") {
			req.Verb = VerbHold
			allowed |= optTTL
		}
		if len(args) < 1 || !req.setSeats(args[0], true) {
			return Request{}, ErrInvalid
		}
		pos, opts = split(args[1:])
		if len(pos) > 1 {
			return Request{}, ErrInvalid
		}
		if len(pos) == 1 {
			if !ValidHolder(pos[0]) {
				return Request{}, ErrInvalid
			}
			req.Holder = string(pos[0])
		}
	case equalFold(toks[0], "STATUS"), equalFold(toks[0], "HISTORY"):
		req.Verb = VerbStatus
		allowed = optEvent
		if equalFold(toks[0], "HISTORY") {
			req.Verb = VerbHistory
		}
		rest := args
		if len(rest) > 0 && !(req.Verb == VerbStatus && hasPrefix(rest[0], "event=")) {
			req.setSeats(rest[0], false)
			rest = rest[1:]
		}
		if req.Verb == VerbHistory && !req.HasSeat {
			return Request{}, ErrInvalid
		}
		pos, opts = split(rest)
		if len(pos) != 0 {
			return Request{}, ErrInvalid
		}
	case equalFold(toks[0], "LEADER"):
		if len(args) != 0 {
			return Request{}, ErrInvalid
		}
		req.Verb = VerbLeader
		return req, nil
	case equalFold(toks[0], "EVENT"):
		pos, opts = split(args)
		if len(pos) < 1 {
			return Request{}, ErrInvalid
		}
		sub, pos := pos[0], pos[1:]
		switch {
		case equalFold(sub, "CREATE"):
			req.Verb = VerbEventCreate
			if len(pos) != 2 || !ValidEventName(pos[0]) {
				return Request{}, ErrInvalid
			}
			count, ok := parseBounded(pos[1], MaxEventSeats)
			if !ok || count == 0 {
				return Request{}, ErrInvalid
			}
			req.Event, req.Count = string(pos[0]), count
			allowed = optID
		case equalFold(sub, "DELETE"):
			req.Verb = VerbEventDelete
			if len(pos) != 1 || !ValidEventName(pos[0]) || string(pos[0]) == DefaultEvent {
				return Request{}, ErrInvalid
			}
			req.Event = string(pos[0])
			allowed = optID
		case equalFold(sub, "LIST"):
			req.Verb = VerbEventList
			if len(pos) != 0 {
				return Request{}, ErrInvalid
			}
		default:
			return Request{}, ErrInvalid
		}
	default:
		return Request{}, ErrInvalid
	}
	if !req.setOptions(opts, allowed) {
		return Request{}, ErrInvalid
	}
	return req, nil
}

// setOptions parses key=value options, each allowed and at most once.
func (r *Request) setOptions(opts [][]byte, allowed int) bool {
	seen := 0
	for _, tok := range opts {
		eq := indexByte(tok, '=')
		if eq < 0 {
			return false // a positional argument after an option
		}
		key, val := tok[:eq], tok[eq+1:]
		var bit int
		switch string(key) { // no allocation: the compiler compares in place
		case "id":
			bit = optID
			if !ValidID(val) {
				return false
			}
			r.ID = string(val)
		case "event":
			bit = optEvent
			if !ValidEventName(val) {
				return false
			}
			if string(val) != DefaultEvent {
				r.Event = string(val)
			}
		case "ttl":
			bit = optTTL
			ttl, ok := parseBounded(val, MaxTTL)
			if !ok || ttl == 0 {
				return false
			}
			r.TTL = ttl
		default:
			return false
		}
		if allowed&bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}

// setSeats parses a seat token: a single seat (part 1: anything that is not
// a number from 1 to 2^31 is seat 0, answered FAILED_INVALID_SEAT), or a
// comma list of seats and ranges. It reports false for a malformed list or
// range, or one of more than MaxSeatsPerRequest seats. When lists is false
// (STATUS and HISTORY read one seat) a list is not a seat: seat 0, as part
// 1 read it.
func (r *Request) setSeats(tok []byte, lists bool) bool {
	r.HasSeat = true
	if !isSeatList(tok) || !lists {
		r.Seat = parseSeat(tok)
		return true
	}
	// Collect the elements as ranges, merge those that overlap, and only
	// then expand them: repeats cost nothing and the work is bounded by
	// the line, not by the numbers in it.
	var spans [][2]uint32
	for len(tok) > 0 {
		elem := tok
		if i := indexByte(tok, ','); i >= 0 {
			elem, tok = tok[:i], tok[i+1:]
			if len(tok) == 0 {
				return false // a trailing comma
			}
		} else {
			tok = nil
		}
		lo, hi := elem, elem
		if i := indexByte(elem, '-'); i >= 0 {
			lo, hi = elem[:i], elem[i+1:]
		}
		a, ok1 := parseListNumber(lo)
		b, ok2 := parseListNumber(hi)
		if !ok1 || !ok2 || a > b || b-a >= MaxSeatsPerRequest {
			return false
		}
		spans = append(spans, [2]uint32{a, b})
	}
	slices.SortFunc(spans, func(x, y [2]uint32) int { return cmpUint32(x[0], y[0]) })
	merged := spans[:1]
	total := 0
	for _, s := range spans[1:] {
		last := &merged[len(merged)-1]
		if s[0] <= last[1] || s[0] == last[1]+1 {
			last[1] = max(last[1], s[1])
			continue
		}
		merged = append(merged, s)
	}
	for _, s := range merged {
		total += int(s[1]-s[0]) + 1
		if total > MaxSeatsPerRequest {
			return false
		}
	}
	if total == 1 {
		// One seat is stored as a single token would be: a number above
		// 2^31 becomes seat 0, so that the canonical line round-trips.
		if v := merged[0][0]; v <= maxSeatNumber {
			r.Seat = v
		}
		return true
	}
	seats := make([]uint32, 0, total)
	for _, s := range merged {
		for v := s[0]; ; v++ {
			seats = append(seats, v)
			if v == s[1] {
				break
			}
		}
	}
	r.Seats = seats
	return true
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isSeatList reports whether a seat token is a list or range rather than a
// single seat: it holds a comma, or a '-' after its first byte (so that
// part 1's "-1" stays a single, invalid seat).
func isSeatList(tok []byte) bool {
	for i, c := range tok {
		if c == ',' || (c == '-' && i > 0) {
			return true
		}
	}
	return false
}

// parseListNumber parses a seat number inside a list or range: decimal
// digits (leading zeros allowed) of a value that fits in 32 bits.
func parseListNumber(tok []byte) (uint32, bool) {
	return parseBounded(tok, 1<<32-1)
}

// parseBounded parses a plain decimal number (leading zeros allowed) of at
// most limit.
func parseBounded(tok []byte, limit uint64) (uint32, bool) {
	if len(tok) == 0 {
		return 0, false
	}
	for len(tok) > 1 && tok[0] == '0' {
		tok = tok[1:]
	}
	if len(tok) > 10 {
		return 0, false
	}
	var v uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > limit {
		return 0, false
	}
	return uint32(v), true
}

// AppendLine appends the canonical request line for r, with its '\n', to dst.
// Parse(AppendLine(nil, r)) yields r again for every request Parse accepts.
func AppendLine(dst []byte, r Request) []byte {
	dst = append(dst, r.Verb.String()...)
	switch r.Verb {
	case VerbEventCreate:
		dst = append(dst, ' ')
		dst = append(dst, r.Event...)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(r.Count), 10)
	case VerbEventDelete:
		dst = append(dst, ' ')
		dst = append(dst, r.Event...)
	}
	if r.HasSeat {
		dst = append(dst, ' ')
		if r.Seats != nil {
			dst = AppendSeatList(dst, r.Seats)
		} else {
			// Seat 0 stands for any token that is not a valid seat
			// number: it stays FAILED_INVALID_SEAT after a round trip.
			dst = strconv.AppendUint(dst, uint64(r.Seat), 10)
		}
	}
	if r.Holder != "" {
		dst = append(dst, ' ')
		dst = append(dst, r.Holder...)
	}
	if r.TTL != 0 {
		dst = append(dst, " ttl="...)
		dst = strconv.AppendUint(dst, uint64(r.TTL), 10)
	}
	if r.Event != "" && r.Verb != VerbEventCreate && r.Verb != VerbEventDelete {
		dst = append(dst, " event="...)
		dst = append(dst, r.Event...)
	}
	if r.ID != "" {
		dst = append(dst, " id="...)
		dst = append(dst, r.ID...)
	}
	return append(dst, '\n')
}

// AppendSeatList appends ascending, distinct seats as a comma list, runs of
// three or more consecutive seats written as ranges: 3,4,10-20.
func AppendSeatList(dst []byte, seats []uint32) []byte {
	for i := 0; i < len(seats); {
		j := i
		for j+1 < len(seats) && seats[j+1] == seats[j]+1 {
			j++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(seats[i]), 10)
		switch {
		case j-i >= 2:
			dst = append(dst, '-')
			dst = strconv.AppendUint(dst, uint64(seats[j]), 10)
			i = j + 1
		default:
			i++
		}
	}
	return dst
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

// ValidEventName reports whether name is a well-formed event name:
// 1–64 characters from A-Z a-z 0-9 . _ -
func ValidEventName[T string | []byte](name T) bool {
	if len(name) == 0 || len(name) > MaxTokenLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// parseSeat returns the seat number a token names, or 0 when the token is
// not a plain decimal number from 1 to 2^31.
func parseSeat(tok []byte) uint32 {
	v, ok := parseBounded(tok, maxSeatNumber)
	if !ok {
		return 0
	}
	return v
}

func hasPrefix(tok []byte, prefix string) bool {
	return len(tok) >= len(prefix) && string(tok[:len(prefix)]) == prefix
}

// isOption reports whether a token is key=value: holders and seats never
// hold '='.
func isOption(tok []byte) bool { return indexByte(tok, '=') >= 0 }

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
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
