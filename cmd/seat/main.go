// Command seat is the command-line client of a seatd cluster.
//
//	seat [--addr host:port[,host:port...]] [--timeout 15s] [--ca F [--cert F --key F]] <VERB> [args...]
//	seat [--addr ...] [--timeout ...] [--ca ...]
//	seat [--addr ...] bench [bench flags]
//	seat certs ca|node|client [flags]
//
// With a verb it sends one request (the arguments joined by spaces), prints
// the response line and exits 0 for SUCCESS/FREE/BOOKED/SEATS/LEADER, 1 for
// FAILED_* and INVALID_COMMAND, 2 for ERROR or no reachable node. Without
// one it runs an interactive prompt on stdin. Flags come before the verb.
// The addresses are tried in turn when a node is down.
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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/seatd/seatd/bench"
	"github.com/seatd/seatd/certs"
	"github.com/seatd/seatd/client"
)

// defaultAddrs is the local three-node cluster of scripts/cluster.sh.
const defaultAddrs = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"

func main() {
	addrs := flag.String("addr", defaultAddrs, "comma-separated client addresses of the nodes, tried in turn")
	timeout := flag.Duration("timeout", client.DefaultRetryFor, "how long a request keeps being retried across nodes")
	caFile := flag.String("ca", "", "PEM file of the CA that signs the nodes' certificates: connect over TLS")
	certFile := flag.String("cert", "", "PEM file of the client certificate, for nodes that require one (with --key)")
	keyFile := flag.String("key", "", "PEM file of the client certificate's key (with --cert)")
	flag.Usage = func() {
		w := flag.CommandLine.Output()
		fmt.Fprintf(w, "usage:\n"+
			"  seat [flags] <VERB> [args...]      send one request, print the response line\n"+
			"  seat [flags]                       interactive prompt\n"+
			"  seat [flags] bench [bench flags]   load the cluster and measure it (seat bench --help)\n"+
			"  seat certs ca|node|client [flags]  create a development CA and certificates (seat certs help)\n"+
			"verbs: RESERVE <seat> [<holder>] [id=<id>], CANCEL <seat> [<holder>] [id=<id>],\n"+
			"       STATUS [<seat>], LEADER\n"+
			"exit status: 0 done, 1 FAILED_* or INVALID_COMMAND, 2 ERROR or no reachable node\n"+
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
	os.Exit(run(cfg, flag.Args()))
}

// runBench parses the flags of "seat bench", runs the benchmark and prints
// its result. It returns the exit status: 0 when the run completed, 2 when
// it failed.
func runBench(addrs string, tlsCfg *tls.Config, args []string) int {
	fs := flag.NewFlagSet("seat bench", flag.ContinueOnError)
	addrFlag := fs.String("addr", addrs, "comma-separated client addresses of the nodes, in node order (see --ids)")
	ids := fs.String("ids", "", "comma-separated node ids of the --addr addresses, in the same order (default n1,n2,... as scripts/cluster.sh)")
	workload := fs.String("workload", bench.DefaultWorkload, "distinct, contention, mixed or read")
	target := fs.String("target", bench.DefaultTarget, "all (clients round robin over all nodes), leader or follower (all clients on one node)")
	clients := fs.Int("clients", bench.DefaultClients, "connections, each with its own load")
	pipeline := fs.Int("pipeline", bench.DefaultPipeline, "requests in flight per connection")
	duration := fs.Duration("duration", bench.DefaultDuration, "measured time, after the warm-up")
	warmup := fs.Duration("warmup", 2*time.Second, "load time before measuring starts")
	seatStart := fs.Int("seat-start", bench.DefaultSeatStart, "first seat of the distinct RESERVEs")
	seats := fs.Int("seats", bench.DefaultSeats, "size of the distinct seat space; the cluster needs --seat-start + --seats - 1 seats")
	asJSON := fs.Bool("json", false, "print the result as JSON (for benchreport) instead of a table")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: seat [--addr ...] bench [flags]\n"+
			"Loads the cluster over the raw protocol for --warmup plus --duration and prints\n"+
			"committed ops/s, answers by kind and latency percentiles of the --duration part.\n"+
			"workloads: distinct (RESERVE never-booked seats), contention (RESERVE/CANCEL seats 1-5),\n"+
			"           mixed (half STATUS of booked seats, half distinct), read (STATUS of seats 1..1000)\n"+
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
	cfg := bench.Config{
		Addrs:     splitList(*addrFlag),
		IDs:       splitList(*ids),
		Target:    *target,
		Workload:  *workload,
		Clients:   *clients,
		Pipeline:  *pipeline,
		Duration:  *duration,
		Warmup:    *warmup,
		SeatStart: *seatStart,
		Seats:     *seats,
		TLS:       tlsCfg,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat bench: %v\n", err)
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
func run(cfg client.Config, args []string) int {
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat: %v\n", err)
		return 2
	}
	defer c.Close()
	ctx := context.Background()

	if len(args) == 0 {
		if err := client.RunPrompt(ctx, c, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "seat: %v\n", err)
			return 2
		}
		return 0
	}
	// Subcommands ("bench", "certs") are dispatched by main; anything else
	// is a request.
	resp, err := c.Do(ctx, strings.Join(args, " "))
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat: %v\n", err)
	} else {
		fmt.Println(resp)
	}
	return client.ExitCode(resp, err)
}
