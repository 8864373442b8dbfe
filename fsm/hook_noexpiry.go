package fsm

// hookHoldsNeverExpire reports whether holds are to be kept past their end.
// See hooks.go.
func hookHoldsNeverExpire() bool { return false }
