// Package certs is a small development PKI for seatd: a certificate
// authority and the node and client certificates it signs, made with Go's
// crypto/x509 alone (no openssl).
//
// It is meant for development, tests and demos, not for production: the CA
// key sits unencrypted in a file, nothing is revoked, and nobody checks who
// asks for a certificate. A production deployment brings certificates from
// its own PKI; seatd only needs PEM files.
//
// # Workflow
//
// Create a CA once, then one certificate per node and per client. The seat
// command wraps these functions (see RunCLI):
//
//	seat certs ca     --dir pki
//	seat certs node   --ca-dir pki --name n1 --hosts 127.0.0.1,localhost
//	seat certs node   --ca-dir pki --name n2 --hosts 127.0.0.1,localhost
//	seat certs node   --ca-dir pki --name n3 --hosts 127.0.0.1,localhost
//	seat certs client --ca-dir pki --name alice
//
// which leaves in pki/ the files ca.crt and ca.key, n1.crt and n1.key, ...,
// alice.crt and alice.key. Then, as in PROTOCOL.md part 2:
//
//	seatd --id n1 ... --tls-cert pki/n1.crt --tls-key pki/n1.key --tls-client-ca pki/ca.crt \
//	                  --peer-cert pki/n1.crt --peer-key pki/n1.key --peer-ca pki/ca.crt
//	seat --ca pki/ca.crt --cert pki/alice.crt --key pki/alice.key RESERVE 3
//
// A node certificate must name the host of the node's advertised --raft
// address (peers check it) and the host clients dial on its --listen
// address (clients check it): give every such name or IP in hosts.
//
// # What is issued
//
// All keys are ECDSA P-256 and all signatures ECDSA with SHA-256. Serial
// numbers are random 128-bit integers; a CA's subject also carries its
// serial number, so two CAs made with the same name are never mistaken for
// one another. Every certificate starts being valid
// five minutes in the past, so that a little clock skew between machines
// does not reject a certificate issued a moment ago, and none outlives the
// CA that signed it.
//
//   - The CA (ca.crt) may sign leaf certificates only (path length 0).
//   - A node certificate has the node's name as its subject Common Name,
//     its hosts as subject alternative names (IP addresses and DNS names),
//     and may be used for both TLS server and TLS client authentication:
//     between nodes, every node is the server of some connections and the
//     client of others.
//   - A client certificate has the client's name as its Common Name — the
//     client's identity, which a node with --tls-client-ca uses as the
//     holder of its writes — and may be used for client authentication
//     only, so it cannot pose as a node.
//
// The name of a node or client must be a valid protocol holder (1–64
// characters from A-Z a-z 0-9 . _ @ : -, see protocol.ValidHolder) not
// starting with a dot; it also names the files.
//
// # Files
//
// Certificates are written as PEM "CERTIFICATE" files with mode 0644, keys
// as PEM "PRIVATE KEY" (PKCS #8) files with mode 0600, into directories
// created with mode 0700 when missing. Existing files are never overwritten
// unless force is set; then each file is replaced atomically (written
// aside and renamed), so a running node that reloads its certificate never
// reads half a file.
package certs
