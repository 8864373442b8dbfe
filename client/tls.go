package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// LoadTLS builds a Config.TLS from PEM files, as the seat command's --ca,
// --cert and --key flags do. caFile holds the CA certificate(s) that sign
// the nodes' certificates; empty means the system's roots. certFile and
// keyFile, both or neither, are the client's own certificate and key, for
// nodes that require client certificates (mutual TLS); the certificate's
// Common Name is then the identity the client acts as. ServerName is left
// empty, so each address is checked against its own host. The result
// requires TLS 1.2 or newer.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: TLS: read CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("client: TLS: CA file %s holds no PEM certificate", caFile)
		}
	}
	switch {
	case certFile != "" && keyFile != "":
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client: TLS: load certificate %s with key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case certFile != "" || keyFile != "":
		return nil, errors.New("client: TLS: a client certificate needs both its certificate and its key file")
	}
	return cfg, nil
}
