package fsm

// hookIgnoreAppliedIDs reports whether recorded results of exactly-once ids
// are to be ignored. See hooks.go.
func hookIgnoreAppliedIDs() bool { return false }
