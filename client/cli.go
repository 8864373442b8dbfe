package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/seatd/seatd/protocol"
)

// Prompt is what the interactive session prints before reading each line
// (with the session's event, set by "use", before the '>').
const Prompt = "seat> "

// ExitCode returns the exit status of the seat command for a request that
// returned resp and err: 0 for SUCCESS, FREE, BOOKED, HELD, SEATS, LEADER,
// EVENTS and HISTORY; 1 for FAILED_* and INVALID_COMMAND; 2 for ERROR, an
// unknown answer, or err != nil (no reachable node).
func ExitCode(resp string, err error) int {
	if err != nil {
		return 2
	}
	switch protocol.Classify(resp) {
	case protocol.KindOK:
		return 0
	case protocol.KindFailed:
		return 1
	}
	return 2
}

// ErrUsage is wrapped by CommandLine's errors: the command line cannot be
// turned into a request (the seat command exits 2).
var ErrUsage = errors.New("usage")

// CommandLine turns the words of a command into one request line. The words
// are joined by spaces, as the seed's client did; in addition, the options
// --event NAME and --ttl DURATION (also with '=', and before the verb also
// -event and -ttl) may appear among them and become event= and ttl= of the
// request (after the verb a single-dash word such as -ttl is a holder),
// as may event and ttl given by the caller (the seat command's own flags, or
// the prompt's "use"). DURATION is whole seconds (120) or a Go duration
// (2m). A request that names its own event= keeps it.
//
//	CommandLine([]string{"hold", "3,4", "alice", "--ttl", "120"}, "gala", 0)
//	  == "hold 3,4 alice ttl=120 event=gala"
func CommandLine(words []string, event string, ttl time.Duration) (string, error) {
	var rest []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		flag := strings.HasPrefix(w, "--") || (len(rest) == 0 && strings.HasPrefix(w, "-"))
		if !flag || (name != "event" && name != "ttl") {
			rest = append(rest, w)
			continue
		}
		if !hasValue {
			if i+1 == len(words) {
				return "", fmt.Errorf("%w: %s needs a value", ErrUsage, w)
			}
			i++
			value = words[i]
		}
		if name == "event" {
			event = value
			continue
		}
		d, err := parseTTL(value)
		if err != nil {
			return "", err
		}
		ttl = d
	}
	if len(rest) == 0 {
		return "", fmt.Errorf("%w: no request", ErrUsage)
	}
	verb := strings.ToUpper(rest[0])
	line := strings.Join(rest, " ")
	if ttl != 0 {
		if verb != "HOLD" {
			return "", fmt.Errorf("%w: --ttl applies to HOLD, not %s", ErrUsage, verb)
		}
		if !hasOption(rest, "ttl") {
			line += " ttl=" + strconv.FormatInt(int64(ttl/time.Second), 10)
		}
	}
	if event != "" && !hasOption(rest, "event") {
		switch verb {
		case "RESERVE", "CANCEL", "HOLD", "STATUS", "HISTORY":
			line += " event=" + event
		}
	}
	return line, nil
}

func parseTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.Atoi(s); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d%time.Second != 0 || d < time.Second || d > protocol.MaxTTL*time.Second {
		return 0, fmt.Errorf("%w: --ttl %q: whole seconds from 1 to %d (e.g. 120 or 2m)", ErrUsage, s, protocol.MaxTTL)
	}
	return d, nil
}

func hasOption(words []string, key string) bool {
	for _, w := range words[1:] {
		if strings.HasPrefix(w, key+"=") {
			return true
		}
	}
	return false
}

// session is one interactive session: the client, and the event that
// "use" chose for the requests that name none.
type session struct {
	c     *Client
	event string
}

// prompt returns the prompt, naming the session's event.
func (s *session) prompt() string {
	if s.event == "" {
		return Prompt
	}
	return "seat " + s.event + "> "
}

// handle runs one line of the session and returns what to print (with its
// newline) and whether the session ends.
func (s *session) handle(ctx context.Context, line string) (string, bool) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return "", false
	}
	switch strings.ToLower(words[0]) {
	case "quit", "exit":
		if len(words) == 1 {
			return "", true
		}
	case "help", "?":
		return Help(strings.Join(words[1:], " ")), false
	case "use":
		if len(words) != 2 || !protocol.ValidEventName(words[1]) {
			return "use <event>: later requests without event= name that event (use default to go back)\n", false
		}
		s.event = words[1]
		if s.event == protocol.DefaultEvent {
			s.event = ""
		}
		return "", false
	}
	req, err := CommandLine(words, s.event, 0)
	if err != nil {
		return fmt.Sprintf("error: %v\n", err), false
	}
	resp, err := s.c.Do(ctx, req)
	if err != nil {
		return fmt.Sprintf("error: %v\n", err), false
	}
	return resp + "\n", false
}

// RunPrompt runs an interactive session like the seed's client.py over
// plain streams (a pipe, a file): it prints the prompt, reads a line from
// in, runs it and prints the answer to out, until "quit" or "exit" (any
// case) or the end of in. Blank lines just prompt again; "help" and "use"
// work as in RunTerminal. A request that fails (no node answered) prints
// "error: ..." and the session goes on. RunPrompt returns nil at the end of
// the session, ctx's error when ctx ends (checked before each prompt), or
// an error reading in or writing out.
func RunPrompt(ctx context.Context, c *Client, in io.Reader, out io.Writer) error {
	s := &session{c: c}
	r := bufio.NewReader(in)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.WriteString(out, s.prompt()); err != nil {
			return fmt.Errorf("client: writing prompt: %w", err)
		}
		raw, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("client: reading input: %w", err)
		}
		eof := err != nil
		line := strings.TrimSpace(raw)
		if line == "" && eof {
			// Leave the terminal on a fresh line after ^D.
			_, err := io.WriteString(out, "\n")
			return writeErr(err)
		}
		text, done := s.handle(ctx, line)
		if done {
			return nil
		}
		if _, err := io.WriteString(out, text); err != nil {
			return writeErr(err)
		}
		if eof {
			return nil
		}
	}
}

// RunTerminal runs the interactive session on a terminal in raw mode (the
// caller puts it there and restores it): line editing, a history of the
// session's lines (up and down arrows), and Tab completion of verbs, by
// golang.org/x/term. It first says which node it talks to and who leads.
// event, when not empty, is used as if the session began with "use event".
// It returns nil at "quit", "exit", ^D or ^C, or an error of the terminal.
func RunTerminal(ctx context.Context, c *Client, rw io.ReadWriter, event string) error {
	s := &session{c: c}
	if event != protocol.DefaultEvent {
		s.event = event
	}
	t := term.NewTerminal(rw, s.prompt())
	t.AutoCompleteCallback = completeVerb
	leader, err := c.Leader(ctx)
	if err != nil {
		fmt.Fprintf(t, "no node answered (%v); requests will keep trying %s\n", err, strings.Join(c.cfg.Addrs, ", "))
	} else {
		if id, ok := strings.CutPrefix(leader, "LEADER "); ok {
			leader = "the leader is " + id
		}
		fmt.Fprintf(t, "talking to %s (%s); type help for the verbs, quit to leave\n", c.Addr(), leader)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := t.ReadLine()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("client: reading the terminal: %w", err)
		}
		text, done := s.handle(ctx, line)
		if done {
			return nil
		}
		if _, err := io.WriteString(t, text); err != nil {
			return writeErr(err)
		}
		t.SetPrompt(s.prompt())
	}
}

// completeVerb completes the first word of the line on Tab.
func completeVerb(line string, pos int, key rune) (string, int, bool) {
	if key != '\t' || pos != len(line) || strings.ContainsAny(line, " \t") {
		return "", 0, false
	}
	var match string
	for _, v := range completions {
		if strings.HasPrefix(v, strings.ToUpper(line)) {
			if match != "" {
				return "", 0, false // ambiguous
			}
			match = v
		}
	}
	if match == "" {
		return "", 0, false
	}
	return match + " ", len(match) + 1, true
}

var completions = []string{"RESERVE", "CANCEL", "HOLD", "STATUS", "HISTORY", "EVENT", "LEADER", "HELP", "USE", "QUIT"}

func writeErr(err error) error {
	if err != nil {
		return fmt.Errorf("client: writing output: %w", err)
	}
	return nil
}
