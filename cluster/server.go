package cluster

import (
	"net"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Handler serves one forwarded connection: it reads request lines, answers
// each in order, and returns when the connection ends. The node implements
// it; requests that arrive this way are never forwarded again.
type Handler interface {
	ServeForwarded(conn net.Conn)
}

// Server accepts forwarding connections from other nodes and hands each to
// the Handler in a goroutine it owns.
type Server struct {
	ln      net.Listener
	handler Handler
	logger  hclog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer returns a Server for the forwarding listener of the mux.
func NewServer(ln net.Listener, h Handler, logger hclog.Logger) *Server {
	return &Server{ln: ln, handler: h, logger: logger.Named("forward-server"), conns: make(map[net.Conn]struct{})}
}

// Start runs the accept loop.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				conn.Close()
				return
			}
			s.conns[conn] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				s.handler.ServeForwarded(conn)
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
		}
	}()
}

// Close stops accepting, closes every forwarded connection and waits for
// their handlers to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}
