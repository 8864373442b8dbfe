package replica

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// Peer is one initial member of a cluster this replica bootstraps.
type Peer struct {
	ID   string
	Addr string // node-to-node address
}

// Config is everything a replica needs. The process that owns it (package
// node) opens the node-to-node port and hands the replica its share of it.
type Config struct {
	ID string // this node's id, unique in the cluster
	// Advertise is the node-to-node address other nodes dial.
	Advertise string
	DataDir   string
	// LogStore is LogStoreWAL, LogStoreBolt, or LogStoreAuto (the kind
	// DataDir holds; LogStoreWAL in a new one).
	LogStore string
	// Peers are the initial members, this node included. Used only when
	// DataDir holds no Raft state; empty means a one-node cluster.
	Peers []Peer
	// Join, when set, is the node-to-node address of a member of a
	// running cluster: a replica with no Raft state does not bootstrap but
	// asks that member to add it (again until it is in the configuration).
	// A replica with state resumes and ignores it.
	Join string
	// Restore, when set, is a backup's state (checked by the caller): a
	// replica without Raft state bootstraps a one-node cluster and its
	// first leadership installs this state instead of creating the seats.
	Restore []byte
	// Seats is the seat count of the default event of a cluster this
	// replica creates.
	Seats int

	// Raft timings and snapshot policy (see node.Config).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
	// ApplyTimeout bounds how long a log entry may wait to be enqueued
	// in Raft, and the barrier at the start of a term.
	ApplyTimeout time.Duration

	// Stream carries Raft's connections (a service of the node-to-node
	// port); the replica owns it from Open on and closes its accepted
	// connections on Close.
	Stream *transport.StreamLayer
	// Dialer opens node-to-node connections (the format probes).
	Dialer *transport.Dialer
	// InspectListener and FormatsListener are the node-to-node services
	// this replica answers: its applied state (for the robustness suite)
	// and the log formats it applies (for format raises). The replica
	// closes them on Close.
	InspectListener, FormatsListener net.Listener

	// Observer, when set, is told of every batch entry the leader
	// commits (package metrics).
	Observer BatchObserver

	Logger hclog.Logger
}

// BatchObserver is told of each batch entry the leader committed: how
// many writes it carried and how long it took from Apply to applied.
type BatchObserver interface {
	ObserveBatch(writes int, commit time.Duration)
}

// Replica is one node's member of a Raft group: the stores in the data
// directory, hashicorp/raft, the state machine, and, while it leads, the
// batchers that turn requests into log entries and linearizable reads.
type Replica struct {
	cfg    Config
	logger hclog.Logger

	fsm      *fsm.FSM
	raft     *raft.Raft
	store    LogStore
	deleter  *deleter // removes old snapshots and log segments a little at a time
	netTrans *raft.NetworkTransport

	// readyTerm is the term in which this replica, as leader, has applied
	// every entry committed before its term began (0: not ready). Reads
	// and writes on the leader wait for it.
	readyTerm atomic.Uint64
	// handingOff is set while HandOff transfers leadership away: the
	// leader is not ready then (Raft refuses new entries), so requests
	// wait for the next leader instead of failing.
	handingOff atomic.Bool

	writes chan Call     // to the write batcher (leader only)
	reads  chan Call     // to the read batcher (leader only)
	tick   chan struct{} // asks the write batcher for a tick entry (leader only)
	change changeSignal  // wakes whoever waits for a leadership change
	stop   chan struct{} // closed by Close: background goroutines return
	// raftDown is closed once raft.Shutdown has returned: futures Raft
	// has not answered by then never will be (see await).
	raftDown chan struct{}
	bg       sync.WaitGroup // batchers, leadership watcher, services

	closeOnce sync.Once
	closeErr  error
}

// Call is one request the replica answers while it leads. Calls come from
// the server that read them; the replica either answers a call or hands it
// back to be routed again.
type Call interface {
	// Request is the parsed request.
	Request() *protocol.Request
	// Finish gives the call its answer; it is called once per call.
	Finish(answer string)
	// Attempted and SetAttempted tell and record whether the write may
	// have taken effect (it is, or was, in a log entry): its outcome is
	// then unknown if no answer comes.
	Attempted() bool
	SetAttempted(bool)
	// Reroute hands the call back to be routed again at once: this
	// replica could not serve it (it lost leadership before the write's
	// entry was applied). It must not block: the replica calls it from
	// the goroutines that feed and drain its batchers.
	Reroute()
	// Retry hands the call back to be routed again after a backoff (a
	// read whose leadership confirmation failed). It must not block.
	Retry()
}

// ErrBootstrap is returned by Open when a new cluster could not be
// bootstrapped.
var ErrBootstrap = errors.New("replica: bootstrap failed")

// Open opens the stores in cfg.DataDir, starts Raft and bootstraps a new
// cluster or resumes an existing one. It returns once Raft runs; the group
// may still be electing a leader. On error everything it opened is closed.
func Open(cfg Config) (*Replica, error) {
	opts := fsm.DefaultOptions()
	opts.OnHalt = func(err error) {
		cfg.Logger.Error("state machine halted: this node applies nothing more until it runs a build that understands the entry (nothing is skipped)", "error", err)
	}
	r := &Replica{
		cfg:      cfg,
		logger:   cfg.Logger,
		fsm:      fsm.New(opts),
		writes:   make(chan Call, 1<<16),
		reads:    make(chan Call, 1<<16),
		tick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		raftDown: make(chan struct{}),
	}
	if err := r.open(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Replica) open() error {
	cfg := &r.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("restrict data directory: %w", err)
	}
	del, err := newDeleter(cfg.DataDir, r.logger.Named("deleter"))
	if err != nil {
		return err
	}
	store, err := openLogStore(cfg.LogStore, cfg.DataDir, del)
	if err != nil {
		return err
	}
	r.store = store
	// The directory is this process's now (the store holds its lock).
	if err := del.start(); err != nil {
		return err
	}
	r.deleter = del
	snaps, err := newSnapshotStore(cfg.DataDir, 2, r.logger.Named("snapshots"), del)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	r.netTrans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  cfg.Stream,
		MaxPool: 3,
		// No pipelined replication. hashicorp/raft v1.7.3's pipeline can
		// deadlock after a follower answers Success=false: a replication
		// goroutine stays parked, the follower gets heartbeats but no
		// entries, and raft.Shutdown never returns (the robustness suite
		// saw nodes ignore SIGTERM; grafana/pyroscope#5518 describes the
		// same deadlock and this fix). With one log entry in flight at a
		// time there is little to pipeline: distinct writes at 64 clients
		// measured 11.3-14.8k/s without it, 11.6-13.5k/s with it.
		MaxRPCsInFlight: 1,
		Timeout:         10 * time.Second,
		Logger:          r.logger.Named("raft-net"),
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = r.logger.Named("raft")
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	// Raft's legacy per-peer series repeat the labelled ones under
	// names that hold the peer id: twice the metric cost per
	// AppendEntries call for nothing (and /metrics leaves out a removed
	// peer's series by their peer_id label, which those do not have).
	rc.NoLegacyTelemetry = true
	// A member removed from the configuration keeps its Raft running
	// (as a follower outside the cluster) until the operator stops it.
	// Raft's default shuts down at once, and entries already queued in
	// its (batched) apply channel are then never answered: their futures
	// carry no shutdown channel, so the write batcher, the calls it
	// carries and the node's graceful stop would wait forever (found by
	// TestJoinAndRemoveUnderLoad, with a removed leader).
	rc.ShutdownOnRemove = false
	notify := make(chan bool, 16)
	rc.NotifyCh = notify

	hasState, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fmt.Errorf("create log cache: %w", err)
	}
	ra, err := raft.NewRaft(rc, r.fsm, logs, store, snaps, r.netTrans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	r.raft = ra
	observations := make(chan raft.Observation, 16)
	ra.RegisterObserver(raft.NewObserver(observations, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	}))
	joining := false
	switch {
	case hasState && len(cfg.Restore) > 0:
		return fmt.Errorf("%w: --restore needs an empty --data; %s holds a cluster's state", ErrConfig, cfg.DataDir)
	case hasState:
		r.logger.Info("resuming existing cluster state", "data", cfg.DataDir)
		if cfg.Join != "" {
			r.logger.Info("--join ignored: this node has cluster state and rejoins by itself", "join", cfg.Join)
		}
	case cfg.Join != "" && hookJoinInsteadOfBootstrap():
		joining = true
		r.logger.Info("no cluster state: joining a running cluster", "via", cfg.Join)
	default:
		peers := cfg.Peers
		if len(peers) == 0 {
			peers = []Peer{{ID: cfg.ID, Addr: cfg.Advertise}}
		}
		var servers []raft.Server
		for _, p := range peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := ra.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			return fmt.Errorf("%w: %v", ErrBootstrap, err)
		}
		r.logger.Info("bootstrapped new cluster", "members", len(servers), "seats", cfg.Seats)
	}

	r.bg.Add(8)
	go r.runPromotions()
	if joining {
		r.bg.Add(1)
		go r.runJoin()
	}
	go r.serveInspect(cfg.InspectListener)
	go func() {
		defer r.bg.Done()
		cluster.ServeFormats(cfg.FormatsListener, fsm.FormatV1, fsm.MaxFormat, r.logger)
	}()
	go r.runLeaderTimers()
	go r.relayObservations(observations)
	go r.watchLeadership(notify)
	go r.runWriteBatcher()
	go r.runReadBatcher()
	return nil
}

// Close stops Raft and the stores: no new Raft connections, the handlers
// of accepted ones ended, Raft shut down, the batchers and services
// stopped, then the log store closed. It is safe on a partly opened
// replica. Calls still queued are not answered: the server drains its
// requests before it closes the replica.
func (r *Replica) Close() error {
	r.closeOnce.Do(func() {
		var errs []error
		for _, ln := range []net.Listener{r.cfg.InspectListener, r.cfg.FormatsListener} {
			if ln != nil {
				ln.Close()
			}
		}
		// The transport first (it marks itself shut down, so its accept
		// loop ends quietly), then the handlers of incoming Raft
		// connections: no more RPCs reach Raft from now on.
		if r.netTrans != nil {
			r.netTrans.Close()
		}
		if r.cfg.Stream != nil {
			r.cfg.Stream.CloseAccepted()
		}
		if r.raft != nil {
			if err := r.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("shut down raft: %w", err))
			}
		}
		close(r.raftDown)
		close(r.stop)
		r.bg.Wait()
		// A handler still answering a heartbeat may write the term to the
		// store; hashicorp/raft panics if that write fails.
		if r.cfg.Stream != nil && !r.cfg.Stream.WaitAccepted(10*time.Second) {
			r.logger.Error("shutdown: Raft connection handlers still running after 10s; closing the store anyway")
		}
		if r.deleter != nil {
			r.deleter.close() // before the store gives up the directory's lock
		}
		if r.store != nil {
			if err := r.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close raft store: %w", err))
			}
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

// Write queues a write on the leader's write batcher. Call it only while
// LeaderReady reports true; a call queued as leadership ends is handed back
// with Reroute.
func (r *Replica) Write(c Call) { r.writes <- c }

// Read queues a read on the leader's read batcher (see Write).
func (r *Replica) Read(c Call) { r.reads <- c }

// IsLeader reports whether this replica is the Raft leader (ready or not).
func (r *Replica) IsLeader() bool { return r.raft.State() == raft.Leader }

// LeaderReady reports whether this replica leads and has applied everything
// committed before its current term began: only then may it serve.
func (r *Replica) LeaderReady() bool {
	return r.raft.State() == raft.Leader && r.readyTerm.Load() == r.raft.CurrentTerm() && !r.handingOff.Load()
}

// HandOff transfers leadership to the most caught-up voter (Raft's
// LeadershipTransfer: it brings the target's log up to date, then tells it
// to start an election at once) and returns once this replica has stepped
// down, or with an error after about an election timeout. Requests that
// arrive meanwhile wait for the new leader (LeaderReady is false), and
// writes queued on the batcher are handed back to be routed again. It
// does nothing on a replica that does not lead.
func (r *Replica) HandOff() error {
	if r.raft.State() != raft.Leader {
		return nil
	}
	r.handingOff.Store(true)
	r.change.broadcast()
	defer func() {
		r.handingOff.Store(false)
		r.change.broadcast()
	}()
	if err := r.await(r.raft.LeadershipTransfer()); err != nil {
		return fmt.Errorf("leadership transfer: %w", err)
	}
	return nil
}

// Leader returns the node-to-node address and id of the leader this
// replica knows of, or two empty strings.
func (r *Replica) Leader() (addr, id string) {
	a, i := r.raft.LeaderWithID()
	return string(a), string(i)
}

// Changed returns a channel closed at the next leadership change (a new
// leader known, this replica's role changed, or its term became ready).
// Check the condition after taking the channel, so no change is missed.
func (r *Replica) Changed() <-chan struct{} { return r.change.wait() }

// Format is the log format the local state machine runs.
func (r *Replica) Format() uint8 { return r.fsm.Format() }

// DefaultSeats is the default event's seat count in the local state
// machine (0 before the cluster's creation entry is applied).
func (r *Replica) DefaultSeats() uint32 { return r.fsm.DefaultSeats() }

// AppliedIndex returns the index of the last log entry applied to the FSM.
func (r *Replica) AppliedIndex() uint64 { return r.raft.AppliedIndex() }

// FSM gives read access to the local (possibly stale) state; tests use it
// to compare replicas.
func (r *Replica) FSM() *fsm.FSM { return r.fsm }

// Raft is the replica's hashicorp/raft instance, for tests that inject
// faults (leadership transfer, stepping down).
func (r *Replica) Raft() *raft.Raft { return r.raft }

// Snapshot asks Raft for a snapshot now (tests and operators).
func (r *Replica) Snapshot() error { return r.await(r.raft.Snapshot()) }

// ErrConfig marks an Open error caused by the configuration or the data
// directory's contents (a log store of another kind), not by the machine.
var ErrConfig = errors.New("replica: invalid configuration")

// Status is the replica's own view of its group.
type Status struct {
	State        string // Leader, Follower, Candidate, Shutdown
	Term         uint64
	LeaderID     string
	CommitIndex  uint64 // the commit index this replica knows
	AppliedIndex uint64
	Members      []cluster.Member // the latest configuration it knows (none while it cannot be read)
}

// Status reports the replica's view: role, term, leader, indexes and the
// configuration it replicates (on any member, not only the leader).
func (r *Replica) Status() Status {
	_, leaderID := r.raft.LeaderWithID()
	st := Status{
		State:        r.raft.State().String(),
		Term:         r.raft.CurrentTerm(),
		LeaderID:     string(leaderID),
		CommitIndex:  r.raft.CommitIndex(),
		AppliedIndex: r.raft.AppliedIndex(),
	}
	if servers, err := r.configuration(); err == nil {
		for _, s := range servers {
			st.Members = append(st.Members, cluster.Member{
				ID: string(s.ID), Address: string(s.Address),
				Voter: s.Suffrage == raft.Voter, Leader: s.ID == leaderID,
			})
		}
	}
	return st
}

// Ready reports nil when this replica can serve: it knows a leader (or is
// a ready leader), its state machine applies the log, and it has applied
// every entry it knows to be committed. Otherwise it says why not.
func (r *Replica) Ready() error { return hookReady(r.ready()) }

func (r *Replica) ready() error {
	if err := r.fsm.Halted(); err != nil {
		return fmt.Errorf("the state machine stopped: %w", err)
	}
	if _, id := r.raft.LeaderWithID(); id == "" {
		return errors.New("no leader known")
	}
	if r.raft.State() == raft.Leader && !r.LeaderReady() {
		return errors.New("leader of a new term, not ready yet")
	}
	if applied, commit := r.raft.AppliedIndex(), r.raft.CommitIndex(); applied < commit {
		return fmt.Errorf("applied %d of %d committed entries", applied, commit)
	}
	return nil
}

// await waits for a Raft future, or until Raft has shut down. hashicorp/raft
// v1.7.3 does not answer every future when it shuts down: an entry still in
// its (batched) apply channel, or committed but not yet handed to the state
// machine, is dropped, and its future carries no shutdown channel, so
// Error would block forever (and with it the write batcher, the calls it
// carries and Close). Such a future is answered raft.ErrRaftShutdown here:
// the outcome is unknown, as for any write Raft reports shut down. The
// goroutine waiting on the dropped future is then left behind, blocked,
// once per dropped future at shutdown.
func (r *Replica) await(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-r.raftDown:
		select {
		case err := <-done: // answered after all
			return err
		default:
			return raft.ErrRaftShutdown
		}
	}
}
