package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
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
	return d.DialContext(context.Background(), header, addr, timeout)
}

// DialContext is Dial, also given up as soon as ctx is done: a node that
// stops must not wait out the timeout of a connect or a TLS handshake to
// a peer that does not answer.
func (d *Dialer) DialContext(ctx context.Context, header byte, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if d.Peer != nil {
		td := &tls.Dialer{Config: d.Peer.ClientConfig(addr)}
		conn, err = td.DialContext(ctx, "tcp", addr)
	} else {
		var nd net.Dialer
		conn, err = nd.DialContext(ctx, "tcp", addr)
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
//
// It also tracks the connections it hands to hashicorp/raft's
// NetworkTransport. The transport serves each in a goroutine it does not
// wait for on Close, and that goroutine answers heartbeats by calling into
// Raft directly, which may write the new term to the stable store. A node
// must therefore not close its stores while such a goroutine still runs:
// CloseAccepted ends them and WaitAccepted waits until each has closed its
// connection, which the transport does as its handler returns.
type StreamLayer struct {
	net.Listener
	dialer *Dialer

	mu       sync.Mutex
	accepted map[*acceptedConn]struct{} // handed out, not yet closed by their handler
	closing  bool                       // CloseAccepted ran: close new ones at once
	drained  *sync.Cond                 // signalled when accepted shrinks
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer returns a stream layer accepting from the mux's Raft
// listener and dialing other nodes' Raft service.
func NewStreamLayer(m *Mux, d *Dialer) *StreamLayer {
	s := &StreamLayer{Listener: m.Listen(HeaderRaft), dialer: d, accepted: make(map[*acceptedConn]struct{})}
	s.drained = sync.NewCond(&s.mu)
	return s
}

// Dial opens a Raft connection to another node.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dialer.Dial(HeaderRaft, string(address), timeout)
}

// Accept waits for the next Raft connection from another node.
func (s *StreamLayer) Accept() (net.Conn, error) {
	conn, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &acceptedConn{Conn: conn, layer: s}
	s.mu.Lock()
	closing := s.closing
	s.accepted[c] = struct{}{}
	s.mu.Unlock()
	if closing {
		conn.Close() // its handler will fail its first read and return
	}
	return c, nil
}

// CloseAccepted closes the network connection under every accepted Raft
// connection, and every one accepted from now on, so that their handlers
// stop at their next read.
func (s *StreamLayer) CloseAccepted() {
	s.mu.Lock()
	s.closing = true
	conns := make([]net.Conn, 0, len(s.accepted))
	for c := range s.accepted {
		conns = append(conns, c.Conn)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// WaitAccepted waits until the handler of every accepted connection has
// closed it, or until timeout; it reports whether all had.
func (s *StreamLayer) WaitAccepted(timeout time.Duration) bool {
	expired := false
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		expired = true
		s.mu.Unlock()
		s.drained.Broadcast()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.accepted) > 0 && !expired {
		s.drained.Wait()
	}
	return len(s.accepted) == 0
}

// acceptedConn is a Raft connection handed to the transport; its Close,
// called by the transport's handler as it returns, takes it off the list.
type acceptedConn struct {
	net.Conn
	layer *StreamLayer
	once  sync.Once
}

// Close closes the connection and tells the stream layer its handler is done.
func (c *acceptedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.layer.mu.Lock()
		delete(c.layer.accepted, c)
		c.layer.mu.Unlock()
		c.layer.drained.Broadcast()
	})
	return err
}
