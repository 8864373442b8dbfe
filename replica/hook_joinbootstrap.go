package replica

// hookJoinInsteadOfBootstrap reports whether a node with --join and no
// state joins the running cluster (rather than bootstrapping one of its
// own). See hooks.go.
func hookJoinInsteadOfBootstrap() bool { return true }
