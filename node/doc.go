// Package node is the composition root of a seatd node: it opens the Raft
// stores in the data directory, starts hashicorp/raft on the node-to-node
// port (shared with forwarding through transport.Mux), bootstraps a new
// cluster or resumes an existing one, and serves the client line protocol.
//
// The path of a request: a connection's reader parses a line into a call and
// routes it. On the leader a write joins the next batch — one Raft log entry
// carries every write that arrived while the previous batch was being
// committed — and its answer is the FSM's result for that entry. A read joins
// the next read batch, answered from the leader's FSM after one leadership
// confirmation (VerifyLeader) for the whole batch. On a follower both are
// handed to the cluster.Forwarder and the leader's answer is relayed. The
// connection's writer sends answers in request order.
package node
