//go:build seatd_mut_nodedup

package fsm

// mutNoDedup: a deliberately broken build for the robustness suite; see
// mutation_off.go.
const mutNoDedup = true
