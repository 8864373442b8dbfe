package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/httpapi"
	"github.com/seatd/seatd/metrics"
	"github.com/seatd/seatd/replica"
	"github.com/seatd/seatd/transport"
)

// Node is one running seatd node: the client server and the node-to-node
// port around one replica.
type Node struct {
	cfg    Config
	logger hclog.Logger

	// replica is the Raft group this node serves; routing reaches it only
	// through the Replica interface (rep is the same value, for opening,
	// closing and the accessors tests use).
	replica   Replica
	rep       *replica.Replica
	mux       *transport.Mux
	dialer    *transport.Dialer // node-to-node connections (mutual TLS when configured)
	forwarder *cluster.Forwarder
	// leaderFormats caches what leaders' formats services said, for
	// part-3 requests on a follower that lags behind the format raise.
	leaderFormats formatCache
	fwdServer     *cluster.Server
	clientLn      net.Listener
	// clientCerts is the certificate of the client and HTTP ports (one
	// reloader for both, so a refused replacement is logged once).
	clientCerts *transport.CertReloader
	pprofSrv    *http.Server
	httpLn      net.Listener    // --http, when set
	httpSrv     *httpapi.Server // serves httpLn

	// observer is told of every answered request (the metrics; nil in
	// tests that build a Node by hand).
	observer RequestObserver
	metrics  *metrics.Set

	connSeq     atomic.Uint64 // numbers client connections
	clientConns atomic.Int64  // client connections open now (--max-conns)
	refusing    atomic.Int64  // connections being answered ERROR BUSY
	limitLog    limitLogger
	stopClock   context.CancelFunc // ends the clock watch (cluster.ClockWatch)
	closing     atomic.Bool        // set first thing in Close: new requests get SHUTTING_DOWN
	stop        chan struct{}      // closed by Close: background goroutines return
	inflight    atomic.Int64       // requests read but not yet answered
	bg          sync.WaitGroup     // accept loop
	connsMu     sync.Mutex
	conns       map[net.Conn]struct{}
	connsWG     sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

// RequestObserver is told of every request the node answers (package
// metrics counts them and times them).
type RequestObserver interface {
	ObserveRequest(verb, answer string, took time.Duration, forwarded bool)
}

// Replica is what the node needs of the Raft group it serves (package
// replica provides it): where the leader is, whether this node may serve
// as leader, and the leader's batchers.
type Replica interface {
	// Write and Read queue a call on the leader's batchers; only while
	// LeaderReady reports true.
	Write(c replica.Call)
	Read(c replica.Call)
	// IsLeader reports whether this replica leads (ready or not yet).
	IsLeader() bool
	// LeaderReady reports whether it leads and may serve.
	LeaderReady() bool
	// Leader is the node-to-node address and id of the known leader, or
	// two empty strings.
	Leader() (addr, id string)
	// Changed returns a channel closed at the next leadership change.
	Changed() <-chan struct{}
	// Format is the log format of the local state machine, DefaultSeats
	// the default event's seat count there (0 before it exists).
	Format() uint8
	DefaultSeats() uint32
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
	set, err := metrics.New()
	if err != nil {
		return err
	}
	n.metrics, n.observer = set, set
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
		peer.Certs.OnRefused(n.certRefused("--peer-cert"))
		raftLn = tls.NewListener(raftLn, peer.Server)
		dialer.Peer = peer
	}
	n.mux = transport.NewMux(raftLn, advertise, n.logger)
	stream := transport.NewStreamLayer(n.mux, dialer)
	var restore []byte
	if cfg.Restore != "" {
		if restore, err = readRestore(cfg.Restore); err != nil {
			return err
		}
	}
	fwdLn := n.mux.Listen(transport.HeaderForward)
	membershipLn := n.mux.Listen(transport.HeaderMembership)
	rep, err := replica.Open(replica.Config{
		ID:                 cfg.ID,
		Advertise:          cfg.RaftAdvertise,
		DataDir:            cfg.DataDir,
		LogStore:           cfg.LogStore,
		Peers:              replicaPeers(cfg.Peers),
		Join:               cfg.Join,
		Restore:            restore,
		Seats:              cfg.Seats,
		HeartbeatTimeout:   cfg.HeartbeatTimeout,
		ElectionTimeout:    cfg.ElectionTimeout,
		LeaderLeaseTimeout: cfg.LeaderLeaseTimeout,
		SnapshotThreshold:  cfg.SnapshotThreshold,
		SnapshotInterval:   cfg.SnapshotInterval,
		TrailingLogs:       cfg.TrailingLogs,
		ApplyTimeout:       cfg.RequestTimeout,
		Stream:             stream,
		Dialer:             dialer,
		InspectListener:    n.mux.Listen(transport.HeaderInspect),
		FormatsListener:    n.mux.Listen(transport.HeaderFormats),
		Observer:           set,
		Logger:             n.logger,
	})
	if err != nil {
		if errors.Is(err, replica.ErrConfig) {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if errors.Is(err, replica.ErrBootstrap) {
			return fmt.Errorf("%w: %w", ErrBootstrap, err)
		}
		return err
	}
	n.rep, n.replica = rep, rep
	set.MembersFrom(n.memberIDs)

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
		serverTLS, err := n.serverTLS()
		if err != nil {
			clientLn.Close()
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		clientLn = tls.NewListener(clientLn, serverTLS)
	}
	n.clientLn = clientLn

	if cfg.HTTP != "" {
		if err := n.startHTTP(); err != nil {
			return err
		}
	}
	if cfg.PprofAddr != "" {
		if err := n.startPprof(cfg.PprofAddr); err != nil {
			return fmt.Errorf("listen on pprof address: %w", err)
		}
	}
	if cfg.ShareCPUs {
		n.startCPUShare()
	}
	n.mux.Start()
	n.fwdServer.Start()
	n.bg.Add(2)
	go func() {
		defer n.bg.Done()
		cluster.ServeMembership(membershipLn, rep, dialer, n.logger.Named("membership"))
	}()
	go n.acceptClients()
	n.startClockWatch(dialer, set)
	if cfg.TLSClientCA != "" && cfg.PeerCert == "" {
		n.logger.Warn("client identities are enforced but the node-to-node port is plaintext: anyone who reaches --raft can forward writes under any holder; add --peer-cert/--peer-key/--peer-ca")
	}
	n.logger.Info("node started", "id", cfg.ID, "listen", clientLn.Addr().String(), "raft", cfg.RaftAdvertise)
	return nil
}

// startClockWatch asks the other members for their clocks every
// ClockProbeInterval until closeResources stops it.
func (n *Node) startClockWatch(dialer *transport.Dialer, obs cluster.ClockObserver) {
	ctx, cancel := context.WithCancel(context.Background())
	n.stopClock = cancel
	watch := cluster.NewClockWatch(cluster.ClockWatchConfig{
		Dialer:   dialer,
		Members:  n.otherMembers,
		Interval: n.cfg.ClockProbeInterval,
		Observer: obs,
		Logger:   n.logger.Named("clock"),
	})
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		watch.Run(ctx)
	}()
}

// memberIDs lists the voters and non-voters of the configuration this node
// knows (seatd_cluster_members, and which peers' Raft series are served).
func (n *Node) memberIDs() (voters, nonvoters []string) {
	for _, m := range n.rep.Status().Members {
		if m.Voter {
			voters = append(voters, m.ID)
		} else {
			nonvoters = append(nonvoters, m.ID)
		}
	}
	return voters, nonvoters
}

// otherMembers is the configuration this node knows, itself left out.
func (n *Node) otherMembers() []cluster.Member {
	var out []cluster.Member
	for _, m := range n.rep.Status().Members {
		if m.ID != n.cfg.ID {
			out = append(out, m)
		}
	}
	return out
}

// ClientAddr returns the address the client protocol is served on.
func (n *Node) ClientAddr() string { return n.clientLn.Addr().String() }

// RaftAddr returns the node's advertised node-to-node address.
func (n *Node) RaftAddr() string { return n.cfg.RaftAdvertise }

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.replica.IsLeader() }

// LeaderID returns the id of the leader this node knows of, or "".
func (n *Node) LeaderID() string {
	_, id := n.replica.Leader()
	return id
}

// AppliedIndex returns the index of the last log entry applied to the FSM.
func (n *Node) AppliedIndex() uint64 { return n.rep.AppliedIndex() }

// FSM gives read access to the node's local (possibly stale) state; tests
// use it to compare replicas.
func (n *Node) FSM() *fsm.FSM { return n.rep.FSM() }

// Snapshot asks Raft for a snapshot now (tests and operators).
func (n *Node) Snapshot() error { return n.rep.Snapshot() }

// Close shuts the node down gracefully: a leader first hands its
// leadership to a caught-up follower; then the node stops accepting
// connections, answers SHUTTING_DOWN to new requests, waits (bounded) for
// requests in flight to be answered, closes client connections, and stops
// forwarding, Raft, the stores and the node-to-node port, in that order.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		// A leader hands its leadership to a caught-up follower first,
		// while it still serves: the cluster has a new leader within
		// milliseconds instead of an election timeout, and the requests
		// this node holds are forwarded there.
		if n.rep != nil && n.rep.IsLeader() {
			start := time.Now()
			if err := n.rep.HandOff(); err != nil {
				n.logger.Warn("shutdown: leadership not handed over; the others elect a leader after their heartbeat timeout", "error", err)
			} else {
				n.logger.Info("shutdown: leadership handed over", "took", time.Since(start).Round(time.Microsecond))
			}
		}
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

// closeResources stops the client listener, forwarding, the replica (Raft
// and the stores) and the node-to-node port, in that order. It is safe on a
// partly opened node.
func (n *Node) closeResources() {
	var errs []error
	if n.stopClock != nil {
		n.stopClock()
	}
	if n.clientLn != nil {
		n.clientLn.Close()
	}
	if n.pprofSrv != nil {
		n.pprofSrv.Close()
	}
	if n.httpSrv != nil {
		n.httpSrv.Close()
	} else if n.httpLn != nil {
		n.httpLn.Close()
	}
	if n.fwdServer != nil {
		n.fwdServer.Close()
	}
	if n.forwarder != nil {
		n.forwarder.Close()
	}
	// The replica stops Raft and its stores while the mux still runs:
	// the Raft transport then ends its accept loop on its own shutdown,
	// not on a closed listener. The mux's other services are closed by
	// now (forwarding above, the replica's own on its Close).
	if n.rep != nil {
		if err := n.rep.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.mux != nil {
		n.mux.Close()
	}
	close(n.stop)
	n.bg.Wait()
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

// replicaPeers converts the configured initial members.
func replicaPeers(peers []Peer) []replica.Peer {
	out := make([]replica.Peer, len(peers))
	for i, p := range peers {
		out[i] = replica.Peer{ID: p.ID, Addr: p.Addr}
	}
	return out
}

// readRestore reads and checks the backup of --restore: its header, size
// and digest, and that the state machine decodes all of it. A backup that
// fails is a configuration error: nothing is started from it.
func readRestore(path string) ([]byte, error) {
	b, err := cluster.ReadBackupFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --restore: %w", ErrConfig, err)
	}
	if err := fsm.CheckSnapshot(bytes.NewReader(b.State)); err != nil {
		return nil, fmt.Errorf("%w: --restore %s: the state in it does not decode: %w", ErrConfig, path, err)
	}
	return b.State, nil
}
