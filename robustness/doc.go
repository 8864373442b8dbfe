// Package robustness is a Jepsen-style test harness for seatd: it runs real
// seatd processes, each in its own network namespace behind a bridge so that
// partitions cut real TCP, drives them with concurrent clients over the real
// protocol while a seeded nemesis kills, pauses and partitions nodes, records
// every operation with its invocation and return times, and checks the
// history afterwards:
//
//   - linearizability per seat with porcupine (a write whose outcome is
//     unknown may have happened or not);
//   - no seat ever reported booked by two holders at once;
//   - every acknowledged booking that was not cancelled is present at the end,
//     on every node;
//   - every exactly-once id is applied at most once (each acknowledged write
//     is sent again with its id at the end: the answer must be the recorded
//     one and nothing may change);
//   - after the last heal the cluster answers again within a bound;
//   - every node ends with the same applied state.
//
// A run counts only if traffic reached a minimum rate before the first fault
// and every planned fault was injected. On a failure the run's directory keeps
// porcupine's HTML visualization and every node's log.
//
// It needs root (network namespaces, nftables); see docs/testing.md.
package robustness
