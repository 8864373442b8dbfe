//go:build !seatd_mut_followerread && !seatd_mut_earlyack

package node

// Deliberately broken builds (build tags seatd_mut_followerread,
// seatd_mut_earlyack) replace these hooks so the robustness suite can show
// that it catches stale reads and answers sent before commit. In a normal
// build they do nothing and compile away.

// mutantLocalRead answers a read from this node's own state, if the build
// is broken that way.
func (n *Node) mutantLocalRead(c *call) bool { return false }

// mutantEarlyAck answers a batch before its entry commits, if the build is
// broken that way.
func (n *Node) mutantEarlyAck(batch []*call, entry []byte) bool { return false }
