package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatd/seatd/certs"
)

// pki is a development PKI in a test's temporary directory.
type pki struct {
	dir      string // the CA, and everything it signed
	otherDir string // another CA, and what it signed
}

// newPKI creates a CA with node certificates n1 and n2 (for 127.0.0.1 and
// localhost), far (for 10.9.9.9 only) and a client certificate alice; and
// another CA with a node certificate n1 and a client certificate mallory.
func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: filepath.Join(t.TempDir(), "pki"), otherDir: filepath.Join(t.TempDir(), "other")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	local := []string{"127.0.0.1", "localhost"}
	must(certs.GenerateCA(p.dir, "", 0, false))
	must(certs.IssueNode(p.dir, p.dir, "n1", local, 0, false))
	must(certs.IssueNode(p.dir, p.dir, "n2", local, 0, false))
	must(certs.IssueNode(p.dir, p.dir, "far", []string{"10.9.9.9"}, 0, false))
	must(certs.IssueClient(p.dir, p.dir, "alice", 0, false))
	must(certs.GenerateCA(p.otherDir, "other CA", 0, false))
	must(certs.IssueNode(p.otherDir, p.otherDir, "n1", local, 0, false))
	must(certs.IssueClient(p.otherDir, p.otherDir, "mallory", 0, false))
	return p
}

func (p *pki) ca() string { f, _ := certs.Files(p.dir, certs.CAName); return f }

// files returns the certificate and key of name under the main CA.
func (p *pki) files(name string) (string, string) { return certs.Files(p.dir, name) }

// clientTLS is a client-port client configuration trusting the main CA,
// presenting the certificate name of dir (none when name is "").
func (p *pki) clientTLS(t *testing.T, dir, name string) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: loadPool(t, p.ca()), ServerName: "127.0.0.1"}
	if name != "" {
		certFile, keyFile := certs.Files(dir, name)
		present(t, cfg, certFile, keyFile)
	}
	return cfg
}

// present makes cfg present the certificate in certFile whatever the
// server asks for. (With Certificates, Go's client sends no certificate
// when none is signed by a CA the server names: a test of a certificate
// from another CA would test nothing.)
func present(t *testing.T, cfg *tls.Config, certFile, keyFile string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
}

func loadPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pool, err := loadCAPool(file)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// readPEMCert parses the one certificate in file.
func readPEMCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// expiredCopy re-signs the certificate name of the main CA with a validity
// that ended yesterday, into a new directory, with the same key.
func (p *pki) expiredCopy(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	caCert, caKey := certs.Files(p.dir, certs.CAName)
	ca, err := tls.LoadX509KeyPair(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srcCert, srcKey := p.files(name)
	tmpl := readPEMCert(t, srcCert)
	tmpl.NotBefore = time.Now().Add(-48 * time.Hour)
	tmpl.NotAfter = time.Now().Add(-24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Leaf, tmpl.PublicKey, ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = certs.Files(dir, name)
	key, err := os.ReadFile(srcKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// selfSigned writes a self-signed certificate that looks like a node
// certificate for 127.0.0.1 (server and client auth), and its key.
func selfSigned(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = certs.Files(dir, cn)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// outcome is what one TLS connection came to on each side.
type outcome struct {
	serverErr, clientErr error
	identity             string // IdentityFromConn on the server side
	hasIdentity          bool
	serverCert           *x509.Certificate // what the client was shown
}

// handshake makes one connection over loopback: the server side handshakes
// with serverCfg and, when that succeeds, writes "ok\n"; the client side
// handshakes with clientCfg (when not nil; else it writes plaintext) and
// reads that line. Under TLS 1.3 a client whose certificate the server
// refuses completes its handshake and learns of the refusal on that read.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) outcome {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type side struct {
		err         error
		identity    string
		hasIdentity bool
	}
	done := make(chan side, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- side{err: err}
			return
		}
		defer nc.Close()
		tc := tls.Server(nc, serverCfg)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			done <- side{err: err}
			return
		}
		id, ok := IdentityFromConn(tc)
		_, err = io.WriteString(tc, "ok\n")
		done <- side{err: err, identity: id, hasIdentity: ok}
	}()

	var o outcome
	nc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if clientCfg == nil {
		io.WriteString(nc, "STATUS\n")
		b, err := io.ReadAll(nc)
		if err == nil && strings.Contains(string(b), "ok") {
			o.clientErr = nil
		} else {
			o.clientErr = errors.New("no answer")
		}
	} else {
		tc := tls.Client(nc, clientCfg)
		o.clientErr = tc.Handshake()
		if o.clientErr == nil {
			if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
				o.serverCert = certs[0]
			}
			b := make([]byte, 3)
			if _, err := io.ReadFull(tc, b); err != nil {
				o.clientErr = err
			} else if string(b) != "ok\n" {
				o.clientErr = errors.New("unexpected answer " + string(b))
			}
		}
	}
	nc.Close() // a client that gave up must not keep the server waiting
	s := <-done
	o.serverErr, o.identity, o.hasIdentity = s.err, s.identity, s.hasIdentity
	return o
}

// wantRefused checks that both sides failed and that the server says why.
func wantRefused(t *testing.T, what string, o outcome, serverSays string) {
	t.Helper()
	if o.serverErr == nil || o.clientErr == nil {
		t.Errorf("%s: server error %v, client error %v; want both refused", what, o.serverErr, o.clientErr)
		return
	}
	t.Logf("%s: refused: server: %v; client: %v", what, o.serverErr, o.clientErr)
	if !strings.Contains(o.serverErr.Error(), serverSays) {
		t.Errorf("%s: server error %q, want it to mention %q", what, o.serverErr, serverSays)
	}
}

func TestServerTLSIdentity(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile := p.files("n1")
	cfg, err := ServerTLS(certFile, keyFile, p.ca())
	if err != nil {
		t.Fatalf("ServerTLS: %v", err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("ClientAuth %v MinVersion %x", cfg.ClientAuth, cfg.MinVersion)
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c := p.clientTLS(t, p.dir, "alice")
		c.MinVersion, c.MaxVersion = version, version
		o := handshake(t, cfg, c)
		if o.serverErr != nil || o.clientErr != nil {
			t.Fatalf("TLS %x: server %v, client %v", version, o.serverErr, o.clientErr)
		}
		if o.identity != "alice" || !o.hasIdentity {
			t.Errorf("TLS %x: IdentityFromConn = %q, %v; want alice", version, o.identity, o.hasIdentity)
		}
		if o.serverCert == nil || o.serverCert.Subject.CommonName != "n1" {
			t.Errorf("TLS %x: server presented %v, want n1", version, o.serverCert)
		}
	}
}

func TestServerTLSRefuses(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile := p.files("n1")
	cfg, err := ServerTLS(certFile, keyFile, p.ca())
	if err != nil {
		t.Fatalf("ServerTLS: %v", err)
	}

	wantRefused(t, "client certificate from another CA",
		handshake(t, cfg, p.clientTLS(t, p.otherDir, "mallory")), "unknown authority")

	expCert, expKey := p.expiredCopy(t, "alice")
	expired := p.clientTLS(t, p.dir, "")
	present(t, expired, expCert, expKey)
	wantRefused(t, "expired client certificate", handshake(t, cfg, expired), "expired")

	wantRefused(t, "no client certificate", handshake(t, cfg, p.clientTLS(t, "", "")), "didn't provide a certificate")

	old := p.clientTLS(t, p.dir, "alice")
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	wantRefused(t, "TLS 1.1", handshake(t, cfg, old), "version")

	cbc := p.clientTLS(t, p.dir, "alice")
	cbc.MaxVersion = tls.VersionTLS12
	cbc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
	wantRefused(t, "TLS 1.2 with CBC suites only", handshake(t, cfg, cbc), "cipher")

	// A plaintext client gets no protocol answer.
	o := handshake(t, cfg, nil)
	if o.serverErr == nil || o.clientErr == nil {
		t.Errorf("plaintext client: server %v, client %v; want refused", o.serverErr, o.clientErr)
	}

	// The client checks the server too: a client trusting another CA.
	c := p.clientTLS(t, p.dir, "alice")
	c.RootCAs = loadPool(t, filepath.Join(p.otherDir, "ca.crt"))
	o = handshake(t, cfg, c)
	var verr *tls.CertificateVerificationError
	if !errors.As(o.clientErr, &verr) {
		t.Errorf("client trusting another CA: %v, want a certificate verification error", o.clientErr)
	}
}

func TestServerTLSWithoutClientCA(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile := p.files("n1")
	cfg, err := ServerTLS(certFile, keyFile, "")
	if err != nil {
		t.Fatalf("ServerTLS: %v", err)
	}
	if cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("ClientAuth %v, want NoClientCert", cfg.ClientAuth)
	}
	o := handshake(t, cfg, p.clientTLS(t, "", ""))
	if o.serverErr != nil || o.clientErr != nil {
		t.Fatalf("server %v, client %v", o.serverErr, o.clientErr)
	}
	if o.hasIdentity || o.identity != "" {
		t.Errorf("IdentityFromConn = %q, %v without a client certificate", o.identity, o.hasIdentity)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t)
	n1Cert, n1Key := p.files("n1")
	aliceCert, aliceKey := p.files("alice")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM"), 0o644)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	expCert, expKey := p.expiredCopy(t, "n1")

	for _, tc := range []struct {
		what string
		err  func() error
		want string
	}{
		{"server: missing certificate", func() error { _, err := ServerTLS(missing, n1Key, ""); return err }, "no such file"},
		{"server: key of another certificate", func() error { _, err := ServerTLS(n1Cert, aliceKey, ""); return err }, "private key does not match"},
		{"server: a client certificate", func() error { _, err := ServerTLS(aliceCert, aliceKey, ""); return err }, "does not allow server authentication"},
		{"server: expired certificate", func() error { _, err := ServerTLS(expCert, expKey, ""); return err }, "expired"},
		{"server: garbage client CA", func() error { _, err := ServerTLS(n1Cert, n1Key, garbage); return err }, "no PEM certificate"},
		{"server: missing client CA", func() error { _, err := ServerTLS(n1Cert, n1Key, missing); return err }, "no such file"},
		{"peer: a client certificate", func() error { _, err := PeerTLS(aliceCert, aliceKey, p.ca()); return err }, "does not allow server authentication"},
		{"peer: missing CA", func() error { _, err := PeerTLS(n1Cert, n1Key, missing); return err }, "no such file"},
		{"peer: garbage CA", func() error { _, err := PeerTLS(n1Cert, n1Key, garbage); return err }, "no PEM certificate"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.what, err, tc.want)
		}
	}
}

// peer returns PeerTLS for certFile/keyFile trusting caFile.
func peer(t *testing.T, certFile, keyFile, caFile string) *PeerConfig {
	t.Helper()
	p, err := PeerTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatalf("PeerTLS(%s): %v", certFile, err)
	}
	return p
}

func TestPeerTLS(t *testing.T) {
	p := newPKI(t)
	n1 := peer(t, filepath.Join(p.dir, "n1.crt"), filepath.Join(p.dir, "n1.key"), p.ca())
	n2 := peer(t, filepath.Join(p.dir, "n2.crt"), filepath.Join(p.dir, "n2.key"), p.ca())
	if n1.Server.MinVersion != tls.VersionTLS13 || n1.Server.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("peer server: MinVersion %x ClientAuth %v", n1.Server.MinVersion, n1.Server.ClientAuth)
	}

	// Both ways; the address's host is what the dialer checks.
	for _, tc := range []struct {
		server, client *PeerConfig
		serverName     string
		wantID         string
	}{
		{n1, n2, "n1", "n2"},
		{n2, n1, "n2", "n1"},
	} {
		cc := tc.client.ClientConfig("127.0.0.1:8001")
		if cc.ServerName != "127.0.0.1" {
			t.Errorf("ClientConfig ServerName %q, want 127.0.0.1", cc.ServerName)
		}
		o := handshake(t, tc.server.Server, cc)
		if o.serverErr != nil || o.clientErr != nil {
			t.Fatalf("%s dials %s: server %v, client %v", tc.wantID, tc.serverName, o.serverErr, o.clientErr)
		}
		if o.identity != tc.wantID || o.serverCert.Subject.CommonName != tc.serverName {
			t.Errorf("%s dials %s: server saw %q, client saw %q", tc.wantID, tc.serverName, o.identity, o.serverCert.Subject.CommonName)
		}
	}
	// By name too.
	if o := handshake(t, n1.Server, n2.ClientConfig("localhost:8001")); o.serverErr != nil || o.clientErr != nil {
		t.Errorf("n2 dials localhost: server %v, client %v", o.serverErr, o.clientErr)
	}
	// The caller's changes to one ClientConfig do not leak into the next.
	cc := n1.ClientConfig("127.0.0.1:1")
	cc.InsecureSkipVerify = true
	if n1.ClientConfig("127.0.0.1:1").InsecureSkipVerify {
		t.Error("ClientConfig shares its configuration between calls")
	}
}

func TestPeerTLSWrongHost(t *testing.T) {
	p := newPKI(t)
	n1 := peer(t, filepath.Join(p.dir, "n1.crt"), filepath.Join(p.dir, "n1.key"), p.ca())
	far := peer(t, filepath.Join(p.dir, "far.crt"), filepath.Join(p.dir, "far.key"), p.ca())

	// far's certificate names 10.9.9.9 only; n1 dials it at 127.0.0.1.
	o := handshake(t, far.Server, n1.ClientConfig("127.0.0.1:8001"))
	var hostErr x509.HostnameError
	if o.clientErr == nil || !errors.As(o.clientErr, &hostErr) {
		t.Fatalf("dialing a peer whose certificate names another host: %v, want a hostname error", o.clientErr)
	}
	if o.serverErr == nil {
		t.Error("server side: handshake succeeded")
	}
	// Had n1 been told far is at 10.9.9.9, the same certificate would pass.
	if o := handshake(t, far.Server, n1.ClientConfig("10.9.9.9:8001")); o.clientErr != nil || o.serverErr != nil {
		t.Errorf("dialing far as 10.9.9.9: server %v, client %v", o.serverErr, o.clientErr)
	}
}

func TestPeerTLSRogue(t *testing.T) {
	p := newPKI(t)
	n1 := peer(t, filepath.Join(p.dir, "n1.crt"), filepath.Join(p.dir, "n1.key"), p.ca())

	// A rogue with a self-signed certificate, which trusts our CA (it is
	// public), and one with a node certificate from another CA.
	rogueCert, rogueKey := selfSigned(t, "n9")
	rogues := map[string]*PeerConfig{
		"self-signed": peer(t, rogueCert, rogueKey, p.ca()),
		"other CA":    peer(t, filepath.Join(p.otherDir, "n1.crt"), filepath.Join(p.otherDir, "n1.key"), p.ca()),
	}
	for what, rogue := range rogues {
		wantRefused(t, what+" rogue dials n1", handshake(t, n1.Server, rogue.ClientConfig("127.0.0.1:8001")), "unknown authority")
		o := handshake(t, rogue.Server, n1.ClientConfig("127.0.0.1:8001"))
		var verr *tls.CertificateVerificationError
		if !errors.As(o.clientErr, &verr) || o.serverErr == nil {
			t.Errorf("n1 dials %s rogue: client %v, server %v; want a verification error", what, o.clientErr, o.serverErr)
		}
	}

	// A client certificate from the very same CA is no node certificate.
	alice := &tls.Config{RootCAs: loadPool(t, p.ca()), ServerName: "127.0.0.1"}
	present(t, alice, filepath.Join(p.dir, "alice.crt"), filepath.Join(p.dir, "alice.key"))
	wantRefused(t, "client certificate on the peer port", handshake(t, n1.Server, alice), "not a node certificate")
	// And no certificate at all.
	wantRefused(t, "no certificate on the peer port",
		handshake(t, n1.Server, &tls.Config{RootCAs: loadPool(t, p.ca()), ServerName: "127.0.0.1"}), "certificate")
}

func TestIdentityFromConnPlain(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if id, ok := IdentityFromConn(a); ok || id != "" {
		t.Errorf("plain conn: %q, %v", id, ok)
	}
	if id, ok := IdentityFromConn(tls.Server(a, &tls.Config{})); ok || id != "" {
		t.Errorf("before the handshake: %q, %v", id, ok)
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8001":    "127.0.0.1",
		"[::1]:8001":        "::1",
		"node1.example:80":  "node1.example",
		"node1.example":     "node1.example",
		"[fe80::1]":         "fe80::1",
		"10.0.0.1":          "10.0.0.1",
		"node1.example:":    "node1.example",
		"::1":               "::1",
		"[::1%lo0]:8001":    "::1%lo0",
		"":                  "",
		"node1.example:bad": "node1.example",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeClock is a clock tests move by hand, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func serial(t *testing.T, r *CertReloader) *big.Int {
	t.Helper()
	c, err := r.Certificate()
	if err != nil {
		t.Fatalf("Certificate: %v", err)
	}
	return c.Leaf.SerialNumber
}

func TestCertReloader(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile := p.files("n1")
	r, err := NewCertReloader(certFile, keyFile, x509.ExtKeyUsageServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	r.mu.Lock()
	r.now, r.checked = clock.Now, clock.Now()
	r.mu.Unlock()
	var refused []error // what the node would log
	r.OnRefused(func(err error) { refused = append(refused, err) })
	first := serial(t, r)

	reissue := func() *big.Int {
		t.Helper()
		if err := certs.IssueNode(p.dir, p.dir, "n1", []string{"127.0.0.1"}, 0, true); err != nil {
			t.Fatal(err)
		}
		return readPEMCert(t, certFile).SerialNumber
	}

	// Replaced files are picked up at the next look, at most once a second.
	second := reissue()
	clock.Advance(500 * time.Millisecond)
	if got := serial(t, r); got.Cmp(first) != 0 {
		t.Errorf("reloaded within a second of the last look")
	}
	clock.Advance(600 * time.Millisecond)
	if got := serial(t, r); got.Cmp(second) != 0 {
		t.Errorf("serving %v after the files changed, want %v", got, second)
	}

	// A handshake serves the new certificate.
	cfg, err := ServerTLSFrom(r, "")
	if err != nil {
		t.Fatal(err)
	}
	client := p.clientTLS(t, "", "")
	if o := handshake(t, cfg, client); o.clientErr != nil || o.serverCert.SerialNumber.Cmp(second) != 0 {
		t.Errorf("handshake: %v, serial %v; want %v", o.clientErr, o.serverCert, second)
	}
	third := reissue()
	if err := r.Reload(); err != nil { // as on SIGHUP: no waiting
		t.Fatalf("Reload: %v", err)
	}
	if o := handshake(t, cfg, client); o.clientErr != nil || o.serverCert.SerialNumber.Cmp(third) != 0 {
		t.Errorf("handshake after Reload: %v; want serial %v", o.clientErr, third)
	}

	// A broken replacement (a key that does not match) is refused; the
	// previous certificate stays in use; a fixed one is then picked up.
	_, otherKey := p.files("n2")
	key, _ := os.ReadFile(otherKey)
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload with a mismatched key: nil error")
	}
	clock.Advance(2 * time.Second)
	if got := serial(t, r); got.Cmp(third) != 0 {
		t.Errorf("serving %v after a broken replacement, want the previous %v", got, third)
	}
	clock.Advance(2 * time.Second)
	serial(t, r) // the same broken files, looked at again
	if len(refused) != 1 {
		t.Errorf("a broken replacement looked at twice was reported %d times, want once: %v", len(refused), refused)
	}
	fourth := reissue()
	clock.Advance(2 * time.Second)
	if got := serial(t, r); got.Cmp(fourth) != 0 {
		t.Errorf("serving %v after the fix, want %v", got, fourth)
	}

	// An expired replacement is refused too.
	expCert, expKey := p.expiredCopy(t, "n1")
	for _, f := range [][2]string{{expKey, keyFile}, {expCert, certFile}} {
		b, _ := os.ReadFile(f[0])
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Reload with an expired certificate: %v", err)
	}
	clock.Advance(2 * time.Second)
	if got := serial(t, r); got.Cmp(fourth) != 0 {
		t.Errorf("serving %v after an expired replacement, want %v", got, fourth)
	}
	if len(refused) != 2 || !strings.Contains(refused[1].Error(), "expired") {
		t.Errorf("refusals reported: %v; want the mismatched key, then the expired certificate", refused)
	}
}

func TestPeerReload(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile := p.files("n1")
	n1 := peer(t, certFile, keyFile, p.ca())
	n2 := peer(t, filepath.Join(p.dir, "n2.crt"), filepath.Join(p.dir, "n2.key"), p.ca())
	if err := certs.IssueNode(p.dir, p.dir, "n1", []string{"127.0.0.1"}, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := n1.Certs.Reload(); err != nil {
		t.Fatal(err)
	}
	want := readPEMCert(t, certFile).SerialNumber
	// n1 presents the new certificate as a server...
	if o := handshake(t, n1.Server, n2.ClientConfig("127.0.0.1:1")); o.clientErr != nil || o.serverCert.SerialNumber.Cmp(want) != 0 {
		t.Errorf("n1 as server: %v %v", o.clientErr, o.serverErr)
	}
	// ...and as a client.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *big.Int, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer nc.Close()
		tc := tls.Server(nc, n2.Server)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if tc.Handshake() != nil {
			got <- nil
			return
		}
		got <- tc.ConnectionState().PeerCertificates[0].SerialNumber
		tc.Write([]byte("ok\n"))
	}()
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), n1.ClientConfig(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if s := <-got; s == nil || s.Cmp(want) != 0 {
		t.Errorf("n1 as client presented %v, want %v", s, want)
	}
}
