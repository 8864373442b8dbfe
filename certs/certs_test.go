package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// readCert parses the PEM certificate in file.
func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: want exactly one PEM CERTIFICATE block", file)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

// readKey parses the PEM PKCS #8 key in file.
func readKey(t *testing.T, file string) *ecdsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s: want a PEM PRIVATE KEY block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("%s: key is %T, want ECDSA P-256", file, k)
	}
	return ek
}

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// pool returns a pool holding the CA in caDir.
func pool(t *testing.T, caDir string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	caFile, _ := Files(caDir, CAName)
	p.AddCert(readCert(t, caFile))
	return p
}

// wantAbout checks that got is within a minute of want.
func wantAbout(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -time.Minute || d > time.Minute {
		t.Errorf("%s = %v, want about %v", what, got, want)
	}
}

func TestGenerateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki", "sub") // missing: created
	if err := GenerateCA(dir, "test CA", 0, false); err != nil {
		t.Fatalf("GenerateCA: %v", err)
	}
	certFile, keyFile := Files(dir, CAName)
	if certFile != filepath.Join(dir, "ca.crt") || keyFile != filepath.Join(dir, "ca.key") {
		t.Fatalf("Files(dir, CAName) = %s, %s", certFile, keyFile)
	}
	wantMode(t, dir, 0o700)
	wantMode(t, certFile, 0o644)
	wantMode(t, keyFile, 0o600)

	ca := readCert(t, certFile)
	key := readKey(t, keyFile)
	if !key.PublicKey.Equal(ca.PublicKey) {
		t.Error("ca.key does not match ca.crt")
	}
	if ca.Subject.CommonName != "test CA" {
		t.Errorf("CN %q, want %q", ca.Subject.CommonName, "test CA")
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("IsCA %v, BasicConstraintsValid %v, MaxPathLen %d (zero %v): want a CA with path length 0",
			ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("KeyUsage %v, want CertSign|CRLSign", ca.KeyUsage)
	}
	if ca.SignatureAlgorithm != x509.ECDSAWithSHA256 || ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("algorithms %v / %v, want ECDSA with SHA-256", ca.SignatureAlgorithm, ca.PublicKeyAlgorithm)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if ca.SerialNumber.Sign() <= 0 || ca.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v: want a positive number of at most 128 bits", ca.SerialNumber)
	}
	now := time.Now()
	wantAbout(t, "NotBefore", ca.NotBefore, now.Add(-5*time.Minute))
	wantAbout(t, "NotAfter", ca.NotAfter, now.Add(-5*time.Minute+DefaultCAValidity))

	// The default name.
	dir2 := t.TempDir()
	if err := GenerateCA(dir2, "", 48*time.Hour, false); err != nil {
		t.Fatalf("GenerateCA: %v", err)
	}
	ca2 := readCert(t, filepath.Join(dir2, "ca.crt"))
	if ca2.Subject.CommonName != DefaultCACommonName {
		t.Errorf("CN %q, want %q", ca2.Subject.CommonName, DefaultCACommonName)
	}
	wantAbout(t, "NotAfter", ca2.NotAfter, now.Add(-5*time.Minute+48*time.Hour))
	if ca.SerialNumber.Cmp(ca2.SerialNumber) == 0 {
		t.Error("two CAs with the same serial number")
	}
}

func TestIssueNode(t *testing.T) {
	caDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "nodes")
	if err := GenerateCA(caDir, "", 0, false); err != nil {
		t.Fatal(err)
	}
	hosts := []string{"127.0.0.1", " localhost ", "Node1.Example.", "[::1]:8001", "10.0.0.7:8001", "127.0.0.1", ""}
	if err := IssueNode(caDir, out, "n1", hosts, 0, false); err != nil {
		t.Fatalf("IssueNode: %v", err)
	}
	certFile, keyFile := Files(out, "n1")
	wantMode(t, out, 0o700)
	wantMode(t, certFile, 0o644)
	wantMode(t, keyFile, 0o600)

	c := readCert(t, certFile)
	if !readKey(t, keyFile).PublicKey.Equal(c.PublicKey) {
		t.Error("n1.key does not match n1.crt")
	}
	if c.Subject.CommonName != "n1" || c.IsCA {
		t.Errorf("CN %q IsCA %v, want n1, false", c.Subject.CommonName, c.IsCA)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1", "10.0.0.7"}; !slices.Equal(ips, want) {
		t.Errorf("IP SANs %v, want %v", ips, want)
	}
	if want := []string{"localhost", "node1.example"}; !slices.Equal(c.DNSNames, want) {
		t.Errorf("DNS SANs %v, want %v", c.DNSNames, want)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(c.ExtKeyUsage, want) {
		t.Errorf("ExtKeyUsage %v, want server and client auth", c.ExtKeyUsage)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage %v, want DigitalSignature", c.KeyUsage)
	}
	now := time.Now()
	wantAbout(t, "NotBefore", c.NotBefore, now.Add(-5*time.Minute))
	wantAbout(t, "NotAfter", c.NotAfter, now.Add(-5*time.Minute+DefaultCertValidity))

	roots := pool(t, caDir)
	for _, name := range []string{"127.0.0.1", "::1", "localhost", "node1.example", "10.0.0.7"} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify as server %s: %v", name, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "10.9.9.9"}); err == nil {
		t.Error("verified for a host it does not name")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify as client: %v", err)
	}
}

func TestIssueClient(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCA(dir, "", 0, false); err != nil {
		t.Fatal(err)
	}
	if err := IssueClient(dir, dir, "alice@example.com", 30*24*time.Hour, false); err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	certFile, keyFile := Files(dir, "alice@example.com")
	wantMode(t, certFile, 0o644)
	wantMode(t, keyFile, 0o600)
	c := readCert(t, certFile)
	if c.Subject.CommonName != "alice@example.com" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage %v, want client auth only", c.ExtKeyUsage)
	}
	if len(c.IPAddresses)+len(c.DNSNames) != 0 {
		t.Errorf("client certificate has SANs %v %v", c.IPAddresses, c.DNSNames)
	}
	wantAbout(t, "NotAfter", c.NotAfter, time.Now().Add(-5*time.Minute+30*24*time.Hour))
	roots := pool(t, dir)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify as client: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a client certificate verified as a server")
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCA(dir, "", 48*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if err := IssueClient(dir, dir, "bob", 0, false); err != nil {
		t.Fatal(err)
	}
	ca, bob := readCert(t, filepath.Join(dir, "ca.crt")), readCert(t, filepath.Join(dir, "bob.crt"))
	if !bob.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("client valid until %v, CA until %v: want the CA's end", bob.NotAfter, ca.NotAfter)
	}
}

func TestExpiredCertificate(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCA(dir, "", 0, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err := issue(dir, dir, leaf{
		name:      "old",
		usage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		notBefore: now.Add(-48 * time.Hour),
		notAfter:  now.Add(-24 * time.Hour),
	}, false)
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	c := readCert(t, filepath.Join(dir, "old.crt"))
	_, err = c.Verify(x509.VerifyOptions{Roots: pool(t, dir), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("verify expired certificate: %v, want x509.Expired", err)
	}
}

func TestRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCA(dir, "", 0, false); err != nil {
		t.Fatal(err)
	}
	caFile, caKey := Files(dir, CAName)
	before, _ := os.ReadFile(caFile)
	if err := GenerateCA(dir, "", 0, false); !errors.Is(err, ErrExists) {
		t.Errorf("second GenerateCA: %v, want ErrExists", err)
	}
	if after, _ := os.ReadFile(caFile); !bytes.Equal(before, after) {
		t.Error("ca.crt changed after a refused GenerateCA")
	}

	if err := IssueNode(dir, dir, "n1", []string{"127.0.0.1"}, 0, false); err != nil {
		t.Fatal(err)
	}
	if err := IssueNode(dir, dir, "n1", []string{"127.0.0.1"}, 0, false); !errors.Is(err, ErrExists) {
		t.Errorf("second IssueNode: %v, want ErrExists", err)
	}
	// Only the key is in the way: nothing is written, not even the certificate.
	_, keyFile := Files(dir, "alice")
	if err := os.WriteFile(keyFile, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := IssueClient(dir, dir, "alice", 0, false); !errors.Is(err, ErrExists) {
		t.Errorf("IssueClient over an existing key: %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "alice.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("alice.crt written although alice.key was in the way: %v", err)
	}

	// force replaces, keeping the modes.
	old := readCert(t, filepath.Join(dir, "n1.crt"))
	if err := IssueNode(dir, dir, "n1", []string{"127.0.0.1"}, 0, true); err != nil {
		t.Fatalf("IssueNode with force: %v", err)
	}
	if readCert(t, filepath.Join(dir, "n1.crt")).SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Error("force did not replace n1.crt")
	}
	if err := IssueClient(dir, dir, "alice", 0, true); err != nil {
		t.Fatalf("IssueClient with force: %v", err)
	}
	wantMode(t, keyFile, 0o600)
	if err := GenerateCA(dir, "", 0, true); err != nil {
		t.Fatalf("GenerateCA with force: %v", err)
	}
	if after, _ := os.ReadFile(caFile); bytes.Equal(before, after) {
		t.Error("force did not replace ca.crt")
	}
	wantMode(t, caKey, 0o600)

	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestInvalidArguments(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCA(dir, "", 0, false); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	hosts := []string{"127.0.0.1"}
	for _, tc := range []struct {
		what string
		err  error
	}{
		{"empty name", IssueClient(dir, out, "", 0, false)},
		{"slash in name", IssueClient(dir, out, "a/b", 0, false)},
		{"dot name", IssueClient(dir, out, "..", 0, false)},
		{"space in name", IssueNode(dir, out, "n 1", hosts, 0, false)},
		{"long name", IssueClient(dir, out, strings.Repeat("a", 65), 0, false)},
		{"no hosts", IssueNode(dir, out, "n1", nil, 0, false)},
		{"blank hosts", IssueNode(dir, out, "n1", []string{"", " "}, 0, false)},
		{"bad host", IssueNode(dir, out, "n1", []string{"bad host!"}, 0, false)},
		{"bare wildcard", IssueNode(dir, out, "n1", []string{"*"}, 0, false)},
		{"negative node lifetime", IssueNode(dir, out, "n1", hosts, -time.Hour, false)},
		{"negative client lifetime", IssueClient(dir, out, "bob", -time.Hour, false)},
		{"negative CA lifetime", GenerateCA(t.TempDir(), "", -time.Hour, false)},
		{"name ca in the CA directory", IssueClient(dir, dir, "ca", 0, true)},
	} {
		if !errors.Is(tc.err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.what, tc.err)
		}
	}
	if err := IssueClient(filepath.Join(dir, "missing"), out, "bob", 0, false); err == nil {
		t.Error("IssueClient without a CA: nil error")
	}
	// Not a CA: a client certificate posing as one.
	if err := IssueClient(dir, out, "ca", 0, false); err != nil {
		t.Fatal(err)
	}
	if err := IssueClient(out, out, "bob", 0, false); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("IssueClient with a leaf as CA: %v, want 'not a CA'", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 2 { // ca.crt, ca.key from above
		t.Errorf("files left by failed calls: %v", entries)
	}
	// A wildcard and an IPv6 address are fine.
	ips, dns, err := parseHosts([]string{"*.nodes.example", "fe80::1"})
	if err != nil || len(ips) != 1 || !ips[0].Equal(net.ParseIP("fe80::1")) || !slices.Equal(dns, []string{"*.nodes.example"}) {
		t.Errorf("parseHosts = %v, %v, %v", ips, dns, err)
	}
}
