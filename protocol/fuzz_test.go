package protocol

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks, for any input, that Parse does not panic, agrees with an
// independent reading of PROTOCOL.md part 1 (refParse below), and that every
// accepted request has a canonical line that is short, single-line and
// parses back to the same request. Seeds: every line of the Parse table,
// the f.Add calls below and testdata/fuzz/FuzzParse.
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
		if req != want {
			// The only latitude: a zero-padded seat token longer than 10
			// bytes (TestParseSeatLeadingZeros tracks it) may be read as
			// 0 or as its value.
			alt := want
			alt.Seat = 0
			if !(refLongZeroPadded(orig) && req == alt) {
				t.Fatalf("Parse(%q) = %+v, reference says %+v", orig, req, want)
			}
		}

		if err != nil {
			if err != ErrEmpty && err != ErrInvalid {
				t.Fatalf("Parse(%q) error %v is neither ErrEmpty nor ErrInvalid", orig, err)
			}
			if req != (Request{}) {
				t.Fatalf("Parse(%q) failed with %v but returned %+v", orig, err, req)
			}
			return
		}

		// Shape of an accepted request.
		switch req.Verb {
		case VerbReserve, VerbCancel:
			if !req.HasSeat {
				t.Fatalf("Parse(%q) = %+v: a write without a seat", orig, req)
			}
		case VerbStatus:
			if req.Holder != "" || req.ID != "" {
				t.Fatalf("Parse(%q) = %+v: STATUS with holder or id", orig, req)
			}
		case VerbLeader:
			if req.HasSeat || req.Seat != 0 || req.Holder != "" || req.ID != "" {
				t.Fatalf("Parse(%q) = %+v: LEADER with arguments", orig, req)
			}
		default:
			t.Fatalf("Parse(%q) accepted verb %v", orig, req.Verb)
		}
		if !req.HasSeat && req.Seat != 0 {
			t.Fatalf("Parse(%q) = %+v: a seat number without a seat", orig, req)
		}
		if req.Seat > 1<<31 {
			t.Fatalf("Parse(%q) = %+v: seat over 2^31", orig, req)
		}
		if req.Holder != "" && !ValidHolder(req.Holder) {
			t.Fatalf("Parse(%q) = %+v: invalid holder accepted", orig, req)
		}
		if req.ID != "" && !ValidID(req.ID) {
			t.Fatalf("Parse(%q) = %+v: invalid id accepted", orig, req)
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
		if err != nil || back != req {
			t.Fatalf("Parse(AppendLine(%+v) = %q) = %+v, %v", req, canon, back, err)
		}
		if again := AppendLine(nil, back); !bytes.Equal(again, canon) {
			t.Fatalf("canonical line not stable: %q then %q", canon, again)
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
	refIDRE     = regexp.MustCompile(`^id=[A-Za-z0-9._:-]{1,64}$`)
)

// refParse is a deliberately different implementation of PROTOCOL.md part 1:
// fields split by strings.FieldsFunc, tokens checked by regular expressions,
// seats read by strconv, and the argument lists matched as whole shapes.
func refParse(line []byte) (Request, error) {
	s := strings.TrimSuffix(string(line), "\r")
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(toks) == 0 {
		return Request{}, ErrEmpty
	}
	verb := refVerb(toks[0])
	args := toks[1:]
	switch verb {
	case VerbLeader:
		if len(args) == 0 {
			return Request{Verb: VerbLeader}, nil
		}
	case VerbStatus:
		switch len(args) {
		case 0:
			return Request{Verb: VerbStatus}, nil
		case 1:
			return Request{Verb: VerbStatus, HasSeat: true, Seat: refSeat(args[0])}, nil
		}
	case VerbReserve, VerbCancel:
		if len(args) == 0 {
			break
		}
		req := Request{Verb: verb, HasSeat: true, Seat: refSeat(args[0])}
		rest := args[1:]
		switch {
		case len(rest) == 0:
			return req, nil
		case len(rest) == 1 && refHolderRE.MatchString(rest[0]):
			req.Holder = rest[0]
			return req, nil
		case len(rest) == 1 && refIDRE.MatchString(rest[0]):
			req.ID = rest[0][len("id="):]
			return req, nil
		case len(rest) == 2 && refHolderRE.MatchString(rest[0]) && refIDRE.MatchString(rest[1]):
			req.Holder = rest[0]
			req.ID = rest[1][len("id="):]
			return req, nil
		}
	}
	return Request{}, ErrInvalid
}

// refVerb reads a verb case-insensitively, in ASCII only.
func refVerb(tok string) Verb {
	for i := 0; i < len(tok); i++ {
		if tok[i] >= 0x80 {
			return VerbNone
		}
	}
	switch strings.ToUpper(tok) {
	case "RESERVE":
		return VerbReserve
	case "CANCEL":
		return VerbCancel
	case "STATUS":
		return VerbStatus
	case "LEADER":
		return VerbLeader
	}
	return VerbNone
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
		if err != tc.err || got != want {
			t.Errorf("%s: refParse(%q) = %+v, %v; table says %+v, %v", tc.name, tc.line, got, err, want, tc.err)
		}
	}
	if got := refSeat("00000000007"); got != 7 {
		t.Errorf("refSeat(00000000007) = %d, want 7", got)
	}
}
