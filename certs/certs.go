package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seatd/seatd/protocol"
)

// Default lifetimes, used when a validFor argument is zero.
const (
	// DefaultCAValidity is how long a CA made by GenerateCA is valid: 5 years.
	DefaultCAValidity = 5 * 365 * 24 * time.Hour
	// DefaultCertValidity is how long a node or client certificate is
	// valid: 1 year (never longer than its CA).
	DefaultCertValidity = 365 * 24 * time.Hour
)

// DefaultCACommonName is the subject Common Name of a CA made by GenerateCA
// with an empty commonName.
const DefaultCACommonName = "seatd development CA"

// CAName is the base name of the CA's files: ca.crt and ca.key.
const CAName = "ca"

// backdate is how far in the past certificates start being valid, to
// tolerate clock skew between the issuing and the checking machine.
const backdate = 5 * time.Minute

// Errors returned by this package. They are wrapped with context; test them
// with errors.Is.
var (
	// ErrExists means a file to be written already exists and force was
	// not set. Nothing was written.
	ErrExists = errors.New("file exists (force overwrites it)")
	// ErrInvalid means an argument is unusable: a bad name, no hosts, a
	// negative lifetime.
	ErrInvalid = errors.New("invalid argument")
)

// Files returns the certificate and key file paths for name in dir:
// dir/name.crt and dir/name.key. Files(dir, CAName) are the CA's files.
func Files(dir, name string) (certFile, keyFile string) {
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

// GenerateCA creates a self-signed CA certificate and its private key in dir
// (created with mode 0700 if missing): ca.crt (mode 0644) and ca.key (mode
// 0600). commonName is the CA's subject Common Name (DefaultCACommonName when
// empty); validFor its lifetime (DefaultCAValidity when zero). Unless force
// is set, GenerateCA fails with ErrExists when either file exists.
func GenerateCA(dir, commonName string, validFor time.Duration, force bool) error {
	if commonName == "" {
		commonName = DefaultCACommonName
	}
	validFor, err := lifetime(validFor, DefaultCAValidity)
	if err != nil {
		return fmt.Errorf("certs: generate CA: %w", err)
	}
	notBefore := time.Now().Add(-backdate)
	return generateCA(dir, commonName, notBefore, notBefore.Add(validFor), force)
}

func generateCA(dir, commonName string, notBefore, notAfter time.Time, force bool) error {
	certFile, keyFile := Files(dir, CAName)
	if err := prepare(dir, force, certFile, keyFile); err != nil {
		return fmt.Errorf("certs: generate CA in %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certs: generate CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return fmt.Errorf("certs: generate CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   commonName,
			Organization: []string{"seatd development"},
			// Two CAs made with the same name still have distinct
			// subjects, so neither verifiers nor clients choosing a
			// certificate to present mistake one for the other.
			SerialNumber: serial.Text(16),
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // only leaf certificates below the CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("certs: sign CA certificate: %w", err)
	}
	if err := writePair(certFile, keyFile, der, key); err != nil {
		return fmt.Errorf("certs: generate CA: %w", err)
	}
	return nil
}

// IssueNode issues a certificate for a seatd node, signed by the CA in
// caDir, into outDir (created with mode 0700 if missing): name.crt (0644)
// and name.key (0600). The certificate's Common Name is name; hosts become
// its subject alternative names, IP addresses as IP SANs and anything else
// as DNS names (a host:port or [ipv6]:port is accepted, the port ignored).
// It allows both server and client authentication, as nodes dial each other
// over mutual TLS. validFor is its lifetime (DefaultCertValidity when zero),
// cut short to the CA's own end. Unless force is set, IssueNode fails with
// ErrExists when either file exists.
func IssueNode(caDir, outDir, name string, hosts []string, validFor time.Duration, force bool) error {
	validFor, err := lifetime(validFor, DefaultCertValidity)
	if err != nil {
		return fmt.Errorf("certs: issue node certificate %q: %w", name, err)
	}
	ips, dns, err := parseHosts(hosts)
	if err != nil {
		return fmt.Errorf("certs: issue node certificate %q: %w", name, err)
	}
	notBefore := time.Now().Add(-backdate)
	return issue(caDir, outDir, leaf{
		name:      name,
		ips:       ips,
		dns:       dns,
		usage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		notBefore: notBefore,
		notAfter:  notBefore.Add(validFor),
	}, force)
}

// IssueClient issues a client certificate, signed by the CA in caDir, into
// outDir (created with mode 0700 if missing): name.crt (0644) and name.key
// (0600). Its Common Name is name, the identity the client acts as on a
// node that requires client certificates; it allows client authentication
// only. validFor is its lifetime (DefaultCertValidity when zero), cut short
// to the CA's own end. Unless force is set, IssueClient fails with ErrExists
// when either file exists.
func IssueClient(caDir, outDir, name string, validFor time.Duration, force bool) error {
	validFor, err := lifetime(validFor, DefaultCertValidity)
	if err != nil {
		return fmt.Errorf("certs: issue client certificate %q: %w", name, err)
	}
	notBefore := time.Now().Add(-backdate)
	return issue(caDir, outDir, leaf{
		name:      name,
		usage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		notBefore: notBefore,
		notAfter:  notBefore.Add(validFor),
	}, force)
}

// leaf describes a node or client certificate to issue.
type leaf struct {
	name                string
	ips                 []net.IP
	dns                 []string
	usage               []x509.ExtKeyUsage
	notBefore, notAfter time.Time // exactly as given: tests issue expired certificates
}

// issue signs l with the CA in caDir and writes it to outDir.
func issue(caDir, outDir string, l leaf, force bool) error {
	if err := validName(l.name); err != nil {
		return fmt.Errorf("certs: issue certificate: %w", err)
	}
	if l.name == CAName && sameDir(caDir, outDir) {
		return fmt.Errorf("certs: issue certificate: %w: name %q would overwrite the CA's own files", ErrInvalid, l.name)
	}
	ca, caKey, err := loadCA(caDir)
	if err != nil {
		return fmt.Errorf("certs: issue certificate %q: %w", l.name, err)
	}
	certFile, keyFile := Files(outDir, l.name)
	if err := prepare(outDir, force, certFile, keyFile); err != nil {
		return fmt.Errorf("certs: issue certificate %q in %s: %w", l.name, outDir, err)
	}
	if l.notAfter.After(ca.NotAfter) {
		l.notAfter = ca.NotAfter // a chain is only valid while all of it is
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certs: generate key for %q: %w", l.name, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return fmt.Errorf("certs: issue certificate %q: %w", l.name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: l.name},
		NotBefore:             l.notBefore,
		NotAfter:              l.notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           l.usage,
		BasicConstraintsValid: true,
		IPAddresses:           l.ips,
		DNSNames:              l.dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("certs: sign certificate %q: %w", l.name, err)
	}
	if err := writePair(certFile, keyFile, der, key); err != nil {
		return fmt.Errorf("certs: issue certificate %q: %w", l.name, err)
	}
	return nil
}

// loadCA reads the CA certificate and key from caDir and checks that they
// belong together and can still sign.
func loadCA(caDir string) (*x509.Certificate, crypto.Signer, error) {
	certFile, keyFile := Files(caDir, CAName)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("load CA from %s: %w", caDir, err)
	}
	ca := pair.Leaf
	if ca == nil { // LoadX509KeyPair fills Leaf since Go 1.23; be safe
		if ca, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("parse CA certificate %s: %w", certFile, err)
		}
	}
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", certFile)
	}
	if now := time.Now(); now.After(ca.NotAfter) {
		return nil, nil, fmt.Errorf("CA certificate %s expired on %s", certFile, ca.NotAfter.Format(time.RFC3339))
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("CA key %s cannot sign", keyFile)
	}
	return ca, signer, nil
}

// lifetime applies def to a zero d and refuses a negative one.
func lifetime(d, def time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("%w: negative lifetime %v", ErrInvalid, d)
	case d == 0:
		return def, nil
	}
	return d, nil
}

// validName checks a node or client name: a protocol holder (it may become
// the client's identity) that is also a harmless file name.
func validName(name string) error {
	if !protocol.ValidHolder(name) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("%w: name %q: want 1-64 characters from A-Z a-z 0-9 . _ @ : -, not starting with a dot", ErrInvalid, name)
	}
	return nil
}

// parseHosts splits hosts into IP addresses and DNS names, dropping blanks,
// ports and duplicates. At least one host is required.
func parseHosts(hosts []string) ([]net.IP, []string, error) {
	var ips []net.IP
	var dns []string
	seen := make(map[string]bool)
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validDNSName(name) {
			return nil, nil, fmt.Errorf("%w: host %q is neither an IP address nor a DNS name", ErrInvalid, h)
		}
		if !seen[name] {
			seen[name] = true
			dns = append(dns, name)
		}
	}
	if len(ips) == 0 && len(dns) == 0 {
		return nil, nil, fmt.Errorf("%w: no hosts: a node certificate must name the host peers and clients dial", ErrInvalid)
	}
	return ips, dns, nil
}

// validDNSName accepts host names and a leading wildcard label: labels of
// letters, digits, '-' and '_'.
func validDNSName(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	for i, label := range strings.Split(name, ".") {
		if label == "*" && i == 0 && strings.Contains(name, ".") {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// serialNumber returns a random positive serial number of up to 128 bits.
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	if n.Sign() == 0 {
		n.SetInt64(1) // zero is not a valid serial number
	}
	return n, nil
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// prepare creates dir (mode 0700) if missing and, unless force is set,
// fails with ErrExists if any of files exists, so that nothing is written
// when anything would be overwritten.
func prepare(dir string, force bool, files ...string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	if force {
		return nil
	}
	for _, f := range files {
		_, err := os.Lstat(f)
		switch {
		case err == nil:
			return fmt.Errorf("%w: %s", ErrExists, f)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("check %s: %w", f, err)
		}
	}
	return nil
}

// writePair writes the key (first, mode 0600) and the certificate (mode
// 0644) as PEM files.
func writePair(certFile, keyFile string, certDER []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644)
}

// writeFile replaces path atomically with data and mode: it writes a
// temporary file in the same directory (created 0600, so a key is never
// readable by others, not even briefly), syncs it and renames it over path.
func writeFile(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
