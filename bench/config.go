package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/seatd/seatd/protocol"
)

// Targets: which nodes the clients connect to.
const (
	// TargetAll spreads the clients round robin over all addresses.
	TargetAll = "all"
	// TargetLeader puts every client on the current leader.
	TargetLeader = "leader"
	// TargetFollower puts every client on one follower.
	TargetFollower = "follower"
)

// Workloads: what the clients send.
const (
	// WorkloadDistinct reserves a never-booked seat with every request.
	WorkloadDistinct = "distinct"
	// WorkloadContention makes all clients fight over seats 1–5,
	// reserving and cancelling them.
	WorkloadContention = "contention"
	// WorkloadMixed sends half STATUS of booked seats, half distinct RESERVEs.
	WorkloadMixed = "mixed"
	// WorkloadRead sends STATUS of random seats 1..min(Seats, 1000).
	WorkloadRead = "read"
	// WorkloadFailover reserves never-booked seats through the Go client
	// library, which retries across nodes with an id on every write: what
	// an application sees while nodes fail or restart. Target all and
	// pipeline 1 only.
	WorkloadFailover = "failover"
)

// Defaults applied by Run to zero Config fields (Warmup excepted: zero
// means no warm-up).
const (
	DefaultTarget    = TargetAll
	DefaultWorkload  = WorkloadDistinct
	DefaultClients   = 16
	DefaultPipeline  = 1
	DefaultDuration  = 10 * time.Second
	DefaultSeatStart = 1
	DefaultSeats     = 1_000_000
)

// MaxPipeline bounds Config.Pipeline. (A node stops reading a connection
// with more unanswered requests than its --max-inflight, 1024 by default.)
const MaxPipeline = 4096

// contentionSeats is the number of seats (1..contentionSeats) the
// contention workload fights over.
const contentionSeats = 5

// readSeats bounds the seats the read workload asks about.
const readSeats = 1000

// maxSeat is the largest seat number the protocol can name.
const maxSeat = 1 << 31

// Config describes one benchmark run.
type Config struct {
	// Addrs are the client addresses (host:port) of the cluster's nodes.
	Addrs []string
	// IDs are the node ids of Addrs, in the same order; they map the id
	// that LEADER names to an address for TargetLeader and
	// TargetFollower. Default: n1, n2, ... in address order, as
	// scripts/cluster.sh names its nodes.
	IDs []string
	// Target is TargetAll, TargetLeader or TargetFollower.
	Target string
	// Workload is one of the Workload* constants.
	Workload string
	// Clients is the number of connections, each with its own load.
	Clients int
	// Pipeline is the most requests a connection has in flight.
	Pipeline int
	// Duration is how long the run is measured, after the warm-up.
	Duration time.Duration
	// Warmup is how long the load runs before measuring starts.
	Warmup time.Duration
	// SeatStart and Seats are the seat space of the distinct RESERVEs:
	// they book SeatStart, SeatStart+1, ..., never one twice, and the run
	// fails when all Seats of them are used. The cluster must have at
	// least SeatStart+Seats-1 seats. The read workload asks about seats
	// 1..min(Seats, 1000).
	SeatStart, Seats int
	// Event, when set, is the event every request names (event=); the
	// default event otherwise. The event must exist and have the seats.
	Event string
	// TLS, when set, makes every connection TLS (each address is checked
	// against its own host unless ServerName is set); nil is plaintext.
	TLS *tls.Config
	// DialTimeout bounds each connection attempt; default 5s.
	DialTimeout time.Duration
	// CPUPids, when set, are the nodes' process ids (on this machine):
	// their CPU time over the measured window goes into the result, and
	// divided by the committed operations, the server CPU per operation.
	CPUPids []int
	// FlushProbeDir, when set, runs the disk-flush probe beside the load
	// on a file in that directory (put it on the nodes' disk).
	FlushProbeDir string
	// Think is the on-sale workload's think time between a buyer's HOLD
	// and its RESERVE; default DefaultThink.
	Think time.Duration
	// DrainTimeout bounds how long, at the end, the clients wait for the
	// answers still outstanding (which are not counted) before closing
	// their connections; default 2s.
	DrainTimeout time.Duration
}

// withDefaults returns c with defaults applied, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	c.Addrs = slices.Clone(c.Addrs)
	c.IDs = slices.Clone(c.IDs)
	if c.Workload == WorkloadOnSale {
		// A sale has its own shape: many buyers, one small event, and a
		// run that lasts until it is sold out (Duration bounds it).
		if c.Clients == 0 {
			c.Clients = DefaultOnSaleClients
		}
		if c.Seats == 0 {
			c.Seats = DefaultOnSaleSeats
		}
		if c.Duration == 0 {
			c.Duration = DefaultOnSaleTimeout
		}
		if c.Think == 0 {
			c.Think = DefaultThink
		}
	}
	if c.Target == "" {
		c.Target = DefaultTarget
	}
	if c.Workload == "" {
		c.Workload = DefaultWorkload
	}
	if c.Clients == 0 {
		c.Clients = DefaultClients
	}
	if c.Pipeline == 0 {
		c.Pipeline = DefaultPipeline
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.SeatStart == 0 {
		c.SeatStart = DefaultSeatStart
	}
	if c.Seats == 0 {
		c.Seats = DefaultSeats
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 2 * time.Second
	}

	if len(c.Addrs) == 0 {
		return c, errors.New("no node address")
	}
	for _, a := range c.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return c, fmt.Errorf("address %q: %w", a, err)
		}
	}
	if len(c.IDs) == 0 {
		for i := range c.Addrs {
			c.IDs = append(c.IDs, "n"+strconv.Itoa(i+1))
		}
	}
	if len(c.IDs) != len(c.Addrs) {
		return c, fmt.Errorf("%d node ids for %d addresses: give one id per address, in address order", len(c.IDs), len(c.Addrs))
	}
	for i, id := range c.IDs {
		if id == "" {
			return c, fmt.Errorf("node id %d is empty", i+1)
		}
		if slices.Index(c.IDs, id) != i {
			return c, fmt.Errorf("node id %q given twice", id)
		}
	}
	switch c.Target {
	case TargetAll, TargetLeader:
	case TargetFollower:
		if len(c.Addrs) < 2 {
			return c, errors.New("target follower needs the addresses of at least two nodes")
		}
	default:
		return c, fmt.Errorf("unknown target %q (want all, leader or follower)", c.Target)
	}
	switch c.Workload {
	case WorkloadDistinct, WorkloadContention, WorkloadMixed, WorkloadRead:
	case WorkloadFailover, WorkloadOnSale:
		if c.Target != TargetAll || c.Pipeline != 1 {
			return c, fmt.Errorf("the %s workload runs with target all and pipeline 1 (the client library chooses the node)", c.Workload)
		}
		if c.Workload == WorkloadOnSale && (c.Seats < maxGroup || c.Seats > protocol.MaxEventSeats || c.Think < 0 || c.Warmup != 0) {
			return c, fmt.Errorf("the onsale workload needs %d to %d seats, a think time of 0 or more, and no warm-up (the sale is measured whole)",
				maxGroup, protocol.MaxEventSeats)
		}
	default:
		return c, fmt.Errorf("unknown workload %q (want distinct, contention, mixed, read, failover or onsale)", c.Workload)
	}
	switch {
	case c.Clients < 0:
		return c, fmt.Errorf("clients %d: want at least 1", c.Clients)
	case c.Pipeline < 0 || c.Pipeline > MaxPipeline:
		return c, fmt.Errorf("pipeline %d: want 1 to %d", c.Pipeline, MaxPipeline)
	case c.Duration < 0:
		return c, fmt.Errorf("negative duration %v", c.Duration)
	case c.Warmup < 0:
		return c, fmt.Errorf("negative warm-up %v", c.Warmup)
	case c.DialTimeout < 0 || c.DrainTimeout < 0:
		return c, errors.New("negative dial or drain timeout")
	case c.SeatStart < 1:
		return c, fmt.Errorf("seat start %d: seats are numbered from 1", c.SeatStart)
	case c.Seats < 1:
		return c, fmt.Errorf("seats %d: want at least 1", c.Seats)
	case c.Event != "" && !protocol.ValidEventName(c.Event):
		return c, fmt.Errorf("event name %q: want 1-64 of A-Z a-z 0-9 . _ -", c.Event)
	case int64(c.SeatStart)+int64(c.Seats)-1 > maxSeat:
		return c, fmt.Errorf("seat space %d..%d goes beyond the largest seat number %d",
			c.SeatStart, int64(c.SeatStart)+int64(c.Seats)-1, int64(maxSeat))
	}
	return c, nil
}
