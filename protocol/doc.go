// Package protocol is the one place that knows the seatd client line protocol:
// it splits a byte stream into lines (with the 4096-byte limit), parses a line
// into a Request, formats a Request back into its canonical line, and names
// every response the protocol allows.
//
// Both the node (which serves the protocol) and the client (which speaks it)
// import this package, so the two can never disagree on the grammar. The
// contract it implements is docs/protocol.md; nothing here knows about Raft,
// seats' state or sockets.
package protocol
