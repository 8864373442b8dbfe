package fsm

// BROKEN ON PURPOSE: the robustness suite's mutant "noexpire" (see
// robustness/mutants.go). Holds never expire.
func hookHoldsNeverExpire() bool { return true }
