// Package client speaks the seatd client protocol to a cluster of nodes.
//
// A Client is given the client addresses of some or all nodes. Every node
// accepts every request (a follower forwards to the leader), so the client
// needs no leader discovery: it sends each request to a preferred node and,
// when that node cannot answer, moves on to the next one.
//
//	c, err := client.New(client.Config{
//		Addrs: []string{"10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001"},
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//
//	resp, err := c.Reserve(ctx, 3, "alice") // "SUCCESS", "FAILED_ALREADY_BOOKED", ...
//	if err != nil {
//		return err // errors.Is(err, client.ErrNoNode): no node answered in time
//	}
//	switch protocol.Classify(resp) {
//	case protocol.KindOK:     // done
//	case protocol.KindFailed: // a definite "no"
//	case protocol.KindError:  // retried until Config.RetryFor ran out; outcome still unknown
//	}
//
// Events, seat lists and holds (part 3 of the protocol) have their own
// methods: ReserveSeats, CancelSeats and Hold take an event ("" = the
// default event) and several seats, which are booked, freed or held all
// together or not at all; SeatStatus, EventSummary and History read;
// CreateEvent, DeleteEvent and Events manage events. Request sends any
// protocol.Request; a request the protocol would refuse is not sent (the
// error wraps protocol.ErrInvalid).
//
// # Exactly once
//
// Every write (RESERVE, CANCEL, HOLD, EVENT CREATE, EVENT DELETE) carries an
// id= token. The methods generate one with NewID; Do adds one to a write
// line that has none. When a
// node answers ERROR, or the connection breaks before the answer, the very
// same line — same id — is sent again to the next node, so the cluster applies
// the write at most once and the retry learns the outcome of the first try.
// A caller that retries on its own after Do returned should reuse its id:
// send a line with an explicit id=, e.g. "RESERVE 3 alice id="+client.NewID().
//
// # What is retried
//
//   - ERROR lines, except ERROR LINE_TOO_LONG (resending would not help);
//   - connection failures: dial errors, write errors, a connection closed or
//     broken before the answer, and a node that does not answer within
//     Config.AttemptTimeout (its connection is then closed).
//
// Attempts go round the address list starting after the address that
// failed, with a backoff from 20ms doubling to 500ms, until Config.RetryFor
// or the caller's context runs out. Then the most recent ERROR line is
// returned with a nil error, or, when no node answered at all, an error
// wrapping ErrNoNode and the last cause. Every other answer — SUCCESS,
// HELD, FAILED_*, INVALID_COMMAND, FREE, BOOKED, SEATS, LEADER, EVENTS,
// HISTORY — is final and returned at once. (ERROR BUSY is retried too: a
// node sheds load, or its cluster still runs an older log format during an
// upgrade.)
//
// # Connections
//
// A Client is safe for concurrent use. It keeps at most one TCP connection
// per address, dialled on first use and kept until it fails or Close is
// called. Concurrent requests share that connection: each is written whole
// under a lock and queued, and one reader goroutine per connection hands
// each response line to the oldest waiting request (the protocol answers in
// request order). Requests therefore cost no goroutine of their own, and
// many can be in flight on one connection (pipelining). Close closes the
// connections and waits for their readers to exit.
//
// # TLS
//
// Config.TLS switches every connection to TLS (nil is plaintext). With an
// empty ServerName, each address is verified against its own host, so one
// configuration serves a list of nodes; an IP address is matched against
// the certificate's IP SANs. Give the config a client certificate when the
// nodes require one (mutual TLS): its Common Name is the identity the
// client's writes act as. LoadTLS builds such a config from PEM files, and
// package certs makes development certificates ("seat certs").
//
// # Command line
//
// ExitCode, CommandLine, Help, RunPrompt (plain lines) and RunTerminal
// (line editing, history and Tab completion on a terminal, with
// golang.org/x/term) carry the logic of the seat command (cmd/seat), so that
// its main only parses flags.
package client
