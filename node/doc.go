// Package node is one seatd process around its replica: it validates the
// configuration, opens the node-to-node port (a transport.Mux shared by
// Raft, forwarding and the replica's own services), opens the replica
// (package replica: the stores, Raft and the state machine), serves the
// client line protocol, and shuts all of it down in a documented order
// (docs/design.md, "Shutdown order").
//
// The path of a request: a connection's reader parses a line into a call and
// routes it. On a ready leader the call goes to the replica's batchers, which
// answer it from the state machine (a write with its entry's result, a read
// after a leadership confirmation). On a follower it is handed to the
// cluster.Forwarder and the leader's answer is relayed. During an election it
// waits, bounded, for a leader. The connection's writer sends answers in
// request order. Routing reaches the replica only through the Replica
// interface this package declares.
package node
