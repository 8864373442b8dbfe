package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		resp string
		err  error
		want int
	}{
		{"SUCCESS", nil, 0},
		{"FREE", nil, 0},
		{"BOOKED", nil, 0},
		{"BOOKED alice", nil, 0},
		{"SEATS 5 FREE 4 BOOKED 1", nil, 0},
		{"LEADER n1", nil, 0},
		{"FAILED_ALREADY_BOOKED", nil, 1},
		{"FAILED_INVALID_SEAT", nil, 1},
		{"FAILED_NOT_BOOKED", nil, 1},
		{"FAILED_NOT_HOLDER", nil, 1},
		{"INVALID_COMMAND", nil, 1},
		{"ERROR NO_LEADER", nil, 2},
		{"ERROR TIMEOUT no result", nil, 2},
		{"WHATEVER", nil, 2},
		{"", nil, 2},
		{"", ErrNoNode, 2},
		{"SUCCESS", errors.New("odd"), 2},
	}
	for _, tc := range cases {
		if got := ExitCode(tc.resp, tc.err); got != tc.want {
			t.Errorf("ExitCode(%q, %v) = %d, want %d", tc.resp, tc.err, got, tc.want)
		}
	}
}

func TestRunPrompt(t *testing.T) {
	cases := []struct {
		name, in, out string
		sent          int // requests the server should see
	}{
		{
			name: "session ended by quit",
			in:   "STATUS 1\n\n  \t\n  reserve 1 alice\r\nbogus\nQUIT\nSTATUS 2\n",
			out:  "seat> FREE\nseat> seat> seat> SUCCESS\nseat> INVALID_COMMAND\nseat> ",
			sent: 3,
		},
		{
			name: "session ended by exit",
			in:   "leader\nexit\n",
			out:  "seat> LEADER fake\nseat> ",
			sent: 1,
		},
		{
			name: "end of input after a newline",
			in:   "STATUS\n",
			out:  "seat> SEATS 5 FREE 5 BOOKED 0\nseat> \n",
			sent: 1,
		},
		{
			name: "end of input in the middle of a line",
			in:   "STATUS 9",
			out:  "seat> FAILED_INVALID_SEAT\n",
			sent: 1,
		},
		{
			name: "empty input",
			in:   "",
			out:  "seat> \n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, nil)
			c := newTestClient(t, Config{Addrs: []string{s.addr}})
			var out strings.Builder
			if err := RunPrompt(testCtx(t), c, strings.NewReader(tc.in), &out); err != nil {
				t.Fatalf("RunPrompt: %v", err)
			}
			if out.String() != tc.out {
				t.Errorf("output %q, want %q", out.String(), tc.out)
			}
			if n := len(s.Lines()); n != tc.sent {
				t.Errorf("server got %q, want %d requests", s.Lines(), tc.sent)
			}
		})
	}
}

func TestRunPromptNoNode(t *testing.T) {
	c := newTestClient(t, Config{Addrs: []string{deadAddr(t)}, RetryFor: 50 * time.Millisecond})
	var out strings.Builder
	if err := RunPrompt(testCtx(t), c, strings.NewReader("STATUS 1\nSTATUS 2\n"), &out); err != nil {
		t.Fatalf("RunPrompt: %v", err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || lines[2] != Prompt || lines[3] != "" {
		t.Fatalf("output %q, want two error lines and a last prompt", out.String())
	}
	for _, l := range lines[:2] {
		if !strings.HasPrefix(l, Prompt+"error: ") || !strings.Contains(l, ErrNoNode.Error()) {
			t.Errorf("line %q, want %q followed by the ErrNoNode error", l, Prompt+"error: ")
		}
	}
}

func TestRunPromptContextDone(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, Config{Addrs: []string{s.addr}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	if err := RunPrompt(ctx, c, strings.NewReader("STATUS 1\n"), &out); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunPrompt with a canceled ctx = %v, want context.Canceled", err)
	}
	if n := len(s.Lines()); n != 0 {
		t.Errorf("server got %q after ctx ended", s.Lines())
	}
}
