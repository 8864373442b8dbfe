//go:build seatd_mut_earlyack

package node

import (
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
)

func (n *Node) mutantLocalRead(c *call) bool { return false }

// mutantEarlyAck: BROKEN ON PURPOSE (robustness suite only). The leader
// answers a batch with the results it predicts from its own state, then
// commits the entry: an answer sent before the entry is committed. It
// waits for each entry before the next, so without faults the answers are
// right; a leader that dies or is cut off loses acknowledged writes.
func (n *Node) mutantEarlyAck(batch []*call, entry []byte) bool {
	writes := make([]fsm.Write, len(batch))
	for i, c := range batch {
		op := fsm.OpReserve
		if c.req.Verb == protocol.VerbCancel {
			op = fsm.OpCancel
		}
		writes[i] = fsm.Write{Op: op, Seat: c.req.Seat, Holder: c.req.Holder, ID: c.req.ID}
	}
	for i, r := range n.fsm.Predict(writes) {
		batch[i].finish(r.String())
	}
	n.raft.Apply(entry, n.cfg.RequestTimeout).Error()
	return true
}
