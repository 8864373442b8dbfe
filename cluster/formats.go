package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/transport"
)

// The formats service (header byte transport.HeaderFormats) tells another
// node which log format versions this build can apply, so that a leader
// raises the cluster's format only once every voter can apply it. It answers
// each connection with one line and closes it:
//
//	FORMATS <oldest> <newest>
//
// A build older than the service closes the connection without a word
// (its mux does not know the header byte): such a node applies format 1 only.

// ErrNoAnswer means the node could not be asked (unreachable, or its answer
// was malformed): nothing is known about what it supports.
var ErrNoAnswer = errors.New("cluster: no answer from the formats service")

// ServeFormats answers every connection accepted from ln until ln closes.
// It returns when ln's Accept fails.
func ServeFormats(ln net.Listener, oldest, newest int, logger hclog.Logger) {
	line := fmt.Sprintf("FORMATS %d %d\n", oldest, newest)
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, line); err != nil {
			logger.Debug("formats: answer not sent", "remote", conn.RemoteAddr(), "error", err)
		}
		conn.Close()
	}
}

// ProbeFormats asks the node at addr (its --raft address) for the newest
// log format it can apply. A node that closes the connection without an
// answer is a build from before the service: it applies format 1 only. Any
// other failure wraps ErrNoAnswer. The whole probe, dial and answer, takes
// at most timeout.
func ProbeFormats(d *transport.Dialer, addr string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	conn, err := d.Dial(transport.HeaderFormats, addr, timeout)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	defer conn.Close()
	conn.SetReadDeadline(deadline)
	line, err := bufio.NewReader(io.LimitReader(conn, 256)).ReadString('\n')
	if err == io.EOF && line == "" {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrNoAnswer, addr, err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "FORMATS" {
		return 0, fmt.Errorf("%w: %s answered %q", ErrNoAnswer, addr, line)
	}
	newest, err := strconv.Atoi(f[2])
	if err != nil || newest < 1 {
		return 0, fmt.Errorf("%w: %s answered %q", ErrNoAnswer, addr, line)
	}
	return newest, nil
}
