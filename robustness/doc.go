// Package robustness is a Jepsen-style test harness for seatd: it runs real
// seatd processes, each in its own network namespace behind a bridge so that
// partitions cut real TCP, drives them with concurrent clients over the real
// protocol while a seeded nemesis kills, pauses, partitions and replaces
// nodes (removes one from the membership and brings it back fresh with
// --join), records every operation with its invocation and return times,
// and checks the history afterwards.
//
// The workload (workload.go) has two mixes. Part 1's: RESERVE, CANCEL and
// STATUS of one seat of the default event. Part 3's: three events (the
// default one and two created with ids at the start, one of which is
// deleted and created again every few seconds), RESERVE, CANCEL and HOLD of
// one seat or of several seats of one group of GroupSize adjacent seats (a
// range, a list, sometimes led by the invalid seat 0), holds of 1-3 s that
// their holder confirms, releases or renews after a while or leaves to
// expire, and STATUS. Every write has a unique id and every operation a
// fresh holder (follow-ups reuse their hold's or booking's); an ERROR or a
// broken connection is retried with the same line on the next node.
//
// The checks:
//
//   - linearizability with porcupine (model.go), partitioned by event and
//     seat group: the model's state is the group's seats (free, booked or
//     held, with the interval in which a hold ends) and whether the event
//     exists; event creations and deletions are copied into every partition
//     of their event. Holds expire in log time: a write's entry carries a
//     time within its life (SlackMs either side), a read may lag; expiry is
//     nondeterministic within those bounds, and a write whose outcome is
//     unknown may have taken effect or not. The nodes stamp entries with
//     the host's wall clock while operations are timed on the monotonic
//     one; the run samples the offset between the two every 2 ms
//     (wallclock.go), so a step of the host's clock during a run (an NTP
//     correction) moves the bounds with it instead of making every later
//     log time look wrong, and the log names each step of 5 ms or more;
//   - no seat ever taken (booked or held) by two holders at once;
//   - every acknowledged booking that was neither cancelled nor lost with
//     its event is present at the end, on every node;
//   - every hold has expired at the end: the final reads wait until every
//     hold of the run ended 2 s ago;
//   - every seat's HISTORY follows the rules, ends in the final state, and
//     each change by a named holder lies within the life of one of that
//     holder's operations (a HOLD's exactly at its answer's expiry minus its
//     ttl; an expiry not before the hold's end);
//   - every exactly-once id is applied at most once (each acknowledged write
//     is sent again with its id at the end: the answer must be the recorded
//     line and nothing may change);
//   - after the last heal the cluster answers again within a bound;
//   - every node ends with the same applied state.
//
// A run counts only if traffic reached a minimum rate before the first fault
// and every planned fault was injected. On a failure the run's directory keeps
// porcupine's HTML visualization, history.txt and every node's log.
//
// The deliberately broken builds the suite must catch are listed once, in
// Mutants (mutants.go): each replaces hook files of the production code
// (fsm/hook_*.go, replica/hook_*.go, node/hook_*.go) with files of testdata/mutants/<name>/
// through go build -overlay. TestMutantsCompile and cmd/mutants (for CI:
// go run ./robustness/cmd/mutants) check that they still compile.
//
// It needs root (network namespaces, nftables); see docs/testing.md.
package robustness
