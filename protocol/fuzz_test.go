package protocol

import (
	"bytes"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks, for any input, that Parse does not panic, agrees with an
// independent reading of PROTOCOL.md parts 1 and 3 (refParse below), and
// that every accepted request has the shape checkRequest wants and a
// canonical line that is short, single-line and parses back to the same
// request. Seeds: every line of the Parse table, the f.Add calls below and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.line))
	}
	for _, s := range []string{
		"RESERVE 12345 alice id=0123456789abcdef",
		"RESERVE 12345 alice id=0123456789abcdef\r",
		"cancel\t7\tBob@example.com\tid=retry:1",
		"STATUS 00000000007",
		"RESERVE 3\nCANCEL 3",
		"RESERVE " + strings.Repeat("9", 30),
		"RESERVE 3 " + strings.Repeat("a", MaxLine),
		strings.Repeat(" ", MaxLine) + "\r",
		"\x00\x01\x02\xff",
		"ſtatus 3",
		"HOLD 1-3,7,9-12 alice ttl=120 event=gala id=h:1",
		"hold 5 ttl=3600 id=x event=default",
		"RESERVE " + strings.Repeat("1,", 2000) + "2",
		"RESERVE " + strings.Repeat("1-100,", 400) + "2",
		"CANCEL 4294967195-4294967295,0-0 bob",
		"event create Gala.2026 1000000 id=c1",
		"EVENT delete gala",
		"history 00042 event=e",
		"STATUS event=e-1_2.3",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		req, err := Parse(line)
		if !bytes.Equal(line, orig) {
			t.Fatalf("Parse modified its input: %q, was %q", line, orig)
		}

		// Against the reference reading of the protocol.
		want, wantErr := refParse(orig)
		if err != wantErr {
			t.Fatalf("Parse(%q) error = %v, reference says %v (%+v)", orig, err, wantErr, want)
		}
		if !reflect.DeepEqual(req, want) {
			// The only latitude: a zero-padded seat token longer than 10
			// bytes (TestParseSeatLeadingZeros tracks it) may be read as
			// 0 or as its value.
			alt := want
			alt.Seat = 0
			if !(refLongZeroPadded(orig) && reflect.DeepEqual(req, alt)) {
				t.Fatalf("Parse(%q) = %+v, reference says %+v", orig, req, want)
			}
		}

		if err != nil {
			if err != ErrEmpty && err != ErrInvalid {
				t.Fatalf("Parse(%q) error %v is neither ErrEmpty nor ErrInvalid", orig, err)
			}
			if !reflect.DeepEqual(req, Request{}) {
				t.Fatalf("Parse(%q) failed with %v but returned %+v", orig, err, req)
			}
			return
		}

		// Shape of an accepted request.
		if err := checkRequest(req); err != nil {
			t.Fatalf("Parse(%q) = %+v: %v", orig, req, err)
		}
		if n := len(req.AppendSeats(nil)); n != req.SeatCount() {
			t.Fatalf("Parse(%q) = %+v: AppendSeats gives %d seats, SeatCount %d", orig, req, n, req.SeatCount())
		}

		// The canonical line.
		canon := AppendLine(nil, req)
		if len(canon) == 0 || canon[len(canon)-1] != '\n' {
			t.Fatalf("AppendLine(%+v) = %q: no final newline", req, canon)
		}
		body := canon[:len(canon)-1]
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			t.Fatalf("AppendLine(%+v) = %q: newline at %d", req, canon, i)
		}
		if bytes.IndexByte(body, '\r') >= 0 {
			t.Fatalf("AppendLine(%+v) = %q: carriage return inside", req, canon)
		}
		if len(body) > MaxLine {
			t.Fatalf("AppendLine(%+v) is %d bytes, over MaxLine", req, len(body))
		}
		back, err := Parse(body)
		if err != nil || !reflect.DeepEqual(back, req) {
			t.Fatalf("Parse(AppendLine(%+v) = %q) = %+v, %v", req, canon, back, err)
		}
		if again := AppendLine(nil, back); !bytes.Equal(again, canon) {
			t.Fatalf("canonical line not stable: %q then %q", canon, again)
		}
		// The reference reads the canonical line the same way.
		if ref, err := refParse(body); err != nil || !reflect.DeepEqual(ref, req) {
			t.Fatalf("refParse(AppendLine(%+v) = %q) = %+v, %v", req, canon, ref, err)
		}
		// And it travels through a LineReader unchanged.
		lr := NewLineReader(bytes.NewReader(canon))
		if got, err := lr.ReadLine(); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("LineReader on %q = %q, %v", canon, got, err)
		}
	})
}

// FuzzLineReader checks the framing on arbitrary streams: the lines returned
// are exactly the stream's lines, none over MaxLine, ErrLineTooLong comes
// exactly at the first over-long line, and how the bytes arrive (all at
// once or one at a time) changes nothing.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("RESERVE 1\nSTATUS\r\n\nLEADER"), uint16(0))
	f.Add([]byte("a\nb\n"), uint16(MaxLine))
	f.Add([]byte("x\n"), uint16(MaxLine+1))
	f.Add([]byte("\r\n"), uint16(MaxLine-1))
	f.Add([]byte(""), uint16(3*MaxLine))
	f.Fuzz(func(t *testing.T, data []byte, pad uint16) {
		// Prefix a line of pad bytes so lengths around MaxLine are reached.
		stream := append(bytes.Repeat([]byte{'p'}, int(pad)), data...)
		want, wantErr := refLines(stream)
		for _, rk := range readerKinds {
			lr := NewLineReader(rk.wrap(bytes.NewReader(stream)))
			var got []string
			var err error
			for len(got) <= len(stream) {
				var line []byte
				line, err = lr.ReadLine()
				if err != nil {
					break
				}
				got = append(got, string(line))
			}
			if err != wantErr {
				t.Fatalf("%s: error = %v, want %v", rk.name, err, wantErr)
			}
			if !equalLines(got, want) {
				t.Fatalf("%s: lines = %q, want %q", rk.name, abbrev(got), abbrev(want))
			}
		}
	})
}

// refLines splits a stream the way PROTOCOL.md frames it.
func refLines(stream []byte) ([]string, error) {
	var lines []string
	for len(stream) > 0 {
		i := bytes.IndexByte(stream, '\n')
		if i < 0 {
			if len(stream) > MaxLine {
				return lines, ErrLineTooLong
			}
			return lines, io.ErrUnexpectedEOF
		}
		if i > MaxLine {
			return lines, ErrLineTooLong
		}
		lines = append(lines, string(stream[:i]))
		stream = stream[i+1:]
	}
	return lines, io.EOF
}

var (
	refHolderRE = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,64}$`)
	refIDRE     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	refEventRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	refNumberRE = regexp.MustCompile(`^[0-9]+$`)
	refElemRE   = regexp.MustCompile(`^([0-9]+)(?:-([0-9]+))?$`)
)

// How a verb takes a seat token.
const (
	refNoSeat       = iota
	refSeatRequired // the first argument, whatever it looks like
	refSeatOptional // the first argument unless that is the event= option
)

// refGrammar is PROTOCOL.md's grammar as data: for each verb, whether it
// takes a seat token first, how many positional arguments follow it (holder,
// event name, seat count) and which options.
var refGrammar = map[string]struct {
	verb           Verb
	seat           int
	minPos, maxPos int
	options        []string
}{
	"RESERVE":      {VerbReserve, refSeatRequired, 0, 1, []string{"id", "event"}},
	"CANCEL":       {VerbCancel, refSeatRequired, 0, 1, []string{"id", "event"}},
	"HOLD":         {VerbHold, refSeatRequired, 0, 1, []string{"id", "event", "ttl"}},
	"STATUS":       {VerbStatus, refSeatOptional, 0, 0, []string{"event"}},
	"HISTORY":      {VerbHistory, refSeatRequired, 0, 0, []string{"event"}},
	"LEADER":       {VerbLeader, refNoSeat, 0, 0, nil},
	"EVENT CREATE": {VerbEventCreate, refNoSeat, 2, 2, []string{"id"}},
	"EVENT DELETE": {VerbEventDelete, refNoSeat, 1, 1, []string{"id"}},
	"EVENT LIST":   {VerbEventList, refNoSeat, 0, 0, nil},
}

// refParse is a deliberately different implementation of PROTOCOL.md parts
// 1 and 3: fields split by strings.FieldsFunc, the verb looked up in a
// table of shapes, options gathered in a map, tokens checked by regular
// expressions, numbers read by strconv and seat lists expanded into a set.
func refParse(line []byte) (req Request, err error) {
	s := strings.TrimSuffix(string(line), "\r")
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(toks) == 0 {
		return Request{}, ErrEmpty
	}
	if strings.ContainsFunc(toks[0], func(r rune) bool { return r >= 0x80 }) {
		return Request{}, ErrInvalid // the verb is ASCII: no Unicode case folding
	}
	name, args := strings.ToUpper(toks[0]), toks[1:]
	if name == "EVENT" {
		if len(args) == 0 || strings.ContainsFunc(args[0], func(r rune) bool { return r >= 0x80 }) {
			return Request{}, ErrInvalid
		}
		name, args = name+" "+strings.ToUpper(args[0]), args[1:]
	}
	g, found := refGrammar[name]
	if !found {
		return Request{}, ErrInvalid
	}
	req = Request{Verb: g.verb}

	// The seat token, as part 1 has it: the first argument.
	takeSeat := g.seat == refSeatRequired ||
		(g.seat == refSeatOptional && len(args) > 0 && !strings.HasPrefix(args[0], "event="))
	if takeSeat {
		if len(args) == 0 {
			return Request{}, ErrInvalid
		}
		var ok bool
		if g.verb == VerbStatus || g.verb == VerbHistory {
			ok = true // one seat only: a list is no seat (0)
			req.Seat = refSeat(args[0])
		} else {
			req.Seat, req.Seats, ok = refSeats(args[0])
		}
		if !ok {
			return Request{}, ErrInvalid
		}
		req.HasSeat, args = true, args[1:]
	}

	// Then positional arguments, then key=value options.
	var pos []string
	opts := map[string]string{}
	for _, a := range args {
		key, val, isOpt := strings.Cut(a, "=")
		if !isOpt {
			if len(opts) > 0 {
				return Request{}, ErrInvalid
			}
			pos = append(pos, a)
			continue
		}
		if _, dup := opts[key]; dup || !slices.Contains(g.options, key) {
			return Request{}, ErrInvalid
		}
		opts[key] = val
	}
	if len(pos) < g.minPos || len(pos) > g.maxPos {
		return Request{}, ErrInvalid
	}
	if id, has := opts["id"]; has {
		if !refIDRE.MatchString(id) {
			return Request{}, ErrInvalid
		}
		req.ID = id
	}
	if ev, has := opts["event"]; has {
		if !refEventRE.MatchString(ev) {
			return Request{}, ErrInvalid
		}
		if ev != "default" {
			req.Event = ev
		}
	}
	if ttl, has := opts["ttl"]; has {
		v, ok := refNumber(ttl, 3600)
		if !ok || v == 0 {
			return Request{}, ErrInvalid
		}
		req.TTL = v
	}

	switch g.verb {
	case VerbReserve, VerbCancel, VerbHold:
		if len(pos) == 1 {
			if !refHolderRE.MatchString(pos[0]) {
				return Request{}, ErrInvalid
			}
			req.Holder = pos[0]
		}
	case VerbEventCreate:
		n, ok := refNumber(pos[1], 1_000_000)
		if !refEventRE.MatchString(pos[0]) || !ok || n == 0 {
			return Request{}, ErrInvalid
		}
		req.Event, req.Count = pos[0], n
	case VerbEventDelete:
		if !refEventRE.MatchString(pos[0]) || pos[0] == "default" {
			return Request{}, ErrInvalid
		}
		req.Event = pos[0]
	}
	return req, nil
}

// refIsList reports whether a seat token is a list or range: it has a
// comma, or a dash anywhere but first ("-1" is part 1's invalid seat).
func refIsList(tok string) bool {
	return strings.Contains(tok, ",") || (len(tok) > 1 && strings.Contains(tok[1:], "-"))
}

// refSeats reads the seats of a write: a single seat as part 1 does, or a
// list of seats and ranges as part 3 does. A list of one distinct seat is
// that seat alone, read as a single seat would be (so over 2^31 it is the
// invalid seat 0).
func refSeats(tok string) (seat uint32, seats []uint32, ok bool) {
	if !refIsList(tok) {
		return refSeat(tok), nil, true
	}
	set := make(map[uint32]bool)
	for _, elem := range strings.Split(tok, ",") {
		m := refElemRE.FindStringSubmatch(elem)
		if m == nil {
			return 0, nil, false
		}
		lo, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil {
			return 0, nil, false
		}
		hi := lo
		if m[2] != "" {
			if hi, err = strconv.ParseUint(m[2], 10, 32); err != nil {
				return 0, nil, false
			}
		}
		if hi < lo || hi-lo+1 > 100 {
			return 0, nil, false
		}
		for v := lo; v <= hi; v++ { // uint64: no wrap at 2^32-1
			set[uint32(v)] = true
		}
		if len(set) > 100 {
			return 0, nil, false
		}
	}
	all := slices.Sorted(maps.Keys(set))
	if len(all) == 1 {
		if all[0] > 1<<31 {
			return 0, nil, true
		}
		return all[0], nil, true
	}
	return 0, all, true
}

// refNumber reads a plain decimal number (leading zeros allowed) of at most
// limit.
func refNumber(tok string, limit uint64) (uint32, bool) {
	if !refNumberRE.MatchString(tok) {
		return 0, false
	}
	v, err := strconv.ParseUint(tok, 10, 64)
	if err != nil || v > limit {
		return 0, false
	}
	return uint32(v), true
}

// refSeat reads a seat as a decimal integer from 1 to 2^31, 0 otherwise.
func refSeat(tok string) uint32 {
	if tok == "" || strings.Trim(tok, "0123456789") != "" {
		return 0
	}
	v, err := strconv.ParseUint(tok, 10, 64)
	if err != nil || v == 0 || v > 1<<31 {
		return 0
	}
	return uint32(v)
}

// refLongZeroPadded reports whether the line's seat token is longer than 10
// bytes only because of leading zeros (see TestParseSeatLeadingZeros).
func refLongZeroPadded(line []byte) bool {
	s := strings.TrimSuffix(string(line), "\r")
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(toks) < 2 {
		return false
	}
	tok := toks[1]
	return len(tok) > 10 && tok[0] == '0' && refSeat(tok) != 0
}

// TestRefParseAgreesWithTable keeps the reference honest: it must give the
// table's answers too (apart from the cases it tolerates).
func TestRefParseAgreesWithTable(t *testing.T) {
	for _, tc := range parseCases {
		got, err := refParse([]byte(tc.line))
		want := tc.want
		if tc.err != nil {
			want = Request{}
		}
		if err != tc.err || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: refParse(%q) = %+v, %v; table says %+v, %v", tc.name, tc.line, got, err, want, tc.err)
		}
	}
	if got := refSeat("00000000007"); got != 7 {
		t.Errorf("refSeat(00000000007) = %d, want 7", got)
	}
}
