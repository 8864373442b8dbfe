package replica

// hookJoinInsteadOfBootstrap is BROKEN ON PURPOSE: the robustness suite's
// mutant "selfboot" (see robustness/mutants.go). A fresh node started with
// --join bootstraps a one-node cluster of its own instead of joining: it
// elects itself, creates its own default event and books seats that the
// real cluster has booked too.
func hookJoinInsteadOfBootstrap() bool { return false }
