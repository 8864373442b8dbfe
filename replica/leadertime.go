package replica

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
)

// Timings of the leader's own entries.
const (
	// FormatProbeTimeout bounds asking one node which log formats it applies
	// (the leader asks each member before a raise; a follower may ask the
	// leader before it forwards a part-3 request).
	FormatProbeTimeout = 500 * time.Millisecond
	// formatRetry is how often a leader whose cluster still runs an older
	// format asks the voters again.
	formatRetry = 2 * time.Second
	// tickRetry is how soon a tick is asked for again when a due hold is
	// still there (the tick entry failed, or was not yet applied).
	tickRetry = 100 * time.Millisecond
)

// runLeaderTimers carries out what the ready leader writes on its own,
// without a client asking:
//
//   - a tick entry when the earliest hold falls due, so that holds expire
//     on a cluster that has nothing else to write (every entry carries the
//     leader's time, and applying one frees every hold due by then, at the
//     same log position on every node);
//   - while the cluster runs an older log format than this build, asking
//     the members again which formats they apply, and raising it as far
//     as all can.
func (r *Replica) runLeaderTimers() {
	defer r.bg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var formatAt time.Time // next format attempt
	for {
		changed := r.change.wait()
		next := time.Duration(-1)
		// A halted state machine applies nothing: ticks would only grow
		// a log it cannot snapshot, and a raise could not be applied.
		if r.LeaderReady() && r.fsm.Halted() == nil {
			if due, ok := r.fsm.NextExpiry(); ok {
				next = time.Until(time.UnixMilli(due))
				if next <= 0 {
					select {
					case r.tick <- struct{}{}:
					default: // one is pending already
					}
					next = tickRetry
				}
			}
			if r.fsm.Format() < fsm.MaxFormat {
				if now := time.Now(); !now.Before(formatAt) {
					r.raiseFormat(FormatProbeTimeout)
					formatAt = now.Add(formatRetry)
				}
				if wait := time.Until(formatAt); next < 0 || wait < next {
					next = wait
				}
			}
		}
		if next >= 0 {
			timer.Reset(next)
		} else {
			timer.Stop()
		}
		select {
		case <-r.fsm.ExpiryMoved():
		case <-timer.C:
		case <-changed:
		case <-r.stop:
			return
		}
	}
}

// raiseFormat raises the cluster's log format as far as every member of the
// current configuration (voters and non-voters: all apply the log) says it
// can apply: to the newest this build applies, or to an older build's
// newest, if that is above the cluster's format. A member that cannot
// be asked blocks the raise (it might be an older build); the caller tries
// again later. A node joins only if it applies the cluster's format
// (Join), so a raise never strands a member.
func (r *Replica) raiseFormat(timeout time.Duration) {
	cf := r.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		r.logger.Warn("format upgrade: reading the configuration failed", "error", err)
		return
	}
	// Every member applies the log, non-voters too: all must be asked.
	var voters []raft.Server
	for _, s := range cf.Configuration().Servers {
		if string(s.ID) != r.cfg.ID {
			voters = append(voters, s)
		}
	}
	newest := make([]int, len(voters))
	errs := make([]error, len(voters))
	var wg sync.WaitGroup
	for i, s := range voters {
		wg.Go(func() { newest[i], errs[i] = cluster.ProbeFormats(r.cfg.Dialer, string(s.Address), timeout) })
	}
	wg.Wait()
	target := uint8(fsm.MaxFormat)
	for i, s := range voters {
		switch {
		case errs[i] != nil:
			r.logger.Info("format upgrade waits: a voter did not say which log formats it applies",
				"voter", s.ID, "format", r.fsm.Format(), "error", errs[i])
			return
		case newest[i] < fsm.MaxFormat:
			r.logger.Warn("format upgrade waits: a voter runs an older build; upgrade it",
				"voter", s.ID, "its_newest_format", newest[i], "wanted", fsm.MaxFormat)
			target = min(target, uint8(max(newest[i], 0)))
		}
	}
	// Raise as far as every member can go now; the rest waits for the
	// older builds' upgrade.
	if target <= r.fsm.Format() {
		return
	}
	entry := fsm.AppendFormat(nil, time.Now().UnixMilli(), target)
	if err := r.await(r.raft.Apply(entry, r.cfg.ApplyTimeout)); err != nil {
		r.logger.Warn("format upgrade: the format entry was not committed", "error", err)
		return
	}
	r.logger.Info("cluster log format raised", "format", target, "voters", len(voters)+1)
}
