package fsm

// hookPartialWrite is called when a seat write fails, before nothing of it
// is applied: apply(i) would make the change outcomes[i] to seats[i]. See
// hooks.go.
func hookPartialWrite(seats []uint32, outcomes []seatOutcome, apply func(i int)) {}
