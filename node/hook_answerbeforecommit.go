package node

// hookAnswerBeforeCommit answers the calls of a batch before its entry
// commits, and reports whether it took the batch over. See hooks.go.
func hookAnswerBeforeCommit(n *Node, batch []*call, entry []byte) bool { return false }
