package replica

// hookAnswerBeforeCommit answers the calls of a batch before its entry
// commits, and reports whether it took the batch over. See hooks.go.
func hookAnswerBeforeCommit(r *Replica, batch []Call, entry []byte) bool { return false }
