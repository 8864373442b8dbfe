package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// TLS for both ports.
//
// The client port (--listen) takes TLS 1.2 or newer, as PROTOCOL.md part 2
// requires, with TLS 1.2 restricted to forward-secret AEAD suites: ECDHE
// key exchange with AES-GCM or ChaCha20-Poly1305. The node-to-node port
// (--raft) takes TLS 1.3 only: both ends are seatd, so there is no old
// client to accommodate, and TLS 1.3 costs one round trip less per new
// Raft or forwarding connection, encrypts the certificates (a passive
// observer does not learn node names) and has no cipher suites to get
// wrong.
//
// One consequence of TLS 1.3 with client certificates: the client's
// handshake completes before the server has checked the client's
// certificate, so a refused client learns it on its first read (a
// "remote error: tls: ..." alert), not from Handshake.

// tls12Suites are the TLS 1.2 cipher suites the client port accepts. TLS 1.3
// suites are not configurable in Go and are all fine.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// reloadInterval is how often at most a CertReloader looks at its files
// during handshakes.
const reloadInterval = time.Second

// ServerTLS returns the TLS configuration of the client port: the node
// presents the certificate in certFile with the key in keyFile, and speaks
// TLS 1.2 (modern suites only) or 1.3. When clientCAFile is not empty,
// every client must present a certificate signed by a CA in that PEM file,
// which IdentityFromConn then reads the client's identity from.
//
// The certificate is reloaded when its files change (see CertReloader);
// use ServerTLSFrom to keep a handle for Reload on SIGHUP. The CA file is
// read once.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	certs, err := NewCertReloader(certFile, keyFile, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, fmt.Errorf("transport: client TLS: %w", err)
	}
	return ServerTLSFrom(certs, clientCAFile)
}

// ServerTLSFrom is ServerTLS with the node's certificate taken from certs,
// which the caller keeps to call Reload (on SIGHUP, say). Make certs with
// NewCertReloader(certFile, keyFile, x509.ExtKeyUsageServerAuth), so that a
// replacement is checked as the first certificate is.
func ServerTLSFrom(certs *CertReloader, clientCAFile string) (*tls.Config, error) {
	cert, err := certs.Certificate()
	if err != nil {
		return nil, fmt.Errorf("transport: client TLS: %w", err)
	}
	if !allows(cert.Leaf, x509.ExtKeyUsageServerAuth) {
		return nil, fmt.Errorf("transport: client TLS: certificate %s does not allow server authentication", certs.certFile)
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   slices.Clone(tls12Suites),
		GetCertificate: certs.GetCertificate,
		ClientAuth:     tls.NoClientCert,
	}
	if clientCAFile != "" {
		pool, err := loadCAPool(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("transport: client TLS: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// PeerConfig is the mutual TLS configuration of the node-to-node port. Every
// node presents its node certificate on both sides of every connection,
// and accepts only node certificates signed by the peer CA.
type PeerConfig struct {
	// Server is the configuration for connections accepted on the --raft
	// port (e.g. tls.NewListener(ln, p.Server)): TLS 1.3, and the dialing
	// node must present a certificate signed by the peer CA that allows
	// both client and server authentication — a node certificate, so a
	// client certificate from the same CA cannot pose as a node.
	Server *tls.Config
	// Certs is this node's certificate, shared by both sides; call
	// Certs.Reload to pick up replaced files at once.
	Certs *CertReloader

	client *tls.Config // template of ClientConfig
}

// PeerTLS returns the mutual TLS configuration of the node-to-node port:
// this node's certificate and key (a node certificate, allowing server and
// client authentication) and the PEM file of the CA that signs every node's
// certificate. The certificate is reloaded when its files change (see
// CertReloader); the CA file is read once.
func PeerTLS(certFile, keyFile, caFile string) (*PeerConfig, error) {
	certs, err := NewCertReloader(certFile, keyFile, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, fmt.Errorf("transport: peer TLS: %w", err)
	}
	pool, err := loadCAPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("transport: peer TLS: %w", err)
	}
	return &PeerConfig{
		Server: &tls.Config{
			MinVersion:       tls.VersionTLS13,
			GetCertificate:   certs.GetCertificate,
			ClientAuth:       tls.RequireAndVerifyClientCert,
			ClientCAs:        pool,
			VerifyConnection: verifyPeerIsNode,
		},
		Certs: certs,
		client: &tls.Config{
			MinVersion:           tls.VersionTLS13,
			RootCAs:              pool,
			GetClientCertificate: certs.GetClientCertificate,
		},
	}, nil
}

// ClientConfig returns the configuration for dialing the node at
// serverAddr (its advertised --raft address, host:port): the server's
// certificate must be signed by the peer CA and name serverAddr's host —
// as a DNS name, or as an IP address SAN when the host is an IP — and this
// node presents its own certificate. A serverAddr without a port is taken
// as a bare host.
func (p *PeerConfig) ClientConfig(serverAddr string) *tls.Config {
	cfg := p.client.Clone()
	cfg.ServerName = hostOf(serverAddr)
	return cfg
}

// verifyPeerIsNode refuses a peer whose verified certificate does not allow
// server authentication: client certificates may be signed by the same CA
// as node certificates, but only nodes may use the node-to-node port.
func verifyPeerIsNode(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return errors.New("transport: peer presented no verified certificate")
	}
	leaf := cs.VerifiedChains[0][0]
	if !allows(leaf, x509.ExtKeyUsageServerAuth) {
		return fmt.Errorf("transport: peer certificate %q is not a node certificate (no server authentication usage)", leaf.Subject.CommonName)
	}
	return nil
}

// IdentityFromConn returns the subject Common Name of the client
// certificate verified on conn, which must be a *tls.Conn (or anything with
// its ConnectionState method) whose handshake has completed — call
// HandshakeContext first, under a deadline. It reports false for a
// plaintext connection, before the handshake, when the client presented no
// verified certificate, and when the Common Name is empty.
func IdentityFromConn(conn net.Conn) (string, bool) {
	sc, ok := conn.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return "", false
	}
	cs := sc.ConnectionState()
	if !cs.HandshakeComplete || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", false
	}
	cn := cs.VerifiedChains[0][0].Subject.CommonName
	return cn, cn != ""
}

// CertReloader holds a certificate and its key, read from two PEM files,
// and reads them again when they change, so that certificates are rotated
// by replacing the files: no restart, and connections already open keep
// their session.
//
// During handshakes (GetCertificate, GetClientCertificate) it looks at the
// files' metadata at most once a second and reloads when either file
// changed (modification time, size, or a new file renamed over the old
// one). Reload reads them at once, for a SIGHUP handler that wants to
// report a bad file. A replacement that does not load — a key that does
// not match the certificate (say, half-way through replacing the pair),
// an expired certificate, one without the required usages — is refused:
// the previous certificate stays in use, and the files are tried again at
// the next check. Write the key first, then the certificate, each
// atomically (certs.IssueNode with force does).
//
// A CertReloader is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	usages            []x509.ExtKeyUsage
	now               func() time.Time // time.Now; tests move it

	mu       sync.Mutex
	cert     *tls.Certificate
	certStat os.FileInfo // of the files cert was loaded from
	keyStat  os.FileInfo
	checked  time.Time // last look at the files
	// onRefused, when set, is told why changed files were refused. The
	// files last refused are remembered and not read again until they
	// change: they would be refused again, and told again at every look.
	onRefused                       func(error)
	refusedCertStat, refusedKeyStat os.FileInfo
}

// NewCertReloader loads the certificate in certFile with the key in keyFile
// and returns a reloader serving it. Every certificate it loads, the first
// and any replacement, must match its key, be currently valid, and allow
// every extended key usage in usages.
func NewCertReloader(certFile, keyFile string, usages ...x509.ExtKeyUsage) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile, usages: usages, now: time.Now}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files now. On error the previous certificate, if any,
// stays in use.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = r.now()
	return r.load()
}

// load reads and checks both files and swaps the new certificate in. The
// caller holds r.mu.
func (r *CertReloader) load() error {
	certStat, err1 := os.Stat(r.certFile)
	keyStat, err2 := os.Stat(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	if pair.Leaf == nil { // filled by LoadX509KeyPair since Go 1.23
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("parse certificate %s: %w", r.certFile, err)
		}
	}
	if now := r.now(); now.After(pair.Leaf.NotAfter) {
		return fmt.Errorf("certificate %s expired on %s", r.certFile, pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, u := range r.usages {
		if !allows(pair.Leaf, u) {
			return fmt.Errorf("certificate %s does not allow %s", r.certFile, usageName(u))
		}
	}
	r.cert, r.certStat, r.keyStat = &pair, certStat, keyStat
	return nil
}

// OnRefused sets f to be told why a replacement found by a handshake's look
// at the files was refused (the previous certificate stays in use): once per
// change of the files, however many handshakes look at them meanwhile. The
// node logs it. Reload returns its error instead.
func (r *CertReloader) OnRefused(f func(error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onRefused = f
}

// current returns the certificate to present, first reloading it if the
// last look at the files is over a second old and they changed. A failed
// reload keeps the previous certificate; it is retried at the next look.
func (r *CertReloader) current() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= reloadInterval {
		r.checked = now
		if certStat, keyStat, ok := r.stat(); ok && r.isNew(certStat, keyStat) {
			if err := r.load(); err != nil { // keep serving the previous certificate
				r.refusedCertStat, r.refusedKeyStat = certStat, keyStat
				if r.onRefused != nil {
					r.onRefused(err)
				}
			}
		}
	}
	if r.cert == nil {
		return nil, fmt.Errorf("transport: no certificate loaded from %s", r.certFile)
	}
	return r.cert, nil
}

// stat reads both files' metadata; ok is false while either is missing
// (being replaced?): the caller keeps what it has.
func (r *CertReloader) stat() (certStat, keyStat os.FileInfo, ok bool) {
	certStat, err1 := os.Stat(r.certFile)
	keyStat, err2 := os.Stat(r.keyFile)
	return certStat, keyStat, err1 == nil && err2 == nil
}

// isNew reports whether the files differ both from those last loaded and
// from those last refused. The caller holds r.mu.
func (r *CertReloader) isNew(certStat, keyStat os.FileInfo) bool {
	loaded := !differ(certStat, r.certStat) && !differ(keyStat, r.keyStat)
	refused := !differ(certStat, r.refusedCertStat) && !differ(keyStat, r.refusedKeyStat)
	return !loaded && !refused
}

func differ(now, then os.FileInfo) bool {
	return then == nil || !os.SameFile(now, then) || !now.ModTime().Equal(then.ModTime()) || now.Size() != then.Size()
}

// Certificate returns the certificate currently served, after the same
// change check as a handshake.
func (r *CertReloader) Certificate() (*tls.Certificate, error) { return r.current() }

// GetCertificate is for tls.Config.GetCertificate: it returns the current
// certificate whatever the client hello.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.current()
}

// GetClientCertificate is for tls.Config.GetClientCertificate: it returns
// the current certificate whatever the server asks for.
func (r *CertReloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.current()
}

// allows reports whether c may be used for usage: c lists it, lists
// ExtKeyUsageAny, or lists no extended key usage at all.
func allows(c *x509.Certificate, usage x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.Contains(c.ExtKeyUsage, usage) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "server authentication"
	case x509.ExtKeyUsageClientAuth:
		return "client authentication"
	}
	return fmt.Sprintf("extended key usage %d", u)
}

// loadCAPool reads a PEM file of one or more CA certificates.
func loadCAPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// hostOf returns the host of a host:port address, or addr itself when it
// has no port; IPv6 brackets are removed.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}
