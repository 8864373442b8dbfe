package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatd/seatd/certs"
	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/internal/testutil"
)

// testPKI is a development CA with node and client certificates.
type testPKI struct {
	dir string
}

func newTestPKI(t *testing.T, clients ...string) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	if err := certs.GenerateCA(p.dir, "test CA", 0, false); err != nil {
		t.Fatal(err)
	}
	if err := certs.IssueNode(p.dir, p.dir, "node", []string{"127.0.0.1", "localhost"}, 0, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if err := certs.IssueClient(p.dir, p.dir, c, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *testPKI) file(name string) string { return filepath.Join(p.dir, name) }

// secure puts every port of a node config under TLS with client
// certificates required.
func (p *testPKI) secure(c *Config) {
	c.TLSCert, c.TLSKey, c.TLSClientCA = p.file("node.crt"), p.file("node.key"), p.file("ca.crt")
	c.PeerCert, c.PeerKey, c.PeerCA = p.file("node.crt"), p.file("node.key"), p.file("ca.crt")
}

// clientTLS returns a TLS config presenting the named client certificate
// (or none when name is empty).
func (p *testPKI) clientTLS(t *testing.T, name string) *tls.Config {
	t.Helper()
	cert, key := "", ""
	if name != "" {
		cert, key = p.file(name+".crt"), p.file(name+".key")
	}
	cfg, err := client.LoadTLS(p.file("ca.crt"), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "127.0.0.1"
	return cfg
}

// tlsLine dials a TLS line connection as the named client.
func (p *testPKI) tlsLine(t *testing.T, addr, name string) (*testutil.LineConn, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, p.clientTLS(t, name))
	if err != nil {
		return nil, err
	}
	return testutil.NewLineConn(t, conn), nil
}

// TestFoundationUnderTLS runs the foundation's cluster tests with every
// port under TLS: client TLS with client certificates, mutual TLS between
// nodes.
func TestFoundationUnderTLS(t *testing.T) {
	for _, tt := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"WriteThroughFollower", TestWriteThroughFollowerIsReplicated},
		{"Pipelined", TestPipelinedRequestsTakeEffectInOrder},
		{"ExactlyOnce", TestExactlyOnceID},
		{"OneWinner", TestConcurrentReservesOfOneSeatOneWinner},
		{"LeaderStops", TestLeaderStopsNewLeaderKeepsEveryBooking},
		{"SnapshotCatchUp", TestRestartedFollowerCatchesUpFromSnapshot},
		{"FiveNodes", TestFiveNodesSurviveTwoDeaths},
		{"LineTooLong", TestLineTooLongClosesConnection},
		{"Resume", TestRestartResumesWithoutBootstrap},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testTLS = newTestPKI(t, "tester")
			defer func() { testTLS = nil }()
			tt.fn(t)
		})
	}
}

func TestTLSIdentitiesAndRefusals(t *testing.T) {
	pki := newTestPKI(t, "alice", "bob")
	other := newTestPKI(t, "alice") // another CA issuing the same name
	tc := newTestCluster(t, 3, 5, pki.secure)
	f := tc.followers()[0]
	addr := tc.addr(f)

	alice, err := pki.tlsLine(t, addr, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// A write without a holder books under the identity, through a follower.
	if got := alice.Do(t, "RESERVE 1"); got != "SUCCESS" {
		t.Fatalf("RESERVE 1 as alice = %q", got)
	}
	if got := alice.Do(t, "STATUS 1"); got != "BOOKED alice" {
		t.Fatalf("STATUS 1 = %q, want BOOKED alice", got)
	}
	// Impersonation is refused and applies nothing.
	if got := alice.Do(t, "RESERVE 2 bob"); got != "ERROR FORBIDDEN the certificate's identity may act only as itself" {
		t.Fatalf("RESERVE 2 bob as alice = %q", got)
	}
	if got := alice.Do(t, "CANCEL 1 bob id=x1"); !strings.HasPrefix(got, "ERROR FORBIDDEN") {
		t.Fatalf("CANCEL as bob = %q", got)
	}
	bob, err := pki.tlsLine(t, addr, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if got := bob.Do(t, "STATUS 2"); got != "FREE" {
		t.Fatalf("STATUS 2 after refused impersonation = %q", got)
	}
	if got := bob.Do(t, "CANCEL 1"); got != "FAILED_NOT_HOLDER" {
		t.Fatalf("bob cancelling alice's seat = %q", got)
	}
	if got := alice.Do(t, "CANCEL 1 alice"); got != "SUCCESS" {
		t.Fatalf("alice cancelling her own seat = %q", got)
	}
	// Holds and seat lists take the identity too; events have no holder.
	for _, s := range [][2]string{
		{"HOLD 3,4", "HELD "},
		{"STATUS 3", "HELD alice "},
		{"HOLD 5 bob", "ERROR FORBIDDEN"},
		{"RESERVE 4,5 bob", "ERROR FORBIDDEN"},
		{"RESERVE 3,4", "SUCCESS"},
		{"STATUS 4", "BOOKED alice"},
		{"CANCEL 3,4", "SUCCESS"},
		{"EVENT CREATE tls 3", "SUCCESS"},
		{"HOLD 1 event=tls ttl=60", "HELD "},
	} {
		if got := alice.Do(t, s[0]); !strings.HasPrefix(got, s[1]) {
			t.Errorf("%q as alice = %q, want %s...", s[0], got, s[1])
		}
	}
	if got := bob.Do(t, "RESERVE 1 event=tls"); got != "FAILED_ALREADY_BOOKED" {
		t.Errorf("bob reserving alice's held seat = %q", got)
	}

	refused := func(what string, dial func() (*testutil.LineConn, error)) {
		t.Helper()
		c, err := dial()
		if err == nil {
			// TLS 1.3: the client learns of the refusal on its first read.
			c.Send(t, "STATUS\n")
			if got, rerr := c.ReadLine(5 * time.Second); rerr == nil {
				t.Errorf("%s: got a protocol answer %q", what, got)
			}
		}
	}
	refused("client certificate from another CA", func() (*testutil.LineConn, error) {
		cfg := other.clientTLS(t, "alice")
		cfg.RootCAs = pki.clientTLS(t, "").RootCAs
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		return testutil.NewLineConn(t, conn), nil
	})
	refused("no client certificate", func() (*testutil.LineConn, error) { return pki.tlsLine(t, addr, "") })
	// A plaintext client gets no protocol answer.
	plain := testutil.DialLine(t, addr)
	plain.Send(t, "STATUS\n")
	if got, err := plain.ReadLine(5 * time.Second); err == nil && strings.HasPrefix(got, "SEATS") {
		t.Fatalf("plaintext client got a protocol answer %q", got)
	}
	// The node keeps serving honest clients.
	if got := bob.Do(t, "STATUS"); got != "SEATS 5 FREE 5 BOOKED 0 HELD 0" {
		t.Fatalf("after the refusals STATUS = %q", got)
	}
}

func TestMaxConnsAnswersBusy(t *testing.T) {
	tc := newTestCluster(t, 1, 5, func(c *Config) { c.MaxConns = 3 })
	var held []*testutil.LineConn
	for i := 0; i < 3; i++ {
		c := testutil.DialLine(t, tc.addr(0))
		if got := c.Do(t, "STATUS 1"); got != "FREE" {
			t.Fatalf("connection %d: %q", i, got)
		}
		held = append(held, c)
	}
	extra := testutil.DialLine(t, tc.addr(0))
	if got, err := extra.ReadLine(5 * time.Second); got != "ERROR BUSY too many connections" {
		t.Fatalf("connection over the limit got %q (%v)", got, err)
	}
	held[0].Conn.Close()
	testutil.WaitFor(t, 5*time.Second, "a slot to free up", func() bool {
		resp, err := testutil.Request(tc.addr(0), "STATUS 1", 2*time.Second)
		return err == nil && resp == "FREE"
	})
}

func TestSlowSenderIsCutOff(t *testing.T) {
	tc := newTestCluster(t, 1, 5, func(c *Config) { c.LineTimeout = 300 * time.Millisecond })
	slow := testutil.DialLine(t, tc.addr(0))
	slow.Send(t, "STAT")
	start := time.Now()
	if _, err := slow.ReadLine(5 * time.Second); err == nil {
		t.Fatal("a connection that never finished its line got an answer")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow sender held its connection for %s", d)
	}
	// Finishing lines in time is fine, however slowly they follow each other.
	ok := testutil.DialLine(t, tc.addr(0))
	if got := ok.Do(t, "STATUS 1"); got != "FREE" {
		t.Fatalf("STATUS 1 = %q", got)
	}
}

// A client that pipelines a long stream whose reads never end on a line
// boundary is not a slow sender: the line deadline counts from the start of
// the line in progress, not from the first unfinished read.
func TestLongPipelinedStreamIsNotCutAsSlow(t *testing.T) {
	tc := newTestCluster(t, 1, 5, func(c *Config) { c.LineTimeout = 300 * time.Millisecond })
	c := tc.line(t, 0)
	done := make(chan int)
	go func() {
		n := 0
		for {
			if _, err := c.ReadLine(5 * time.Second); err != nil {
				done <- n
				return
			}
			n++
		}
	}()
	// About 1.2 s of traffic in pieces that always stop inside a line.
	const line = "STATUS 1\n"
	sent := 0
	for end := time.Now().Add(1200 * time.Millisecond); time.Now().Before(end); {
		c.Send(t, line[4:]+line+line[:4])
		sent += 2
		time.Sleep(20 * time.Millisecond)
	}
	c.Send(t, line[4:])
	c.Conn.(*net.TCPConn).CloseWrite()
	if got := <-done; got < sent-1 {
		t.Fatalf("connection cut after %d answers of %d: a busy pipelining client was treated as a slow sender", got, sent)
	}
}

// A client certificate whose Common Name is not a well-formed holder is
// refused: the identity is written into log entries and forwarded lines.
func TestIdentityMustBeAValidHolder(t *testing.T) {
	pki := newTestPKI(t)
	tc := newTestCluster(t, 1, 5, pki.secure)
	caCert, err := tls.LoadX509KeyPair(pki.file("ca.crt"), pki.file("ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caCert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "carol id=z"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := pki.clientTLS(t, "")
	cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	conn, err := tls.Dial("tcp", tc.addr(0), cfg)
	if err == nil {
		c := testutil.NewLineConn(t, conn)
		c.Send(t, "RESERVE 1\n")
		if got, rerr := c.ReadLine(5 * time.Second); rerr == nil {
			t.Fatalf("a client named %q got an answer: %q", tmpl.Subject.CommonName, got)
		}
	}
	if info, _ := tc.nodes[0].FSM().Seat("", 1); info.State != fsm.SeatFree {
		t.Fatal("seat 1 was booked by a client with a malformed identity")
	}
}

// A replaced certificate the node refuses (here its key does not match) is
// logged as a warning naming the flag, and the node goes on serving the old
// one.
func TestRefusedCertificateReplacementIsLogged(t *testing.T) {
	pki := newTestPKI(t, "alice")
	tc := newTestCluster(t, 1, 5, pki.secure)
	addr := tc.addr(0)
	other := newTestPKI(t)
	key, err := os.ReadFile(other.file("node.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pki.file("node.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	const warning = "certificate replacement refused; the previous certificate stays in use"
	// Each handshake looks at the files (at most once a second) and is
	// still served the previous certificate.
	handshake := func() {
		t.Helper()
		conn, err := pki.tlsLine(t, addr, "alice")
		if err != nil {
			t.Fatalf("handshake after a broken replacement: %v", err)
		}
		if got := conn.Do(t, "STATUS 1"); got != "FREE" {
			t.Fatalf("STATUS 1 = %q", got)
		}
		conn.Conn.Close()
	}
	testutil.WaitFor(t, 10*time.Second, "the refusal logged while handshakes look at the files", func() bool {
		handshake()
		return tc.logs.Contains(warning)
	})
	if !tc.logs.ContainsLine(warning, "flag=--tls-cert") {
		t.Errorf("the warning does not name the flag")
	}
	// That it is logged once per replacement, however many looks, is
	// TestCertReloader's (with a clock of its own).
}
