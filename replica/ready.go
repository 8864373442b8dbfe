package replica

import (
	"bytes"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/fsm"
)

// confirmLeadership reports whether this node was, after the reads in hand
// arrived, the leader of a term whose start barrier it has applied.
func (r *Replica) confirmLeadership() bool {
	term := r.raft.CurrentTerm()
	if r.readyTerm.Load() != term {
		return false
	}
	if err := r.raft.VerifyLeader().Error(); err != nil {
		return false
	}
	return r.raft.CurrentTerm() == term
}

// relayObservations wakes waiting requests whenever Raft's leader or state
// changes.
func (r *Replica) relayObservations(observations <-chan raft.Observation) {
	defer r.bg.Done()
	for {
		select {
		case <-observations:
			r.change.broadcast()
		case <-r.stop:
			return
		}
	}
}

// watchLeadership follows Raft's leadership changes. On becoming leader it
// commits a barrier — so the FSM holds every entry committed in earlier
// terms — creates the seats if the cluster is new, and only then marks the
// term ready for reads and writes.
func (r *Replica) watchLeadership(notify <-chan bool) {
	defer r.bg.Done()
	for {
		select {
		case isLeader := <-notify:
			r.readyTerm.Store(0)
			if isLeader {
				r.becomeReady()
			}
		case <-r.stop:
			return
		}
	}
}

func (r *Replica) becomeReady() {
	term := r.raft.CurrentTerm()
	for attempt := 0; ; attempt++ {
		err := r.prepareTerm()
		if err == nil {
			break
		}
		if r.raft.State() != raft.Leader || r.raft.CurrentTerm() != term {
			r.logger.Info("leadership ended before the term was ready", "term", term, "error", err)
			return
		}
		r.logger.Warn("preparing leadership failed; retrying", "term", term, "error", err)
		select {
		case <-time.After(min(time.Duration(attempt+1)*50*time.Millisecond, time.Second)):
		case <-r.stop:
			return
		}
	}
	if r.raft.CurrentTerm() != term {
		return
	}
	r.readyTerm.Store(term)
	r.change.broadcast()
	r.logger.Info("leader ready", "term", term)
}

// restoreTimeout bounds installing a backup at the start of a cluster.
const restoreTimeout = 5 * time.Minute

// prepareTerm commits a barrier (so the FSM holds every entry committed in
// earlier terms) and, if the cluster is new, creates the default event and
// tries once to raise the cluster's log format.
func (r *Replica) prepareTerm() error {
	if err := r.await(r.raft.Barrier(r.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	if r.fsm.DefaultSeats() == 0 && len(r.cfg.Restore) > 0 {
		// A new cluster from a backup: Raft installs the state as a
		// snapshot past the end of the log (followers and joiners get it
		// by snapshot).
		meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(r.cfg.Restore))}
		if err := r.raft.Restore(meta, bytes.NewReader(r.cfg.Restore), restoreTimeout); err != nil {
			return fmt.Errorf("restore the backup: %w", err)
		}
		r.logger.Info("cluster created from a backup", "bytes", len(r.cfg.Restore), "seats", r.fsm.DefaultSeats())
		r.raiseFormat(FormatProbeTimeout)
	} else if r.fsm.DefaultSeats() == 0 {
		entry := fsm.AppendInit(nil, time.Now().UnixMilli(), uint32(r.cfg.Seats))
		if err := r.await(r.raft.Apply(entry, r.cfg.ApplyTimeout)); err != nil {
			return fmt.Errorf("create the seats: %w", err)
		}
		r.logger.Info("cluster created", "seats", r.cfg.Seats)
		// One attempt before the new cluster serves, so that it takes
		// part-3 requests from the first one; runLeaderTimers retries.
		// (Only here: at every other election the attempt runs in the
		// background and never delays readiness.)
		r.raiseFormat(FormatProbeTimeout)
	} else if int(r.fsm.DefaultSeats()) != r.cfg.Seats {
		r.logger.Warn("--seats differs from the default event's seat count, which is fixed at creation",
			"flag", r.cfg.Seats, "cluster", r.fsm.DefaultSeats())
	}
	return nil
}
