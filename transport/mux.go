package transport

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Service headers: the first byte of every node-to-node connection.
const (
	HeaderRaft       byte = 1 // hashicorp/raft's NetworkTransport
	HeaderForward    byte = 2 // request forwarding from followers to the leader
	HeaderInspect    byte = 3 // a one-line report of the node's applied state (tests, operators)
	HeaderFormats    byte = 4 // the log format versions the node can apply (upgrades)
	HeaderMembership byte = 5 // joins, removals and the member list (cluster.ServeMembership)
)

// headerTimeout bounds how long a new connection may take to send its header
// byte, so a silent connection cannot hold resources.
const headerTimeout = 5 * time.Second

// Errors returned by the mux and its listeners.
var (
	// ErrClosed is returned by Accept after the listener or its mux closed.
	ErrClosed = errors.New("transport: listener closed")
)

// Mux accepts connections on the node-to-node port and routes each to the
// listener registered for its header byte. Create it with NewMux, register
// services with Listen, then call Start; Close stops it.
type Mux struct {
	ln        net.Listener
	advertise net.Addr
	logger    hclog.Logger

	mu       sync.Mutex
	services map[byte]*serviceListener
	closed   bool

	wg      sync.WaitGroup // the accept loop and header readers
	routing atomic.Int64   // connections whose header is being read
}

// maxRouting bounds the connections whose header byte is awaited at once.
const maxRouting = 1024

// NewMux wraps ln. advertise is the address other nodes reach this one at
// (it must not be a wildcard such as 0.0.0.0).
func NewMux(ln net.Listener, advertise net.Addr, logger hclog.Logger) *Mux {
	return &Mux{
		ln:        ln,
		advertise: advertise,
		logger:    logger.Named("mux"),
		services:  make(map[byte]*serviceListener),
	}
}

// Listen returns the listener that receives connections opened with header.
// It must be called before Start.
func (m *Mux) Listen(header byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := &serviceListener{
		header: header,
		addr:   m.advertise,
		conns:  make(chan net.Conn),
		done:   make(chan struct{}),
	}
	m.services[header] = l
	return l
}

// Start runs the accept loop in a goroutine owned by the mux.
func (m *Mux) Start() {
	m.wg.Add(1)
	go m.acceptLoop()
}

// Close stops accepting, closes every service listener and waits for the
// mux's goroutines. Connections already handed to a service stay open: their
// owners close them.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, l := range m.services {
		l.Close()
	}
	m.mu.Unlock()
	err := m.ln.Close()
	m.wg.Wait()
	return err
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			m.mu.Lock()
			closed := m.closed
			m.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary errors (e.g. out of file descriptors): back off.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.logger.Warn("accept failed", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		// Each new connection gets a goroutine until it names its
		// service; bound how many, so connections that never send a
		// byte cannot exhaust the node.
		if m.routing.Add(1) > maxRouting {
			m.routing.Add(-1)
			m.logger.Warn("connection dropped: too many connections have not sent their header yet", "remote", conn.RemoteAddr())
			conn.Close()
			continue
		}
		m.wg.Add(1)
		go m.route(conn)
	}
}

// route reads the header byte and hands the connection to its service.
func (m *Mux) route(conn net.Conn) {
	defer m.wg.Done()
	defer m.routing.Add(-1)
	var b [1]byte
	conn.SetReadDeadline(time.Now().Add(headerTimeout))
	if _, err := conn.Read(b[:]); err != nil {
		m.logger.Debug("no header from connection", "remote", conn.RemoteAddr(), "error", err)
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	m.mu.Lock()
	l := m.services[b[0]]
	m.mu.Unlock()
	if l == nil {
		m.logger.Warn("connection with unknown header", "remote", conn.RemoteAddr(), "header", b[0])
		conn.Close()
		return
	}
	if !l.deliver(conn) {
		conn.Close()
	}
}

// serviceListener is the net.Listener of one service on the mux.
type serviceListener struct {
	header byte
	addr   net.Addr
	conns  chan net.Conn

	closeOnce sync.Once
	done      chan struct{}
}

func (l *serviceListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept waits for the next connection of this service.
func (l *serviceListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, fmt.Errorf("service %d: %w", l.header, ErrClosed)
	}
}

// Close stops the listener; pending and future Accepts fail.
func (l *serviceListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns the node's advertised node-to-node address.
func (l *serviceListener) Addr() net.Addr { return l.addr }
