package certs

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs RunCLI and returns its exit status, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := RunCLI(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	out := filepath.Join(t.TempDir(), "clients")

	code, stdout, stderr := runCLI("ca", "--dir", dir, "--cn", "demo CA", "--days", "30")
	if code != 0 || !strings.Contains(stdout, "ca.crt") || !strings.Contains(stdout, "valid until") {
		t.Fatalf("ca: %d %q %q", code, stdout, stderr)
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if ca.Subject.CommonName != "demo CA" {
		t.Errorf("CA CN %q", ca.Subject.CommonName)
	}
	wantAbout(t, "CA NotAfter", ca.NotAfter, ca.NotBefore.Add(30*24*time.Hour))

	code, stdout, stderr = runCLI("node", "--ca-dir", dir, "--name", "n1", "--hosts", "127.0.0.1,localhost")
	if code != 0 || !strings.Contains(stdout, "--peer-cert "+filepath.Join(dir, "n1.crt")) {
		t.Fatalf("node: %d %q %q", code, stdout, stderr)
	}
	n1 := readCert(t, filepath.Join(dir, "n1.crt")) // --out defaults to --ca-dir
	if n1.Subject.CommonName != "n1" || len(n1.IPAddresses) != 1 || len(n1.DNSNames) != 1 {
		t.Errorf("n1: CN %q IPs %v DNS %v", n1.Subject.CommonName, n1.IPAddresses, n1.DNSNames)
	}

	code, stdout, stderr = runCLI("client", "--ca-dir", dir, "--out", out, "--name", "alice", "--days", "7")
	if code != 0 || !strings.Contains(stdout, "--cert "+filepath.Join(out, "alice.crt")) {
		t.Fatalf("client: %d %q %q", code, stdout, stderr)
	}
	wantMode(t, out, 0o700)
	wantMode(t, filepath.Join(out, "alice.key"), 0o600)

	// Again: refused without --force, done with it.
	code, _, stderr = runCLI("client", "--ca-dir", dir, "--out", out, "--name", "alice")
	if code != 2 || !strings.Contains(stderr, "force") {
		t.Errorf("client again: %d %q, want 2 and a hint at force", code, stderr)
	}
	if code, _, stderr = runCLI("client", "--ca-dir", dir, "--out", out, "--name", "alice", "--force"); code != 0 {
		t.Errorf("client --force: %d %q", code, stderr)
	}
}

func TestRunCLIUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{nil, 2, "usage: seat certs"},
		{[]string{"help"}, 0, "usage: seat certs"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"ca"}, 2, "--dir is required"},
		{[]string{"ca", "--help"}, 0, "-cn"},
		{[]string{"ca", "--dir", dir, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"ca", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"node", "--ca-dir", dir, "--name", "n1"}, 2, "--hosts is required"},
		{[]string{"client", "--ca-dir", dir}, 2, "--name is required"},
		{[]string{"client", "--ca-dir", dir, "--name", "x"}, 2, "load CA"},
		{[]string{"ca", "--dir", dir, "--days", "-1"}, 2, "negative lifetime"},
		{[]string{"node", "--ca-dir", dir, "--name", "n/1", "--hosts", "h"}, 2, "invalid argument"},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("seat certs %q: %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout, stderr, tc.code, tc.want)
		}
	}
}
