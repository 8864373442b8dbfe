package node

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/replica"
)

// Peer is one initial member of the cluster.
type Peer struct {
	ID   string
	Addr string // node-to-node (--raft) address
}

// Config is everything a node needs. Build it with DefaultConfig, set the
// identity fields, then Validate (New does so too).
type Config struct {
	ID     string // this node's id, unique in the cluster
	Listen string // client protocol address, host:port
	Raft   string // node-to-node address (Raft and forwarding), host:port
	// RaftAdvertise is the node-to-node address other nodes dial; it
	// defaults to Raft and must not be a wildcard address.
	RaftAdvertise string
	DataDir       string
	// LogStore is replica.LogStoreWAL, replica.LogStoreBolt, or
	// replica.LogStoreAuto (default: the kind DataDir holds, wal in a new one).
	LogStore string
	// Peers are the initial members, this node included. Used only when
	// DataDir holds no Raft state; empty means a one-node cluster.
	Peers []Peer
	// Restore is the path of a backup (seat backup) to start a new
	// one-node cluster from (--restore): DataDir must be empty, and
	// neither Peers nor Join be set. Other nodes then join it.
	Restore string
	// Join is the node-to-node address of any member of a running
	// cluster (--join). A node with an empty DataDir asks it to be added
	// (as a non-voter first, a voter once caught up) instead of
	// bootstrapping; a node with state ignores it. Excludes Peers.
	Join string
	// Seats is the seat count of a cluster this node creates. A cluster
	// that exists keeps the count it was created with.
	Seats int

	// Raft timings. The defaults suit a LAN: a dead leader is replaced in
	// about a second.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is how many new log entries trigger a snapshot;
	// SnapshotInterval how often that is checked; TrailingLogs how many
	// entries are kept after a snapshot for slow followers.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// LeaderWait is how long a request waits for a leader during an
	// election before it is answered ERROR NO_LEADER.
	LeaderWait time.Duration
	// RequestTimeout bounds how long a request may wait to be sent to the
	// log (queues, leader wait, retries) before it is answered ERROR
	// TIMEOUT. A write already in the log is answered when its entry
	// commits or when leadership is lost; a follower gives the leader
	// RequestTimeout plus 2s to answer a forwarded request.
	RequestTimeout time.Duration
	// IdleTimeout closes client connections that send nothing for so long.
	IdleTimeout time.Duration
	// MaxInFlight is how many requests one client connection may have
	// unanswered before the node stops reading from it (back-pressure).
	MaxInFlight int

	// TLS on the client port: certificate and key (both or neither), and
	// optionally the CA that signs client certificates, which makes
	// certificates mandatory and their Common Name the client's identity.
	TLSCert, TLSKey, TLSClientCA string
	// Mutual TLS on the node-to-node port (all three or none).
	PeerCert, PeerKey, PeerCA string

	// Limits against abuse.
	// MaxConns is the most client connections served at once; one more
	// is answered ERROR BUSY and closed.
	MaxConns int
	// LineTimeout is how long a client may take to finish a line it has
	// started (slow senders are cut off).
	LineTimeout time.Duration
	// HandshakeTimeout bounds a client's TLS handshake.
	HandshakeTimeout time.Duration

	// HTTP, when set, is the address of the node's HTTP port (--http):
	// /status, /healthz, /readyz, /metrics and the JSON read API.
	HTTP string

	// PprofAddr, when set, serves Go's profiling endpoints there.
	PprofAddr string

	// ClockProbeInterval is how often the node asks every other member
	// for its clock (cluster.ClockWatch; seatd_peer_clock_offset_seconds).
	ClockProbeInterval time.Duration

	// ShareCPUs lets the node size the Go scheduler (GOMAXPROCS) to its
	// share of the machine when other members of its cluster run on the
	// same machine: a node on a loopback address counts the members on
	// loopback addresses and takes the CPUs the runtime would give it
	// divided by that count (cpushare.go). It overrides a GOMAXPROCS set
	// before, and undoes what it set when the node closes. seatd sets it
	// unless the GOMAXPROCS environment variable holds a positive number;
	// nodes of a test, which share one process, leave it off.
	ShareCPUs bool

	// Logger receives every log line, Raft's included.
	Logger hclog.Logger

	// RaftListener, when set, is used instead of listening on Raft (tests
	// pass pre-opened 127.0.0.1:0 listeners so that addresses are known
	// before the nodes start).
	RaftListener net.Listener
	// ClientListener, when set, is used instead of listening on Listen.
	ClientListener net.Listener
}

// DefaultConfig returns a Config with every tunable at its default.
func DefaultConfig() Config {
	return Config{
		Seats:              5,
		LogStore:           replica.LogStoreAuto,
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		SnapshotThreshold:  8192,
		SnapshotInterval:   30 * time.Second,
		TrailingLogs:       10240,
		LeaderWait:         3 * time.Second,
		RequestTimeout:     5 * time.Second,
		IdleTimeout:        5 * time.Minute,
		MaxInFlight:        1024,
		MaxConns:           10000,
		LineTimeout:        10 * time.Second,
		HandshakeTimeout:   10 * time.Second,
		ClockProbeInterval: 10 * time.Second,
	}
}

// Errors returned by Validate.
var (
	ErrConfig = errors.New("node: invalid configuration")
)

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if c.ID == "" || strings.ContainsAny(c.ID, " \t\n=,") {
		return bad("--id must be non-empty without spaces, '=' or ','")
	}
	if c.Listen == "" && c.ClientListener == nil {
		return bad("--listen is required")
	}
	if c.Raft == "" && c.RaftListener == nil {
		return bad("--raft is required")
	}
	if c.DataDir == "" {
		return bad("--data is required")
	}
	if c.RaftAdvertise == "" {
		c.RaftAdvertise = c.Raft
		if c.RaftListener != nil {
			c.RaftAdvertise = c.RaftListener.Addr().String()
		}
	}
	host, _, err := net.SplitHostPort(c.RaftAdvertise)
	if err != nil {
		return bad("raft address %q: %v", c.RaftAdvertise, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return bad("raft address %q is not one other nodes can dial; give a concrete host", c.RaftAdvertise)
	}
	if c.LogStore != replica.LogStoreAuto && c.LogStore != replica.LogStoreBolt && c.LogStore != replica.LogStoreWAL {
		return bad("--log-store must be %q or %q, not %q", replica.LogStoreBolt, replica.LogStoreWAL, c.LogStore)
	}
	if c.Seats < 1 || c.Seats > 1_000_000 {
		return bad("--seats must be from 1 to 1000000, not %d", c.Seats)
	}
	if len(c.Peers) > 0 {
		seen := map[string]bool{}
		self := false
		for _, p := range c.Peers {
			if p.ID == "" || p.Addr == "" {
				return bad("--peers entry %q=%q is incomplete", p.ID, p.Addr)
			}
			if seen[p.ID] {
				return bad("--peers names %q twice", p.ID)
			}
			seen[p.ID] = true
			if p.ID == c.ID {
				self = true
				if p.Addr != c.RaftAdvertise {
					return bad("--peers gives %s the address %s but its raft address is %s", p.ID, p.Addr, c.RaftAdvertise)
				}
			}
		}
		if !self {
			return bad("--peers must include this node (%s)", c.ID)
		}
	}
	if c.Restore != "" && (len(c.Peers) > 0 || c.Join != "") {
		return bad("--restore starts a new one-node cluster from a backup: without --peers or --join (add the other nodes with --join afterwards)")
	}
	if c.Join != "" {
		if len(c.Peers) > 0 {
			return bad("--join and --peers exclude each other: --peers bootstraps a new cluster, --join enters a running one")
		}
		if _, _, err := net.SplitHostPort(c.Join); err != nil {
			return bad("--join %q: %v", c.Join, err)
		}
		if !replica.ValidJoinID(c.ID) {
			return bad("--id %q: a node that joins needs an id of 1 to 64 characters from A-Z a-z 0-9 . _ - (the leader refuses any other)", c.ID)
		}
	}
	if c.HeartbeatTimeout <= 0 || c.ElectionTimeout <= 0 || c.LeaderLeaseTimeout <= 0 {
		return bad("raft timeouts must be positive")
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return bad("election timeout (%s) must not be below the heartbeat timeout (%s)", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return bad("leader lease timeout (%s) must not exceed the heartbeat timeout (%s)", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderWait <= 0 || c.RequestTimeout <= 0 || c.IdleTimeout <= 0 {
		return bad("leader wait, request timeout and idle timeout must be positive")
	}
	if c.MaxInFlight < 1 || c.MaxConns < 1 {
		return bad("--max-inflight and --max-conns must be at least 1")
	}
	if c.LineTimeout <= 0 || c.HandshakeTimeout <= 0 {
		return bad("--line-timeout and --handshake-timeout must be positive")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return bad("--tls-cert and --tls-key go together")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return bad("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if n := countSet(c.PeerCert, c.PeerKey, c.PeerCA); n != 0 && n != 3 {
		return bad("--peer-cert, --peer-key and --peer-ca go together")
	}
	if c.SnapshotThreshold < 1 || c.SnapshotInterval <= 0 {
		return bad("snapshot threshold and interval must be positive")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return nil
}

// ParsePeers parses "id=host:port,id=host:port".
func ParsePeers(s string) ([]Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var peers []Peer
	for _, item := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("%w: --peers entry %q is not id=host:port", ErrConfig, item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%w: --peers entry %q: %v", ErrConfig, item, err)
		}
		peers = append(peers, Peer{ID: id, Addr: addr})
	}
	return peers, nil
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
