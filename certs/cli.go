package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// cliUsage is printed by RunCLI for a missing or unknown command.
const cliUsage = `usage: seat certs <command> [flags]
Creates a development CA and certificates signed by it (see docs/security.md).
commands:
  ca      --dir D [--cn NAME] [--days N] [--force]
          create the CA: D/ca.crt and D/ca.key
  node    --ca-dir D [--out D] --name ID --hosts H[,H...] [--days N] [--force]
          issue a node certificate (server and client auth) naming the hosts
          that peers and clients dial: D/ID.crt and D/ID.key
  client  --ca-dir D [--out D] --name NAME [--days N] [--force]
          issue a client certificate; NAME is the client's identity
"seat certs <command> --help" lists a command's flags.
`

// RunCLI runs "seat certs" with args (the arguments after "certs"), writing
// what it did to stdout and errors and usage to stderr. It returns the exit
// status: 0 on success (or when help was asked for), 2 on a usage error or
// a failure.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, cliUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "ca":
		err = runCA(args[1:], stdout, stderr)
	case "node":
		err = runNode(args[1:], stdout, stderr)
	case "client":
		err = runClient(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, cliUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "seat certs: unknown command %q\n%s", args[0], cliUsage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2 // the flag package has printed the problem and the usage
	}
	fmt.Fprintf(stderr, "seat certs %s: %s\n", args[0], strings.TrimPrefix(err.Error(), "certs: "))
	return 2
}

// errUsage reports a usage error already printed to stderr.
var errUsage = errors.New("usage error")

// newFlagSet returns a flag set for "seat certs <cmd>" printing to stderr.
func newFlagSet(cmd, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("seat certs "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: seat certs %s %s\nflags:\n", cmd, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, refuses positional arguments and checks that every
// flag in required was given a non-empty value.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			fmt.Fprintf(fs.Output(), "%s: --%s is required\n", fs.Name(), name)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}

// days turns a --days value into a lifetime (0 keeps the default).
func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func runCA(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca", "--dir D [--cn NAME] [--days N] [--force]", stderr)
	dir := fs.String("dir", "", "directory for ca.crt and ca.key (created 0700 if missing)")
	cn := fs.String("cn", DefaultCACommonName, "subject Common Name of the CA")
	n := fs.Int("days", 0, fmt.Sprintf("lifetime in days (default %d)", int(DefaultCAValidity/(24*time.Hour))))
	force := fs.Bool("force", false, "overwrite existing files (certificates signed by the old CA stop being trusted)")
	if err := parse(fs, args, "dir"); err != nil {
		return err
	}
	if err := GenerateCA(*dir, *cn, days(*n), *force); err != nil {
		return err
	}
	certFile, keyFile := Files(*dir, CAName)
	fmt.Fprintf(stdout, "wrote %s and %s: CA %q, %s\n", certFile, keyFile, *cn, validity(certFile))
	fmt.Fprintf(stdout, "keep %s private: whoever holds it can issue certificates nodes trust\n", keyFile)
	return nil
}

func runNode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node", "--ca-dir D [--out D] --name ID --hosts H[,H...] [--days N] [--force]", stderr)
	caDir := fs.String("ca-dir", "", "directory holding ca.crt and ca.key")
	out := fs.String("out", "", "directory for ID.crt and ID.key (default --ca-dir)")
	name := fs.String("name", "", "node id: the certificate's Common Name and file name")
	hosts := fs.String("hosts", "", "comma-separated IP addresses and DNS names the node is dialled at: the host of its --raft address (and of --listen)")
	n := fs.Int("days", 0, fmt.Sprintf("lifetime in days (default %d)", int(DefaultCertValidity/(24*time.Hour))))
	force := fs.Bool("force", false, "overwrite existing files")
	if err := parse(fs, args, "ca-dir", "name", "hosts"); err != nil {
		return err
	}
	if *out == "" {
		*out = *caDir
	}
	if err := IssueNode(*caDir, *out, *name, strings.Split(*hosts, ","), days(*n), *force); err != nil {
		return err
	}
	certFile, keyFile := Files(*out, *name)
	caFile, _ := Files(*caDir, CAName)
	fmt.Fprintf(stdout, "wrote %s and %s: node %q for %s, %s\n", certFile, keyFile, *name, *hosts, validity(certFile))
	fmt.Fprintf(stdout, "seatd flags: --peer-cert %s --peer-key %s --peer-ca %s\n", certFile, keyFile, caFile)
	fmt.Fprintf(stdout, "             --tls-cert %s --tls-key %s [--tls-client-ca %s]\n", certFile, keyFile, caFile)
	return nil
}

func runClient(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("client", "--ca-dir D [--out D] --name NAME [--days N] [--force]", stderr)
	caDir := fs.String("ca-dir", "", "directory holding ca.crt and ca.key")
	out := fs.String("out", "", "directory for NAME.crt and NAME.key (default --ca-dir)")
	name := fs.String("name", "", "the client's identity: the certificate's Common Name and file name")
	n := fs.Int("days", 0, fmt.Sprintf("lifetime in days (default %d)", int(DefaultCertValidity/(24*time.Hour))))
	force := fs.Bool("force", false, "overwrite existing files")
	if err := parse(fs, args, "ca-dir", "name"); err != nil {
		return err
	}
	if *out == "" {
		*out = *caDir
	}
	if err := IssueClient(*caDir, *out, *name, days(*n), *force); err != nil {
		return err
	}
	certFile, keyFile := Files(*out, *name)
	caFile, _ := Files(*caDir, CAName)
	fmt.Fprintf(stdout, "wrote %s and %s: client %q, %s\n", certFile, keyFile, *name, validity(certFile))
	fmt.Fprintf(stdout, "seat flags: --ca %s --cert %s --key %s\n", caFile, certFile, keyFile)
	return nil
}

// validity describes the lifetime of the certificate in certFile, for the
// messages above; it never fails.
func validity(certFile string) string {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return "validity unknown"
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "validity unknown"
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "validity unknown"
	}
	return "valid until " + c.NotAfter.UTC().Format(time.RFC3339)
}
