package replica

// hookAnswerBeforeCommit is BROKEN ON PURPOSE: the robustness suite's mutant
// "earlyack" (see robustness/mutants.go). The leader answers every call of
// a batch with the results it predicts by applying the entry to a copy of
// its own state, and only then commits the entry. It waits for each entry
// before it takes the next batch, so without faults the answers are right;
// a leader that dies or is cut off loses acknowledged writes, and a read
// that arrives right after an answer may miss the write.
func hookAnswerBeforeCommit(r *Replica, batch []Call, entry []byte) bool {
	results, err := r.fsm.PredictEntry(entry)
	if err != nil || len(results) != len(batch) {
		return false
	}
	for i, c := range batch {
		c.Finish(resultLine(results[i]))
	}
	if err := r.raft.Apply(entry, r.cfg.ApplyTimeout).Error(); err != nil {
		r.logger.Debug("early-acknowledged entry not committed", "error", err)
	}
	return true
}
