package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Dialer opens node-to-node connections to a given service. With Peer set,
// every connection is mutual TLS: the other node's certificate must be
// signed by the peer CA and name the host of the address dialled.
type Dialer struct {
	Peer *PeerConfig
}

// Dial connects to addr and announces service header. The connection is
// ready for the service's own protocol when Dial returns.
func (d *Dialer) Dial(header byte, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var err error
	if d.Peer != nil {
		td := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: d.Peer.ClientConfig(addr)}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		conn, err = td.DialContext(ctx, "tcp", addr)
		cancel()
	} else {
		conn, err = net.DialTimeout("tcp", addr, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte{header}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("announce service %d to %s: %w", header, addr, err)
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// StreamLayer is the raft.StreamLayer that carries Raft over the mux.
type StreamLayer struct {
	net.Listener
	dialer *Dialer
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer returns a stream layer accepting from the mux's Raft
// listener and dialing other nodes' Raft service.
func NewStreamLayer(m *Mux, d *Dialer) *StreamLayer {
	return &StreamLayer{Listener: m.Listen(HeaderRaft), dialer: d}
}

// Dial opens a Raft connection to another node.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dialer.Dial(HeaderRaft, string(address), timeout)
}
