package protocol

import "testing"

func TestResponseConstants(t *testing.T) {
	// The fixed lines are the wire contract: spelled exactly as PROTOCOL.md.
	for got, want := range map[string]string{
		Success:              "SUCCESS",
		FailedAlreadyBooked:  "FAILED_ALREADY_BOOKED",
		FailedInvalidSeat:    "FAILED_INVALID_SEAT",
		FailedNotBooked:      "FAILED_NOT_BOOKED",
		FailedNotHolder:      "FAILED_NOT_HOLDER",
		Free:                 "FREE",
		Booked:               "BOOKED",
		InvalidCommand:       "INVALID_COMMAND",
		string(NoLeader):     "NO_LEADER",
		string(Timeout):      "TIMEOUT",
		string(LineTooLong):  "LINE_TOO_LONG",
		string(Busy):         "BUSY",
		string(ShuttingDown): "SHUTTING_DOWN",
		string(NotLeader):    "NOT_LEADER",
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
		got := SummaryLine(tc.total, tc.free, tc.booked)
		if got != tc.want {
			t.Errorf("SummaryLine(%d, %d, %d) = %q, want %q", tc.total, tc.free, tc.booked, got, tc.want)
		}
		if k := Classify(got); k != KindOK {
			t.Errorf("Classify(%q) = %v, want KindOK", got, k)
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

		// Failed: exit status 1.
		{"FAILED_ALREADY_BOOKED", KindFailed},
		{"FAILED_INVALID_SEAT", KindFailed},
		{"FAILED_NOT_BOOKED", KindFailed},
		{"FAILED_NOT_HOLDER", KindFailed},
		{"INVALID_COMMAND", KindFailed},
		{"FAILED_SOMETHING_NEW", KindFailed}, // later parts add FAILED_* answers
		{"FAILED_ALREADY_BOOKED 4,9", KindFailed},

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
