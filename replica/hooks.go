package replica

// The functions in the files hook_*.go are seams for the robustness suite's
// deliberately broken builds: each file holds one hook that does nothing in
// this build, and a broken build replaces that one file (go build -overlay;
// see robustness/mutants.go). Each call compiles to nothing.
