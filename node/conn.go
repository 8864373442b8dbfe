package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// acceptClients accepts client connections until the listener closes.
func (n *Node) acceptClients() {
	defer n.bg.Done()
	var backoff time.Duration
	for {
		conn, err := n.clientLn.Accept()
		if err != nil {
			if n.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			n.logger.Warn("accept failed", "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-n.stop:
				return
			}
			continue
		}
		backoff = 0
		if n.clientConns.Add(1) > int64(n.cfg.MaxConns) {
			n.clientConns.Add(-1)
			n.limitLog.note("connection refused: --max-conns reached", "max_conns", n.cfg.MaxConns)
			// Answering BUSY costs a goroutine and a descriptor for up to
			// a second: a bounded number at a time, the rest just closed.
			if n.refusing.Add(1) > maxRefusing {
				n.refusing.Add(-1)
				conn.Close()
				continue
			}
			go n.refuseBusy(conn)
			continue
		}
		if !n.trackConn(conn) {
			n.clientConns.Add(-1)
			conn.Close()
			continue
		}
		go func() {
			defer n.clientConns.Add(-1)
			defer n.untrackConn(conn)
			n.serveClient(conn)
		}()
	}
}

func (n *Node) trackConn(c net.Conn) bool {
	n.connsMu.Lock()
	defer n.connsMu.Unlock()
	if n.closing.Load() {
		return false
	}
	n.conns[c] = struct{}{}
	n.connsWG.Add(1)
	return true
}

func (n *Node) untrackConn(c net.Conn) {
	n.connsMu.Lock()
	delete(n.conns, c)
	n.connsMu.Unlock()
	n.connsWG.Done()
}

// refuseBusy answers ERROR BUSY on a connection over the limit and closes
// it, within the handshake timeout (a TLS client needs its handshake
// first).
func (n *Node) refuseBusy(conn net.Conn) {
	defer n.refusing.Add(-1)
	conn.SetDeadline(time.Now().Add(time.Second))
	io.WriteString(conn, protocol.ErrorLine(protocol.Busy, "too many connections")+"\n")
	closeGently(conn)
}

// maxRefusing bounds the connections being answered ERROR BUSY at once.
const maxRefusing = 64

// serveClient serves one client connection: the TLS handshake (bounded,
// and the client's verified identity when client certificates are
// required), then the protocol.
func (n *Node) serveClient(conn net.Conn) {
	identity := ""
	if tc, ok := conn.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			n.limitLog.note("TLS handshake failed", "remote", conn.RemoteAddr().String(), "error", err.Error())
			conn.Close()
			return
		}
		if n.cfg.TLSClientCA != "" {
			id, ok := transport.IdentityFromConn(tc)
			if !ok || !protocol.ValidHolder(id) {
				// The identity becomes a holder in log entries and
				// forwarded lines: only a well-formed holder may.
				n.limitLog.note("client certificate refused: its Common Name is not a valid holder", "remote", conn.RemoteAddr().String())
				conn.Close()
				return
			}
			identity = id
		}
	}
	n.serveConnAs(conn, false, identity)
}

// ServeForwarded implements cluster.Handler: it serves a connection of
// requests forwarded by another node. Such requests are never forwarded
// again.
func (n *Node) ServeForwarded(conn net.Conn) {
	n.serveConnAs(conn, true, "")
}

// serveConnAs reads requests from conn and answers them in order. This
// goroutine reads and routes; a second one writes answers as they complete,
// so a connection may pipeline up to MaxInFlight requests.
//
// Requests on one client connection take effect in the order they were sent:
// consecutive writes share the log's order and consecutive reads commute, so
// both pipeline freely; a read that follows writes (or a write that follows
// reads) waits until those earlier requests are answered. Forwarded
// connections skip that wait: the sending node already ordered them.
//
// identity, when not empty, is the client's verified certificate name: its
// writes act as that holder and may not name another.
func (n *Node) serveConnAs(conn net.Conn, forwarded bool, identity string) {
	answers := make(chan *call, n.cfg.MaxInFlight)
	progress := newConnProgress()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		n.writeAnswers(conn, answers, progress)
	}()
	defer func() {
		close(answers)
		<-writerDone
	}()

	connKey := n.connSeq.Add(1)
	var seq, lastWrite, lastRead uint64 // positions of requests on this connection
	var lines *protocol.LineReader
	if forwarded {
		lines = protocol.NewLineReader(conn)
	} else {
		lines = protocol.NewLineReader(&deadlineReader{n: n, conn: conn, stop: &progress.writerStopped})
	}
	for {
		line, err := lines.ReadLine()
		if err != nil {
			if errors.Is(err, protocol.ErrLineTooLong) {
				c := n.newCall()
				c.closeConn = true
				n.inflight.Add(1)
				c.finish(protocol.ErrorLine(protocol.LineTooLong, ""))
				answers <- c
			}
			return
		}
		req, err := protocol.Parse(line)
		if errors.Is(err, protocol.ErrEmpty) {
			continue
		}
		seq++
		c := n.newCall()
		if err != nil {
			n.inflight.Add(1)
			c.finish(protocol.InvalidCommand)
			answers <- c
			continue
		}
		c.req = req // so that an early answer below is counted under its verb
		if identity != "" && takesHolder(req.Verb) {
			switch {
			case req.Holder == "":
				req.Holder = identity // a write without a holder acts as the identity
			case req.Holder != identity:
				n.inflight.Add(1)
				c.finish(protocol.ErrorLine(protocol.Forbidden, "the certificate's identity may act only as itself"))
				answers <- c
				continue
			}
		}
		if req.Verb == protocol.VerbHold && req.Holder == "" {
			// A hold needs someone to confirm or release it.
			n.inflight.Add(1)
			c.finish(protocol.InvalidCommand)
			answers <- c
			continue
		}
		c.req = req
		c.forwarded = forwarded
		c.connKey = connKey
		if !forwarded {
			if req.Verb.IsWrite() {
				progress.waitFor(lastRead)
				lastWrite = seq
			} else {
				progress.waitFor(lastWrite)
				lastRead = seq
			}
		}
		n.submit(c)
		answers <- c // blocks when MaxInFlight answers are pending
	}
}

// takesHolder reports whether a verb's writes act as a holder.
func takesHolder(v protocol.Verb) bool {
	return v == protocol.VerbReserve || v == protocol.VerbCancel || v == protocol.VerbHold
}

// connProgress counts the requests of a connection answered so far, so that
// its reader can wait for earlier requests.
type connProgress struct {
	answered atomic.Uint64
	// writerStopped is set when the writer gave up on the connection; the
	// reader then stops reading.
	writerStopped atomic.Bool
	waiting       atomic.Bool
	mu            sync.Mutex
	cond          *sync.Cond
}

func newConnProgress() *connProgress {
	p := &connProgress{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// waitFor blocks until the first k requests of the connection are answered.
func (p *connProgress) waitFor(k uint64) {
	if p.answered.Load() >= k {
		return
	}
	p.mu.Lock()
	p.waiting.Store(true)
	for p.answered.Load() < k {
		p.cond.Wait()
	}
	p.waiting.Store(false)
	p.mu.Unlock()
}

func (p *connProgress) advance() {
	p.answered.Add(1)
	if p.waiting.Load() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// writeAnswers writes each call's answer in request order, flushing when no
// further answer is ready, and recycles the calls.
func (n *Node) writeAnswers(conn net.Conn, answers <-chan *call, progress *connProgress) {
	w := bufio.NewWriterSize(conn, 16<<10)
	broken := false
	// The write deadline is pushed forward at most every quarter of the
	// request timeout, not on every flush: a client that stops reading is
	// still cut off, and an answer costs no timer update.
	var deadline time.Time
	flush := func() {
		if broken || w.Buffered() == 0 {
			return
		}
		if now := time.Now(); deadline.Sub(now) < 3*n.cfg.RequestTimeout/4 {
			deadline = now.Add(n.cfg.RequestTimeout)
			conn.SetWriteDeadline(deadline)
		}
		if err := w.Flush(); err != nil {
			broken = true
			progress.writerStopped.Store(true)
			conn.SetReadDeadline(time.Now())
		}
	}
	for c := range answers {
		select {
		case <-c.done:
		default:
			flush() // send what is ready before waiting for this answer
			<-c.done
		}
		if !c.closeConn {
			progress.advance()
		}
		if !broken {
			w.WriteString(c.resp)
			w.WriteByte('\n')
			if c.closeConn || len(answers) == 0 {
				flush()
			}
			if c.closeConn {
				flush()
				broken = true
				closeGently(conn)
			}
		}
		releaseCall(c)
	}
	flush()
	if broken {
		conn.Close()
		return
	}
	closeGently(conn)
}

// closeGently ends a connection after a final answer such that the answer
// arrives: it sends FIN, then reads and discards what the client still
// sends for a moment, because closing a socket with unread input makes the
// kernel send a reset that can destroy the answer in flight.
func closeGently(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
	conn.Close()
}

// deadlineReader is a client connection's read side with the idle and line
// deadlines: a connection that sends nothing for IdleTimeout is closed, and
// one that starts a line must finish it within LineTimeout (slow senders
// cannot hold a connection with a byte now and then).
type deadlineReader struct {
	n    *Node
	conn net.Conn
	// partialSince is when the unfinished line now buffered began; zero
	// when the last byte read ended a line.
	partialSince time.Time
	deadline     time.Time
	// returned is when the last Read returned: time the reader spends
	// elsewhere (waiting for answers to drain) does not count against the
	// client's line budget.
	returned time.Time
	// stop is set by the connection's writer when it gave up (the client
	// stopped reading answers): the reader must stop too.
	stop *atomic.Bool
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	now := time.Now()
	if !d.partialSince.IsZero() && !d.returned.IsZero() {
		d.partialSince = d.partialSince.Add(now.Sub(d.returned))
	}
	defer func() { d.returned = time.Now() }()
	var want time.Time
	if d.partialSince.IsZero() {
		want = now.Add(d.n.cfg.IdleTimeout)
		// Push the idle deadline forward only now and then, so a busy
		// connection costs no timer update per request.
		if d.deadline.Sub(now) < 3*d.n.cfg.IdleTimeout/4 || d.deadline.After(want) {
			d.set(want)
		}
	} else if want = d.partialSince.Add(d.n.cfg.LineTimeout); !want.Equal(d.deadline) {
		d.set(want)
	}
	// Checked after arming the deadline: Close sets closing first and then
	// expires every deadline, so either this sees closing or the read is
	// woken.
	if d.n.closing.Load() || d.stop.Load() {
		return 0, net.ErrClosed
	}
	k, err := d.conn.Read(p)
	if k > 0 {
		switch {
		case p[k-1] == '\n':
			d.partialSince = time.Time{} // every line read so far is complete
		case bytes.LastIndexByte(p[:k], '\n') >= 0:
			// A line ended in this chunk and the next one began: the
			// line deadline counts from now, not from an older line's
			// start (a pipelining client's chunks rarely end on '\n').
			d.partialSince = time.Now()
		case d.partialSince.IsZero():
			d.partialSince = now
		}
	}
	if err != nil && d.partialSince != (time.Time{}) && errors.Is(err, os.ErrDeadlineExceeded) {
		d.n.limitLog.note("slow sender cut off: line not finished within --line-timeout", "remote", d.conn.RemoteAddr().String())
	}
	return k, err
}

func (d *deadlineReader) set(t time.Time) {
	d.deadline = t
	d.conn.SetReadDeadline(t)
}
