package replica

// hookReady is BROKEN ON PURPOSE: the robustness suite's mutant
// "alwaysready" (see robustness/mutants.go). /readyz answers 200 whatever
// the node's state: a node cut off from the leader stays in its load
// balancer.
func hookReady(notReady error) error { return nil }
