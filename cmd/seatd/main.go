// Command seatd runs one node of a seatd cluster: a replicated seat
// reservation service whose nodes agree through Raft. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/node"
	"github.com/seatd/seatd/replica"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "migrate-log-store" {
		migrateLogStore(os.Args[2:])
		return
	}
	cfg := node.DefaultConfig()
	fs := flag.NewFlagSet("seatd", flag.ExitOnError)
	fs.StringVar(&cfg.ID, "id", "", "this node's id, unique in the cluster (required)")
	fs.StringVar(&cfg.Listen, "listen", "", "client protocol address host:port (required)")
	fs.StringVar(&cfg.Raft, "raft", "", "node-to-node address host:port for Raft and forwarding (required)")
	fs.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "node-to-node address other nodes dial (default: --raft)")
	fs.StringVar(&cfg.DataDir, "data", "", "data directory for the Raft log and snapshots (required)")
	fs.StringVar(&cfg.LogStore, "log-store", cfg.LogStore, "Raft log store: wal (hashicorp/raft-wal, one fsync per append) or boltdb (hashicorp/raft-boltdb, two); default: the kind --data holds, wal in a new one")
	peers := fs.String("peers", "", "initial members id=host:port,... including this node; used only when --data is empty")
	fs.StringVar(&cfg.Restore, "restore", "", "backup file (seat backup) to start a new one-node cluster from, on an empty --data")
	fs.StringVar(&cfg.Join, "join", "", "raft address of any member of a running cluster: a node with an empty --data joins it (instead of --peers)")
	fs.IntVar(&cfg.Seats, "seats", cfg.Seats, "seat count of a new cluster (fixed at creation)")
	fs.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", cfg.HeartbeatTimeout, "Raft: time without leader contact before a follower starts an election")
	fs.DurationVar(&cfg.ElectionTimeout, "election-timeout", cfg.ElectionTimeout, "Raft: time a candidate waits for votes before retrying")
	fs.DurationVar(&cfg.LeaderLeaseTimeout, "leader-lease-timeout", cfg.LeaderLeaseTimeout, "Raft: time a leader keeps leading without hearing from a majority")
	fs.Uint64Var(&cfg.SnapshotThreshold, "snapshot-threshold", cfg.SnapshotThreshold, "new log entries that trigger a snapshot")
	fs.DurationVar(&cfg.SnapshotInterval, "snapshot-interval", cfg.SnapshotInterval, "how often the snapshot threshold is checked")
	fs.Uint64Var(&cfg.TrailingLogs, "trailing-logs", cfg.TrailingLogs, "log entries kept after a snapshot for slow followers")
	fs.DurationVar(&cfg.LeaderWait, "leader-wait", cfg.LeaderWait, "how long a request waits for a leader before ERROR NO_LEADER")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", cfg.RequestTimeout, "longest time a request may take before ERROR TIMEOUT")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "close client connections idle for this long")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight", cfg.MaxInFlight, "unanswered requests per connection before the node stops reading it")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "client port: TLS certificate (PEM); the port then speaks TLS only")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "client port: TLS private key (PEM)")
	fs.StringVar(&cfg.TLSClientCA, "tls-client-ca", "", "client port: require client certificates signed by this CA; their Common Name is the client's identity")
	fs.StringVar(&cfg.PeerCert, "peer-cert", "", "node-to-node port: this node's certificate (names the --raft host); all node traffic becomes mutual TLS")
	fs.StringVar(&cfg.PeerKey, "peer-key", "", "node-to-node port: this node's private key")
	fs.StringVar(&cfg.PeerCA, "peer-ca", "", "node-to-node port: CA that signs every node's certificate")
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "client connections served at once; more are answered ERROR BUSY and closed")
	fs.DurationVar(&cfg.LineTimeout, "line-timeout", cfg.LineTimeout, "time a client may take to finish a line it started")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", cfg.HandshakeTimeout, "time a client may take for its TLS handshake")
	fs.StringVar(&cfg.HTTP, "http", "", "HTTP port host:port: /status, /healthz, /readyz, /metrics and the JSON read API; off by default")
	fs.StringVar(&cfg.PprofAddr, "pprof", "", "serve Go profiling endpoints on this address (e.g. 127.0.0.1:6060); off by default")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	logJSON := fs.Bool("log-json", false, "log one JSON object per line (for log shippers) instead of text")
	fs.Parse(os.Args[1:])

	var err error
	if cfg.Peers, err = node.ParsePeers(*peers); err != nil {
		fmt.Fprintln(os.Stderr, "seatd:", err)
		os.Exit(2)
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(os.Stderr, "seatd: unknown --log-level %q\n", *logLevel)
		os.Exit(2)
	}
	// A GOMAXPROCS the user chose is kept; otherwise a node shares the
	// machine's CPUs with the members that run beside it. Like the Go
	// runtime, only a positive number counts as chosen.
	procs, notANumber := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	cfg.ShareCPUs = notANumber != nil || procs <= 0
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "seatd", Level: level, Output: os.Stderr, JSONFormat: *logJSON})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := node.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "seatd:", err)
		if errors.Is(err, node.ErrConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// migrateLogStore is "seatd migrate-log-store": it converts a stopped
// node's Raft log store to the other kind (see replica.MigrateLogStore).
func migrateLogStore(args []string) {
	fs := flag.NewFlagSet("seatd migrate-log-store", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: seatd migrate-log-store --data DIR [--to wal|boltdb]\n\n"+
			"Converts a stopped node's Raft log and stable store to the other kind, offline.\n"+
			"The old store is kept beside the new one under a name no node opens.")
		fs.PrintDefaults()
	}
	dir := fs.String("data", "", "data directory of a stopped node (required)")
	to := fs.String("to", "", "log store to convert to: wal or boltdb (default: the kind --data does not hold)")
	fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	if *to == "" {
		from, err := replica.DetectLogStore(*dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "seatd migrate-log-store:", err)
			os.Exit(2)
		}
		*to = replica.LogStoreWAL
		if from == replica.LogStoreWAL {
			*to = replica.LogStoreBolt
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	m, err := replica.MigrateLogStore(ctx, *dir, *to, func(line string) { fmt.Fprintln(os.Stderr, line) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "seatd migrate-log-store:", err)
		if errors.Is(err, replica.ErrConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	fmt.Printf("migrated %s from %s to %s: %d log entries (%d..%d, %d bytes) in %s; the old store is kept at %s\n",
		*dir, m.From, m.To, m.Entries, m.First, m.Last, m.Bytes, m.Took.Round(time.Millisecond), m.Kept)
}
