package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/seatd/seatd/protocol"
)

// result is what a waiting request receives: its response line or the
// connection's failure.
type result struct {
	line string
	err  error
}

// conn is one pipelined connection to a node. Requests write their line
// and queue a waiter in the same order (under wmu); the reader goroutine
// hands each response line to the oldest waiter. Once the connection fails,
// every queued waiter receives the failure, the socket is closed and the
// connection is forgotten by its Client.
type conn struct {
	c    *Client
	slot int
	addr string
	nc   net.Conn

	wmu sync.Mutex // serialises writes, so queue order is wire order

	mu    sync.Mutex    // guards queue and err
	queue []chan result // waiters, oldest first; each channel has room for one result
	err   error         // non-nil once the connection has failed
}

func newConn(c *Client, slot int, nc net.Conn) *conn {
	return &conn{c: c, slot: slot, addr: c.slots[slot].addr, nc: nc}
}

// roundTrip writes wire and waits for its answer. When ctx ends first, the
// waiter stays queued (its answer, when it comes, is dropped) and the
// connection is kept. When no answer comes within patience, the node is
// deemed stuck and the connection fails, together with every request
// waiting on it.
func (cn *conn) roundTrip(ctx context.Context, wire []byte, patience time.Duration) (string, error) {
	w := make(chan result, 1)
	cn.wmu.Lock()
	if err := cn.enqueue(w); err != nil {
		cn.wmu.Unlock()
		return "", err
	}
	err := cn.nc.SetWriteDeadline(time.Now().Add(patience))
	if err == nil {
		_, err = cn.nc.Write(wire)
	}
	cn.wmu.Unlock()
	if err != nil {
		cn.fail(fmt.Errorf("write: %w", err)) // delivers the failure to w as well
	}

	timer := time.NewTimer(patience)
	defer timer.Stop()
	select {
	case r := <-w:
		return r.line, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for an answer from %s: %w", cn.addr, ctx.Err())
	case <-timer.C:
		cn.fail(fmt.Errorf("no answer within %v", patience))
		r := <-w // the answer, if it won the race, or the failure
		return r.line, r.err
	}
}

// enqueue appends a waiter, unless the connection has failed.
func (cn *conn) enqueue(w chan result) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return cn.err
	}
	cn.queue = append(cn.queue, w)
	return nil
}

// deliver hands line to the oldest waiter. It reports false when no request
// is waiting, which a correct node never causes.
func (cn *conn) deliver(line string) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.queue) == 0 {
		return false
	}
	w := cn.queue[0]
	cn.queue[0] = nil
	cn.queue = cn.queue[1:]
	w <- result{line: line}
	return true
}

// fail marks the connection failed with cause (the first cause wins),
// closes the socket, forgets the connection and delivers the failure to
// every waiter.
func (cn *conn) fail(cause error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = fmt.Errorf("connection to %s: %w", cn.addr, cause)
	waiters := cn.queue
	cn.queue = nil
	cn.mu.Unlock()

	cn.nc.Close()
	cn.c.forget(cn)
	for _, w := range waiters {
		w <- result{err: cn.err}
	}
}

// readLoop reads response lines until the connection fails. It is started
// by Client.conn and waited for by Client.Close.
func (cn *conn) readLoop() {
	defer cn.c.wg.Done()
	// AnswerReader returns only lines ended by '\n': a stream that ends
	// inside one (a node that died mid-write, "BOOKED al") is
	// io.ErrUnexpectedEOF, never an answer.
	lr := protocol.NewAnswerReader(cn.nc)
	for {
		line, err := lr.ReadLine()
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			cn.fail(fmt.Errorf("closed by the node before the answer: %w", err))
			return
		case errors.Is(err, protocol.ErrLineTooLong):
			cn.fail(fmt.Errorf("response line: %w", err))
			return
		default:
			cn.fail(fmt.Errorf("read: %w", err))
			return
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if !cn.deliver(string(line)) {
			cn.fail(fmt.Errorf("response %q with no request outstanding", line))
			return
		}
	}
}
