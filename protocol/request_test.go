package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Holders and ids used throughout the tests.
var (
	holder64   = strings.Repeat("h", 64)
	holder65   = strings.Repeat("h", 65)
	id64       = strings.Repeat("i", 64)
	id65       = strings.Repeat("i", 65)
	holderUp   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ._@:-" // upper-case letters and every punctuation mark allowed in holders
	holderLow  = "abcdefghijklmnopqrstuvwxyz0123456789"
	idUp       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ._:-" // upper-case letters and every punctuation mark allowed in ids
	idLow      = "abcdefghijklmnopqrstuvwxyz0123456789"
	holderMix  = "Az09._@:-" + strings.Repeat("x", 55) // 64 chars, every class of character
	idMix      = "Az09._:-" + strings.Repeat("y", 56)  // 64 chars, every class of character
	holderMix2 = "-" + strings.Repeat("Q", 62) + "@"   // 64 chars, punctuation at both ends
)

// Request constructors keep the table short.
func reserve(seat uint32, holder, id string) Request {
	return Request{Verb: VerbReserve, HasSeat: true, Seat: seat, Holder: holder, ID: id}
}

func cancel(seat uint32, holder, id string) Request {
	return Request{Verb: VerbCancel, HasSeat: true, Seat: seat, Holder: holder, ID: id}
}

func statusSeat(seat uint32) Request { return Request{Verb: VerbStatus, HasSeat: true, Seat: seat} }

var (
	statusSummary = Request{Verb: VerbStatus}
	leader        = Request{Verb: VerbLeader}
)

type parseCase struct {
	name string
	line string
	want Request
	err  error // nil, ErrEmpty or ErrInvalid
}

func ok(name, line string, want Request) parseCase {
	return parseCase{name: name, line: line, want: want}
}

func invalid(name, line string) parseCase {
	return parseCase{name: name, line: line, err: ErrInvalid}
}

func empty(name, line string) parseCase {
	return parseCase{name: name, line: line, err: ErrEmpty}
}

// parseCases covers every rule of PROTOCOL.md part 1 that Parse implements.
var parseCases = []parseCase{
	// Each verb in its every shape.
	ok("reserve seat", "RESERVE 3", reserve(3, "", "")),
	ok("reserve seat holder", "RESERVE 3 alice", reserve(3, "alice", "")),
	ok("reserve seat id", "RESERVE 3 id=abc", reserve(3, "", "abc")),
	ok("reserve seat holder id", "RESERVE 3 alice id=abc", reserve(3, "alice", "abc")),
	ok("cancel seat", "CANCEL 3", cancel(3, "", "")),
	ok("cancel seat holder", "CANCEL 3 alice", cancel(3, "alice", "")),
	ok("cancel seat id", "CANCEL 3 id=abc", cancel(3, "", "abc")),
	ok("cancel seat holder id", "CANCEL 3 alice id=abc", cancel(3, "alice", "abc")),
	ok("status summary", "STATUS", statusSummary),
	ok("status seat", "STATUS 3", statusSeat(3)),
	ok("leader", "LEADER", leader),

	// The verb is case-insensitive.
	ok("reserve lower", "reserve 3", reserve(3, "", "")),
	ok("reserve mixed", "ReSeRvE 3", reserve(3, "", "")),
	ok("reserve title", "Reserve 3 alice id=x", reserve(3, "alice", "x")),
	ok("cancel lower", "cancel 4", cancel(4, "", "")),
	ok("cancel mixed", "cAnCeL 4 bob", cancel(4, "bob", "")),
	ok("status lower", "status", statusSummary),
	ok("status mixed seat", "sTaTuS 5", statusSeat(5)),
	ok("leader lower", "leader", leader),
	ok("leader mixed", "LeAdEr", leader),

	// Holders and ids are case-sensitive: kept exactly as sent.
	ok("holder capitalised", "RESERVE 3 Alice", reserve(3, "Alice", "")),
	ok("holder upper", "RESERVE 3 ALICE", reserve(3, "ALICE", "")),
	ok("holder mixed", "CANCEL 3 aLiCe", cancel(3, "aLiCe", "")),
	ok("id mixed case", "RESERVE 3 id=AbC", reserve(3, "", "AbC")),
	ok("id upper", "CANCEL 3 alice id=ABC", cancel(3, "alice", "ABC")),
	invalid("id key is lower-case only", "RESERVE 3 ID=abc"), // "ID=abc" is a holder with '='
	invalid("id key title case", "RESERVE 3 Id=abc"),
	invalid("id key upper with holder", "RESERVE 3 alice ID=abc"),

	// Separators: one or more spaces or tabs.
	ok("tab separator", "RESERVE\t3", reserve(3, "", "")),
	ok("tabs everywhere", "RESERVE\t3\talice\tid=x", reserve(3, "alice", "x")),
	ok("space runs", "RESERVE   3     alice  id=x", reserve(3, "alice", "x")),
	ok("mixed runs", "RESERVE \t 3\t\t alice \t id=x", reserve(3, "alice", "x")),
	ok("status tab seat", "STATUS\t\t7", statusSeat(7)),
	ok("leading spaces", "   RESERVE 3", reserve(3, "", "")),
	ok("leading tab", "\tCANCEL 3", cancel(3, "", "")),
	ok("leading mixed", " \t \tSTATUS", statusSummary),
	ok("trailing spaces", "RESERVE 3   ", reserve(3, "", "")),
	ok("trailing tab", "RESERVE 3 alice\t", reserve(3, "alice", "")),
	ok("trailing mixed", "LEADER \t \t", leader),
	ok("both ends", " \t STATUS 9 \t ", statusSeat(9)),
	invalid("vertical tab is not a separator", "RESERVE\v3"),
	invalid("form feed is not a separator", "RESERVE\f3"),
	invalid("newline inside is not a separator", "RESERVE\n3"),
	invalid("NUL is not a separator", "RESERVE\x003"),
	invalid("NBSP is not a separator", "RESERVE\u00a03"),
	ok("vertical tab inside seat", "STATUS 3\v", statusSeat(0)),

	// A trailing '\r' is ignored (one only: it is the one before '\n').
	ok("cr reserve", "RESERVE 3\r", reserve(3, "", "")),
	ok("cr full", "RESERVE 3 alice id=x\r", reserve(3, "alice", "x")),
	ok("cr id", "CANCEL 3 id=x\r", cancel(3, "", "x")),
	ok("cr holder", "CANCEL 3 bob\r", cancel(3, "bob", "")),
	ok("cr status", "STATUS\r", statusSummary),
	ok("cr status seat", "STATUS 3\r", statusSeat(3)),
	ok("cr leader", "LEADER\r", leader),
	ok("blanks before cr", "LEADER \t\r", leader),
	ok("second cr belongs to seat", "STATUS 3\r\r", statusSeat(0)),
	invalid("second cr belongs to verb", "LEADER\r\r"),
	invalid("second cr belongs to holder", "RESERVE 3 alice\r\r"),
	invalid("second cr belongs to id", "RESERVE 3 id=x\r\r"),
	invalid("leading cr", "\rRESERVE 3"),
	invalid("cr inside verb", "RESE\rRVE 3"),
	invalid("cr inside holder", "RESERVE 3 al\rice"),

	// Empty lines: not a request.
	empty("empty", ""),
	empty("one space", " "),
	empty("one tab", "\t"),
	empty("blank run", "  \t\t  \t"),
	empty("only cr", "\r"),
	empty("blanks then cr", " \t \r"),
	invalid("two crs", "\r\r"),
	invalid("vertical tab only", "\v"),

	// Unknown verbs.
	invalid("unknown verb", "BOOK 3"),
	invalid("verb prefix", "RESERV 3"),
	invalid("verb suffix", "RESERVED 3"),
	invalid("verb glued to seat", "RESERVE3"),
	invalid("spelled out", "R E S E R V E 3"),
	invalid("hold is part 3", "HOLD 3 alice"),
	invalid("event is part 3", "EVENT LIST"),
	invalid("history is part 3", "HISTORY 3"),
	invalid("seat only", "3"),
	invalid("holder only", "alice"),
	invalid("id only", "id=abc"),
	invalid("single letter", "X"),
	invalid("NUL", "\x00"),
	invalid("garbage bytes", "\xff\xfe\xfd"),
	invalid("accented verb", "RÉSERVE 3"),
	invalid("fullwidth verb", "ＲＥＳＥＲＶＥ 3"),
	invalid("long s is not s", "\u017fTATUS"), // Unicode folds ſ to S; the protocol is ASCII
	invalid("verb with digits", "STATUS3"),
	invalid("verb with punctuation", "STATUS:"),
	invalid("verb none", "NONE"),
	invalid("response as request", "SUCCESS"),

	// Wrong numbers of arguments, for every verb.
	invalid("reserve no seat", "RESERVE"),
	invalid("reserve no seat blanks", "RESERVE \t "),
	invalid("reserve too many", "RESERVE 3 alice id=x extra"),
	invalid("reserve two holders", "RESERVE 3 alice bob"),
	invalid("reserve two holders and id", "RESERVE 3 alice bob id=x"),
	invalid("reserve two ids", "RESERVE 3 id=a id=b"),
	invalid("reserve holder two ids", "RESERVE 3 alice id=a id=b"),
	invalid("reserve far too many", "RESERVE 1 2 3 4 5 6 7 8 9 10"),
	invalid("reserve six tokens", "RESERVE 3 a b c d"),
	invalid("cancel no seat", "CANCEL"),
	invalid("cancel too many", "CANCEL 3 alice id=x extra"),
	invalid("cancel two holders", "CANCEL 3 alice bob"),
	invalid("cancel two ids", "CANCEL 3 id=a id=b"),
	invalid("cancel far too many", "CANCEL 1 2 3 4 5 6 7 8 9 10"),
	invalid("status two seats", "STATUS 3 4"),
	invalid("status seat holder", "STATUS 3 alice"),
	invalid("status seat id", "STATUS 3 id=x"),
	invalid("status three args", "STATUS 3 4 5"),
	invalid("status far too many", "STATUS 1 2 3 4 5 6 7 8 9 10"),
	invalid("leader with arg", "LEADER 1"),
	invalid("leader with node", "LEADER n1"),
	invalid("leader with id", "LEADER id=x"),
	invalid("leader two args", "LEADER a b"),
	invalid("leader far too many", "LEADER 1 2 3 4 5 6 7 8 9 10"),

	// Malformed holders.
	invalid("holder bang", "RESERVE 3 al!ce"),
	invalid("holder slash", "RESERVE 3 a/b"),
	invalid("holder equals", "RESERVE 3 a=b"),
	invalid("holder only equals", "RESERVE 3 ="),
	invalid("holder trailing equals", "RESERVE 3 alice="),
	invalid("holder comma", "RESERVE 3 alice,bob"),
	invalid("holder plus", "RESERVE 3 a+b"),
	invalid("holder hash", "RESERVE 3 a#b"),
	invalid("holder quote", "RESERVE 3 a\"b"),
	invalid("holder star", "RESERVE 3 *"),
	invalid("holder NUL", "RESERVE 3 a\x00b"),
	invalid("holder non-ASCII", "RESERVE 3 józef"),
	invalid("holder invalid UTF-8", "RESERVE 3 a\xffb"),
	invalid("holder 65 chars", "RESERVE 3 "+holder65),
	invalid("holder 65 chars with id", "CANCEL 3 "+holder65+" id=x"),
	invalid("holder bad with good id", "RESERVE 3 a!b id=x"),
	invalid("cancel holder equals", "CANCEL 3 a=b"),

	// Valid holders: the boundary length and every allowed character.
	ok("holder 64 chars", "RESERVE 3 "+holder64, reserve(3, holder64, "")),
	ok("holder 64 chars with id", "CANCEL 3 "+holder64+" id="+id64, cancel(3, holder64, id64)),
	ok("holder 1 char", "RESERVE 3 a", reserve(3, "a", "")),
	ok("holder upper and punctuation", "RESERVE 3 "+holderUp, reserve(3, holderUp, "")),
	ok("holder lower and digits", "RESERVE 3 "+holderLow, reserve(3, holderLow, "")),
	ok("holder mix 64", "RESERVE 3 "+holderMix, reserve(3, holderMix, "")),
	ok("holder mix2 64", "CANCEL 3 "+holderMix2, cancel(3, holderMix2, "")),
	ok("holder dot", "RESERVE 3 .", reserve(3, ".", "")),
	ok("holder underscore", "RESERVE 3 _", reserve(3, "_", "")),
	ok("holder at", "RESERVE 3 @", reserve(3, "@", "")),
	ok("holder colon", "RESERVE 3 :", reserve(3, ":", "")),
	ok("holder dash", "RESERVE 3 -", reserve(3, "-", "")),
	ok("holder digits", "RESERVE 3 4", reserve(3, "4", "")),
	ok("holder email-like", "CANCEL 3 alice@example.com", cancel(3, "alice@example.com", "")),
	ok("holder named id", "RESERVE 3 id", reserve(3, "id", "")),
	ok("holder id colon", "RESERVE 3 id:x", reserve(3, "id:x", "")),
	ok("holder named like a verb", "RESERVE 3 RESERVE", reserve(3, "RESERVE", "")),

	// Malformed ids.
	invalid("id empty", "RESERVE 3 id="),
	invalid("id empty with holder", "RESERVE 3 alice id="),
	invalid("id 65 chars", "RESERVE 3 id="+id65),
	invalid("id 65 chars with holder", "CANCEL 3 alice id="+id65),
	invalid("id at sign", "RESERVE 3 id=a@b"),
	invalid("id only at", "RESERVE 3 id=@"),
	invalid("id slash", "RESERVE 3 id=a/b"),
	invalid("id equals", "RESERVE 3 id=a=b"),
	invalid("id double equals", "RESERVE 3 id=="),
	invalid("id plus", "RESERVE 3 id=a+b"),
	invalid("id non-ASCII", "RESERVE 3 id=ü"),
	invalid("id NUL", "RESERVE 3 id=a\x00"),
	invalid("id split by blank", "RESERVE 3 id=a b"),
	invalid("cancel id at sign", "CANCEL 3 bob id=x@y"),

	// Valid ids: the boundary length and every allowed character.
	ok("id 64 chars", "RESERVE 3 id="+id64, reserve(3, "", id64)),
	ok("id 1 char", "RESERVE 3 id=a", reserve(3, "", "a")),
	ok("id upper and punctuation", "RESERVE 3 id="+idUp, reserve(3, "", idUp)),
	ok("id lower and digits", "CANCEL 3 id="+idLow, cancel(3, "", idLow)),
	ok("id mix 64", "RESERVE 3 alice id="+idMix, reserve(3, "alice", idMix)),
	ok("id dot", "RESERVE 3 id=.", reserve(3, "", ".")),
	ok("id underscore", "RESERVE 3 id=_", reserve(3, "", "_")),
	ok("id colon", "RESERVE 3 id=:", reserve(3, "", ":")),
	ok("id dash", "RESERVE 3 id=-", reserve(3, "", "-")),
	ok("id uuid", "RESERVE 3 id=123e4567-e89b-12d3-a456-426614174000", reserve(3, "", "123e4567-e89b-12d3-a456-426614174000")),
	ok("id starting with id", "RESERVE 3 id=id", reserve(3, "", "id")),

	// Order: <seat> [<holder>] [id=<id>].
	invalid("holder after id", "RESERVE 3 id=x alice"),
	invalid("cancel holder after id", "CANCEL 3 id=x alice"),
	ok("id where the seat belongs", "RESERVE id=x 3", reserve(0, "3", "")), // "id=x" is not a seat number
	ok("holder where the seat belongs", "RESERVE alice id=x", reserve(0, "", "x")),
	ok("id only where the seat belongs", "CANCEL id=x", cancel(0, "", "")),

	// Seats: Parse reports the number, 0 meaning "not a valid seat number".
	ok("seat 1", "RESERVE 1", reserve(1, "", "")),
	ok("seat 0", "RESERVE 0", reserve(0, "", "")),
	ok("seat 00", "RESERVE 00", reserve(0, "", "")),
	ok("seat -1", "RESERVE -1", reserve(0, "", "")),
	ok("seat -0", "RESERVE -0", reserve(0, "", "")),
	ok("seat abc", "RESERVE abc", reserve(0, "", "")),
	ok("seat 1.5", "RESERVE 1.5", reserve(0, "", "")),
	ok("seat +3", "RESERVE +3", reserve(0, "", "")),
	ok("seat 3a", "RESERVE 3a", reserve(0, "", "")),
	ok("seat 0x10", "RESERVE 0x10", reserve(0, "", "")),
	ok("seat 1e3", "RESERVE 1e3", reserve(0, "", "")),
	ok("seat 1_000", "RESERVE 1_000", reserve(0, "", "")),
	ok("seat arabic-indic digit", "RESERVE \u0663", reserve(0, "", "")),
	ok("seat fullwidth digit", "RESERVE \uff13", reserve(0, "", "")),
	ok("seat 20 digits", "RESERVE 99999999999999999999", reserve(0, "", "")),
	ok("seat 2^31-1", "RESERVE 2147483647", reserve(2147483647, "", "")),
	ok("seat 2^31", "RESERVE 2147483648", reserve(2147483648, "", "")),
	ok("seat 2^31+1", "RESERVE 2147483649", reserve(0, "", "")),
	ok("seat 2^32-1", "RESERVE 4294967295", reserve(0, "", "")),
	ok("seat 2^32", "RESERVE 4294967296", reserve(0, "", "")),
	ok("seat 2^32+1", "RESERVE 4294967297", reserve(0, "", "")), // would wrap to 1 in uint32
	ok("seat 2^32+3 wrap", "RESERVE 4294967299", reserve(0, "", "")),
	ok("seat 10 nines", "RESERVE 9999999999", reserve(0, "", "")),
	ok("seat 2^64+3", "RESERVE 18446744073709551619", reserve(0, "", "")), // would wrap to 3 in uint64
	ok("seat 007", "RESERVE 007", reserve(7, "", "")),
	ok("seat 10 digits zero-padded", "RESERVE 0000000007", reserve(7, "", "")),
	ok("seat invalid keeps holder and id", "RESERVE abc alice id=x", reserve(0, "alice", "x")),
	ok("cancel seat 0", "CANCEL 0 bob", cancel(0, "bob", "")),
	ok("cancel seat -1", "CANCEL -1", cancel(0, "", "")),
	ok("cancel seat 2^31", "CANCEL 2147483648 id=k", cancel(2147483648, "", "k")),
	ok("status seat 0", "STATUS 0", statusSeat(0)),
	ok("status seat -1", "STATUS -1", statusSeat(0)),
	ok("status seat abc", "STATUS abc", statusSeat(0)),
	ok("status seat 1.5", "STATUS 1.5", statusSeat(0)),
	ok("status seat +3", "STATUS +3", statusSeat(0)),
	ok("status seat huge", "STATUS 99999999999999999999", statusSeat(0)),
	ok("status seat 2^31", "STATUS 2147483648", statusSeat(2147483648)),
	ok("status seat 2^31+1", "STATUS 2147483649", statusSeat(0)),
	ok("status seat 007", "STATUS 007", statusSeat(7)),
	ok("status seat that looks like a holder", "STATUS alice", statusSeat(0)),
	ok("status seat that looks like an id", "STATUS id=x", statusSeat(0)),
}

func TestParse(t *testing.T) {
	for _, s := range []string{holder64, id64, holderMix, idMix, holderMix2} {
		if len(s) != MaxTokenLen {
			t.Fatalf("test token %q is %d bytes, want %d", s, len(s), MaxTokenLen)
		}
	}
	seen := make(map[string]bool)
	for _, tc := range parseCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.line))
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("Parse(%q) error = %v, want %v", tc.line, err, tc.err)
			}
			want := tc.want
			if tc.err != nil {
				want = Request{}
			}
			if got != want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.line, got, want)
			}
		})
	}
}

// TestParseErrorsAreSentinels checks that callers can tell the two failures
// apart with ==, as the node does to decide between no answer and
// INVALID_COMMAND.
func TestParseErrorsAreSentinels(t *testing.T) {
	if _, err := Parse(nil); err != ErrEmpty {
		t.Errorf("Parse(nil) error = %v, want ErrEmpty", err)
	}
	if _, err := Parse([]byte("NOPE")); err != ErrInvalid {
		t.Errorf("Parse(NOPE) error = %v, want ErrInvalid", err)
	}
	if ErrEmpty == ErrInvalid {
		t.Error("ErrEmpty == ErrInvalid")
	}
}

// TestParseDoesNotModifyOrRetainInput checks that Parse leaves its input
// alone and that the strings it returns do not alias it (the LineReader
// reuses its buffer for the next line).
func TestParseDoesNotModifyOrRetainInput(t *testing.T) {
	line := []byte("reserve 3 alice id=abc\r")
	orig := bytes.Clone(line)
	req, err := Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(line, orig) {
		t.Fatalf("Parse modified its input: %q, was %q", line, orig)
	}
	for i := range line {
		line[i] = 'Z'
	}
	if req.Holder != "alice" || req.ID != "abc" {
		t.Fatalf("request aliases the input buffer: %+v", req)
	}
}

// TestParseSeatLeadingZeros: PROTOCOL.md says a seat is "a decimal integer
// from 1 to N" and the package accepts leading zeros ("007" is seat 7), so
// the number of leading zeros must not change the answer. A zero-padded
// token longer than 10 bytes is still a decimal integer in range.
func TestParseSeatLeadingZeros(t *testing.T) {
	for _, tc := range []struct {
		tok  string
		want uint32
	}{
		{"7", 7},
		{"07", 7},
		{"007", 7},
		{"0000000007", 7},                  // 10 bytes
		{"00000000007", 7},                 // 11 bytes
		{strings.Repeat("0", 40) + "3", 3}, // far longer
		{"02147483648", 2147483648},        // 2^31, zero-padded
		{"02147483649", 0},                 // 2^31+1, zero-padded: out of range
		{"00000000000", 0},                 // zero is never a seat
	} {
		req, err := Parse([]byte("STATUS " + tc.tok))
		if err != nil {
			t.Errorf("Parse(STATUS %s) error = %v", tc.tok, err)
			continue
		}
		if req.Seat != tc.want {
			t.Errorf("Parse(STATUS %s).Seat = %d, want %d", tc.tok, req.Seat, tc.want)
		}
	}
}

// TestParseVerbCaseAllSpellings tries every upper/lower spelling of every verb.
func TestParseVerbCaseAllSpellings(t *testing.T) {
	for _, v := range []Verb{VerbReserve, VerbCancel, VerbStatus, VerbLeader} {
		word := v.String()
		for mask := 0; mask < 1<<len(word); mask++ {
			b := []byte(word)
			for i := range b {
				if mask&(1<<i) != 0 {
					b[i] += 'a' - 'A'
				}
			}
			line := string(b)
			if v.IsWrite() || v == VerbStatus {
				line += " 12"
			}
			req, err := Parse([]byte(line))
			if err != nil || req.Verb != v {
				t.Fatalf("Parse(%q) = %+v, %v; want verb %v", line, req, err, v)
			}
		}
	}
}

// TestParseRoundTrip: for every request Parse accepts in the table,
// AppendLine gives a canonical line that parses back to the same request.
func TestParseRoundTrip(t *testing.T) {
	n := 0
	for _, tc := range parseCases {
		if tc.err != nil {
			continue
		}
		n++
		req, err := Parse([]byte(tc.line))
		if err != nil {
			t.Errorf("%s: Parse(%q) error = %v", tc.name, tc.line, err)
			continue
		}
		line := AppendLine(nil, req)
		if len(line) == 0 || line[len(line)-1] != '\n' {
			t.Errorf("%s: AppendLine(%+v) = %q, does not end in \\n", tc.name, req, line)
			continue
		}
		body := line[:len(line)-1]
		if bytes.IndexByte(body, '\n') >= 0 || bytes.IndexByte(body, '\r') >= 0 {
			t.Errorf("%s: AppendLine(%+v) = %q, has an inner line break", tc.name, req, line)
		}
		if len(body) > MaxLine {
			t.Errorf("%s: AppendLine(%+v) is %d bytes, over MaxLine", tc.name, req, len(body))
		}
		back, err := Parse(body)
		if err != nil {
			t.Errorf("%s: Parse(AppendLine(%+v) = %q) error = %v", tc.name, req, line, err)
			continue
		}
		if back != req {
			t.Errorf("%s: round trip of %q via %q = %+v, want %+v", tc.name, tc.line, line, back, req)
		}
		// The canonical line is a fixed point.
		if again := AppendLine(nil, back); !bytes.Equal(again, line) {
			t.Errorf("%s: canonical line not stable: %q then %q", tc.name, line, again)
		}
	}
	if n < 50 {
		t.Fatalf("only %d accepted cases round-tripped; the table lost its valid cases", n)
	}
}

func TestAppendLine(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{reserve(3, "", ""), "RESERVE 3\n"},
		{reserve(3, "alice", ""), "RESERVE 3 alice\n"},
		{reserve(3, "", "abc"), "RESERVE 3 id=abc\n"},
		{reserve(3, "alice", "abc"), "RESERVE 3 alice id=abc\n"},
		{reserve(0, "", ""), "RESERVE 0\n"},
		{reserve(2147483648, "", ""), "RESERVE 2147483648\n"},
		{cancel(12345, "Bob", "K-1"), "CANCEL 12345 Bob id=K-1\n"},
		{cancel(0, "bob", ""), "CANCEL 0 bob\n"},
		{statusSummary, "STATUS\n"},
		{statusSeat(5), "STATUS 5\n"},
		{statusSeat(0), "STATUS 0\n"},
		{leader, "LEADER\n"},
	} {
		if got := string(AppendLine(nil, tc.req)); got != tc.want {
			t.Errorf("AppendLine(%+v) = %q, want %q", tc.req, got, tc.want)
		}
	}

	// AppendLine appends; it does not overwrite dst.
	dst := []byte("STATUS\n")
	dst = AppendLine(dst, reserve(1, "a", ""))
	if got, want := string(dst), "STATUS\nRESERVE 1 a\n"; got != want {
		t.Errorf("AppendLine onto a prefix = %q, want %q", got, want)
	}
}

func TestVerb(t *testing.T) {
	for _, tc := range []struct {
		v     Verb
		str   string
		write bool
	}{
		{VerbNone, "NONE", false},
		{VerbReserve, "RESERVE", true},
		{VerbCancel, "CANCEL", true},
		{VerbStatus, "STATUS", false},
		{VerbLeader, "LEADER", false},
		{Verb(200), "NONE", false},
	} {
		if got := tc.v.String(); got != tc.str {
			t.Errorf("Verb(%d).String() = %q, want %q", tc.v, got, tc.str)
		}
		if got := tc.v.IsWrite(); got != tc.write {
			t.Errorf("Verb(%d).IsWrite() = %v, want %v", tc.v, got, tc.write)
		}
	}
	if (Request{}).Verb != VerbNone {
		t.Error("the zero Request does not have VerbNone")
	}
}

func TestValidHolderAndID(t *testing.T) {
	for _, tc := range []struct {
		s          string
		holder, id bool
	}{
		{"", false, false},
		{"a", true, true},
		{holder64, true, true},
		{holder65, false, false},
		{holderUp, true, false}, // has '@'
		{holderLow, true, true},
		{idUp, true, true},
		{"@", true, false},
		{"a@b", true, false},
		{".", true, true},
		{"_", true, true},
		{":", true, true},
		{"-", true, true},
		{"a=b", false, false},
		{"a b", false, false},
		{"a\tb", false, false},
		{"a\rb", false, false},
		{"a\nb", false, false},
		{"a/b", false, false},
		{"a+b", false, false},
		{"a,b", false, false},
		{"é", false, false},
		{"\x00", false, false},
		{"\xff", false, false},
		{"[]", false, false},
		{"~", false, false},
		{"`", false, false},
		{"{", false, false},
	} {
		if got := ValidHolder(tc.s); got != tc.holder {
			t.Errorf("ValidHolder(%q) = %v, want %v", tc.s, got, tc.holder)
		}
		if got := ValidHolder([]byte(tc.s)); got != tc.holder {
			t.Errorf("ValidHolder([]byte(%q)) = %v, want %v", tc.s, got, tc.holder)
		}
		if got := ValidID(tc.s); got != tc.id {
			t.Errorf("ValidID(%q) = %v, want %v", tc.s, got, tc.id)
		}
		if got := ValidID([]byte(tc.s)); got != tc.id {
			t.Errorf("ValidID([]byte(%q)) = %v, want %v", tc.s, got, tc.id)
		}
	}

	// Every single byte: exactly the documented sets are allowed.
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
		wantID := alnum || b == '.' || b == '_' || b == ':' || b == '-'
		wantHolder := wantID || b == '@'
		if got := ValidHolder([]byte{b}); got != wantHolder {
			t.Errorf("ValidHolder(%q) = %v, want %v", b, got, wantHolder)
		}
		if got := ValidID([]byte{b}); got != wantID {
			t.Errorf("ValidID(%q) = %v, want %v", b, got, wantID)
		}
	}
}

// TestParseAllocs checks the documented promise: Parse allocates only the
// holder and id strings it returns.
func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, tc := range []struct {
		line string
		max  float64
	}{
		{"STATUS", 0},
		{"STATUS 3", 0},
		{"LEADER", 0},
		{"RESERVE 3", 0},
		{"  reserve\t3  \r", 0},
		{"NOPE 3", 0},
		{"", 0},
		{"RESERVE 1 2 3 4 5 6 7", 0},
		{"RESERVE 3 alice", 1},
		{"CANCEL 3 id=x", 1},
		{"RESERVE 12345 alice id=0123456789abcdef", 2},
	} {
		line := []byte(tc.line)
		got := testing.AllocsPerRun(100, func() { _, _ = Parse(line) })
		if got > tc.max {
			t.Errorf("Parse(%q) allocates %v times, want at most %v", tc.line, got, tc.max)
		}
	}
}

var benchReq Request

func BenchmarkParse(b *testing.B) {
	line := []byte("RESERVE 12345 alice id=0123456789abcdef")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		req, err := Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		benchReq = req
	}
}

func BenchmarkParseStatus(b *testing.B) {
	line := []byte("STATUS 3")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		req, err := Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		benchReq = req
	}
}

func BenchmarkAppendLine(b *testing.B) {
	req := reserve(12345, "alice", "0123456789abcdef")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], req)
	}
}
