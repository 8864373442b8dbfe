// Package replica is one node's member of a Raft group: it opens the Raft
// stores in the data directory (raft-boltdb or raft-wal, and raft's file
// snapshot store), runs hashicorp/raft over the stream layer it is given,
// bootstraps a new cluster or resumes an existing one, and applies the log
// to the state machine (package fsm).
//
// While it leads, it serves the calls a server hands it: a write joins the
// next batch — one Raft log entry carries every write that arrived while
// the previous batch was being committed — and is answered with the state
// machine's result for it; a read joins the next read batch, answered from
// the local state after one leadership confirmation (VerifyLeader) for the
// whole batch. A leader serves only once it has applied everything
// committed before its term began (a barrier); it also writes entries of
// its own: the cluster's creation, tick entries that carry time forward
// when a hold falls due, and the raise of the log format once every member
// can apply it.
//
// The replica knows nothing of client connections or of forwarding:
// package node routes each request to it or to the leader, through the
// interface node declares.
package replica
