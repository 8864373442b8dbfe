// Package fsm is the replicated state machine of seatd: the seat map and the
// table of applied exactly-once ids, changed only by Raft log entries.
//
// It is a leaf: it imports the standard library and hashicorp/raft only.
// Everything Apply does is deterministic — no clock, no randomness, no map
// iteration order — so every node that applies the same log holds the same
// state. Time, where it matters (how long an applied id is remembered), is the
// leader's clock written into each entry, made non-decreasing along the log.
//
// Log entries and snapshots carry a version byte so that a future format can
// be added. An older node that meets an entry it does not understand halts
// its state machine (ErrHalted) instead of applying later entries without
// it and diverging; a corrupt entry, the same bytes on every node, is
// refused by every node alike and changes nothing. The formats are described in docs/design.md and in codec.go.
package fsm
