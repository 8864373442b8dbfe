package replica

// hookReady passes on the replica's readiness (nil: ready, else why not).
// See hooks.go.
func hookReady(notReady error) error { return notReady }
