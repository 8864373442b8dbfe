package bench

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatd/seatd/protocol"
)

// fakeNode is a tiny in-memory line server speaking enough of the protocol
// for the load generator, and recording what it saw.
type fakeNode struct {
	t  *testing.T
	ln net.Listener

	// Behaviour, set before the first connection.
	leaderID   string        // LEADER answer
	delay      time.Duration // pause before each answer
	errorEvery int           // every n-th write is answered ERROR NO_LEADER (0: never)
	closeAfter int           // close a connection after this many requests (0: never)
	seatCount  uint32        // seats of the default event (0: every seat exists)

	wg sync.WaitGroup

	mu          sync.Mutex
	seats       map[uint32]string
	ids         map[string]bool
	dupIDs      int
	badLines    []string
	badHolders  int
	verbs       map[protocol.Verb]int64
	sent        map[string]int64 // answers by kind
	conns       int
	maxInflight int
	requests    int64
	minSeat     uint32 // smallest seat of RESERVE and STATUS requests
	maxSeat     uint32
	events      map[string]int             // EVENT CREATE: name -> seats
	eventSeats  map[string]map[uint32]bool // seats booked in events other than default
}

// startFake starts a fake node on 127.0.0.1:0; it is closed when the test
// ends.
func startFake(t *testing.T, leaderID string) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{
		t: t, ln: ln, leaderID: leaderID,
		seats: map[uint32]string{}, ids: map[string]bool{},
		verbs: map[protocol.Verb]int64{}, sent: map[string]int64{},
		events: map[string]int{}, eventSeats: map[string]map[uint32]bool{},
	}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeNode) addr() string { return f.ln.Addr().String() }

func (f *fakeNode) accept() {
	defer f.wg.Done()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c)
		f.mu.Lock()
		f.conns++
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

// serve reads requests in one goroutine and answers them in another, so
// that requests pile up while answers wait (the in-flight count).
func (f *fakeNode) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	reqs := make(chan string, 1<<14)
	var (
		mu       sync.Mutex
		inflight int
	)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		bw := bufio.NewWriter(c)
		n := 0
		for line := range reqs {
			if f.delay > 0 {
				time.Sleep(f.delay)
			}
			resp := f.answer(line)
			mu.Lock()
			inflight--
			mu.Unlock()
			bw.WriteString(resp + "\n")
			if len(reqs) == 0 {
				if bw.Flush() != nil {
					break
				}
			}
			n++
			if f.closeAfter > 0 && n >= f.closeAfter {
				bw.Flush()
				c.Close()
				break
			}
		}
		for range reqs { // let the reader finish
		}
	}()
	lr := protocol.NewLineReader(c)
	for {
		line, err := lr.ReadLine()
		if err != nil {
			break
		}
		mu.Lock()
		inflight++
		cur := inflight
		mu.Unlock()
		f.mu.Lock()
		f.maxInflight = max(f.maxInflight, cur)
		f.mu.Unlock()
		reqs <- string(line)
	}
	close(reqs)
	<-answered
}

// answer applies one request line to the fake's seats.
func (f *fakeNode) answer(line string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	req, err := protocol.Parse([]byte(line))
	if err != nil {
		f.badLines = append(f.badLines, line)
		return f.send(protocol.InvalidCommand)
	}
	f.verbs[req.Verb]++
	switch {
	case req.Verb == protocol.VerbEventCreate:
		if _, ok := f.events[req.Event]; ok {
			return f.send(protocol.FailedExists)
		}
		f.events[req.Event] = int(req.Count)
		f.eventSeats[req.Event] = map[uint32]bool{}
		return f.send(protocol.Success)
	case req.Event != "" && req.Verb == protocol.VerbReserve:
		booked, ok := f.eventSeats[req.Event]
		if !ok {
			return f.send(protocol.FailedNoEvent)
		}
		for _, seat := range req.AppendSeats(nil) {
			if seat < 1 || int(seat) > f.events[req.Event] {
				return f.send(protocol.FailedInvalidSeat)
			}
			if booked[seat] {
				return f.send(protocol.FailedAlreadyBooked)
			}
		}
		for _, seat := range req.AppendSeats(nil) {
			booked[seat] = true
		}
		return f.send(protocol.Success)
	}
	if f.seatCount > 0 && req.Event == "" && req.HasSeat && (req.Seat < 1 || req.Seat > f.seatCount) {
		return f.send(protocol.FailedInvalidSeat)
	}
	if req.Verb.IsWrite() {
		if req.ID == "" || f.ids[req.ID] {
			f.dupIDs++
		}
		f.ids[req.ID] = true
		if !strings.HasPrefix(req.Holder, "b") {
			f.badHolders++
		} else if _, err := strconv.Atoi(req.Holder[1:]); err != nil {
			f.badHolders++
		}
		if f.errorEvery > 0 && f.requests%int64(f.errorEvery) == 0 {
			return f.send(protocol.ErrorLine(protocol.NoLeader, "test"))
		}
	}
	if req.HasSeat && req.Verb != protocol.VerbCancel {
		if f.minSeat == 0 || req.Seat < f.minSeat {
			f.minSeat = req.Seat
		}
		f.maxSeat = max(f.maxSeat, req.Seat)
	}
	switch req.Verb {
	case protocol.VerbLeader:
		return f.send(protocol.LeaderLine(f.leaderID))
	case protocol.VerbStatus:
		if !req.HasSeat {
			return f.send(protocol.SummaryLine(0, 0, 0, 0, false))
		}
		if h, ok := f.seats[req.Seat]; ok {
			return f.send(protocol.BookedLine(h))
		}
		return f.send(protocol.Free)
	case protocol.VerbReserve:
		if h, ok := f.seats[req.Seat]; ok && h != req.Holder {
			return f.send(protocol.FailedAlreadyBooked)
		}
		f.seats[req.Seat] = req.Holder
		return f.send(protocol.Success)
	case protocol.VerbCancel:
		h, ok := f.seats[req.Seat]
		switch {
		case !ok:
			return f.send(protocol.FailedNotBooked)
		case h != req.Holder:
			return f.send(protocol.FailedNotHolder)
		}
		delete(f.seats, req.Seat)
		return f.send(protocol.Success)
	}
	return f.send(protocol.InvalidCommand)
}

// send counts an answer by kind (f.mu held) and returns it.
func (f *fakeNode) send(resp string) string {
	f.sent[string(kindOf([]byte(resp)))]++
	return resp
}

// snapshot returns a copy of the fake's records.
func (f *fakeNode) snapshot() fakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := fakeStats{
		dupIDs: f.dupIDs, badLines: append([]string(nil), f.badLines...), badHolders: f.badHolders,
		verbs: map[protocol.Verb]int64{}, sent: map[string]int64{},
		conns: f.conns, maxInflight: f.maxInflight, minSeat: f.minSeat, maxSeat: f.maxSeat,
	}
	for k, v := range f.verbs {
		s.verbs[k] = v
	}
	for k, v := range f.sent {
		s.sent[k] = v
	}
	return s
}

type fakeStats struct {
	dupIDs, badHolders int
	badLines           []string
	verbs              map[protocol.Verb]int64
	sent               map[string]int64
	conns, maxInflight int
	minSeat, maxSeat   uint32
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}
