// Package fsm is the replicated state machine of seatd: events and their
// seats, holds, seat history, the table of applied exactly-once ids, and the
// cluster's log format version, changed only by Raft log entries.
//
// It is a leaf: it imports the standard library, hashicorp/raft and the
// B-tree that holds the seats. Everything Apply does is deterministic — no
// clock, no randomness, no map iteration order — so every node that applies
// the same log holds the same state. Time (when holds end, how long an
// applied id is remembered) is the leader's clock written into each entry,
// made non-decreasing along the log.
//
// Each event keeps a record only for the seats that are booked, held or have
// history, in a copy-on-write B-tree: memory and snapshots grow with
// bookings, not capacity, and Snapshot costs O(events + id chunks) while
// Persist encodes concurrently with Apply.
//
// Every log entry starts with the format version it needs, and every
// snapshot with its own version. An entry this build cannot fully
// understand — a newer version, an unknown type or operation, corrupt bytes
// — halts the state machine (ErrHalted) instead of being skipped: a node that
// skipped it would diverge from the nodes that applied it. The cluster's
// format is raised by an entry the leader writes only once every voter can
// apply it. The formats are described in docs/design.md and in codec.go and
// snapshot.go.
package fsm
