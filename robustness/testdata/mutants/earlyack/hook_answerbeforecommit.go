package node

// hookAnswerBeforeCommit is BROKEN ON PURPOSE: the robustness suite's mutant
// "earlyack" (see robustness/mutants.go). The leader answers every call of
// a batch with the results it predicts by applying the entry to a copy of
// its own state, and only then commits the entry. It waits for each entry
// before it takes the next batch, so without faults the answers are right;
// a leader that dies or is cut off loses acknowledged writes, and a read
// that arrives right after an answer may miss the write.
func hookAnswerBeforeCommit(n *Node, batch []*call, entry []byte) bool {
	results, err := n.fsm.PredictEntry(entry)
	if err != nil || len(results) != len(batch) {
		return false
	}
	for i, c := range batch {
		c.finish(resultLine(results[i]))
	}
	if err := n.raft.Apply(entry, n.cfg.RequestTimeout).Error(); err != nil {
		n.logger.Debug("early-acknowledged entry not committed", "error", err)
	}
	return true
}
