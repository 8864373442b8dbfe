package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
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

	event64  = strings.Repeat("e", 64)
	event65  = strings.Repeat("e", 65)
	eventUp  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-" // upper-case letters and every punctuation mark allowed in event names
	eventLow = "abcdefghijklmnopqrstuvwxyz0123456789"
	eventMix = "Az09._-" + strings.Repeat("z", 57) // 64 chars, every class of character
)

// Request constructors keep the table short.
func reserve(seat uint32, holder, id string) Request {
	return Request{Verb: VerbReserve, HasSeat: true, Seat: seat, Holder: holder, ID: id}
}

func cancel(seat uint32, holder, id string) Request {
	return Request{Verb: VerbCancel, HasSeat: true, Seat: seat, Holder: holder, ID: id}
}

func statusSeat(seat uint32) Request { return Request{Verb: VerbStatus, HasSeat: true, Seat: seat} }

func hold(seat uint32, holder, id string) Request {
	return Request{Verb: VerbHold, HasSeat: true, Seat: seat, Holder: holder, ID: id}
}

func history(seat uint32) Request { return Request{Verb: VerbHistory, HasSeat: true, Seat: seat} }

func eventCreate(name string, n uint32, id string) Request {
	return Request{Verb: VerbEventCreate, Event: name, Count: n, ID: id}
}

func eventDelete(name, id string) Request {
	return Request{Verb: VerbEventDelete, Event: name, ID: id}
}

var (
	statusSummary = Request{Verb: VerbStatus}
	leader        = Request{Verb: VerbLeader}
	eventList     = Request{Verb: VerbEventList}
)

// inEvent returns r naming event e.
func inEvent(r Request, e string) Request { r.Event = e; return r }

// withTTL returns r with a hold's ttl.
func withTTL(r Request, ttl uint32) Request { r.TTL = ttl; return r }

// listed returns r naming several seats, given in ascending order.
func listed(r Request, seats ...uint32) Request { r.Seat, r.Seats = 0, seats; return r }

// span returns the seats lo to hi.
func span(lo, hi uint32) []uint32 {
	var s []uint32
	for v := lo; ; v++ { // hi may be 2^32-1: stop before v wraps
		s = append(s, v)
		if v == hi {
			return s
		}
	}
}

// cat concatenates seat slices.
func cat(parts ...[]uint32) []uint32 {
	var s []uint32
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// commaList writes lo to hi one by one: "1,2,3".
func commaList(lo, hi uint32) string {
	var b strings.Builder
	for v := lo; v <= hi; v++ {
		if v > lo {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return b.String()
}

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

// parseCases is the whole table: every case below is a test of Parse, of
// the round trip through AppendLine, of the fuzzer's reference parser and a
// seed of FuzzParse.
var parseCases = slices.Concat(part1Cases, part3Cases)

// part1Cases covers every rule of PROTOCOL.md part 1 that Parse implements;
// part 3 keeps each answer (the few it changes say so).
var part1Cases = []parseCase{
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
	ok("hold is now a verb", "HOLD 3 alice", hold(3, "alice", "")),
	ok("event is now a verb", "EVENT LIST", eventList),
	ok("history is now a verb", "HISTORY 3", history(3)),
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

// holdFull is the HOLD that names everything.
var holdFull = inEvent(withTTL(hold(3, "alice", "k"), 60), "gala")

// part3Cases covers PROTOCOL.md part 3: holds, events, seat lists and
// ranges, history, and options (key=value after the positional arguments,
// in any order, each at most once, only on the verbs that take them).
var part3Cases = []parseCase{
	// HOLD in every shape. The holder is optional here: the node rejects
	// a hold without one once it has applied the TLS identity.
	ok("hold seat", "HOLD 3", hold(3, "", "")),
	ok("hold seat holder", "HOLD 7 bob", hold(7, "bob", "")),
	ok("hold seat ttl", "HOLD 3 ttl=60", withTTL(hold(3, "", ""), 60)),
	ok("hold seat event", "HOLD 3 event=gala", inEvent(hold(3, "", ""), "gala")),
	ok("hold seat id", "HOLD 3 id=k", hold(3, "", "k")),
	ok("hold holder ttl", "HOLD 3 alice ttl=60", withTTL(hold(3, "alice", ""), 60)),
	ok("hold holder event", "HOLD 3 alice event=gala", inEvent(hold(3, "alice", ""), "gala")),
	ok("hold holder id", "HOLD 3 alice id=k", hold(3, "alice", "k")),
	ok("hold ttl event id", "HOLD 3 alice ttl=60 event=gala id=k", holdFull),
	ok("hold ttl id event", "HOLD 3 alice ttl=60 id=k event=gala", holdFull),
	ok("hold event ttl id", "HOLD 3 alice event=gala ttl=60 id=k", holdFull),
	ok("hold event id ttl", "HOLD 3 alice event=gala id=k ttl=60", holdFull),
	ok("hold id ttl event", "HOLD 3 alice id=k ttl=60 event=gala", holdFull),
	ok("hold id event ttl", "HOLD 3 alice id=k event=gala ttl=60", holdFull),
	ok("hold options without holder", "HOLD 3 id=k ttl=60 event=gala", inEvent(withTTL(hold(3, "", "k"), 60), "gala")),
	ok("hold lower", "hold 3 alice", hold(3, "alice", "")),
	ok("hold mixed", "HoLd 3 alice", hold(3, "alice", "")),
	ok("hold tabs cr", "\tHOLD\t3\talice \t ttl=5\r", withTTL(hold(3, "alice", ""), 5)),
	ok("hold list", "HOLD 3,4 alice", listed(hold(0, "alice", ""), 3, 4)),
	ok("hold range everything", "HOLD 10-12 alice ttl=3600 event=gala id=k", inEvent(withTTL(listed(hold(0, "alice", "k"), 10, 11, 12), 3600), "gala")),
	ok("hold invalid seat", "HOLD abc alice", hold(0, "alice", "")),
	ok("hold seat 0", "HOLD 0 alice ttl=5", withTTL(hold(0, "alice", ""), 5)),
	ok("hold seat 2^31", "HOLD 2147483648 alice", hold(2147483648, "alice", "")),
	ok("hold seat 2^31+1", "HOLD 2147483649 alice", hold(0, "alice", "")),
	ok("hold holder email-like", "HOLD 3 alice@example.com", hold(3, "alice@example.com", "")),
	ok("hold holder 64 id 64", "HOLD 3 "+holder64+" id="+id64, hold(3, holder64, id64)),
	invalid("hold no seat", "HOLD"),
	ok("hold ttl where the seat belongs", "HOLD ttl=5", hold(0, "", "")), // the seat token "ttl=5" is not a seat number
	ok("hold ttl where the seat belongs then holder", "HOLD ttl=5 alice", hold(0, "alice", "")),
	invalid("hold two holders", "HOLD 3 alice bob"),
	invalid("hold bad holder", "HOLD 3 al!ce"),
	invalid("hold holder 65", "HOLD 3 "+holder65),
	invalid("hold holder after ttl", "HOLD 3 ttl=5 alice"),
	invalid("hold ttl repeated", "HOLD 3 alice ttl=5 ttl=5"),
	invalid("hold ttl repeated differently", "HOLD 3 alice ttl=5 ttl=6"),
	invalid("hold event repeated", "HOLD 3 alice event=a event=b"),
	invalid("hold id repeated", "HOLD 3 alice id=a id=a"),
	invalid("hold bad id", "HOLD 3 alice id=a@b"),
	invalid("hold seven tokens", "HOLD 3 alice ttl=5 event=e id=k x"),
	invalid("hold seven tokens all options", "HOLD 3 alice ttl=5 event=e id=k id=j"),
	invalid("hold eight tokens", "HOLD 3 alice ttl=5 event=e id=k x y"),
	invalid("hold malformed list", "HOLD 3, alice"),

	// ttl: 1 to 3600 seconds, in decimal, on HOLD only.
	ok("ttl 1", "HOLD 3 alice ttl=1", withTTL(hold(3, "alice", ""), 1)),
	ok("ttl 3600", "HOLD 3 alice ttl=3600", withTTL(hold(3, "alice", ""), 3600)),
	ok("ttl 300 written out", "HOLD 3 alice ttl=300", withTTL(hold(3, "alice", ""), 300)),
	ok("ttl leading zeros", "HOLD 3 alice ttl=0060", withTTL(hold(3, "alice", ""), 60)),
	ok("ttl 3600 zero-padded", "HOLD 3 alice ttl=000000000003600", withTTL(hold(3, "alice", ""), 3600)),
	invalid("ttl 0", "HOLD 3 alice ttl=0"),
	invalid("ttl 00", "HOLD 3 alice ttl=00"),
	invalid("ttl 3601", "HOLD 3 alice ttl=3601"),
	invalid("ttl 3601 zero-padded", "HOLD 3 alice ttl=03601"),
	invalid("ttl empty", "HOLD 3 alice ttl="),
	invalid("ttl negative", "HOLD 3 alice ttl=-1"),
	invalid("ttl plus", "HOLD 3 alice ttl=+5"),
	invalid("ttl unit", "HOLD 3 alice ttl=5s"),
	invalid("ttl decimal point", "HOLD 3 alice ttl=1.5"),
	invalid("ttl exponent", "HOLD 3 alice ttl=1e3"),
	invalid("ttl hex", "HOLD 3 alice ttl=0x10"),
	invalid("ttl range", "HOLD 3 alice ttl=1-5"),
	invalid("ttl wraps uint32", "HOLD 3 alice ttl=4294967301"),           // 2^32+5
	invalid("ttl wraps uint64", "HOLD 3 alice ttl=18446744073709551621"), // 2^64+5
	invalid("ttl split by blank", "HOLD 3 alice ttl= 5"),
	invalid("ttl key upper", "HOLD 3 alice TTL=5"),
	invalid("ttl on reserve", "RESERVE 3 ttl=5"),
	invalid("ttl on reserve with holder", "RESERVE 3 alice ttl=5"),
	invalid("ttl on cancel", "CANCEL 3 alice ttl=5"),
	invalid("ttl on status", "STATUS 3 ttl=5"),
	ok("ttl where the status seat belongs", "STATUS ttl=5", statusSeat(0)), // a seat token, not an option
	invalid("ttl on history", "HISTORY 3 ttl=5"),
	invalid("ttl on event create", "EVENT CREATE gala 5 ttl=5"),
	invalid("ttl on event delete", "EVENT DELETE gala ttl=5"),
	invalid("ttl on event list", "EVENT LIST ttl=5"),
	invalid("ttl on leader", "LEADER ttl=5"),

	// event= on the seat verbs, in any order with id=.
	ok("reserve event", "RESERVE 3 event=gala", inEvent(reserve(3, "", ""), "gala")),
	ok("reserve holder event", "RESERVE 3 alice event=gala", inEvent(reserve(3, "alice", ""), "gala")),
	ok("reserve id event", "RESERVE 3 alice id=k event=gala", inEvent(reserve(3, "alice", "k"), "gala")),
	ok("reserve event id", "RESERVE 3 alice event=gala id=k", inEvent(reserve(3, "alice", "k"), "gala")),
	ok("reserve id event no holder", "RESERVE 3 id=k event=gala", inEvent(reserve(3, "", "k"), "gala")),
	ok("reserve event id no holder", "RESERVE 3 event=gala id=k", inEvent(reserve(3, "", "k"), "gala")),
	ok("cancel event", "CANCEL 3 event=gala", inEvent(cancel(3, "", ""), "gala")),
	ok("cancel holder event", "CANCEL 3 bob event=gala", inEvent(cancel(3, "bob", ""), "gala")),
	ok("cancel id event", "CANCEL 3 bob id=k event=gala", inEvent(cancel(3, "bob", "k"), "gala")),
	ok("cancel event id", "CANCEL 3 bob event=gala id=k", inEvent(cancel(3, "bob", "k"), "gala")),
	ok("reserve invalid seat event", "RESERVE abc event=gala", inEvent(reserve(0, "", ""), "gala")),
	ok("reserve event tabs cr", "reserve\t3\tevent=gala\t\r", inEvent(reserve(3, "", ""), "gala")),
	ok("event default is the default event", "RESERVE 3 event=default", reserve(3, "", "")),
	ok("event default with holder and id", "CANCEL 3 bob event=default id=k", cancel(3, "bob", "k")),
	ok("event default on hold", "HOLD 3 alice event=default", hold(3, "alice", "")),
	ok("event names are case-sensitive", "RESERVE 3 event=DEFAULT", inEvent(reserve(3, "", ""), "DEFAULT")),
	ok("event Default is not default", "RESERVE 3 event=Default", inEvent(reserve(3, "", ""), "Default")),
	ok("event 64 chars", "RESERVE 3 event="+event64, inEvent(reserve(3, "", ""), event64)),
	ok("event 1 char", "RESERVE 3 event=e", inEvent(reserve(3, "", ""), "e")),
	ok("event upper and punctuation", "RESERVE 3 event="+eventUp, inEvent(reserve(3, "", ""), eventUp)),
	ok("event lower and digits", "CANCEL 3 event="+eventLow, inEvent(cancel(3, "", ""), eventLow)),
	ok("event mix 64", "RESERVE 3 alice event="+eventMix+" id="+idMix, inEvent(reserve(3, "alice", idMix), eventMix)),
	ok("event dot", "RESERVE 3 event=.", inEvent(reserve(3, "", ""), ".")),
	ok("event underscore", "RESERVE 3 event=_", inEvent(reserve(3, "", ""), "_")),
	ok("event dash", "RESERVE 3 event=-", inEvent(reserve(3, "", ""), "-")),
	ok("event digit", "RESERVE 3 event=7", inEvent(reserve(3, "", ""), "7")),
	ok("event named like a verb", "RESERVE 3 event=RESERVE", inEvent(reserve(3, "", ""), "RESERVE")),
	ok("event named id", "RESERVE 3 event=id", inEvent(reserve(3, "", ""), "id")),
	invalid("event 65 chars", "RESERVE 3 event="+event65),
	invalid("event empty", "RESERVE 3 event="),
	invalid("event at sign", "RESERVE 3 event=a@b"),
	invalid("event only at", "RESERVE 3 event=@"),
	invalid("event colon", "RESERVE 3 event=a:b"),
	invalid("event comma", "RESERVE 3 event=a,b"),
	invalid("event equals", "RESERVE 3 event=a=b"),
	invalid("event slash", "RESERVE 3 event=a/b"),
	invalid("event plus", "RESERVE 3 event=a+b"),
	invalid("event non-ASCII", "RESERVE 3 event=gála"),
	invalid("event NUL", "RESERVE 3 event=a\x00"),
	invalid("event key upper", "RESERVE 3 EVENT=gala"),
	invalid("event key title", "RESERVE 3 Event=gala"),
	invalid("event repeated", "RESERVE 3 event=a event=b"),
	invalid("event repeated same", "RESERVE 3 event=a event=a"),
	invalid("event default repeated", "RESERVE 3 event=default event=default"),
	invalid("event default then another", "RESERVE 3 event=default event=gala"),
	invalid("id repeated around event", "RESERVE 3 id=a event=e id=a"),
	invalid("holder after event", "RESERVE 3 event=gala alice"),
	// As in part 1, the first argument of a seat write is its seat token
	// whatever it looks like: an option there is an invalid seat.
	ok("event where the seat belongs", "RESERVE event=gala 3", reserve(0, "3", "")),
	ok("reserve event-like seat", "RESERVE event=gala", reserve(0, "", "")),
	ok("cancel event-like seat", "CANCEL event=gala", cancel(0, "", "")),
	ok("event-like seat then event", "RESERVE event=x event=gala", inEvent(reserve(0, "", ""), "gala")),
	ok("option-like seat with holder and id", "HOLD ttl=5 alice id=k", hold(0, "alice", "k")),
	ok("unknown option where the seat belongs", "RESERVE seat=4", reserve(0, "", "")),
	invalid("option-like seat with a dash is a range", "RESERVE id=a-b"),
	invalid("option-like seat with a comma is a list", "CANCEL id=1,2"),
	invalid("unknown key", "RESERVE 3 seat=4"),
	invalid("unknown key holder", "RESERVE 3 holder=alice"),
	invalid("unknown key count", "EVENT CREATE gala 5 count=5"),
	invalid("empty key", "RESERVE 3 =x"),
	invalid("empty key and value", "CANCEL 3 alice ="),
	invalid("blank inside option", "RESERVE 3 id =x"), // "id" is the holder, "=x" an option without key
	invalid("reserve all three options", "RESERVE 3 alice id=k event=e ttl=5"),

	// STATUS: a seat or the summary, of an event; one seat only.
	ok("status summary event", "STATUS event=gala", inEvent(statusSummary, "gala")),
	ok("status seat event", "STATUS 3 event=gala", inEvent(statusSeat(3), "gala")),
	ok("status summary event default", "STATUS event=default", statusSummary),
	ok("status seat event default", "STATUS 3 event=default", statusSeat(3)),
	ok("status invalid seat event", "STATUS abc event=gala", inEvent(statusSeat(0), "gala")),
	ok("status lower event", "status 5\tevent=E\r", inEvent(statusSeat(5), "E")),
	invalid("status event then seat", "STATUS event=gala 3"),
	invalid("status event empty", "STATUS event="),
	ok("status event prefix only", "STATUS eventx=1", statusSeat(0)), // not event=: a seat token
	ok("status event key upper", "STATUS EVENT=gala", statusSeat(0)),
	ok("status id-like seat then event", "STATUS id=x event=gala", inEvent(statusSeat(0), "gala")),
	invalid("status event id", "STATUS 3 event=gala id=x"),
	invalid("status summary event id", "STATUS event=gala id=x"),
	invalid("status holder event", "STATUS 3 alice event=gala"),
	invalid("status event repeated", "STATUS event=a event=b"),
	invalid("status bad event", "STATUS event=a@b"),
	invalid("status event 65", "STATUS event="+event65),
	// STATUS and HISTORY read one seat: a list is not a seat (seat 0,
	// FAILED_INVALID_SEAT), as part 1 read "STATUS 3,4".
	ok("status list", "STATUS 3,4", statusSeat(0)),
	ok("status range", "STATUS 3-4", statusSeat(0)),
	ok("status list of one seat", "STATUS 3,3", statusSeat(0)),
	ok("status range of one seat", "STATUS 3-3", statusSeat(0)),
	ok("status list event", "STATUS 3,4 event=gala", func() Request { r := statusSeat(0); r.Event = "gala"; return r }()),
	ok("status malformed list", "STATUS 3,", statusSeat(0)),

	// HISTORY <seat> [event=].
	ok("history seat event", "HISTORY 3 event=gala", inEvent(history(3), "gala")),
	ok("history event default", "HISTORY 3 event=default", history(3)),
	ok("history lower", "history 4", history(4)),
	ok("history mixed", "HiStOrY 4", history(4)),
	ok("history invalid seat", "HISTORY abc", history(0)),
	ok("history seat 0", "HISTORY 0", history(0)),
	ok("history seat -1", "HISTORY -1", history(0)),
	ok("history seat 2^31", "HISTORY 2147483648", history(2147483648)),
	ok("history seat 2^31+1", "HISTORY 2147483649", history(0)),
	ok("history seat 007 tabs cr", "HISTORY\t007 \r", history(7)),
	invalid("history no seat", "HISTORY"),
	ok("history event-like seat", "HISTORY event=gala", history(0)), // HISTORY's first argument is always its seat
	ok("history event-like seat then event", "HISTORY event=a event=b", inEvent(history(0), "b")),
	ok("history id-like seat", "HISTORY id=x", history(0)),
	invalid("history two seats", "HISTORY 3 4"),
	invalid("history holder", "HISTORY 3 alice"),
	invalid("history id", "HISTORY 3 id=x"),
	ok("history list", "HISTORY 3,4", history(0)),
	ok("history range", "HISTORY 1-5", history(0)),
	ok("history list of one seat", "HISTORY 3,3", history(0)),
	invalid("history event then seat", "HISTORY event=gala 3"),
	invalid("history event repeated", "HISTORY 3 event=a event=a"),
	invalid("history bad event", "HISTORY 3 event=a:b"),

	// LEADER takes nothing, options included.
	invalid("leader event", "LEADER event=x"),
	invalid("leader event default", "LEADER event=default"),

	// EVENT CREATE <name> <N> [id=].
	ok("event create", "EVENT CREATE gala 100", eventCreate("gala", 100, "")),
	ok("event create id", "EVENT CREATE gala 100 id=k", eventCreate("gala", 100, "k")),
	ok("event create lower", "event create gala 100", eventCreate("gala", 100, "")),
	ok("event create mixed", "Event cReAtE gala 100", eventCreate("gala", 100, "")),
	ok("event create tabs cr", "EVENT\tCREATE\t gala \t5\r", eventCreate("gala", 5, "")),
	ok("event create 1 seat", "EVENT CREATE gala 1", eventCreate("gala", 1, "")),
	ok("event create 1000000 seats", "EVENT CREATE gala 1000000", eventCreate("gala", 1000000, "")),
	ok("event create zero-padded", "EVENT CREATE gala 0001000000", eventCreate("gala", 1000000, "")),
	ok("event create named default", "EVENT CREATE default 5", eventCreate("default", 5, "")), // the node answers FAILED_EXISTS
	ok("event create name case kept", "EVENT CREATE GaLa 5", eventCreate("GaLa", 5, "")),
	ok("event create name 64 id 64", "EVENT CREATE "+event64+" 5 id="+id64, eventCreate(event64, 5, id64)),
	ok("event create name upper and punctuation", "EVENT CREATE "+eventUp+" 5", eventCreate(eventUp, 5, "")),
	ok("event create name lower and digits", "EVENT CREATE "+eventLow+" 5", eventCreate(eventLow, 5, "")),
	ok("event create numeric name", "EVENT CREATE 5 10", eventCreate("5", 10, "")),
	ok("event create name like a sub-verb", "EVENT CREATE LIST 5", eventCreate("LIST", 5, "")),
	invalid("event create 0 seats", "EVENT CREATE gala 0"),
	invalid("event create 000 seats", "EVENT CREATE gala 000"),
	invalid("event create 1000001 seats", "EVENT CREATE gala 1000001"),
	invalid("event create 2^32+1 seats", "EVENT CREATE gala 4294967297"),
	invalid("event create 2^64+1 seats", "EVENT CREATE gala 18446744073709551617"),
	invalid("event create negative", "EVENT CREATE gala -5"),
	invalid("event create plus", "EVENT CREATE gala +5"),
	invalid("event create exponent", "EVENT CREATE gala 1e6"),
	invalid("event create underscores", "EVENT CREATE gala 1_000"),
	invalid("event create count not a number", "EVENT CREATE gala many"),
	invalid("event create count range", "EVENT CREATE gala 1-5"),
	invalid("event create no count", "EVENT CREATE gala"),
	invalid("event create nothing", "EVENT CREATE"),
	invalid("event create extra", "EVENT CREATE gala 5 6"),
	invalid("event create extra holder", "EVENT CREATE gala 5 alice"),
	invalid("event create swapped", "EVENT CREATE 5 gala"),
	invalid("event create name 65", "EVENT CREATE "+event65+" 5"),
	invalid("event create name at", "EVENT CREATE a@b 5"),
	invalid("event create name colon", "EVENT CREATE a:b 5"),
	invalid("event create name equals", "EVENT CREATE a=b 5"),
	invalid("event create name comma", "EVENT CREATE a,b 5"),
	invalid("event create id before count", "EVENT CREATE gala id=k 5"),
	invalid("event create event option", "EVENT CREATE gala 5 event=gala"),
	invalid("event create id repeated", "EVENT CREATE gala 5 id=a id=b"),
	invalid("event create bad id", "EVENT CREATE gala 5 id=a@b"),

	// EVENT DELETE <name> [id=]; never the default event.
	ok("event delete", "EVENT DELETE gala", eventDelete("gala", "")),
	ok("event delete id", "EVENT DELETE gala id=k", eventDelete("gala", "k")),
	ok("event delete lower", "event delete gala", eventDelete("gala", "")),
	ok("event delete mixed", "eVeNt DeLeTe gala", eventDelete("gala", "")),
	ok("event delete Default", "EVENT DELETE Default", eventDelete("Default", "")), // names are case-sensitive
	ok("event delete DEFAULT", "EVENT DELETE DEFAULT", eventDelete("DEFAULT", "")),
	ok("event delete default2", "EVENT DELETE default2", eventDelete("default2", "")),
	ok("event delete name 64", "EVENT DELETE "+event64, eventDelete(event64, "")),
	ok("event delete name mix", "EVENT DELETE "+eventMix+" id="+idMix, eventDelete(eventMix, idMix)),
	invalid("event delete default", "EVENT DELETE default"),
	invalid("event delete default with id", "EVENT DELETE default id=k"),
	invalid("event delete default lower verb", "event delete default"),
	invalid("event delete no name", "EVENT DELETE"),
	invalid("event delete two names", "EVENT DELETE a b"),
	invalid("event delete name 65", "EVENT DELETE "+event65),
	invalid("event delete name at", "EVENT DELETE a@b"),
	invalid("event delete event option", "EVENT DELETE gala event=gala"),
	invalid("event delete id repeated", "EVENT DELETE gala id=a id=a"),
	invalid("event delete id before name", "EVENT DELETE id=k gala"),
	invalid("event delete only id", "EVENT DELETE id=k"),

	// EVENT LIST: no arguments, no options.
	ok("event list lower", "event list", eventList),
	ok("event list mixed", "EvEnT lIsT", eventList),
	ok("event list blanks cr", " \tEVENT \t LIST \t\r", eventList),
	invalid("event list id", "EVENT LIST id=x"),
	invalid("event list event", "EVENT LIST event=gala"),
	invalid("event list arg", "EVENT LIST gala"),
	invalid("event list seat", "EVENT LIST 3"),

	// EVENT needs a known sub-verb.
	invalid("event alone", "EVENT"),
	invalid("event alone blanks", "EVENT \t\r"),
	invalid("event unknown sub-verb", "EVENT SHOW"),
	invalid("event sub-verb prefix", "EVENT CREAT gala 5"),
	invalid("event sub-verb suffix", "EVENT LISTS"),
	invalid("event glued list", "EVENTLIST"),
	invalid("event glued create", "EVENTCREATE gala 5"),
	invalid("event sub-verb option", "EVENT id=x"),
	invalid("event sub-verb with equals", "EVENT LIST=1"),
	invalid("event sub-verb is a verb", "EVENT RESERVE 3"),
	invalid("event sub-verb accented", "EVENT LÏST"),
	invalid("event sub-verb long s", "EVENT LI\u017fT"), // Unicode folds ſ to S; the protocol is ASCII
	invalid("event twice", "EVENT EVENT LIST"),
	invalid("events plural", "EVENTS"),
	invalid("create without event", "CREATE gala 5"),
	invalid("list without event", "LIST"),

	// Seat lists and ranges.
	ok("list two", "RESERVE 3,4", listed(reserve(0, "", ""), 3, 4)),
	ok("list three", "RESERVE 3,4,9", listed(reserve(0, "", ""), 3, 4, 9)),
	ok("list unsorted", "RESERVE 9,3,4", listed(reserve(0, "", ""), 3, 4, 9)),
	ok("list repeats", "RESERVE 4,3,4,3", listed(reserve(0, "", ""), 3, 4)),
	ok("list of one seat", "RESERVE 5,5", reserve(5, "", "")),
	ok("list of one seat many ways", "RESERVE 5,05,005,5-5", reserve(5, "", "")),
	ok("list of one seat 2^31", "RESERVE 2147483648,2147483648", reserve(2147483648, "", "")),
	ok("range", "RESERVE 10-20", listed(reserve(0, "", ""), span(10, 20)...)),
	ok("range of one seat", "RESERVE 3-3", reserve(3, "", "")),
	ok("range of two", "RESERVE 3-4", listed(reserve(0, "", ""), 3, 4)),
	ok("range from 0", "RESERVE 0-3", listed(reserve(0, "", ""), 0, 1, 2, 3)),
	ok("range 0-0", "RESERVE 0-0", reserve(0, "", "")),
	ok("list 0,0", "RESERVE 0,0", reserve(0, "", "")),
	ok("list with 0", "RESERVE 0,5", listed(reserve(0, "", ""), 0, 5)),
	ok("list and range", "RESERVE 3,10-20", listed(reserve(0, "", ""), cat([]uint32{3}, span(10, 20))...)),
	ok("range and list", "RESERVE 10-20,3", listed(reserve(0, "", ""), cat([]uint32{3}, span(10, 20))...)),
	ok("overlapping ranges", "RESERVE 1-10,5-15", listed(reserve(0, "", ""), span(1, 15)...)),
	ok("nested ranges", "RESERVE 1-100,50-60", listed(reserve(0, "", ""), span(1, 100)...)),
	ok("adjacent ranges", "RESERVE 4-6,1-3", listed(reserve(0, "", ""), span(1, 6)...)),
	ok("seat inside a range", "RESERVE 5-9,7", listed(reserve(0, "", ""), span(5, 9)...)),
	ok("list leading zeros", "RESERVE 003,0004", listed(reserve(0, "", ""), 3, 4)),
	ok("range leading zeros", "RESERVE 007-0009", listed(reserve(0, "", ""), 7, 8, 9)),
	ok("list long zero padding", "RESERVE 000000000000003,4", listed(reserve(0, "", ""), 3, 4)),
	ok("list keeps seats over 2^31", "RESERVE 1,2147483649", listed(reserve(0, "", ""), 1, 2147483649)),
	ok("list 2^32-1", "RESERVE 4294967295,4294967294", listed(reserve(0, "", ""), 4294967294, 4294967295)),
	ok("range to 2^32-1", "RESERVE 4294967290-4294967295", listed(reserve(0, "", ""), span(4294967290, 4294967295)...)),
	ok("range 100 wide to 2^32-1", "RESERVE 4294967196-4294967295", listed(reserve(0, "", ""), span(4294967196, 4294967295)...)),
	invalid("list 2^32", "RESERVE 1,4294967296"),
	invalid("range to 2^32", "RESERVE 4294967295-4294967296"),
	invalid("range from 2^32", "RESERVE 4294967296-4294967297"),
	invalid("list 2^32+1 would wrap", "RESERVE 4294967297,3"),
	invalid("list 11 digits", "RESERVE 1,99999999999"),
	invalid("list 2^64+1 would wrap", "RESERVE 1,18446744073709551617"),
	ok("list with holder", "RESERVE 3,4 alice", listed(reserve(0, "alice", ""), 3, 4)),
	ok("list with everything", "RESERVE 3,4,9 alice event=gala id=k", inEvent(listed(reserve(0, "alice", "k"), 3, 4, 9), "gala")),
	ok("cancel list", "CANCEL 3,4 bob id=k", listed(cancel(0, "bob", "k"), 3, 4)),
	ok("cancel range event", "CANCEL 1-3 event=gala", inEvent(listed(cancel(0, "", ""), 1, 2, 3), "gala")),
	ok("list lower verb cr", "reserve 1,2\r", listed(reserve(0, "", ""), 1, 2)),

	// At most 100 seats, counted after repeats and overlaps are merged.
	ok("range 1-100", "RESERVE 1-100", listed(reserve(0, "", ""), span(1, 100)...)),
	ok("range 5-104", "RESERVE 5-104", listed(reserve(0, "", ""), span(5, 104)...)),
	ok("range 0-99", "RESERVE 0-99", listed(reserve(0, "", ""), span(0, 99)...)),
	invalid("range 1-101", "RESERVE 1-101"),
	invalid("range 5-105", "RESERVE 5-105"),
	invalid("range 0-100", "RESERVE 0-100"),
	invalid("range of all seats", "RESERVE 1-4294967295"),
	ok("list of 100", "RESERVE "+commaList(1, 100), listed(reserve(0, "", ""), span(1, 100)...)),
	invalid("list of 101", "RESERVE "+commaList(1, 101)),
	ok("list of 101 with a repeat", "RESERVE "+commaList(1, 100)+",50", listed(reserve(0, "", ""), span(1, 100)...)),
	ok("overlapping ranges of 100", "RESERVE 1-60,41-100", listed(reserve(0, "", ""), span(1, 100)...)),
	ok("adjacent ranges of 100", "RESERVE 1-50,51-100", listed(reserve(0, "", ""), span(1, 100)...)),
	invalid("adjacent ranges of 101", "RESERVE 1-50,51-101"),
	invalid("range and seat of 101", "RESERVE 1-100,200"),
	invalid("two full ranges", "RESERVE 1-100,201-300"),
	ok("same range twice", "RESERVE 1-100,1-100", listed(reserve(0, "", ""), span(1, 100)...)),
	ok("range and seat of 100", "RESERVE 1-99,500", listed(reserve(0, "", ""), cat(span(1, 99), []uint32{500})...)),
	invalid("range and seats of 101", "RESERVE 1-99,500,501"),
	ok("hold 100 seats", "HOLD 1-100 alice ttl=60", withTTL(listed(hold(0, "alice", ""), span(1, 100)...), 60)),
	invalid("hold 101 seats", "HOLD 1-101 alice"),
	invalid("cancel 101 seats", "CANCEL "+commaList(1, 101)+" bob"),

	// Malformed lists and ranges are INVALID_COMMAND (part 1 read them
	// as an invalid seat).
	invalid("list trailing comma", "RESERVE 3,"),
	invalid("list leading comma", "RESERVE ,3"),
	invalid("list empty element", "RESERVE 3,,4"),
	invalid("list only comma", "RESERVE ,"),
	invalid("list only commas", "RESERVE ,,"),
	invalid("list split by blank", "RESERVE 3, 4"),
	invalid("list blank before comma", "RESERVE 3 ,4"), // ",4" is a malformed holder
	invalid("list letter", "RESERVE 3,a"),
	invalid("list letter first", "RESERVE a,3"),
	invalid("list plus", "RESERVE +3,4"),
	invalid("list decimal point", "RESERVE 1.5,2"),
	invalid("list hex", "RESERVE 0x1,2"),
	invalid("list non-ASCII digit", "RESERVE 3,\u0663"),
	invalid("list negative element", "RESERVE 3,-4"),
	invalid("list negative first", "RESERVE -1,2"),
	invalid("list glued option", "RESERVE 3,id=x"),
	invalid("range reversed", "RESERVE 5-3"),
	invalid("range reversed by one", "RESERVE 4-3"),
	invalid("range open end", "RESERVE 3-"),
	invalid("range double dash", "RESERVE 1--3"),
	invalid("range of three numbers", "RESERVE 1-2-3"),
	invalid("range letters", "RESERVE a-b"),
	invalid("range letter end", "RESERVE 1-b"),
	invalid("range two dashes", "RESERVE --"),
	invalid("range from negative", "RESERVE -1-2"),
	invalid("range open end in list", "RESERVE 1-3,5-"),
	invalid("cancel malformed list", "CANCEL 3,,4 bob"),
	invalid("hold reversed range", "HOLD 5-3 alice"),

	// A '-' only as the first byte keeps part 1's single invalid seat.
	ok("seat dash", "RESERVE -", reserve(0, "", "")),
	ok("seat -5 with holder", "CANCEL -5 bob", cancel(0, "bob", "")),
	ok("seat -00 on hold", "HOLD -00 alice", hold(0, "alice", "")),
	ok("dash-led holder after seat", "RESERVE 1 -3", reserve(1, "-3", "")),
}

func TestParse(t *testing.T) {
	for _, s := range []string{holder64, id64, holderMix, idMix, holderMix2, event64, eventMix} {
		if len(s) != MaxTokenLen {
			t.Fatalf("test token %q is %d bytes, want %d", s, len(s), MaxTokenLen)
		}
	}
	if len(event65) != MaxTokenLen+1 {
		t.Fatalf("event65 is %d bytes", len(event65))
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
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.line, got, want)
			}
			if tc.err == nil {
				if err := checkRequest(got); err != nil {
					t.Fatalf("Parse(%q) = %+v: %v", tc.line, got, err)
				}
			}
		})
	}
}

var (
	shapeHolderRE = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,64}$`)
	shapeIDRE     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	shapeEventRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// checkRequest reports what is wrong with the shape of a request Parse
// accepted: fields a verb does not have, or values the protocol does not
// allow. The table and the fuzzer both apply it.
func checkRequest(r Request) error {
	seatVerb := false
	switch r.Verb {
	case VerbReserve, VerbCancel, VerbHold:
		seatVerb = true
		if !r.HasSeat {
			return errors.New("a seat write without seats")
		}
	case VerbStatus:
		if r.Holder != "" || r.ID != "" || r.Seats != nil {
			return errors.New("STATUS with holder, id or several seats")
		}
		seatVerb = true
	case VerbHistory:
		if !r.HasSeat || r.Holder != "" || r.ID != "" || r.Seats != nil {
			return errors.New("HISTORY without one seat, or with holder or id")
		}
		seatVerb = true
	case VerbLeader:
		if !reflect.DeepEqual(r, Request{Verb: VerbLeader}) {
			return errors.New("LEADER with arguments")
		}
	case VerbEventCreate, VerbEventDelete:
		if r.HasSeat || r.Seat != 0 || r.Seats != nil || r.Holder != "" {
			return errors.New("EVENT CREATE/DELETE with seats or holder")
		}
		if !shapeEventRE.MatchString(r.Event) {
			return fmt.Errorf("event name %q", r.Event)
		}
		if r.Verb == VerbEventCreate && (r.Count < 1 || r.Count > 1_000_000) {
			return fmt.Errorf("EVENT CREATE of %d seats", r.Count)
		}
		if r.Verb == VerbEventDelete && r.Event == "default" {
			return errors.New("EVENT DELETE default")
		}
	case VerbEventList:
		if !reflect.DeepEqual(r, Request{Verb: VerbEventList}) {
			return errors.New("EVENT LIST with arguments")
		}
	default:
		return fmt.Errorf("verb %v", r.Verb)
	}
	if r.Verb != VerbEventCreate && r.Count != 0 {
		return errors.New("a seat count outside EVENT CREATE")
	}
	if r.TTL != 0 && (r.Verb != VerbHold || r.TTL > 3600) {
		return fmt.Errorf("ttl %d", r.TTL)
	}
	if seatVerb && r.Event != "" && (!shapeEventRE.MatchString(r.Event) || r.Event == "default") {
		return fmt.Errorf("event %q on a seat request", r.Event)
	}
	if !r.HasSeat && (r.Seat != 0 || r.Seats != nil) {
		return errors.New("seats without HasSeat")
	}
	if r.Seat > 1<<31 {
		return fmt.Errorf("seat %d over 2^31", r.Seat)
	}
	if r.Seats != nil {
		if r.Seat != 0 {
			return errors.New("both Seat and Seats")
		}
		if len(r.Seats) < 2 || len(r.Seats) > 100 {
			return fmt.Errorf("%d seats in Seats", len(r.Seats))
		}
		for i := 1; i < len(r.Seats); i++ {
			if r.Seats[i] <= r.Seats[i-1] {
				return fmt.Errorf("seats %v not ascending and distinct", r.Seats)
			}
		}
	}
	if r.Holder != "" && !shapeHolderRE.MatchString(r.Holder) {
		return fmt.Errorf("holder %q", r.Holder)
	}
	if r.ID != "" && !shapeIDRE.MatchString(r.ID) {
		return fmt.Errorf("id %q", r.ID)
	}
	return nil
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

// TestParseVerbCaseAllSpellings tries every upper/lower spelling of every
// verb, EVENT's sub-verbs included.
func TestParseVerbCaseAllSpellings(t *testing.T) {
	for _, tc := range []struct {
		v    Verb
		args string
	}{
		{VerbReserve, " 12"},
		{VerbCancel, " 12"},
		{VerbStatus, " 12"},
		{VerbLeader, ""},
		{VerbHold, " 12 alice"},
		{VerbHistory, " 12"},
		{VerbEventCreate, " gala 5"},
		{VerbEventDelete, " gala"},
		{VerbEventList, ""},
	} {
		word := tc.v.String()
		n := 0
		for mask := 0; mask < 1<<len(word); mask++ {
			b := []byte(word)
			skip := false
			for i := range b {
				if mask&(1<<i) != 0 {
					if b[i] == ' ' {
						skip = true // the blank has no case
						break
					}
					b[i] += 'a' - 'A'
				}
			}
			if skip {
				continue
			}
			n++
			line := string(b) + tc.args
			req, err := Parse([]byte(line))
			if err != nil || req.Verb != tc.v {
				t.Fatalf("Parse(%q) = %+v, %v; want verb %v", line, req, err, tc.v)
			}
		}
		if letters := len(strings.ReplaceAll(word, " ", "")); n != 1<<letters {
			t.Fatalf("%v: tried %d spellings, want %d", tc.v, n, 1<<letters)
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
		if !reflect.DeepEqual(back, req) {
			t.Errorf("%s: round trip of %q via %q = %+v, want %+v", tc.name, tc.line, line, back, req)
		}
		// Part 1 requests keep part 1's canonical line: no option of part 3.
		if req.IsPart1() {
			f := strings.Fields(string(line))
			if req.HasSeat && strings.ContainsAny(f[1], ",-") {
				t.Errorf("%s: part-1 request %+v has canonical line %q with a seat list", tc.name, req, line)
			}
			for _, w := range f {
				if strings.HasPrefix(w, "event=") || strings.HasPrefix(w, "ttl=") {
					t.Errorf("%s: part-1 request %+v has canonical line %q with a part-3 option", tc.name, req, line)
				}
			}
		}
		// The canonical line is a fixed point.
		if again := AppendLine(nil, back); !bytes.Equal(again, line) {
			t.Errorf("%s: canonical line not stable: %q then %q", tc.name, line, again)
		}
	}
	if n < 250 {
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

		// Part 3: options in the order ttl=, event=, id=.
		{hold(3, "", ""), "HOLD 3\n"},
		{hold(3, "alice", ""), "HOLD 3 alice\n"},
		{withTTL(hold(3, "alice", ""), 60), "HOLD 3 alice ttl=60\n"},
		{holdFull, "HOLD 3 alice ttl=60 event=gala id=k\n"},
		{inEvent(withTTL(hold(3, "", "k"), 3600), "gala"), "HOLD 3 ttl=3600 event=gala id=k\n"},
		{inEvent(reserve(3, "", ""), "gala"), "RESERVE 3 event=gala\n"},
		{inEvent(reserve(3, "alice", "k"), "gala"), "RESERVE 3 alice event=gala id=k\n"},
		{inEvent(cancel(0, "", "k"), "gala"), "CANCEL 0 event=gala id=k\n"},
		{inEvent(statusSummary, "gala"), "STATUS event=gala\n"},
		{inEvent(statusSeat(3), "gala"), "STATUS 3 event=gala\n"},
		{history(3), "HISTORY 3\n"},
		{inEvent(history(0), "gala"), "HISTORY 0 event=gala\n"},
		{eventCreate("gala", 100, ""), "EVENT CREATE gala 100\n"},
		{eventCreate("gala", 1000000, "k"), "EVENT CREATE gala 1000000 id=k\n"},
		{eventCreate("default", 5, ""), "EVENT CREATE default 5\n"},
		{eventDelete("gala", ""), "EVENT DELETE gala\n"},
		{eventDelete("gala", "k"), "EVENT DELETE gala id=k\n"},
		{eventList, "EVENT LIST\n"},

		// Seat lists: runs of three or more as ranges.
		{listed(reserve(0, "", ""), 3, 4), "RESERVE 3,4\n"},
		{listed(reserve(0, "alice", "k"), cat([]uint32{3, 4}, span(10, 20))...), "RESERVE 3,4,10-20 alice id=k\n"},
		{listed(cancel(0, "", ""), 0, 1, 2, 3), "CANCEL 0-3\n"},
		{inEvent(listed(cancel(0, "bob", ""), 1, 3, 5), "gala"), "CANCEL 1,3,5 bob event=gala\n"},
		{withTTL(listed(hold(0, "alice", ""), span(1, 100)...), 5), "HOLD 1-100 alice ttl=5\n"},
		{listed(reserve(0, "", ""), 4294967294, 4294967295), "RESERVE 4294967294,4294967295\n"},
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
	dst = AppendLine(dst, eventList)
	if got, want := string(dst), "STATUS\nRESERVE 1 a\nEVENT LIST\n"; got != want {
		t.Errorf("AppendLine onto a prefix = %q, want %q", got, want)
	}
}

// TestAppendLineLongest: the longest request, 100 seats none of them
// consecutive with the longest numbers and every field at its longest,
// still fits on a line.
func TestAppendLineLongest(t *testing.T) {
	var seats []uint32
	for i := range uint32(100) {
		seats = append(seats, 4294967295-2*(99-i))
	}
	r := inEvent(withTTL(listed(hold(0, holder64, id64), seats...), 3600), event64)
	line := AppendLine(nil, r)
	if len(line) > MaxLine {
		t.Fatalf("longest request line is %d bytes, over MaxLine", len(line))
	}
	back, err := Parse(line[:len(line)-1])
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("Parse(%q) = %+v, %v; want %+v", line, back, err, r)
	}
}

func TestAppendSeatList(t *testing.T) {
	odd := make([]uint32, 0, 100)
	oddText := make([]string, 0, 100)
	for i := uint32(1); i < 200; i += 2 {
		odd = append(odd, i)
		oddText = append(oddText, strconv.FormatUint(uint64(i), 10))
	}
	for _, tc := range []struct {
		seats []uint32
		want  string
	}{
		{nil, ""},
		{[]uint32{5}, "5"},
		{[]uint32{0}, "0"},
		{[]uint32{3, 4}, "3,4"},
		{[]uint32{3, 5}, "3,5"},
		{[]uint32{3, 4, 5}, "3-5"},
		{[]uint32{3, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, "3,4,10-20"},
		{[]uint32{1, 3, 5}, "1,3,5"},
		{[]uint32{1, 2, 4, 5}, "1,2,4,5"},
		{[]uint32{1, 2, 3, 5, 6, 7}, "1-3,5-7"},
		{[]uint32{1, 2, 3, 4, 6}, "1-4,6"},
		{[]uint32{1, 3, 4, 5, 7, 8}, "1,3-5,7,8"},
		{[]uint32{0, 1, 2}, "0-2"},
		{[]uint32{0, 2}, "0,2"},
		{[]uint32{9, 2147483648, 2147483649}, "9,2147483648,2147483649"},
		{span(4294967293, 4294967295), "4294967293-4294967295"},
		{[]uint32{1, 2, 3, 4294967295}, "1-3,4294967295"},
		{span(1, 100), "1-100"},
		{odd, strings.Join(oddText, ",")},
	} {
		got := string(AppendSeatList(nil, tc.seats))
		if got != tc.want {
			t.Errorf("AppendSeatList(%v) = %q, want %q", tc.seats, got, tc.want)
			continue
		}
		// What it writes, Parse reads back as the same seats.
		if len(tc.seats) < 2 {
			continue
		}
		r, err := Parse([]byte("RESERVE " + got))
		if err != nil || !slices.Equal(r.Seats, tc.seats) {
			t.Errorf("Parse(RESERVE %s) = %+v, %v; want seats %v", got, r, err, tc.seats)
		}
	}

	// It appends to dst.
	if got := string(AppendSeatList([]byte("x "), []uint32{1, 2, 3, 7})); got != "x 1-3,7" {
		t.Errorf("AppendSeatList onto a prefix = %q", got)
	}

	// Every set of seats from 0 to 11 that Parse accepts as a list
	// survives the trip, and the text never names a seat twice.
	for mask := 0; mask < 1<<12; mask++ {
		var seats []uint32
		for i := range 12 {
			if mask&(1<<i) != 0 {
				seats = append(seats, uint32(i))
			}
		}
		text := string(AppendSeatList(nil, seats))
		if len(seats) < 2 {
			continue
		}
		r, err := Parse([]byte("CANCEL " + text))
		if err != nil || !slices.Equal(r.Seats, seats) {
			t.Fatalf("AppendSeatList(%v) = %q, parsed back as %+v, %v", seats, text, r, err)
		}
		if strings.Contains(text, ",,") || strings.HasSuffix(text, ",") {
			t.Fatalf("AppendSeatList(%v) = %q is malformed", seats, text)
		}
	}
}

func TestSeatCountAndAppendSeats(t *testing.T) {
	for _, tc := range []struct {
		req   Request
		seats []uint32
	}{
		{statusSummary, nil},
		{inEvent(statusSummary, "gala"), nil},
		{leader, nil},
		{eventList, nil},
		{eventCreate("gala", 100, "k"), nil},
		{eventDelete("gala", ""), nil},
		{reserve(3, "", ""), []uint32{3}},
		{reserve(0, "alice", ""), []uint32{0}},
		{cancel(2147483648, "", ""), []uint32{2147483648}},
		{statusSeat(5), []uint32{5}},
		{history(0), []uint32{0}},
		{hold(9, "alice", ""), []uint32{9}},
		{listed(reserve(0, "", ""), 3, 4), []uint32{3, 4}},
		{listed(hold(0, "alice", ""), 0, 1, 2), []uint32{0, 1, 2}},
		{listed(cancel(0, "", ""), span(1, 100)...), span(1, 100)},
	} {
		if got := tc.req.SeatCount(); got != len(tc.seats) {
			t.Errorf("%+v.SeatCount() = %d, want %d", tc.req, got, len(tc.seats))
		}
		if got := tc.req.AppendSeats(nil); !slices.Equal(got, tc.seats) {
			t.Errorf("%+v.AppendSeats(nil) = %v, want %v", tc.req, got, tc.seats)
		}
		prefix := []uint32{77, 88}
		got := tc.req.AppendSeats(prefix)
		if want := append([]uint32{77, 88}, tc.seats...); !slices.Equal(got, want) {
			t.Errorf("%+v.AppendSeats(%v) = %v, want %v", tc.req, prefix, got, want)
		}
		// The result is the caller's: writing it leaves the request alone.
		if len(tc.req.Seats) > 0 {
			before := slices.Clone(tc.req.Seats)
			out := tc.req.AppendSeats(nil)
			out[0] = 12345
			if !slices.Equal(tc.req.Seats, before) {
				t.Errorf("AppendSeats result aliases Request.Seats")
			}
		}
	}

	// SeatCount and AppendSeats agree on every request of the table.
	for _, tc := range parseCases {
		if tc.err != nil {
			continue
		}
		r, _ := Parse([]byte(tc.line))
		if got := r.AppendSeats(nil); len(got) != r.SeatCount() {
			t.Errorf("%s: AppendSeats gives %d seats, SeatCount %d", tc.name, len(got), r.SeatCount())
		}
	}
}

func TestIsPart1(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"RESERVE 3", true},
		{"RESERVE 3 alice id=k", true},
		{"CANCEL 0 bob", true},
		{"RESERVE abc", true},
		{"STATUS", true},
		{"STATUS 3", true},
		{"LEADER", true},
		{"RESERVE 3 event=default", true}, // the default event, named
		{"STATUS event=default", true},
		{"RESERVE 5,5", true}, // one seat: the bare part-1 answer
		{"CANCEL 4-4 bob", true},
		{"RESERVE 3 event=gala", false},
		{"CANCEL 3 bob event=gala", false},
		{"STATUS event=gala", false},
		{"STATUS 3 event=gala", false},
		{"RESERVE 3,4", false},
		{"CANCEL 1-3", false},
		{"HOLD 3 alice", false},
		{"HISTORY 3", false},
		{"EVENT CREATE gala 5", false},
		{"EVENT DELETE gala", false},
		{"EVENT LIST", false},
	} {
		r, err := Parse([]byte(tc.line))
		if err != nil {
			t.Fatalf("Parse(%q) error = %v", tc.line, err)
		}
		if got := r.IsPart1(); got != tc.want {
			t.Errorf("Parse(%q).IsPart1() = %v, want %v", tc.line, got, tc.want)
		}
	}
	if (&Request{}).IsPart1() {
		t.Error("the zero Request is part 1")
	}
	// Every request the part-1 table accepts is part 1.
	for _, tc := range part1Cases {
		if tc.err != nil {
			continue
		}
		if r, _ := Parse([]byte(tc.line)); !r.IsPart1() && r.Verb != VerbHold && r.Verb != VerbHistory && r.Verb != VerbEventList {
			t.Errorf("%s: Parse(%q).IsPart1() = false", tc.name, tc.line)
		}
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
		{VerbHold, "HOLD", true},
		{VerbHistory, "HISTORY", false},
		{VerbEventCreate, "EVENT CREATE", true},
		{VerbEventDelete, "EVENT DELETE", true},
		{VerbEventList, "EVENT LIST", false},
		{VerbEventList + 1, "NONE", false},
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

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"MaxSeatsPerRequest", MaxSeatsPerRequest, 100},
		{"MaxEventSeats", MaxEventSeats, 1_000_000},
		{"DefaultTTL", DefaultTTL, 300},
		{"MaxTTL", MaxTTL, 3600},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, PROTOCOL.md says %d", tc.name, tc.got, tc.want)
		}
	}
	if DefaultEvent != "default" {
		t.Errorf("DefaultEvent = %q, PROTOCOL.md says default", DefaultEvent)
	}
}

func TestValidEventName(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"e", true},
		{"default", true},
		{event64, true},
		{event65, false},
		{eventUp, true},
		{eventLow, true},
		{eventMix, true},
		{".", true},
		{"_", true},
		{"-", true},
		{"gala-2026_v1.0", true},
		{"a@b", false},
		{"a:b", false},
		{"a=b", false},
		{"a,b", false},
		{"a b", false},
		{"gála", false},
		{"\x00", false},
	} {
		if got := ValidEventName(tc.s); got != tc.want {
			t.Errorf("ValidEventName(%q) = %v, want %v", tc.s, got, tc.want)
		}
		if got := ValidEventName([]byte(tc.s)); got != tc.want {
			t.Errorf("ValidEventName([]byte(%q)) = %v, want %v", tc.s, got, tc.want)
		}
	}
	// Every single byte: exactly the documented set is allowed.
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '.' || b == '_' || b == '-'
		if got := ValidEventName([]byte{b}); got != want {
			t.Errorf("ValidEventName(%q) = %v, want %v", b, got, want)
		}
		// And the same set after the first byte, for the 64-byte limit.
		name := append([]byte(strings.Repeat("e", 63)), b)
		if got := ValidEventName(name); got != want {
			t.Errorf("ValidEventName(63×e + %q) = %v, want %v", b, got, want)
		}
	}
}

// TestParseAllocs checks the documented promise: Parse allocates only the
// strings it returns and, for a request of several seats, their slice. A
// single-seat request of part 1 allocates exactly as before part 3.
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

		// Part 3: the default event costs nothing, other names a string.
		{"RESERVE 3 event=default", 0},
		{"STATUS event=default", 0},
		{"STATUS 3 event=default", 0},
		{"HISTORY 3", 0},
		{"HOLD 3 ttl=60", 0},
		{"EVENT LIST", 0},
		{"EVENT DELETE default", 0},
		{"RESERVE 3 ttl=5", 0},
		{"LEADER event=x", 0},
		{"STATUS 3,4", 0},
		{"HOLD 1 2 3 4 5 6 7", 0},
		{"RESERVE 3 event=gala", 1},
		{"HOLD 3 alice ttl=60", 1},
		{"HISTORY 3 event=gala", 1},
		{"EVENT CREATE gala 100", 1},
		{"EVENT DELETE gala id=k", 2},
		{"HOLD 3 alice ttl=60 event=gala id=k", 3},
	} {
		line := []byte(tc.line)
		got := testing.AllocsPerRun(100, func() { _, _ = Parse(line) })
		if got > tc.max {
			t.Errorf("Parse(%q) allocates %v times, want at most %v", tc.line, got, tc.max)
		}
	}
}

// TestParseListAllocs: a request of several seats allocates its Seats
// slice, and small lists nothing more; a list that collapses to one seat,
// or is rejected, allocates nothing.
func TestParseListAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, tc := range []struct {
		line string
		max  float64
	}{
		{"RESERVE 5,5", 0},
		{"RESERVE 3-3", 0},
		{"RESERVE 1-101", 0},
		{"RESERVE 3,", 0},
		{"RESERVE 5-3", 0},
		{"STATUS 3,4", 0},
		{"HISTORY 1-5", 0},
		{"RESERVE 3,4", 1},
		{"RESERVE 3,4,9,12", 1},
		{"RESERVE 1-100", 1},
		{"CANCEL 1-50,51-100", 1},
		{"RESERVE 3,4,9,12 alice id=0123456789abcdef", 3},
		{"HOLD 10-19 alice ttl=60 event=gala id=0123456789abcdef", 4},
	} {
		line := []byte(tc.line)
		got := testing.AllocsPerRun(100, func() { _, _ = Parse(line) })
		if got > tc.max {
			t.Errorf("Parse(%q) allocates %v times, want at most %v", tc.line, got, tc.max)
		}
	}
}

var benchReq Request

// BenchmarkParse parses one request of each shape: a part-1 RESERVE with
// holder and id, a STATUS, a list of four seats (which allocates its slice,
// see TestParseListAllocs) and a HOLD of a range with every option.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"reserve", "RESERVE 12345 alice id=0123456789abcdef"},
		{"status", "STATUS 3"},
		{"list", "RESERVE 3,4,9,12 alice id=0123456789abcdef"},
		{"hold", "HOLD 10-19 alice ttl=60 event=gala id=0123456789abcdef"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			line := []byte(bc.line)
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				req, err := Parse(line)
				if err != nil {
					b.Fatal(err)
				}
				benchReq = req
			}
		})
	}
}

func BenchmarkAppendLineList(b *testing.B) {
	req := listed(reserve(0, "alice", "0123456789abcdef"), 3, 4, 9, 12)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], req)
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

// TestParseListedSeatOver2to31: a list or range that names a single seat
// over 2^31 is read as the single token would be, seat 0 (invalid), so that
// the canonical line a follower forwards is the same request.
func TestParseListedSeatOver2to31(t *testing.T) {
	var problems []string
	for _, tc := range []struct {
		line string
		want Request
	}{
		{"RESERVE 2147483649,2147483649", reserve(0, "", "")},
		{"RESERVE 3000000000,3000000000", reserve(0, "", "")},
		{"RESERVE 4294967295-4294967295", reserve(0, "", "")},
		{"CANCEL 04294967295,4294967295 bob id=k", cancel(0, "bob", "k")},
		{"HOLD 2147483649-2147483649 alice ttl=5", withTTL(hold(0, "alice", ""), 5)},
		{"RESERVE 2147483648,2147483648", reserve(2147483648, "", "")}, // 2^31 is a seat number
	} {
		got, err := Parse([]byte(tc.line))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			problems = append(problems, fmt.Sprintf("Parse(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want))
			continue
		}
		line := AppendLine(nil, got)
		if back, err := Parse(line[:len(line)-1]); err != nil || !reflect.DeepEqual(back, got) {
			problems = append(problems, fmt.Sprintf("round trip of %q via %q = %+v, %v", tc.line, line, back, err))
		}
		if ref, err := refParse([]byte(tc.line)); err != nil || !reflect.DeepEqual(ref, tc.want) {
			t.Errorf("refParse(%q) = %+v, %v; want %+v", tc.line, ref, err, tc.want)
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}
