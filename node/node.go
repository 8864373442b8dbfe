package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/transport"
)

// Node is one running seatd node.
type Node struct {
	cfg    Config
	logger hclog.Logger

	fsm       *fsm.FSM
	raft      *raft.Raft
	store     logStore
	netTrans  *raft.NetworkTransport
	stream    *transport.StreamLayer // Raft connections, tracked so shutdown can wait for their handlers
	mux       *transport.Mux
	dialer    *transport.Dialer // node-to-node connections (mutual TLS when configured)
	forwarder *cluster.Forwarder
	// leaderFormats caches what leaders' formats services said, for
	// part-3 requests on a follower that lags behind the format raise.
	leaderFormats formatCache
	fwdServer     *cluster.Server
	clientLn      net.Listener
	pprofSrv      *http.Server

	// readyTerm is the term in which this node, as leader, has applied
	// every entry committed before its term began (0: not ready). Reads
	// and writes on the leader wait for it.
	readyTerm atomic.Uint64

	writes chan *call    // to the write batcher (leader only)
	reads  chan *call    // to the read batcher (leader only)
	tick   chan struct{} // asks the write batcher for a tick entry (leader only)

	connSeq     atomic.Uint64 // numbers client connections
	clientConns atomic.Int64  // client connections open now (--max-conns)
	refusing    atomic.Int64  // connections being answered ERROR BUSY
	limitLog    limitLogger
	closing     atomic.Bool    // set first thing in Close: new requests get SHUTTING_DOWN
	stop        chan struct{}  // closed by Close: background goroutines return
	inflight    atomic.Int64   // requests read but not yet answered
	changes     changeSignal   // wakes requests waiting for a leader
	bg          sync.WaitGroup // batchers, leadership watcher, accept loop
	connsMu     sync.Mutex
	conns       map[net.Conn]struct{}
	connsWG     sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

// Errors returned by New.
var (
	ErrBootstrap = errors.New("node: bootstrap failed")
)

// New opens the node's stores and starts Raft and the listeners. It returns
// once the node serves; the cluster may still be electing a leader.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:    cfg,
		logger: cfg.Logger,
		fsm:    fsm.New(fsm.DefaultOptions()),
		writes: make(chan *call, 1<<16),
		reads:  make(chan *call, 1<<16),
		tick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
	}
	n.limitLog.logger = n.logger.Named("limits")
	if err := n.open(); err != nil {
		n.closeResources()
		return nil, err
	}
	return n, nil
}

func (n *Node) open() error {
	cfg := &n.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("restrict data directory: %w", err)
	}
	store, err := openLogStore(cfg.LogStore, cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.LogStore == LogStoreWAL {
		n.logger.Warn("--log-store wal: raft-wal v0.4.0 cannot reopen a log whose tail Raft truncated after a leader change " +
			"(hashicorp/raft-wal#31, fixed after that release): such a node panics at its next start; boltdb does not have this bug")
	}
	n.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, n.logger.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}

	raftLn := cfg.RaftListener
	if raftLn == nil {
		if raftLn, err = net.Listen("tcp", cfg.Raft); err != nil {
			return fmt.Errorf("listen on raft address: %w", err)
		}
	}
	advertise, err := net.ResolveTCPAddr("tcp", cfg.RaftAdvertise)
	if err != nil {
		raftLn.Close()
		return fmt.Errorf("resolve raft address: %w", err)
	}
	dialer := &transport.Dialer{}
	n.dialer = dialer
	if cfg.PeerCert != "" {
		peer, err := transport.PeerTLS(cfg.PeerCert, cfg.PeerKey, cfg.PeerCA)
		if err != nil {
			raftLn.Close()
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		// Everything on the node-to-node port is mutual TLS: Raft,
		// forwarding, inspect. The mux's header deadline covers the
		// handshake.
		raftLn = tls.NewListener(raftLn, peer.Server)
		dialer.Peer = peer
	}
	n.mux = transport.NewMux(raftLn, advertise, n.logger)
	stream := transport.NewStreamLayer(n.mux, dialer)
	n.stream = stream
	fwdLn := n.mux.Listen(transport.HeaderForward)
	inspectLn := n.mux.Listen(transport.HeaderInspect)
	formatsLn := n.mux.Listen(transport.HeaderFormats)
	n.netTrans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
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
		Logger:          n.logger.Named("raft-net"),
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = n.logger.Named("raft")
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
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
	r, err := raft.NewRaft(rc, n.fsm, logs, store, snaps, n.netTrans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	observations := make(chan raft.Observation, 16)
	r.RegisterObserver(raft.NewObserver(observations, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	}))
	if hasState {
		n.logger.Info("resuming existing cluster state", "data", cfg.DataDir)
	} else {
		peers := cfg.Peers
		if len(peers) == 0 {
			peers = []Peer{{ID: cfg.ID, Addr: cfg.RaftAdvertise}}
		}
		var servers []raft.Server
		for _, p := range peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			return fmt.Errorf("%w: %v", ErrBootstrap, err)
		}
		n.logger.Info("bootstrapped new cluster", "members", len(servers), "seats", cfg.Seats)
	}

	n.forwarder = cluster.NewForwarder(cluster.ForwarderConfig{
		Dialer:        dialer,
		AnswerTimeout: cfg.RequestTimeout + 2*time.Second,
		Logger:        n.logger,
	})
	n.fwdServer = cluster.NewServer(fwdLn, n, n.logger)

	clientLn := cfg.ClientListener
	if clientLn == nil {
		if clientLn, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on client address: %w", err)
		}
	}
	if cfg.TLSCert != "" {
		serverTLS, err := transport.ServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA)
		if err != nil {
			clientLn.Close()
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		clientLn = tls.NewListener(clientLn, serverTLS)
	}
	n.clientLn = clientLn

	if cfg.PprofAddr != "" {
		if err := n.startPprof(cfg.PprofAddr); err != nil {
			return fmt.Errorf("listen on pprof address: %w", err)
		}
	}
	n.mux.Start()
	n.fwdServer.Start()
	n.bg.Add(8)
	go n.serveInspect(inspectLn)
	go func() {
		defer n.bg.Done()
		cluster.ServeFormats(formatsLn, fsm.FormatV1, fsm.MaxFormat, n.logger)
	}()
	go n.runLeaderTimers()
	go n.relayObservations(observations)
	go n.watchLeadership(notify)
	go n.runWriteBatcher()
	go n.runReadBatcher()
	go n.acceptClients()
	if cfg.TLSClientCA != "" && cfg.PeerCert == "" {
		n.logger.Warn("client identities are enforced but the node-to-node port is plaintext: anyone who reaches --raft can forward writes under any holder; add --peer-cert/--peer-key/--peer-ca")
	}
	n.logger.Info("node started", "id", cfg.ID, "listen", clientLn.Addr().String(), "raft", cfg.RaftAdvertise)
	return nil
}

// ClientAddr returns the address the client protocol is served on.
func (n *Node) ClientAddr() string { return n.clientLn.Addr().String() }

// RaftAddr returns the node's advertised node-to-node address.
func (n *Node) RaftAddr() string { return n.cfg.RaftAdvertise }

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderID returns the id of the leader this node knows of, or "".
func (n *Node) LeaderID() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// AppliedIndex returns the index of the last log entry applied to the FSM.
func (n *Node) AppliedIndex() uint64 { return n.raft.AppliedIndex() }

// FSM gives read access to the node's local (possibly stale) state; tests
// use it to compare replicas.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Snapshot asks Raft for a snapshot now (tests and operators).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Close shuts the node down gracefully: it stops accepting connections,
// answers SHUTTING_DOWN to new requests, waits (bounded) for requests in
// flight to be answered, closes client connections, then stops the
// node-to-node listener, Raft and the stores, in that order.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.closing.Store(true)
		n.clientLn.Close()

		// Answer what is in flight (bounded by the request timeout).
		drainBy := time.Now().Add(n.cfg.RequestTimeout + time.Second)
		for n.inflight.Load() > 0 {
			if time.Now().After(drainBy) {
				n.logger.Warn("shutdown: requests still in flight after the request timeout", "count", n.inflight.Load())
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Wake every client connection's reader: it stops reading, its
		// writer answers what was read and closes.
		n.connsMu.Lock()
		for c := range n.conns {
			c.SetReadDeadline(time.Now())
		}
		n.connsMu.Unlock()
		n.connsWG.Wait()

		n.closeResources()
	})
	return n.closeErr
}

// closeResources stops the node-to-node plane, Raft and the stores. It is
// safe on a partly opened node.
func (n *Node) closeResources() {
	var errs []error
	if n.clientLn != nil {
		n.clientLn.Close()
	}
	if n.pprofSrv != nil {
		n.pprofSrv.Close()
	}
	if n.fwdServer != nil {
		n.fwdServer.Close()
	}
	if n.forwarder != nil {
		n.forwarder.Close()
	}
	// The transport first (it marks itself shut down, so its accept loop
	// ends quietly), then the mux under it, then Raft.
	if n.netTrans != nil {
		n.netTrans.Close()
	}
	if n.mux != nil {
		n.mux.Close()
	}
	if n.stream != nil {
		// Ends the transport's handlers of incoming Raft connections:
		// no more RPCs reach Raft from now on.
		n.stream.CloseAccepted()
	}
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("shut down raft: %w", err))
		}
	}
	close(n.stop)
	n.bg.Wait()
	// A handler still answering a heartbeat may write the term to the
	// store; hashicorp/raft panics if that write fails.
	if n.stream != nil && !n.stream.WaitAccepted(10*time.Second) {
		n.logger.Error("shutdown: Raft connection handlers still running after 10s; closing the store anyway")
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft store: %w", err))
		}
	}
	n.closeErr = errors.Join(errs...)
}

// Run starts a node and serves until ctx is cancelled (SIGINT or SIGTERM in
// seatd), then shuts it down gracefully.
func Run(ctx context.Context, cfg Config) error {
	n, err := New(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	n.logger.Info("shutting down")
	if err := n.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	n.logger.Info("stopped")
	return nil
}
