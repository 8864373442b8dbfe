package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/seatd/seatd/protocol"
)

// Prompt is what RunPrompt prints before reading each line.
const Prompt = "seat> "

// ExitCode returns the exit status of the seat command for a request that
// returned resp and err: 0 for SUCCESS, FREE, BOOKED, SEATS and LEADER; 1 for
// FAILED_* and INVALID_COMMAND; 2 for ERROR, an unknown answer, or err != nil
// (no reachable node).
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

// RunPrompt runs an interactive session like the seed's client.py: it prints
// Prompt, reads a line from in, sends it with c.Do and prints the response
// line to out, until "quit" or "exit" (any case) or the end of in. Blank
// lines just prompt again. A request that fails (no node answered) prints
// "error: ..." and the session goes on. RunPrompt returns nil at the end of
// the session, ctx's error when ctx ends (checked before each prompt), or
// an error reading in or writing out.
func RunPrompt(ctx context.Context, c *Client, in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.WriteString(out, Prompt); err != nil {
			return fmt.Errorf("client: writing prompt: %w", err)
		}
		raw, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("client: reading input: %w", err)
		}
		eof := err != nil
		line := strings.TrimSpace(raw)
		switch {
		case line == "" && eof:
			// Leave the terminal on a fresh line after ^D.
			_, err := io.WriteString(out, "\n")
			return writeErr(err)
		case line == "":
			continue
		case strings.EqualFold(line, "quit"), strings.EqualFold(line, "exit"):
			return nil
		}
		resp, err := c.Do(ctx, line)
		if err != nil {
			_, err = fmt.Fprintf(out, "error: %v\n", err)
		} else {
			_, err = fmt.Fprintln(out, resp)
		}
		if err != nil {
			return writeErr(err)
		}
		if eof {
			return nil
		}
	}
}

func writeErr(err error) error {
	if err != nil {
		return fmt.Errorf("client: writing output: %w", err)
	}
	return nil
}
