package client

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatd/seatd/certs"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// testPKI creates a CA with node certificate n1 (for 127.0.0.1 and
// localhost) and client certificate alice, and another CA with a client
// certificate mallory. It returns the two directories.
func testPKI(t *testing.T) (dir, otherDir string) {
	t.Helper()
	dir, otherDir = t.TempDir(), t.TempDir()
	for _, err := range []error{
		certs.GenerateCA(dir, "", 0, false),
		certs.IssueNode(dir, dir, "n1", []string{"127.0.0.1", "localhost"}, 0, false),
		certs.IssueClient(dir, dir, "alice", 0, false),
		certs.GenerateCA(otherDir, "", 0, false),
		certs.IssueClient(otherDir, otherDir, "mallory", 0, false),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir, otherDir
}

// newFakeTLSServer is a fake node on 127.0.0.1:0 speaking TLS with the node
// certificate n1 of dir, requiring client certificates signed by dir's CA
// when mutual is set.
func newFakeTLSServer(t *testing.T, dir string, mutual bool) *fakeServer {
	t.Helper()
	certFile, keyFile := certs.Files(dir, "n1")
	clientCA := ""
	if mutual {
		clientCA, _ = certs.Files(dir, certs.CAName)
	}
	cfg, err := transport.ServerTLS(certFile, keyFile, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newFakeServerOn(t, nil, tls.NewListener(ln, cfg))
}

// loadTLS is LoadTLS with dir's CA and the client certificate name of
// certDir ("" for none).
func loadTLS(t *testing.T, dir, certDir, name string) *tls.Config {
	t.Helper()
	caFile, _ := certs.Files(dir, certs.CAName)
	certFile, keyFile := "", ""
	if name != "" {
		certFile, keyFile = certs.Files(certDir, name)
	}
	cfg, err := LoadTLS(caFile, certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadTLS: %v", err)
	}
	return cfg
}

func TestTLS(t *testing.T) {
	dir, _ := testPKI(t)
	for _, mutual := range []bool{false, true} {
		s := newFakeTLSServer(t, dir, mutual)
		cfg := loadTLS(t, dir, dir, "alice")
		c := newTestClient(t, Config{Addrs: []string{s.addr}, TLS: cfg})
		ctx := testCtx(t)
		if resp, err := c.Reserve(ctx, 3, "alice"); resp != protocol.Success || err != nil {
			t.Fatalf("mutual %v: Reserve = %q, %v; want SUCCESS", mutual, resp, err)
		}
		if resp, err := c.Status(ctx, 3); resp != "BOOKED alice" || err != nil {
			t.Fatalf("mutual %v: Status = %q, %v", mutual, resp, err)
		}
		if cfg.ServerName != "" {
			t.Errorf("New changed the caller's config: ServerName %q", cfg.ServerName)
		}
	}
}

// TestTLSServerNamePerAddress: one config, two addresses, each checked
// against its own host (an IP SAN and a DNS SAN).
func TestTLSServerNamePerAddress(t *testing.T) {
	dir, _ := testPKI(t)
	a := newFakeTLSServer(t, dir, false)
	b := newFakeTLSServer(t, dir, false)
	_, port, _ := net.SplitHostPort(b.addr)
	byName := net.JoinHostPort("localhost", port)
	c := newTestClient(t, Config{Addrs: []string{a.addr, byName}, TLS: loadTLS(t, dir, "", "")})
	if c.slots[0].tls.ServerName != "127.0.0.1" || c.slots[1].tls.ServerName != "localhost" {
		t.Fatalf("ServerNames %q, %q", c.slots[0].tls.ServerName, c.slots[1].tls.ServerName)
	}
	ctx := testCtx(t)
	for i, s := range []*fakeServer{a, b} {
		if resp, err := c.Summary(ctx); err != nil || !strings.HasPrefix(resp, "SEATS") {
			t.Fatalf("request %d: %q, %v", i, resp, err)
		}
		if got := len(s.Lines()); got != 1 {
			t.Errorf("server %d read %d lines, want 1", i, got)
		}
		c.pref.Store(1) // the next request goes to the other address
	}

	// An explicit ServerName applies to every address: here one the
	// certificate does not name, so no node is trusted.
	cfg := loadTLS(t, dir, "", "")
	cfg.ServerName = "elsewhere.example"
	c = newTestClient(t, Config{Addrs: []string{a.addr}, TLS: cfg, RetryFor: 300 * time.Millisecond})
	if _, err := c.Summary(ctx); !errors.Is(err, ErrNoNode) || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Errorf("ServerName elsewhere.example: %v, want ErrNoNode naming the host", err)
	}
}

func TestTLSRefused(t *testing.T) {
	dir, otherDir := testPKI(t)
	s := newFakeTLSServer(t, dir, true)
	plain := newFakeServer(t, nil)
	for _, tc := range []struct {
		what string
		cfg  Config
		want string // in the error
	}{
		{"no client certificate", Config{Addrs: []string{s.addr}, TLS: loadTLS(t, dir, "", "")}, "certificate required"},
		// Refused by the server ("unknown certificate authority"), or
		// not even sent when Go's client sees the server names another
		// CA ("certificate required").
		{"client certificate of another CA", Config{Addrs: []string{s.addr}, TLS: loadTLS(t, dir, otherDir, "mallory")}, "certificate"},
		{"server of another CA", Config{Addrs: []string{s.addr}, TLS: loadTLS(t, otherDir, dir, "alice")}, "TLS handshake with " + s.addr},
		{"plaintext server", Config{Addrs: []string{plain.addr}, TLS: loadTLS(t, dir, "", ""), DialTimeout: 300 * time.Millisecond}, plain.addr},
	} {
		tc.cfg.RetryFor = 500 * time.Millisecond
		c := newTestClient(t, tc.cfg)
		resp, err := c.Summary(testCtx(t))
		if !errors.Is(err, ErrNoNode) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q, %v; want ErrNoNode mentioning %q", tc.what, resp, err, tc.want)
		}
	}
}

func TestLoadTLS(t *testing.T) {
	dir, _ := testPKI(t)
	caFile, _ := certs.Files(dir, certs.CAName)
	certFile, keyFile := certs.Files(dir, "alice")
	cfg, err := LoadTLS(caFile, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "" {
		t.Errorf("LoadTLS: %+v", cfg)
	}
	if cfg, err := LoadTLS("", "", ""); err != nil || cfg.RootCAs != nil {
		t.Errorf("LoadTLS without files: %v, %v; want system roots", cfg, err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, []byte("junk"), 0o644)
	for _, args := range [][3]string{
		{caFile, certFile, ""},
		{caFile, "", keyFile},
		{filepath.Join(dir, "missing"), "", ""},
		{garbage, "", ""},
		{caFile, certFile, garbage},
	} {
		if _, err := LoadTLS(args[0], args[1], args[2]); err == nil {
			t.Errorf("LoadTLS%q: nil error", args)
		}
	}
}
