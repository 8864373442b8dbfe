package client

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatd/seatd/protocol"
)

// recorder is a fake server that answers every request with a fixed line
// and records what it got.
func recorder(t *testing.T, resp string) *fakeServer {
	return newFakeServer(t, func(_ int, _ string) (reply, bool) { return answer(resp), true })
}

func TestPart3RequestsSendCanonicalLines(t *testing.T) {
	s := recorder(t, "SUCCESS")
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx := testCtx(t)
	calls := []func() (string, error){
		func() (string, error) { return c.ReserveSeats(ctx, "gala", []int{13, 10, 11, 12}, "bob") },
		func() (string, error) { return c.ReserveSeats(ctx, "default", []int{3}, "") },
		func() (string, error) { return c.CancelSeats(ctx, "gala", []int{4, 3, 3}, "alice") },
		func() (string, error) { return c.Hold(ctx, "gala", []int{3, 4}, "alice", 2*time.Minute) },
		func() (string, error) { return c.Hold(ctx, "", []int{7}, "zoe", 0) },
		func() (string, error) { return c.SeatStatus(ctx, "gala", 3) },
		func() (string, error) { return c.EventSummary(ctx, "gala") },
		func() (string, error) { return c.History(ctx, "gala", 12) },
		func() (string, error) { return c.CreateEvent(ctx, "gala", 5000) },
		func() (string, error) { return c.DeleteEvent(ctx, "gala") },
		func() (string, error) { return c.Events(ctx) },
	}
	for i, call := range calls {
		if _, err := call(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	want := []string{
		"RESERVE 10-13 bob event=gala id=",
		"RESERVE 3 id=",
		"CANCEL 3,4 alice event=gala id=",
		"HOLD 3,4 alice ttl=120 event=gala id=",
		"HOLD 7 zoe id=",
		"STATUS 3 event=gala",
		"STATUS event=gala",
		"HISTORY 12 event=gala",
		"EVENT CREATE gala 5000 id=",
		"EVENT DELETE gala id=",
		"EVENT LIST",
	}
	lines := s.Lines()
	if len(lines) != len(want) {
		t.Fatalf("server got %q", lines)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]) || (strings.HasSuffix(want[i], "id=") && len(l) != len(want[i])+32) {
			t.Errorf("line %d = %q, want %q followed by a generated id", i, l, want[i])
		}
	}
}

func TestPart3RequestsRefusedBeforeSending(t *testing.T) {
	s := recorder(t, "SUCCESS")
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx := testCtx(t)
	many := make([]int, 101)
	for i := range many {
		many[i] = i + 1
	}
	bad := map[string]func() (string, error){
		"bad holder":       func() (string, error) { return c.ReserveSeats(ctx, "", []int{1, 2}, "a b") },
		"bad event":        func() (string, error) { return c.ReserveSeats(ctx, "g@la", []int{1}, "x") },
		"101 seats":        func() (string, error) { return c.ReserveSeats(ctx, "", many, "x") },
		"ttl of 1.5s":      func() (string, error) { return c.Hold(ctx, "", []int{1}, "x", 1500*time.Millisecond) },
		"ttl over an hour": func() (string, error) { return c.Hold(ctx, "", []int{1}, "x", 61*time.Minute) },
		"event of 0 seats": func() (string, error) { return c.CreateEvent(ctx, "e", 0) },
		"delete default":   func() (string, error) { return c.DeleteEvent(ctx, "default") },
	}
	for name, call := range bad {
		if resp, err := call(); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("%s: %q, %v; want an error wrapping protocol.ErrInvalid", name, resp, err)
		}
	}
	if lines := s.Lines(); len(lines) != 0 {
		t.Errorf("refused requests reached the server: %q", lines)
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		words []string
		event string
		ttl   time.Duration
		want  string
		err   bool
	}{
		{words: []string{"hold", "3,4", "alice", "--ttl", "120"}, event: "gala", want: "hold 3,4 alice ttl=120 event=gala"},
		{words: []string{"reserve", "10-13", "bob"}, event: "gala", want: "reserve 10-13 bob event=gala"},
		{words: []string{"event", "create", "gala", "5000"}, want: "event create gala 5000"},
		{words: []string{"event", "list"}, event: "gala", want: "event list"},
		{words: []string{"STATUS", "--event=gala"}, want: "STATUS event=gala"},
		{words: []string{"-event", "x", "status", "3"}, want: "status 3 event=x"},
		{words: []string{"hold", "1", "a", "--ttl=2m"}, want: "hold 1 a ttl=120"},
		{words: []string{"reserve", "3", "-ttl"}, want: "reserve 3 -ttl"}, // a holder named -ttl
		{words: []string{"hold", "1", "a"}, ttl: time.Hour, want: "hold 1 a ttl=3600"},
		{words: []string{"reserve", "1", "event=own"}, event: "gala", want: "reserve 1 event=own"},
		{words: []string{"hold", "1", "a", "ttl=9"}, ttl: time.Minute, want: "hold 1 a ttl=9"},
		{words: []string{"reserve", "-1"}, want: "reserve -1"},
		{words: []string{"leader"}, event: "gala", want: "leader"},
		{words: []string{"reserve", "1", "--ttl", "5"}, err: true},
		{words: []string{"hold", "1", "a", "--ttl", "0"}, err: true},
		{words: []string{"hold", "1", "a", "--ttl", "3601"}, err: true},
		{words: []string{"hold", "1", "a", "--ttl", "1.5s"}, err: true},
		{words: []string{"hold", "1", "a", "--ttl"}, err: true},
		{words: []string{"--event", "gala"}, err: true},
		{words: nil, err: true},
	}
	for _, tc := range cases {
		got, err := CommandLine(tc.words, tc.event, tc.ttl)
		switch {
		case tc.err && !errors.Is(err, ErrUsage):
			t.Errorf("CommandLine(%q) = %q, %v; want a usage error", tc.words, got, err)
		case !tc.err && (err != nil || got != tc.want):
			t.Errorf("CommandLine(%q, %q, %v) = %q, %v; want %q", tc.words, tc.event, tc.ttl, got, err, tc.want)
		}
	}
}

func TestExitCodePart3(t *testing.T) {
	for resp, want := range map[string]int{
		"HELD 1767225600000":                0,
		"HELD alice 1767225600000":          0,
		"EVENTS default gala":               0,
		"HISTORY 0":                         0,
		"SEATS 5 FREE 4 BOOKED 0 HELD 1":    0,
		"FAILED_NO_EVENT":                   1,
		"FAILED_EXISTS":                     1,
		"FAILED_ALREADY_BOOKED 4,9":         1,
		"ERROR BUSY the cluster still runs": 2,
	} {
		if got := ExitCode(resp, nil); got != want {
			t.Errorf("ExitCode(%q) = %d, want %d", resp, got, want)
		}
	}
}

func TestRunPromptUseAndHelp(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	var out strings.Builder
	in := "use gala\nstatus 3\nhelp hold\nuse default\nstatus 3\nuse bad@name\n"
	if err := RunPrompt(testCtx(t), c, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"seat> seat gala> ", Help("hold"), "seat gala> seat> ", "use <event>:"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if lines := s.Lines(); len(lines) != 2 || lines[0] != "status 3 event=gala" || lines[1] != "status 3" {
		t.Errorf("server got %q", lines)
	}
}

func TestHelpCoversEveryVerb(t *testing.T) {
	for _, v := range []string{"reserve", "CANCEL", "hold", "status", "history", "event", "leader", "use", "event create"} {
		if h := Help(v); strings.HasPrefix(h, "no help") {
			t.Errorf("Help(%q) = %q", v, h)
		}
	}
	if h := Help("bogus"); !strings.HasPrefix(h, "no help for bogus") {
		t.Errorf("Help(bogus) = %q", h)
	}
}

// terminal is the far end of a terminal: what the user types, and what the
// session writes back.
type terminal struct {
	in  *io.PipeReader
	typ *io.PipeWriter
	mu  sync.Mutex
	out strings.Builder
}

func (t *terminal) Read(p []byte) (int, error) { return t.in.Read(p) }
func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.Write(p)
}
func (t *terminal) output() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.String()
}

// TestRunTerminal drives the line-editing session as a user at a terminal
// would: it greets with the node and the leader, keeps a history (the up
// arrow recalls the previous line), completes verbs on Tab, explains verbs,
// and leaves on ^D.
func TestRunTerminal(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	r, w := io.Pipe()
	term := &terminal{in: r, typ: w}
	done := make(chan error, 1)
	go func() { done <- RunTerminal(testCtx(t), c, term, "") }()

	waitOutput := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(term.output(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("terminal never showed %q; it shows:\n%q", want, term.output())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	typeKeys := func(keys string) {
		t.Helper()
		if _, err := io.WriteString(w, keys); err != nil {
			t.Fatal(err)
		}
	}
	waitOutput("talking to " + s.addr + " (the leader is fake)")
	typeKeys("reserve 2 alice\r")
	waitOutput("SUCCESS")
	typeKeys("\x1b[A\r") // up arrow: the same line again
	waitOutput("SUCCESS\r\nseat> reserve 2 alice\r\nSUCCESS")
	typeKeys("sta\t2\r") // Tab completes STATUS
	waitOutput("BOOKED alice")
	typeKeys("help status\r")
	waitOutput("One seat: FREE")
	typeKeys("use gala\r")
	waitOutput("seat gala> ")
	typeKeys("\x04") // ^D
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunTerminal: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunTerminal did not end on ^D")
	}
	lines := s.Lines()
	want := []string{"LEADER", "RESERVE 2 alice id=", "RESERVE 2 alice id=", "STATUS 2"}
	if len(lines) != len(want) {
		t.Fatalf("server got %q", lines)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
}

// An answer longer than a request may be (EVENT LIST of many events) is an
// answer, not a broken connection.
func TestLongAnswer(t *testing.T) {
	long := "EVENTS default " + strings.Repeat("an-event ", 20_000)
	s := recorder(t, strings.TrimSpace(long))
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	got, err := c.Events(testCtx(t))
	if err != nil || got != strings.TrimSpace(long) {
		t.Fatalf("Events = %.40q (%d bytes), %v", got, len(got), err)
	}
	if got, err := c.Leader(testCtx(t)); err != nil || !strings.HasPrefix(got, "EVENTS") {
		t.Fatalf("the next answer on the connection = %.20q, %v", got, err)
	}
}
