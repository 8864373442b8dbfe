// Command seat is the command-line client of a seatd cluster.
//
//	seat [--addr host:port[,host:port...]] [--timeout 15s] [--ca F [--cert F --key F]]
//	     [--event NAME] [--ttl SECONDS] <VERB> [args...]
//	seat [--addr ...] [--timeout ...] [--ca ...] [--event NAME]
//	seat [--addr ...] bench [bench flags]
//	seat certs ca|node|client [flags]
//	seat cluster [--raft ...] list|remove <id> [--force]
//	seat backup [--raft ...] <file>
//
// With a verb it sends one request (the arguments joined by spaces, with
// --event and --ttl, which may also follow the verb, turned into event= and
// ttl=), prints the response line and exits 0 for SUCCESS, FREE, BOOKED,
// HELD, SEATS, LEADER, EVENTS and HISTORY, 1 for FAILED_* and
// INVALID_COMMAND, 2 for ERROR, no reachable node, or a usage error. Without
// one it runs an interactive session: on a terminal with line editing,
// history and help (client.RunTerminal), otherwise reading lines from stdin
// like the seed's client (client.RunPrompt). The addresses are tried in
// turn when a node is down.
//
// --ca (the CA that signs the nodes' certificates) makes the client speak
// TLS, checking each address against its node's certificate; --cert and
// --key add a client certificate for nodes that require one (mutual TLS),
// whose Common Name is the identity the client acts as.
//
// "seat certs" creates a development CA and node and client certificates
// (package certs; see "seat certs help").
//
// "seat bench" runs the load generator of package bench against the
// cluster and prints what it measured (a table, or JSON with --json); see
// "seat bench --help" and scripts/bench.sh.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/seatd/seatd/bench"
	"github.com/seatd/seatd/certs"
	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/cluster"
	"golang.org/x/term"
)

// defaultAddrs is the local three-node cluster of scripts/cluster.sh.
const defaultAddrs = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"

func main() {
	addrs := flag.String("addr", defaultAddrs, "comma-separated client addresses of the nodes, tried in turn")
	timeout := flag.Duration("timeout", client.DefaultRetryFor, "how long a request keeps being retried across nodes")
	caFile := flag.String("ca", "", "PEM file of the CA that signs the nodes' certificates: connect over TLS")
	certFile := flag.String("cert", "", "PEM file of the client certificate, for nodes that require one (with --key)")
	keyFile := flag.String("key", "", "PEM file of the client certificate's key (with --cert)")
	event := flag.String("event", "", "event of the requests that name seats (default: the default event); also accepted after the verb")
	ttl := flag.String("ttl", "", "time to live of a HOLD: seconds (120) or a duration (2m); also accepted after the verb")
	flag.Usage = func() {
		w := flag.CommandLine.Output()
		fmt.Fprintf(w, "usage:\n"+
			"  seat [flags] <VERB> [args...]      send one request, print the response line\n"+
			"  seat [flags]                       interactive prompt\n"+
			"  seat [flags] bench [bench flags]   load the cluster and measure it (seat bench --help)\n"+
			"  seat certs ca|node|client [flags]  create a development CA and certificates (seat certs help)\n"+
			"  seat cluster list|remove <id>      show or change the membership (seat cluster --help)\n"+
			"  seat backup <file>                 copy the leader's state to a file (seatd --restore)\n"+
			"verbs: RESERVE|CANCEL <seats> [<holder>], HOLD <seats> <holder>, STATUS [<seat>],\n"+
			"       HISTORY <seat>, EVENT CREATE <name> <N>|DELETE <name>|LIST, LEADER\n"+
			"       <seats>: 3 or 3,4,9 or 10-20 or 3,10-20 (at most 100); \"seat help\" explains each\n"+
			"e.g.:  seat --event gala hold 3,4 alice --ttl 120; seat event create gala 5000\n"+
			"exit status: 0 done, 1 FAILED_* or INVALID_COMMAND, 2 ERROR, no reachable node or bad usage\n"+
			"TLS: --ca F connects over TLS; --cert F --key F add a client certificate (mutual TLS)\n"+
			"flags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	useTLS := *caFile != "" || *certFile != "" || *keyFile != ""
	if args := flag.Args(); len(args) > 0 {
		switch args[0] {
		case "certs":
			os.Exit(certs.RunCLI(args[1:], os.Stdout, os.Stderr))
		case "cluster":
			os.Exit(cluster.RunCLI(args[1:], os.Stdout, os.Stderr))
		case "backup":
			os.Exit(cluster.RunBackupCLI(args[1:], os.Stdout, os.Stderr))
		case "bench":
			var tlsCfg *tls.Config
			if useTLS {
				var err error
				if tlsCfg, err = client.LoadTLS(*caFile, *certFile, *keyFile); err != nil {
					fmt.Fprintf(os.Stderr, "seat bench: %v\n", err)
					os.Exit(2)
				}
			}
			os.Exit(runBench(*addrs, tlsCfg, args[1:]))
		}
	}
	cfg := client.Config{Addrs: splitList(*addrs), RetryFor: *timeout}
	if useTLS {
		tlsCfg, err := client.LoadTLS(*caFile, *certFile, *keyFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "seat: %v\n", err)
			os.Exit(2)
		}
		cfg.TLS = tlsCfg
	}
	os.Exit(run(cfg, *event, *ttl, flag.Args()))
}

// runBench parses the flags of "seat bench", runs the benchmark and prints
// its result. It returns the exit status: 0 when the run completed, 2 when
// it failed.
func runBench(addrs string, tlsCfg *tls.Config, args []string) int {
	fs := flag.NewFlagSet("seat bench", flag.ContinueOnError)
	addrFlag := fs.String("addr", addrs, "comma-separated client addresses of the nodes, in node order (see --ids)")
	ids := fs.String("ids", "", "comma-separated node ids of the --addr addresses, in the same order (default n1,n2,... as scripts/cluster.sh)")
	workload := fs.String("workload", bench.DefaultWorkload, "distinct, contention, mixed, read, failover or onsale")
	target := fs.String("target", bench.DefaultTarget, "all (clients round robin over all nodes), leader or follower (all clients on one node)")
	clients := fs.Int("clients", bench.DefaultClients, "connections, each with its own load")
	pipeline := fs.Int("pipeline", bench.DefaultPipeline, "requests in flight per connection")
	duration := fs.Duration("duration", bench.DefaultDuration, "measured time, after the warm-up")
	warmup := fs.Duration("warmup", 2*time.Second, "load time before measuring starts")
	seatStart := fs.Int("seat-start", bench.DefaultSeatStart, "first seat of the distinct RESERVEs")
	seats := fs.Int("seats", bench.DefaultSeats, "size of the distinct seat space; the cluster needs --seat-start + --seats - 1 seats")
	asJSON := fs.Bool("json", false, "print the result as JSON (for benchreport) instead of a table")
	cpuPids := fs.String("cpu-pids", "", "comma-separated process ids of the nodes on this machine: report their CPU time per committed operation")
	flushProbe := fs.String("flush-probe", "", "beside the load, time 700-byte appends with fdatasync every 5 ms in this directory (put it on the nodes' disk) and report them")
	event := fs.String("event", "", "event every request names (default: the default event); it must exist with the seats")
	think := fs.Duration("think", bench.DefaultThink, "onsale: a buyer's think time between its HOLD and its RESERVE")
	fillEvents := fs.Int("fill-events", 0, "before the run, create this many events fill-0001, ... (kept if they exist)")
	fillSeats := fs.Int("fill-event-seats", 10_000, "seats of each --fill-events event")
	fillBooked := fs.Int("fill-booked", 0, "before the run, book this many seats spread at random over the --fill-events events")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: seat [--addr ...] bench [flags]\n"+
			"Loads the cluster over the raw protocol for --warmup plus --duration and prints\n"+
			"committed ops/s, answers by kind and latency percentiles of the --duration part.\n"+
			"workloads: distinct (RESERVE never-booked seats), contention (RESERVE/CANCEL seats 1-5),\n"+
			"           mixed (half STATUS of booked seats, half distinct), read (STATUS of seats 1..1000),\n"+
			"           failover (distinct RESERVEs through the Go client, which retries across nodes),\n"+
			"           onsale (a sale's opening: --clients buyers, 2000 by default, each HOLDs and\n"+
			"           RESERVEs a block of 1-4 adjacent seats of a new event of --seats seats, 500 by\n"+
			"           default, until it sells out; --duration bounds it, 5m by default)\n"+
			"flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "seat bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *clients < 1 || *pipeline < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "seat bench: --clients, --pipeline and --duration must be positive")
		return 2
	}
	var pids []int
	for _, p := range splitList(*cpuPids) {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			fmt.Fprintf(os.Stderr, "seat bench: --cpu-pids: %q is not a process id\n", p)
			return 2
		}
		pids = append(pids, pid)
	}
	if *workload == bench.WorkloadOnSale {
		// The sale's own defaults for what the command line leaves unset.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*int{"clients": clients, "seats": seats} {
			if !set[name] {
				*v = 0
			}
		}
		if !set["duration"] {
			*duration = bench.DefaultOnSaleTimeout
		}
		if !set["warmup"] {
			*warmup = 0
		}
	}
	cfg := bench.Config{
		Addrs:         splitList(*addrFlag),
		IDs:           splitList(*ids),
		Target:        *target,
		Workload:      *workload,
		Clients:       *clients,
		Pipeline:      *pipeline,
		Duration:      *duration,
		Warmup:        *warmup,
		SeatStart:     *seatStart,
		Seats:         *seats,
		Event:         *event,
		TLS:           tlsCfg,
		FlushProbeDir: *flushProbe,
		CPUPids:       pids,
		Think:         *think,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *fillEvents > 0 {
		fill, err := bench.Fill(ctx, bench.FillConfig{Addrs: cfg.Addrs, TLS: tlsCfg, Events: *fillEvents, EventSeats: *fillSeats, Booked: *fillBooked})
		if err != nil {
			fmt.Fprintf(os.Stderr, "seat bench: %v\n", err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "filled: %d events of %d seats, %d seats booked, %d requests in %s\n",
			*fillEvents, *fillSeats, *fillBooked, fill.Requests, fill.Duration.Round(time.Millisecond))
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		// The package's errors start with its name: said once.
		fmt.Fprintf(os.Stderr, "seat bench: %s\n", strings.TrimPrefix(err.Error(), "bench: "))
		return 2
	}
	if *asJSON {
		out, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			fmt.Fprintf(os.Stderr, "seat bench: %v\n", err)
			return 2
		}
		fmt.Println(string(out))
		return 0
	}
	fmt.Print(res.Text())
	return 0
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var list []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			list = append(list, a)
		}
	}
	return list
}

// run does the work of main and returns the exit status, so that deferred
// calls run before os.Exit.
func run(cfg client.Config, event, ttl string, args []string) int {
	if len(args) > 0 && strings.EqualFold(args[0], "help") {
		fmt.Print(client.Help(strings.Join(args[1:], " ")))
		return 0
	}
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat: %v\n", err)
		return 2
	}
	defer c.Close()
	ctx := context.Background()

	if len(args) == 0 {
		if ttl != "" {
			fmt.Fprintln(os.Stderr, "seat: --ttl applies to one HOLD, not to a session")
			return 2
		}
		if err := interact(ctx, c, event); err != nil {
			fmt.Fprintf(os.Stderr, "seat: %v\n", err)
			return 2
		}
		return 0
	}
	// Subcommands ("bench", "certs") are dispatched by main; anything else
	// is a request.
	words := args
	if event != "" {
		words = append(words, "--event", event)
	}
	if ttl != "" {
		words = append(words, "--ttl", ttl)
	}
	line, err := client.CommandLine(words, "", 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat: %v\n", err)
		return 2
	}
	resp, err := c.Do(ctx, line)
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat: %v\n", err)
	} else {
		fmt.Println(resp)
	}
	return client.ExitCode(resp, err)
}

// interact runs the interactive session: with line editing when stdin and
// stdout are a terminal, plain lines otherwise.
func interact(ctx context.Context, c *client.Client, event string) error {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) || !term.IsTerminal(int(os.Stdout.Fd())) {
		in := io.Reader(os.Stdin)
		if event != "" {
			in = io.MultiReader(strings.NewReader("use "+event+"\n"), os.Stdin)
		}
		return client.RunPrompt(ctx, c, in, os.Stdout)
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer term.Restore(fd, old)
	rw := struct {
		io.Reader
		io.Writer
	}{os.Stdin, os.Stdout}
	return client.RunTerminal(ctx, c, rw, event)
}
