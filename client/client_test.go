package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seatd/seatd/protocol"
)

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Addrs: []string{"no-port"}},
		{Addrs: []string{"127.0.0.1:1"}, RetryFor: -time.Second},
		{Addrs: []string{"127.0.0.1:1"}, DialTimeout: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
	c, err := New(Config{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.cfg.DialTimeout != DefaultDialTimeout || c.cfg.RetryFor != DefaultRetryFor || c.cfg.AttemptTimeout != DefaultAttemptTimeout {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	for _, id := range []string{a, b} {
		if _, err := hex.DecodeString(id); len(id) != 32 || err != nil || !protocol.ValidID(id) {
			t.Errorf("NewID() = %q, want 32 hex characters", id)
		}
	}
	if a == b {
		t.Errorf("NewID() returned %q twice", a)
	}
}

func TestReserveSendsID(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx := testCtx(t)

	if resp, err := c.Reserve(ctx, 3, "alice"); resp != protocol.Success || err != nil {
		t.Fatalf("Reserve(3, alice) = %q, %v; want SUCCESS", resp, err)
	}
	if resp, err := c.Reserve(ctx, 3, "bob"); resp != protocol.FailedAlreadyBooked || err != nil {
		t.Fatalf("Reserve(3, bob) = %q, %v; want FAILED_ALREADY_BOOKED", resp, err)
	}
	if resp, err := c.Status(ctx, 3); resp != "BOOKED alice" || err != nil {
		t.Fatalf("Status(3) = %q, %v; want BOOKED alice", resp, err)
	}
	if resp, err := c.Cancel(ctx, 3, "alice"); resp != protocol.Success || err != nil {
		t.Fatalf("Cancel(3, alice) = %q, %v; want SUCCESS", resp, err)
	}
	if resp, err := c.Summary(ctx); resp != "SEATS 5 FREE 5 BOOKED 0" || err != nil {
		t.Fatalf("Summary() = %q, %v", resp, err)
	}
	if resp, err := c.Leader(ctx); resp != "LEADER fake" || err != nil {
		t.Fatalf("Leader() = %q, %v", resp, err)
	}
	if resp, err := c.Status(ctx, 0); resp != protocol.FailedInvalidSeat || err != nil {
		t.Fatalf("Status(0) = %q, %v; want FAILED_INVALID_SEAT", resp, err)
	}

	lines := s.Lines()
	want := []string{"RESERVE 3 alice id=", "RESERVE 3 bob id=", "STATUS 3", "CANCEL 3 alice id=", "STATUS", "LEADER", "STATUS 0"}
	if len(lines) != len(want) {
		t.Fatalf("server got %q, want %d lines", lines, len(want))
	}
	ids := map[string]bool{}
	for i, line := range lines {
		req := mustParse(t, line)
		if !strings.HasPrefix(line, want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, line, want[i])
		}
		if req.Verb.IsWrite() {
			if len(req.ID) != 32 || ids[req.ID] {
				t.Errorf("line %q: want a fresh 32-character id", line)
			}
			ids[req.ID] = true
		}
	}
}

func TestDoLines(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx := testCtx(t)

	for _, line := range []string{"", " \t ", "\n", "STATUS 1\nSTATUS 2"} {
		if resp, err := c.Do(ctx, line); !errors.Is(err, ErrBadLine) {
			t.Errorf("Do(%q) = %q, %v; want ErrBadLine", line, resp, err)
		}
	}
	if n := len(s.Lines()); n != 0 {
		t.Fatalf("bad lines reached the server: %q", s.Lines())
	}

	cases := []struct {
		line, resp, sent string // sent "" means: canonical write with a generated id
	}{
		{"bogus 1 2", protocol.InvalidCommand, "bogus 1 2"},
		{"RESERVE x y z w", protocol.InvalidCommand, "RESERVE x y z w"},
		{"status\t1\n", protocol.Free, "status\t1"},
		{"RESERVE 2 bob id=abc\r\n", protocol.Success, "RESERVE 2 bob id=abc\r"},
		{"RESERVE 2 bob id=abc", protocol.Success, "RESERVE 2 bob id=abc"}, // same id: recorded answer
		{"  reserve   4   carol ", protocol.Success, ""},
		{"cancel 4 carol", protocol.Success, ""},
		{"RESERVE 1" + strings.Repeat(" ", protocol.MaxLine), "ERROR LINE_TOO_LONG", ""},
	}
	for _, tc := range cases {
		before := len(s.Lines())
		resp, err := c.Do(ctx, tc.line)
		if resp != tc.resp || err != nil {
			t.Errorf("Do(%.20q) = %q, %v; want %q", tc.line, resp, err, tc.resp)
			continue
		}
		if tc.resp == "ERROR LINE_TOO_LONG" {
			continue // the fake server cannot record what it refused to read
		}
		lines := s.Lines()
		if len(lines) != before+1 {
			t.Fatalf("Do(%q): server got %q, want one more line", tc.line, lines[before:])
		}
		got := lines[before]
		if tc.sent != "" {
			if got != tc.sent {
				t.Errorf("Do(%q) sent %q, want it as given", tc.line, got)
			}
			continue
		}
		req := mustParse(t, got)
		if len(req.ID) != 32 || got != strings.TrimSuffix(string(protocol.AppendLine(nil, req)), "\n") {
			t.Errorf("Do(%q) sent %q, want the canonical line with a generated id", tc.line, got)
		}
	}

	if _, err := c.Reserve(ctx, 1, "two words"); !errors.Is(err, protocol.ErrInvalid) {
		t.Errorf("Reserve with holder %q: err = %v, want protocol.ErrInvalid", "two words", err)
	}
}

// sameWrite checks that each server got exactly one line, the same write.
func sameWrite(t *testing.T, servers ...*fakeServer) {
	t.Helper()
	var first string
	for i, s := range servers {
		lines := s.Lines()
		if len(lines) != 1 {
			t.Fatalf("server %d got %q, want exactly one line", i, lines)
		}
		if req := mustParse(t, lines[0]); req.ID == "" {
			t.Fatalf("server %d got %q without id", i, lines[0])
		}
		if i == 0 {
			first = lines[0]
		} else if lines[0] != first {
			t.Errorf("retry sent %q, first attempt %q: want the same line and id", lines[0], first)
		}
	}
}

func TestErrorTimeoutRetriedWithSameID(t *testing.T) {
	a := newFakeServer(t, func(int, string) (reply, bool) {
		return answer(protocol.ErrorLine(protocol.Timeout, "no result in time")), true
	})
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}})

	if resp, err := c.Reserve(testCtx(t), 2, "alice"); resp != protocol.Success || err != nil {
		t.Fatalf("Reserve = %q, %v; want SUCCESS from the second node", resp, err)
	}
	sameWrite(t, a, b)
}

func TestHangupRetriedWithSameID(t *testing.T) {
	a := newFakeServer(t, func(int, string) (reply, bool) { return reply{close: true}, true })
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}})

	if resp, err := c.Do(testCtx(t), "CANCEL 1"); resp != protocol.FailedNotBooked || err != nil {
		t.Fatalf("Do(CANCEL 1) = %q, %v; want FAILED_NOT_BOOKED from the second node", resp, err)
	}
	sameWrite(t, a, b)
}

func TestTruncatedAnswerRetriedWithSameID(t *testing.T) {
	// The node dies in the middle of "BOOKED alice\n": the cut line is no answer.
	a := newFakeServer(t, func(int, string) (reply, bool) { return reply{wire: "SUCC", close: true}, true })
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}})

	if resp, err := c.Reserve(testCtx(t), 5, ""); resp != protocol.Success || err != nil {
		t.Fatalf("Reserve = %q, %v; want SUCCESS from the second node", resp, err)
	}
	sameWrite(t, a, b)
}

func TestSilentNodeRetriedWithSameID(t *testing.T) {
	a := newFakeServer(t, func(int, string) (reply, bool) { return reply{silent: true}, true })
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}, AttemptTimeout: 100 * time.Millisecond})

	if resp, err := c.Reserve(testCtx(t), 4, "dave"); resp != protocol.Success || err != nil {
		t.Fatalf("Reserve = %q, %v; want SUCCESS from the second node", resp, err)
	}
	sameWrite(t, a, b)
}

func TestDeadFirstAddress(t *testing.T) {
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{deadAddr(t), b.addr}})
	ctx := testCtx(t)
	for i := range 3 {
		if resp, err := c.Status(ctx, 1); resp != protocol.Free || err != nil {
			t.Fatalf("request %d: Status(1) = %q, %v; want FREE", i, resp, err)
		}
	}
	if n := len(b.Lines()); n != 3 {
		t.Errorf("second node got %d requests, want 3", n)
	}
}

func TestPreferredAddressMoves(t *testing.T) {
	a := newFakeServer(t, func(int, string) (reply, bool) { return answer("ERROR BUSY"), true })
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}})
	ctx := testCtx(t)
	for i := range 3 {
		if resp, err := c.Summary(ctx); !strings.HasPrefix(resp, "SEATS ") || err != nil {
			t.Fatalf("request %d: Summary() = %q, %v", i, resp, err)
		}
	}
	if na, nb := len(a.Lines()), len(b.Lines()); na != 1 || nb != 3 {
		t.Errorf("busy node got %d requests, good node %d; want 1 and 3", na, nb)
	}
}

func TestLineTooLongIsFinal(t *testing.T) {
	a := newFakeServer(t, func(int, string) (reply, bool) {
		return reply{wire: "ERROR LINE_TOO_LONG\n", close: true}, true
	})
	b := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}})
	if resp, err := c.Status(testCtx(t), 1); resp != "ERROR LINE_TOO_LONG" || err != nil {
		t.Fatalf("Status = %q, %v; want ERROR LINE_TOO_LONG", resp, err)
	}
	if n := len(b.Lines()); n != 0 {
		t.Errorf("LINE_TOO_LONG was retried: second node got %q", b.Lines())
	}
}

func TestConcurrentPipelined(t *testing.T) {
	s := newFakeServer(t, statusEcho)
	s.gate = true
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx := testCtx(t)

	const goroutines, perG = 200, 20
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perG {
				seat := g*perG + j + 1
				want := fmt.Sprintf("BOOKED h%d", seat)
				if resp, err := c.Status(ctx, seat); resp != want || err != nil {
					t.Errorf("Status(%d) = %q, %v; want %q", seat, resp, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) != goroutines*perG {
		t.Errorf("server got %d requests, want %d", len(s.lines), goroutines*perG)
	}
	if s.accepted != 1 {
		t.Errorf("server accepted %d connections, want 1 shared connection", s.accepted)
	}
	if s.maxInflight < 2 {
		t.Errorf("at most %d request in flight on the connection: no pipelining", s.maxInflight)
	}
	t.Logf("max requests in flight on one connection: %d", s.maxInflight)
}

func TestRetryForExpiryReturnsErrorLine(t *testing.T) {
	noLeader := func(int, string) (reply, bool) { return answer("ERROR NO_LEADER"), true }
	a, b := newFakeServer(t, noLeader), newFakeServer(t, noLeader)
	const retryFor = 300 * time.Millisecond
	c := newTestClient(t, Config{Addrs: []string{a.addr, b.addr}, RetryFor: retryFor})

	start := time.Now()
	resp, err := c.Leader(testCtx(t))
	elapsed := time.Since(start)
	if resp != "ERROR NO_LEADER" || err != nil {
		t.Fatalf("Leader() = %q, %v; want ERROR NO_LEADER, nil", resp, err)
	}
	if elapsed < retryFor || elapsed > 10*retryFor {
		t.Errorf("Leader() returned after %v, want about %v", elapsed, retryFor)
	}
	if na, nb := len(a.Lines()), len(b.Lines()); na < 2 || nb < 2 {
		t.Errorf("nodes got %d and %d attempts, want retries on both", na, nb)
	}
}

func TestNoNodeListening(t *testing.T) {
	c := newTestClient(t, Config{Addrs: []string{deadAddr(t), deadAddr(t)}, RetryFor: 200 * time.Millisecond})
	resp, err := c.Summary(testCtx(t))
	if resp != "" || !errors.Is(err, ErrNoNode) {
		t.Fatalf("Summary() = %q, %v; want an error wrapping ErrNoNode", resp, err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not carry the last cause", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := c.Status(ctx, 1)
	if resp != "" || !errors.Is(err, ErrNoNode) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Status with canceled ctx = %q, %v; want ErrNoNode and context.Canceled", resp, err)
	}
	if n := len(s.Lines()); n != 0 {
		t.Errorf("a canceled request reached the server: %q", s.Lines())
	}
}

func TestCloseFailsWaitingRequests(t *testing.T) {
	received := make(chan struct{})
	s := newFakeServer(t, func(int, string) (reply, bool) {
		close(received)
		return reply{silent: true}, true
	})
	c, err := New(Config{Addrs: []string{s.addr}, AttemptTimeout: time.Minute, RetryFor: time.Minute})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Status(context.Background(), 1)
		errc <- err
	}()
	select {
	case <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("request never reached the server")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("waiting request got %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release the waiting request")
	}
	if _, err := c.Status(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("request after Close: err = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
