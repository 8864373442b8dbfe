package cluster

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/seatd/seatd/transport"
)

// DefaultRaftAddrs are the node-to-node addresses of scripts/cluster.sh's
// local cluster.
const DefaultRaftAddrs = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003"

// RunCLI runs "seat cluster list|remove <id> [--force]" with args (after
// the word "cluster") and returns the exit status: 0 done, 1 refused by the
// leader, 2 bad usage or no node answered. It asks the membership service
// on the nodes' --raft port, trying the addresses in turn; with peer
// mutual TLS it needs a node certificate.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seat cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := memberFlags(fs)
	force := fs.Bool("force", false, "remove even if fewer than a majority of the remaining voters answer")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: seat cluster [flags] list | remove <id> [--force]\n"+
			"  list        the members: id, raft address, voter or nonvoter, and the leader\n"+
			"  remove <id> remove a member (refused if the remaining voters could not form a majority)\n"+
			"Talks to the membership service on the nodes' --raft port (a node certificate\n"+
			"is needed when the cluster runs peer mutual TLS).\nflags:\n")
		fs.PrintDefaults()
	}
	words, code := parseWords(fs, args)
	if code >= 0 {
		return code
	}
	d, addrs, code := target.dialer(stderr)
	if code != 0 {
		return code
	}
	switch {
	case len(words) == 1 && words[0] == "list":
		return eachAddr(addrs, stderr, func(addr string) error {
			members, err := Members(d, addr)
			if err != nil {
				return err
			}
			for _, m := range members {
				suffrage, role := "nonvoter", ""
				if m.Voter {
					suffrage = "voter"
				}
				if m.Leader {
					role = " leader"
				}
				fmt.Fprintf(stdout, "%s %s %s%s\n", m.ID, m.Address, suffrage, role)
			}
			return nil
		})
	case len(words) == 2 && words[0] == "remove":
		return eachAddr(addrs, stderr, func(addr string) error {
			if err := Remove(d, addr, words[1], *force); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %s\n", words[1])
			return nil
		})
	}
	fs.Usage()
	return 2
}

// eachAddr runs do against the addresses in turn until one answers: a
// refusal (ErrMembership) ends it with status 1, a node that cannot be
// reached moves on to the next.
func eachAddr(addrs []string, stderr io.Writer, do func(addr string) error) int {
	var last error
	for _, addr := range addrs {
		err := do(addr)
		if err == nil {
			return 0
		}
		if errors.Is(err, ErrMembership) {
			fmt.Fprintf(stderr, "seat cluster: %v\n", err)
			return 1
		}
		last = err
	}
	fmt.Fprintf(stderr, "seat cluster: no member answered: %v\n", last)
	return 2
}

// RunBackupCLI runs "seat backup <file>" with args (after the word
// "backup"): it takes a backup from the leader (through any member named
// by --raft, tried in turn) and writes it to the file. Exit status: 0
// written, 1 refused, 2 bad usage or no member gave a valid backup (one
// that fails its size or digest check is taken again through the next).
func RunBackupCLI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seat backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := memberFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: seat backup [flags] <file>\n"+
			"  takes a consistent copy of the leader's state (every event, seat, hold, history\n"+
			"  and exactly-once id) and writes it to <file>; seatd --restore <file> starts a\n"+
			"  new cluster from it.\nflags:\n")
		fs.PrintDefaults()
	}
	words, code := parseWords(fs, args)
	if code >= 0 {
		return code
	}
	if len(words) != 1 {
		fs.Usage()
		return 2
	}
	d, addrs, code := target.dialer(stderr)
	if code != 0 {
		return code
	}
	return eachAddr(addrs, stderr, func(addr string) error {
		b, err := TakeBackup(d, addr)
		if err != nil {
			return err
		}
		if err := WriteBackupFile(words[0], b); err != nil {
			return fmt.Errorf("%w: %w", ErrMembership, err)
		}
		fmt.Fprintf(stdout, "wrote %s: %d bytes of state at log index %d\n", words[0], len(b.State), b.Index)
		return nil
	})
}

// memberTarget is where a command reaches the cluster: members' --raft
// addresses, and a node certificate under peer mutual TLS.
type memberTarget struct {
	raftAddrs, peerCA, peerCert, peerKey *string
}

// memberFlags defines --raft and --peer-ca/--peer-cert/--peer-key on fs.
func memberFlags(fs *flag.FlagSet) memberTarget {
	return memberTarget{
		raftAddrs: fs.String("raft", DefaultRaftAddrs, "comma-separated node-to-node (--raft) addresses of members, tried in turn"),
		peerCA:    fs.String("peer-ca", "", "with peer mutual TLS: the CA that signs node certificates"),
		peerCert:  fs.String("peer-cert", "", "with peer mutual TLS: a node certificate"),
		peerKey:   fs.String("peer-key", "", "with peer mutual TLS: its key"),
	}
}

// dialer builds the node-to-node dialer and address list of the parsed
// flags; code is non-zero (2) when they are not usable.
func (m memberTarget) dialer(stderr io.Writer) (*transport.Dialer, []string, int) {
	d := &transport.Dialer{}
	if *m.peerCA != "" || *m.peerCert != "" || *m.peerKey != "" {
		peer, err := transport.PeerTLS(*m.peerCert, *m.peerKey, *m.peerCA)
		if err != nil {
			fmt.Fprintf(stderr, "seat: %v\n", err)
			return nil, nil, 2
		}
		d.Peer = peer
	}
	var addrs []string
	for _, a := range strings.Split(*m.raftAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return d, addrs, 0
}

// parseWords parses args with fs, flags before or after the other words,
// and returns those words. code is -1 to go on, else the exit status to
// return at once (0 after --help, 2 for a bad flag).
func parseWords(fs *flag.FlagSet, args []string) (words []string, code int) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			return words, -1
		}
		words = append(words, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
