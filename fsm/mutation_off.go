//go:build !seatd_mut_nodedup

package fsm

// mutNoDedup is true only in a deliberately broken build (build tag
// seatd_mut_nodedup) that the robustness suite must catch: ids are ignored
// and a retried write is applied again.
const mutNoDedup = false
