package protocol

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestResponseConstants(t *testing.T) {
	// The fixed lines are the wire contract: spelled exactly as PROTOCOL.md.
	for got, want := range map[string]string{
		Success:              "SUCCESS",
		FailedAlreadyBooked:  "FAILED_ALREADY_BOOKED",
		FailedInvalidSeat:    "FAILED_INVALID_SEAT",
		FailedNotBooked:      "FAILED_NOT_BOOKED",
		FailedNotHolder:      "FAILED_NOT_HOLDER",
		FailedNoEvent:        "FAILED_NO_EVENT",
		FailedExists:         "FAILED_EXISTS",
		Free:                 "FREE",
		Booked:               "BOOKED",
		Held:                 "HELD",
		Events:               "EVENTS",
		History:              "HISTORY",
		InvalidCommand:       "INVALID_COMMAND",
		string(NoLeader):     "NO_LEADER",
		string(Timeout):      "TIMEOUT",
		string(LineTooLong):  "LINE_TOO_LONG",
		string(Busy):         "BUSY",
		string(ShuttingDown): "SHUTTING_DOWN",
		string(NotLeader):    "NOT_LEADER",
		string(Forbidden):    "FORBIDDEN",
	} {
		if got != want {
			t.Errorf("constant = %q, want %q", got, want)
		}
	}
}

func TestErrorLine(t *testing.T) {
	for _, tc := range []struct {
		code ErrorCode
		text string
		want string
	}{
		{NoLeader, "", "ERROR NO_LEADER"},
		{Timeout, "", "ERROR TIMEOUT"},
		{LineTooLong, "", "ERROR LINE_TOO_LONG"},
		{Busy, "", "ERROR BUSY"},
		{ShuttingDown, "", "ERROR SHUTTING_DOWN"},
		{NotLeader, "", "ERROR NOT_LEADER"},
		{NoLeader, "waited 5s", "ERROR NO_LEADER waited 5s"},
		{Busy, "too many connections", "ERROR BUSY too many connections"},
		{NotLeader, "n2", "ERROR NOT_LEADER n2"},
	} {
		if got := ErrorLine(tc.code, tc.text); got != tc.want {
			t.Errorf("ErrorLine(%q, %q) = %q, want %q", tc.code, tc.text, got, tc.want)
		}
		// What ErrorLine writes, ErrorCodeOf and Classify read back.
		line := ErrorLine(tc.code, tc.text)
		if got := ErrorCodeOf(line); got != tc.code {
			t.Errorf("ErrorCodeOf(%q) = %q, want %q", line, got, tc.code)
		}
		if got := Classify(line); got != KindError {
			t.Errorf("Classify(%q) = %v, want KindError", line, got)
		}
	}
}

func TestBookedLine(t *testing.T) {
	for _, tc := range []struct{ holder, want string }{
		{"", "BOOKED"},
		{"alice", "BOOKED alice"},
		{"Alice@example.com", "BOOKED Alice@example.com"},
		{holder64, "BOOKED " + holder64},
	} {
		if got := BookedLine(tc.holder); got != tc.want {
			t.Errorf("BookedLine(%q) = %q, want %q", tc.holder, got, tc.want)
		}
		if got := Classify(BookedLine(tc.holder)); got != KindOK {
			t.Errorf("Classify(BookedLine(%q)) = %v, want KindOK", tc.holder, got)
		}
	}
}

func TestSummaryLine(t *testing.T) {
	// An event that never saw a hold: part 1's line byte for byte, whatever
	// held says.
	for _, tc := range []struct {
		total, free, booked int
		want                string
	}{
		{5, 5, 0, "SEATS 5 FREE 5 BOOKED 0"},
		{5, 3, 2, "SEATS 5 FREE 3 BOOKED 2"},
		{5, 0, 5, "SEATS 5 FREE 0 BOOKED 5"},
		{0, 0, 0, "SEATS 0 FREE 0 BOOKED 0"},
		{1000000, 999999, 1, "SEATS 1000000 FREE 999999 BOOKED 1"},
		{2147483648, 2147483647, 1, "SEATS 2147483648 FREE 2147483647 BOOKED 1"},
	} {
		for _, held := range []int{0, 7} {
			got := SummaryLine(tc.total, tc.free, tc.booked, held, false)
			if got != tc.want {
				t.Errorf("SummaryLine(%d, %d, %d, %d, false) = %q, want %q", tc.total, tc.free, tc.booked, held, got, tc.want)
			}
			if k := Classify(got); k != KindOK {
				t.Errorf("Classify(%q) = %v, want KindOK", got, k)
			}
		}
	}

	// An event that saw a hold ends with HELD, even when none remain.
	for _, tc := range []struct {
		total, free, booked, held int
		want                      string
	}{
		{5, 5, 0, 0, "SEATS 5 FREE 5 BOOKED 0 HELD 0"},
		{5, 2, 1, 2, "SEATS 5 FREE 2 BOOKED 1 HELD 2"},
		{5, 0, 0, 5, "SEATS 5 FREE 0 BOOKED 0 HELD 5"},
		{1000000, 999000, 900, 100, "SEATS 1000000 FREE 999000 BOOKED 900 HELD 100"},
	} {
		got := SummaryLine(tc.total, tc.free, tc.booked, tc.held, true)
		if got != tc.want {
			t.Errorf("SummaryLine(%d, %d, %d, %d, true) = %q, want %q", tc.total, tc.free, tc.booked, tc.held, got, tc.want)
		}
		if k := Classify(got); k != KindOK {
			t.Errorf("Classify(%q) = %v, want KindOK", got, k)
		}
	}
}

func TestHeldLines(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want string
	}{
		{1767225600000, "HELD 1767225600000"},
		{0, "HELD 0"},
		{1, "HELD 1"},
		{math.MaxInt64, "HELD 9223372036854775807"},
	} {
		if got := HeldLine(tc.ms); got != tc.want {
			t.Errorf("HeldLine(%d) = %q, want %q", tc.ms, got, tc.want)
		}
		if k := Classify(HeldLine(tc.ms)); k != KindOK {
			t.Errorf("Classify(HeldLine(%d)) = %v, want KindOK", tc.ms, k)
		}
	}
	for _, tc := range []struct {
		holder string
		ms     int64
		want   string
	}{
		{"alice", 1767225600000, "HELD alice 1767225600000"},
		{"Alice@example.com", 1, "HELD Alice@example.com 1"},
		{holder64, 1767225600123, "HELD " + holder64 + " 1767225600123"},
		{holderUp, math.MaxInt64, "HELD " + holderUp + " 9223372036854775807"},
	} {
		got := HeldStatusLine(tc.holder, tc.ms)
		if got != tc.want {
			t.Errorf("HeldStatusLine(%q, %d) = %q, want %q", tc.holder, tc.ms, got, tc.want)
		}
		if k := Classify(got); k != KindOK {
			t.Errorf("Classify(%q) = %v, want KindOK", got, k)
		}
	}
}

func TestSeatsLine(t *testing.T) {
	for _, tc := range []struct {
		word  string
		seats []uint32
		want  string
	}{
		{FailedAlreadyBooked, []uint32{4, 9}, "FAILED_ALREADY_BOOKED 4,9"},
		{FailedInvalidSeat, []uint32{21}, "FAILED_INVALID_SEAT 21"},
		{FailedNotHolder, []uint32{3}, "FAILED_NOT_HOLDER 3"},
		{FailedNotBooked, []uint32{1, 2, 3, 4}, "FAILED_NOT_BOOKED 1,2,3,4"}, // never a range
		{FailedInvalidSeat, []uint32{0, 4294967295}, "FAILED_INVALID_SEAT 0,4294967295"},
		{FailedAlreadyBooked, nil, "FAILED_ALREADY_BOOKED"},
		{FailedAlreadyBooked, span(1, 100), "FAILED_ALREADY_BOOKED " + commaList(1, 100)},
	} {
		got := SeatsLine(tc.word, tc.seats)
		if got != tc.want {
			t.Errorf("SeatsLine(%q, %v) = %q, want %q", tc.word, tc.seats, got, tc.want)
		}
		if k := Classify(got); k != KindFailed {
			t.Errorf("Classify(%q) = %v, want KindFailed", got, k)
		}
	}
}

func TestEventsLine(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, "EVENTS"},
		{[]string{}, "EVENTS"},
		{[]string{"default"}, "EVENTS default"},
		{[]string{"default", "gala", "Z-1"}, "EVENTS default gala Z-1"},
		{[]string{event64, eventUp}, "EVENTS " + event64 + " " + eventUp},
	} {
		got := EventsLine(tc.names)
		if got != tc.want {
			t.Errorf("EventsLine(%q) = %q, want %q", tc.names, got, tc.want)
		}
		if k := Classify(got); k != KindOK {
			t.Errorf("Classify(%q) = %v, want KindOK", got, k)
		}
	}
}

func TestHistoryLine(t *testing.T) {
	for _, tc := range []struct {
		changes []Change
		want    string
	}{
		{nil, "HISTORY 0"},
		{[]Change{{Op: "RESERVE", Index: 12, TimeMs: 1767225600000}}, "HISTORY 1 RESERVE,,12,1767225600000"},
		{[]Change{
			{Op: "HOLD", Holder: "alice", Index: 7, TimeMs: 1767225600000},
			{Op: "CONFIRM", Holder: "alice", Index: 9, TimeMs: 1767225601000},
			{Op: "CANCEL", Holder: "alice@example.com", Index: 30, TimeMs: 1767225602000},
			{Op: "HOLD", Holder: "bob", Index: 31, TimeMs: 1767225603000},
			{Op: "EXPIRE", Holder: "bob", Index: 40, TimeMs: 1767225903000},
			{Op: "RELEASE", Holder: "carol", Index: math.MaxUint64, TimeMs: 0},
		}, "HISTORY 6 HOLD,alice,7,1767225600000 CONFIRM,alice,9,1767225601000 " +
			"CANCEL,alice@example.com,30,1767225602000 HOLD,bob,31,1767225603000 " +
			"EXPIRE,bob,40,1767225903000 RELEASE,carol,18446744073709551615,0"},
	} {
		got := HistoryLine(tc.changes)
		if got != tc.want {
			t.Errorf("HistoryLine(%+v) = %q, want %q", tc.changes, got, tc.want)
		}
		if k := Classify(got); k != KindOK {
			t.Errorf("Classify(%q) = %v, want KindOK", got, k)
		}
		// The count comes first and each change is one blank-free field
		// of four comma-separated parts.
		f := strings.Fields(got)
		if f[1] != strconv.Itoa(len(tc.changes)) || len(f) != 2+len(tc.changes) {
			t.Errorf("HistoryLine(%+v) = %q: count or fields wrong", tc.changes, got)
		}
		for i, field := range f[2:] {
			c := tc.changes[i]
			if want := c.Op + "," + c.Holder + "," + strconv.FormatUint(c.Index, 10) + "," + strconv.FormatInt(c.TimeMs, 10); field != want {
				t.Errorf("HistoryLine change %d = %q, want %q", i, field, want)
			}
		}
	}
}

func TestLeaderLine(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"n1", "LEADER n1"},
		{"node-2", "LEADER node-2"},
		{"n1 127.0.0.1:7001", "LEADER n1 127.0.0.1:7001"}, // more tokens may follow
	} {
		if got := LeaderLine(tc.id); got != tc.want {
			t.Errorf("LeaderLine(%q) = %q, want %q", tc.id, got, tc.want)
		}
		if k := Classify(LeaderLine(tc.id)); k != KindOK {
			t.Errorf("Classify(LeaderLine(%q)) = %v, want KindOK", tc.id, k)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		resp string
		want Kind
	}{
		// OK: exit status 0.
		{"SUCCESS", KindOK},
		{"FREE", KindOK},
		{"BOOKED", KindOK},
		{"BOOKED alice", KindOK},
		{"SEATS 5 FREE 3 BOOKED 2", KindOK},
		{"LEADER n1", KindOK},
		{"LEADER n1 127.0.0.1:7001", KindOK},
		{"SEATS 5 FREE 2 BOOKED 1 HELD 2", KindOK},
		{"HELD 1767225600000", KindOK},
		{"HELD alice 1767225600000", KindOK},
		{"HELD", KindOK},
		{"EVENTS", KindOK},
		{"EVENTS default gala", KindOK},
		{"HISTORY 0", KindOK},
		{"HISTORY 1 RESERVE,,12,1767225600000", KindOK},

		// Failed: exit status 1.
		{"FAILED_ALREADY_BOOKED", KindFailed},
		{"FAILED_INVALID_SEAT", KindFailed},
		{"FAILED_NOT_BOOKED", KindFailed},
		{"FAILED_NOT_HOLDER", KindFailed},
		{"INVALID_COMMAND", KindFailed},
		{"FAILED_SOMETHING_NEW", KindFailed}, // later parts add FAILED_* answers
		{"FAILED_ALREADY_BOOKED 4,9", KindFailed},
		{"FAILED_NO_EVENT", KindFailed},
		{"FAILED_EXISTS", KindFailed},
		{"FAILED_INVALID_SEAT 21", KindFailed},
		{"FAILED_NOT_HOLDER 3", KindFailed},
		{"ERROR FORBIDDEN", KindError},

		// Error: exit status 2, outcome of a write unknown.
		{"ERROR NO_LEADER", KindError},
		{"ERROR TIMEOUT", KindError},
		{"ERROR LINE_TOO_LONG", KindError},
		{"ERROR BUSY", KindError},
		{"ERROR SHUTTING_DOWN", KindError},
		{"ERROR NOT_LEADER", KindError},
		{"ERROR TIMEOUT waited 5s for the leader", KindError},

		// Anything else is a protocol violation by the server.
		{"", KindUnknown},
		{" ", KindUnknown},
		{"success", KindUnknown},
		{"Success", KindUnknown},
		{"SUCCESSFUL", KindUnknown},
		{"FREEDOM", KindUnknown},
		{"BOOKEDalice", KindUnknown},
		{" SUCCESS", KindUnknown},
		{"SEATS5", KindUnknown},
		{"LEADERS n1", KindUnknown},
		{"INVALID_COMMANDS", KindUnknown},
		{"FAILED", KindUnknown},
		{"failed_not_booked", KindUnknown},
		{"ERRORS BUSY", KindUnknown},
		{"error BUSY", KindUnknown},
		{"OK", KindUnknown},
		{"HELDS 1", KindUnknown},
		{"held 1", KindUnknown},
		{"EVENT", KindUnknown},
		{"EVENTS,default", KindUnknown},
		{"HISTORY0", KindUnknown},
		{"history 0", KindUnknown},
		{"EVENT LIST", KindUnknown},
		{"\xff", KindUnknown},
	} {
		if got := Classify(tc.resp); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.resp, got, tc.want)
		}
	}
}

func TestErrorCodeOf(t *testing.T) {
	for _, tc := range []struct {
		resp string
		want ErrorCode
	}{
		{"ERROR NO_LEADER", NoLeader},
		{"ERROR TIMEOUT", Timeout},
		{"ERROR LINE_TOO_LONG", LineTooLong},
		{"ERROR BUSY", Busy},
		{"ERROR SHUTTING_DOWN", ShuttingDown},
		{"ERROR NOT_LEADER", NotLeader},
		{"ERROR NO_LEADER no leader within 5s", NoLeader},
		{"ERROR TIMEOUT  two spaces", Timeout},
		{"ERROR FORBIDDEN", ErrorCode("FORBIDDEN")}, // part 2; unknown codes are still read
		{"ERROR ", ""},
		{"ERROR", ""},
		{"ERRORS BUSY", ""},
		{"error BUSY", ""},
		{"SUCCESS", ""},
		{"FAILED_NOT_HOLDER", ""},
		{"INVALID_COMMAND", ""},
		{"LEADER n1", ""},
		{"", ""},
		{" ERROR BUSY", ""},
	} {
		if got := ErrorCodeOf(tc.resp); got != tc.want {
			t.Errorf("ErrorCodeOf(%q) = %q, want %q", tc.resp, got, tc.want)
		}
	}
}
