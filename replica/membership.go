package replica

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/cluster"
)

// Membership timings.
const (
	// promoteEvery is how often the leader checks whether its non-voters
	// have caught up.
	promoteEvery = 500 * time.Millisecond
	// memberProbeTimeout bounds asking one member for its applied index
	// (catch-up and the reachability check before a removal).
	memberProbeTimeout = time.Second
	// configTimeout bounds committing one configuration change.
	configTimeout = 10 * time.Second
	// joinRetryMax is the longest pause between a joining node's attempts.
	joinRetryMax = 5 * time.Second
)

// ErrMembership marks a membership change the leader refuses (an unknown
// member, a removal that would lose quorum, a joiner that cannot apply the
// cluster's log format, an address that belongs to another member).
var ErrMembership = errors.New("refused")

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMembership, fmt.Sprintf(format, args...))
}

// configuration returns the servers of the latest configuration.
func (r *Replica) configuration() ([]raft.Server, error) {
	servers, _, err := r.configurationAt()
	return servers, err
}

// configurationAt returns the servers of the latest configuration and its
// log index: a change made with that index as prevIndex is refused by Raft
// if the configuration changed meanwhile.
func (r *Replica) configurationAt() ([]raft.Server, uint64, error) {
	cf := r.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, 0, fmt.Errorf("read the configuration: %w", err)
	}
	return cf.Configuration().Servers, cf.Index(), nil
}

// Join implements cluster.MembershipHandler: on the leader it adds the node
// id at address as a non-voter (runPromotions makes it a voter once it has
// caught up). Only a node without Raft state asks to join (runJoin), so:
//
//   - a non-voter at that address is a joiner asking again: nothing changes
//     (a repeated --join is harmless);
//   - a voter at that address lost its state (its machine was wiped, not
//     removed first): it is removed and added back as a non-voter, so that
//     it counts for commits and votes only once it holds the log again;
//   - a member with that id at another address is replaced (removed, then
//     added), unless a node still answers at the old address or the id is
//     the leader's own.
//
// The joiner must apply the cluster's log format. Every change is made
// against the configuration it read (prevIndex), so a concurrent change
// makes it fail rather than act on a stale view.
func (r *Replica) Join(id, address string) error {
	if !r.LeaderReady() {
		return cluster.ErrNotLeader
	}
	if !ValidJoinID(id) {
		return refused("invalid node id %q", id)
	}
	if _, _, err := net.SplitHostPort(address); err != nil {
		return refused("invalid address %q: %v", address, err)
	}
	servers, index, err := r.configurationAt()
	if err != nil {
		return err
	}
	var old *raft.Server // the member of that id, to be removed first
	for i, s := range servers {
		switch {
		case string(s.ID) == id && string(s.Address) == address && s.Suffrage != raft.Voter:
			return nil // a joiner asking again
		case string(s.ID) == id && string(s.Address) == address:
			if id == r.cfg.ID {
				return refused("%s is this leader's own id", id)
			}
			r.logger.Warn("membership: a voter asks to join again, so it lost its state; re-adding it as a non-voter", "id", id, "address", address)
			old = &servers[i]
		case string(s.Address) == address:
			return refused("address %s belongs to member %s; remove it first", address, s.ID)
		case string(s.ID) == id:
			if id == r.cfg.ID {
				return refused("%s is this leader's own id", id)
			}
			if _, err := cluster.Applied(r.cfg.Dialer, string(s.Address), memberProbeTimeout); err == nil {
				return refused("member %s still answers at its old address %s; stop it or remove it first", id, s.Address)
			}
			r.logger.Info("membership: replacing a member at a new address", "id", id, "old", s.Address, "new", address)
			old = &servers[i]
		}
	}
	newest, err := cluster.ProbeFormats(r.cfg.Dialer, address, FormatProbeTimeout)
	if err != nil {
		return refused("cannot ask %s which log formats it applies: %v", address, err)
	}
	if format := int(r.fsm.Format()); newest < format {
		return refused("%s applies log formats up to %d but the cluster runs format %d: upgrade it", id, newest, format)
	}
	if old != nil {
		f := r.raft.RemoveServer(old.ID, index, configTimeout)
		if err := r.await(f); err != nil {
			return fmt.Errorf("remove %s at %s: %w", id, old.Address, err)
		}
		index = f.Index()
	}
	if err := r.await(r.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(address), index, configTimeout)); err != nil {
		return fmt.Errorf("add %s as a non-voter: %w", id, err)
	}
	r.logger.Info("membership: node added as a non-voter", "id", id, "address", address)
	return nil
}

// ValidJoinID reports whether id may be the id of a node that joins, the
// rule Join applies: 1-64 of A-Z a-z 0-9 . _ -. It is stricter than --id
// alone, which refuses only the characters that would break --peers, so
// that the ids a join adds are plain words; node.Config.Validate applies
// it to a node started with --join, which would otherwise ask in vain.
func ValidJoinID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Members implements cluster.MembershipHandler: the leader's configuration.
func (r *Replica) Members() ([]cluster.Member, error) {
	if !r.LeaderReady() {
		return nil, cluster.ErrNotLeader
	}
	servers, err := r.configuration()
	if err != nil {
		return nil, err
	}
	out := make([]cluster.Member, 0, len(servers))
	for _, s := range servers {
		out = append(out, cluster.Member{
			ID: string(s.ID), Address: string(s.Address),
			Voter: s.Suffrage == raft.Voter, Leader: string(s.ID) == r.cfg.ID,
		})
	}
	return out, nil
}

// Remove implements cluster.MembershipHandler: on the leader it removes the
// member id. Unless forced, it first checks that a majority of the voters
// that remain answer (the leader counts itself), so that a removal never
// leaves a cluster that cannot commit.
func (r *Replica) Remove(id string, force bool) error {
	if !r.LeaderReady() {
		return cluster.ErrNotLeader
	}
	servers, index, err := r.configurationAt()
	if err != nil {
		return err
	}
	var target *raft.Server
	var remaining []raft.Server // voters after the removal
	for i, s := range servers {
		if string(s.ID) == id {
			target = &servers[i]
		} else if s.Suffrage == raft.Voter {
			remaining = append(remaining, s)
		}
	}
	if target == nil {
		return refused("%q is not a member", id)
	}
	if len(remaining) == 0 {
		return refused("%s is the last voter", id)
	}
	if !force {
		reachable := r.reachable(remaining)
		if need := len(remaining)/2 + 1; reachable < need {
			return refused("after removing %s, %d of the %d remaining voters answer, fewer than a majority (%d); "+
				"bring them back or force the removal", id, reachable, len(remaining), need)
		}
	}
	if id == r.cfg.ID && len(remaining) > 0 {
		// The leader itself: hand leadership to a caught-up voter first
		// and let the new leader remove this node, so that clients see a
		// hand-off (milliseconds) rather than an election after Raft's
		// own step-down.
		if err := r.HandOff(); err == nil {
			return r.removeThroughNewLeader(id, force)
		}
		r.logger.Warn("membership: removing the leader without a hand-off (the transfer failed)", "id", id)
	}
	if err := r.await(r.raft.RemoveServer(target.ID, index, configTimeout)); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	r.logger.Info("membership: member removed", "id", id, "address", target.Address, "forced", force)
	return nil
}

// reachable counts the servers that answer a probe now (this node counts
// without one).
func (r *Replica) reachable(servers []raft.Server) int {
	answered := make(chan bool, len(servers))
	for _, s := range servers {
		go func() {
			if string(s.ID) == r.cfg.ID {
				answered <- true
				return
			}
			_, err := cluster.Applied(r.cfg.Dialer, string(s.Address), memberProbeTimeout)
			answered <- err == nil
		}()
	}
	n := 0
	for range servers {
		if <-answered {
			n++
		}
	}
	return n
}

// LeaderAddress implements cluster.MembershipHandler.
func (r *Replica) LeaderAddress() string {
	addr, _ := r.Leader()
	return addr
}

// runPromotions makes each non-voter a voter once it has caught up, while
// this replica is the ready leader: caught up means its applied index has
// reached the commit index the leader had at the previous check (half a
// second before), so the new voter does not slow commits while it fetches
// the log.
func (r *Replica) runPromotions() {
	defer r.bg.Done()
	ticker := time.NewTicker(promoteEvery)
	defer ticker.Stop()
	target := make(map[raft.ServerID]uint64) // commit index a non-voter must reach
	for {
		select {
		case <-ticker.C:
		case <-r.stop:
			return
		}
		if !r.LeaderReady() {
			clear(target)
			continue
		}
		servers, index, err := r.configurationAt()
		if err != nil {
			continue
		}
		commit := r.raft.CommitIndex()
		nonvoters := make(map[raft.ServerID]bool)
		for _, s := range servers {
			if s.Suffrage == raft.Nonvoter {
				nonvoters[s.ID] = true
			}
		}
		for id := range target {
			if !nonvoters[id] { // promoted, removed or replaced meanwhile
				delete(target, id)
			}
		}
		for _, s := range servers {
			if s.Suffrage != raft.Nonvoter {
				continue
			}
			want, seen := target[s.ID]
			target[s.ID] = commit
			if !seen {
				continue
			}
			applied, err := cluster.Applied(r.cfg.Dialer, string(s.Address), memberProbeTimeout)
			if err != nil || applied < want {
				continue
			}
			f := r.raft.AddVoter(s.ID, s.Address, index, configTimeout)
			if err := r.await(f); err != nil {
				r.logger.Warn("membership: promoting a caught-up non-voter failed", "id", s.ID, "error", err)
				continue
			}
			delete(target, s.ID)
			index = f.Index()
			r.logger.Info("membership: non-voter caught up and promoted to voter", "id", s.ID, "applied", applied)
		}
	}
}

// runJoin asks the member at cfg.Join, again and again, to add this node,
// until this node is in the configuration it replicates.
func (r *Replica) runJoin() {
	defer r.bg.Done()
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if r.inConfiguration() {
			r.logger.Info("membership: joined the cluster", "via", r.cfg.Join)
			return
		}
		// The request runs beside, so that Close need not wait for its
		// answer (it ends by itself within cluster.JoinTimeout).
		answer := make(chan error, 1)
		go func() {
			answer <- cluster.Join(r.cfg.Dialer, r.cfg.Join, r.cfg.ID, r.cfg.Advertise, cluster.JoinTimeout)
		}()
		var err error
		select {
		case err = <-answer:
		case <-r.stop:
			return
		}
		if err == nil {
			wait = 200 * time.Millisecond // added: wait for the configuration to arrive
		} else {
			r.logger.Warn("membership: join not accepted yet; retrying", "via", r.cfg.Join, "attempt", attempt, "error", err)
			wait = min(2*wait, joinRetryMax)
		}
		select {
		case <-time.After(wait):
		case <-r.stop:
			return
		}
	}
}

// inConfiguration reports whether this node is in the configuration its
// own Raft knows.
func (r *Replica) inConfiguration() bool {
	servers, err := r.configuration()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if string(s.ID) == r.cfg.ID {
			return true
		}
	}
	return false
}

// NodeStatus implements cluster.MembershipHandler.
func (r *Replica) NodeStatus() cluster.NodeStatus {
	st := r.Status()
	return cluster.NodeStatus{ID: r.cfg.ID, State: st.State, Term: st.Term, LeaderID: st.LeaderID,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}
}

// Backup implements cluster.MembershipHandler: on the ready leader, a copy
// of its state machine in the snapshot format. It holds every write this
// leader has answered (answers come from its own applies).
func (r *Replica) Backup() (*cluster.Backup, error) {
	if !r.LeaderReady() {
		return nil, cluster.ErrNotLeader
	}
	index := r.raft.AppliedIndex()
	var buf bytes.Buffer
	if err := r.fsm.Backup(&buf); err != nil {
		return nil, err
	}
	return &cluster.Backup{Index: index, State: buf.Bytes()}, nil
}

// removeThroughNewLeader asks the leader elected after a hand-off to remove
// id (this node), waiting for one to be known.
func (r *Replica) removeThroughNewLeader(id string, force bool) error {
	deadline := time.Now().Add(configTimeout)
	for {
		if addr, leader := r.Leader(); addr != "" && leader != r.cfg.ID {
			// The new leader may not serve yet (its term's barrier).
			if err := cluster.Remove(r.cfg.Dialer, addr, id, force); !errors.Is(err, cluster.ErrNoLeaderYet) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove %s: no new leader %s after handing leadership over", id, configTimeout)
		}
		select {
		case <-r.Changed():
		case <-time.After(50 * time.Millisecond):
		case <-r.stop:
			return raft.ErrRaftShutdown
		}
	}
}
