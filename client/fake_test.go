package client

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seatd/seatd/protocol"
)

// fakeSeats is the number of seats of a fake server.
const fakeSeats = 5

// reply is what a fake server does with one request.
type reply struct {
	wire   string // bytes to write, usually a response line and its '\n'
	close  bool   // close the connection (for writing) after writing wire
	silent bool   // never answer
}

func answer(line string) reply { return reply{wire: line + "\n"} }

// hook lets a test take over a request: n counts the requests this server
// has read (from 1), line is the request as received. It returns ok=false to
// leave the request to the seat map.
type hook func(n int, line string) (r reply, ok bool)

// fakeServer is a seatd node stand-in on 127.0.0.1:0. It serves the part-1
// protocol from a map of seats (with exactly-once ids), records every line it
// reads, and measures how many requests are in flight on a connection (read
// but not yet answered). Its goroutines are stopped by t.Cleanup.
type fakeServer struct {
	t    *testing.T
	ln   net.Listener
	addr string
	hook hook // set before the first request
	// gate holds a connection's first answer until some connection has two
	// requests in flight, so a pipelining client is seen to pipeline.
	gate bool

	done      chan struct{} // closed on cleanup
	pipelined chan struct{} // closed when some connection has two requests in flight
	wg        sync.WaitGroup

	mu          sync.Mutex
	seats       map[uint32]string // booked seats and their holders ("" anonymous)
	ids         map[string]string // applied write ids and their answers
	lines       []string
	accepted    int
	maxInflight int
	conns       map[net.Conn]struct{}
}

func newFakeServer(t *testing.T, h hook) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return newFakeServerOn(t, h, ln)
}

// newFakeServerOn is newFakeServer serving on ln (a TLS listener, say).
func newFakeServerOn(t *testing.T, h hook, ln net.Listener) *fakeServer {
	t.Helper()
	s := &fakeServer{
		t: t, ln: ln, addr: ln.Addr().String(), hook: h,
		done: make(chan struct{}), pipelined: make(chan struct{}),
		seats: map[uint32]string{}, ids: map[string]string{}, conns: map[net.Conn]struct{}{},
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	return s
}

func (s *fakeServer) stop() {
	close(s.done)
	s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		out := make(chan reply, 8192)
		inflight := new(int) // guarded by s.mu
		s.wg.Add(2)
		go s.readLoop(nc, out, inflight)
		go s.writeLoop(nc, out, inflight)
	}
}

// readLoop reads requests, decides their replies in order and queues them
// for writeLoop.
func (s *fakeServer) readLoop(nc net.Conn, out chan<- reply, inflight *int) {
	defer s.wg.Done()
	defer close(out)
	lr := protocol.NewLineReader(nc)
	for {
		b, err := lr.ReadLine()
		if errors.Is(err, protocol.ErrLineTooLong) {
			out <- reply{wire: protocol.ErrorLine(protocol.LineTooLong, "") + "\n", close: true}
			return
		}
		if err != nil {
			return
		}
		line := string(b)
		s.mu.Lock()
		s.lines = append(s.lines, line)
		n := len(s.lines)
		s.mu.Unlock()

		r, ok := reply{}, false
		if s.hook != nil {
			r, ok = s.hook(n, line)
		}
		if !ok {
			req, err := protocol.Parse(b)
			if errors.Is(err, protocol.ErrEmpty) {
				continue
			}
			r = answer(s.apply(req, err))
		}

		s.mu.Lock()
		*inflight++
		s.maxInflight = max(s.maxInflight, *inflight)
		if *inflight == 2 {
			select {
			case <-s.pipelined:
			default:
				close(s.pipelined)
			}
		}
		s.mu.Unlock()
		out <- r
	}
}

// writeLoop writes the replies in order.
func (s *fakeServer) writeLoop(nc net.Conn, out <-chan reply, inflight *int) {
	defer s.wg.Done()
	first := true
	for r := range out {
		if s.gate && first {
			first = false
			select {
			case <-s.pipelined:
			case <-s.done:
			case <-time.After(5 * time.Second): // the test then fails on maxInflight
			}
		}
		if r.silent {
			continue
		}
		if r.wire != "" {
			nc.Write([]byte(r.wire)) // a failed write shows up as a closed connection
		}
		s.mu.Lock()
		*inflight--
		s.mu.Unlock()
		if r.close {
			// Half-close, as a node should: a full close with unread
			// input resets the connection, and the client may lose the
			// answer written just before.
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.CloseWrite()
			} else {
				nc.Close()
			}
			for range out { // let readLoop finish
			}
			return
		}
	}
}

// apply answers a request from the seat map, as a node would.
func (s *fakeServer) apply(req protocol.Request, err error) string {
	if err != nil {
		return protocol.InvalidCommand
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	valid := req.Seat >= 1 && req.Seat <= fakeSeats
	if req.Verb.IsWrite() && req.ID != "" {
		if resp, ok := s.ids[req.ID]; ok {
			return resp
		}
	}
	var resp string
	holder, booked := s.seats[req.Seat]
	switch {
	case req.Verb == protocol.VerbLeader:
		return protocol.LeaderLine("fake")
	case req.Verb == protocol.VerbStatus && !req.HasSeat:
		return protocol.SummaryLine(fakeSeats, fakeSeats-len(s.seats), len(s.seats), 0, false)
	case !valid:
		resp = protocol.FailedInvalidSeat
	case req.Verb == protocol.VerbStatus && booked:
		return protocol.BookedLine(holder)
	case req.Verb == protocol.VerbStatus:
		return protocol.Free
	case req.Verb == protocol.VerbReserve && booked && (holder != req.Holder || holder == ""):
		resp = protocol.FailedAlreadyBooked
	case req.Verb == protocol.VerbReserve:
		s.seats[req.Seat] = req.Holder
		resp = protocol.Success
	case !booked:
		resp = protocol.FailedNotBooked
	case holder != req.Holder:
		resp = protocol.FailedNotHolder
	default:
		delete(s.seats, req.Seat)
		resp = protocol.Success
	}
	if req.ID != "" {
		s.ids[req.ID] = resp
	}
	return resp
}

// Lines returns the request lines read so far.
func (s *fakeServer) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// deadAddr returns an address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// newTestClient returns a Client closed by t.Cleanup.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testCtx returns a context that ends well before the test's own deadline
// would, so a hang fails the test instead of the run.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustParse parses a line the client sent.
func mustParse(t *testing.T, line string) protocol.Request {
	t.Helper()
	req, err := protocol.Parse([]byte(line))
	if err != nil {
		t.Fatalf("server got unparsable line %q: %v", line, err)
	}
	return req
}

// statusEcho answers STATUS <n> with "BOOKED h<n>", so that an answer
// handed to the wrong request is noticed.
func statusEcho(_ int, line string) (reply, bool) {
	req, err := protocol.Parse([]byte(line))
	if err != nil || req.Verb != protocol.VerbStatus || !req.HasSeat {
		return reply{}, false
	}
	return answer(protocol.BookedLine("h" + strconv.Itoa(int(req.Seat)))), true
}
