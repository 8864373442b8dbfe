package fsm

import "time"

// hookExpiryClock is BROKEN ON PURPOSE: the robustness suite's mutant
// "localclock" (see robustness/mutants.go). Holds are judged expired by
// each node's own clock when it applies an entry, not by the entry's log
// time: nodes free holds at different points of the log, and a node that
// replays old entries after a restart frees them early.
func hookExpiryClock(logTimeMs int64) int64 { return time.Now().UnixMilli() }
