package fsm

// hookPartialWrite is BROKEN ON PURPOSE: the robustness suite's mutant
// "partial" (see robustness/mutants.go). A multi-seat write that fails still
// applies its seats before the first failing one: not all or nothing.
func hookPartialWrite(seats []uint32, outcomes []seatOutcome, apply func(i int)) {
	for i := range seats {
		if outcomes[i].code != CodeSuccess {
			return
		}
		apply(i)
	}
}
