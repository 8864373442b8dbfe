// Command seat is the command-line client of a seatd cluster.
//
//	seat [--addr host:port[,host:port...]] [--timeout 15s] <VERB> [args...]
//	seat [--addr ...] [--timeout ...]
//
// With a verb it sends one request (the arguments joined by spaces), prints
// the response line and exits 0 for SUCCESS/FREE/BOOKED/SEATS/LEADER, 1 for
// FAILED_* and INVALID_COMMAND, 2 for ERROR or no reachable node. Without
// one it runs an interactive prompt on stdin. Flags come before the verb.
// The addresses are tried in turn when a node is down.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/seatd/seatd/client"
)

// defaultAddrs is the local three-node cluster of scripts/cluster.sh.
const defaultAddrs = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"

func main() {
	addrs := flag.String("addr", defaultAddrs, "comma-separated client addresses of the nodes, tried in turn")
	timeout := flag.Duration("timeout", client.DefaultRetryFor, "how long a request keeps being retried across nodes")
	flag.Usage = func() {
		w := flag.CommandLine.Output()
		fmt.Fprintf(w, "usage:\n"+
			"  seat [flags] <VERB> [args...]   send one request, print the response line\n"+
			"  seat [flags]                    interactive prompt\n"+
			"verbs: RESERVE <seat> [<holder>] [id=<id>], CANCEL <seat> [<holder>] [id=<id>],\n"+
			"       STATUS [<seat>], LEADER\n"+
			"exit status: 0 done, 1 FAILED_* or INVALID_COMMAND, 2 ERROR or no reachable node\n"+
			"flags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	os.Exit(run(*addrs, *timeout, flag.Args()))
}

// run does the work of main and returns the exit status, so that deferred
// calls run before os.Exit.
func run(addrs string, timeout time.Duration, args []string) int {
	var list []string
	for a := range strings.SplitSeq(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			list = append(list, a)
		}
	}
	c, err := client.New(client.Config{Addrs: list, RetryFor: timeout})
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
	// Subcommands that are not protocol verbs (seat bench, seat certs, ...)
	// will be dispatched here on args[0]; anything else is a request.
	resp, err := c.Do(ctx, strings.Join(args, " "))
	if err != nil {
		fmt.Fprintf(os.Stderr, "seat: %v\n", err)
	} else {
		fmt.Println(resp)
	}
	return client.ExitCode(resp, err)
}
