package node

import "github.com/seatd/seatd/protocol"

// hookAnswerLocally is BROKEN ON PURPOSE: the robustness suite's mutant
// "followerread" (see robustness/mutants.go). Whichever node is asked
// answers STATUS from its own, possibly stale, state machine, without the
// leader's confirmation.
func hookAnswerLocally(n *Node, c *call) bool {
	if c.req.Verb != protocol.VerbStatus || n.rep.DefaultSeats() == 0 {
		return false
	}
	c.finish(n.rep.ReadLocal(c.req))
	return true
}
