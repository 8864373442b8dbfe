package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/seatd/seatd/transport"
)

// serverTLS returns the TLS configuration of the client port and of the
// HTTP port (--tls-cert, --tls-key, --tls-client-ca). Both serve the
// certificate of one reloader, made on first use.
func (n *Node) serverTLS() (*tls.Config, error) {
	if n.clientCerts == nil {
		certs, err := transport.NewCertReloader(n.cfg.TLSCert, n.cfg.TLSKey, x509.ExtKeyUsageServerAuth)
		if err != nil {
			return nil, fmt.Errorf("client TLS: %w", err)
		}
		certs.OnRefused(n.certRefused("--tls-cert"))
		n.clientCerts = certs
	}
	return transport.ServerTLSFrom(n.clientCerts, n.cfg.TLSClientCA)
}

// certRefused returns the warning a node logs when a replaced certificate
// (the one of flag) is refused: the previous one stays in use, and the
// operator learns why rather than finding the old certificate expire.
func (n *Node) certRefused(flag string) func(error) {
	return func(err error) {
		n.logger.Warn("certificate replacement refused; the previous certificate stays in use", "flag", flag, "error", err)
	}
}
