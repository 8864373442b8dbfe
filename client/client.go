package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatd/seatd/protocol"
)

// Errors returned by a Client. Errors are wrapped with context; test them
// with errors.Is.
var (
	// ErrNoNode means no node answered the request before Config.RetryFor or
	// the caller's context ran out. The error also wraps the last cause
	// (a dial error, a broken connection, context.DeadlineExceeded, ...).
	ErrNoNode = errors.New("client: no node answered")
	// ErrClosed means the Client was closed before or while the request was
	// sent.
	ErrClosed = errors.New("client: closed")
	// ErrBadLine means Do was given a line it cannot send: a blank line
	// (which the protocol never answers) or one holding a newline (which
	// would be several requests).
	ErrBadLine = errors.New("client: line cannot be sent")
)

// Defaults applied by New to zero Config fields.
const (
	DefaultDialTimeout    = 2 * time.Second
	DefaultRetryFor       = 15 * time.Second
	DefaultAttemptTimeout = 10 * time.Second
)

// Backoff between attempts: from minBackoff doubling up to maxBackoff.
const (
	minBackoff = 20 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// Config configures a Client. Zero durations take the defaults above.
type Config struct {
	// Addrs are the client addresses (host:port) of the nodes, tried in turn.
	Addrs []string
	// DialTimeout bounds one connection attempt; default 2s.
	DialTimeout time.Duration
	// RetryFor is how long a request keeps being retried across nodes,
	// counted from the start of the request; default 15s.
	RetryFor time.Duration
	// AttemptTimeout is how long one attempt waits for its answer before
	// the node is deemed stuck: its connection is closed and the request
	// goes to the next node; default 10s (DefaultAttemptTimeout). Keep it
	// above the nodes' own wait for a leader, or a slow election turns into
	// needless reconnections.
	AttemptTimeout time.Duration
	// TLS, when not nil, makes every connection TLS, its handshake done
	// within DialTimeout; nil means plaintext. When its ServerName is
	// empty, each address is checked against its own host (an IP address
	// against the certificate's IP SANs). New clones it: later changes by
	// the caller have no effect. LoadTLS builds one from PEM files.
	TLS *tls.Config
}

// Client sends requests to a seatd cluster. It is safe for concurrent use by
// many goroutines. Create it with New and release it with Close.
type Client struct {
	cfg    Config
	dialer net.Dialer
	pref   atomic.Int64 // index of the address requests start at

	mu     sync.Mutex // guards closed and every slot's conn and dial
	closed bool
	slots  []slot

	wg sync.WaitGroup // one per live connection reader
}

// slot is one address and its connection, if any.
type slot struct {
	addr string
	tls  *tls.Config // nil for plaintext; ServerName set for this address
	conn *conn       // live connection, nil when none
	dial *dialCall   // dial in progress, nil when none
}

// dialCall lets requests wait for a dial that another request started.
type dialCall struct {
	done chan struct{} // closed when cn and err are set
	cn   *conn
	err  error
}

// New validates cfg and returns a Client. It does not dial: connections are
// opened on first use.
func New(cfg Config) (*Client, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("client: config: no node address")
	}
	for name, d := range map[string]time.Duration{
		"DialTimeout": cfg.DialTimeout, "RetryFor": cfg.RetryFor, "AttemptTimeout": cfg.AttemptTimeout,
	} {
		if d < 0 {
			return nil, fmt.Errorf("client: config: negative %s %v", name, d)
		}
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	cfg.Addrs = append([]string(nil), cfg.Addrs...)
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
	}
	c := &Client{cfg: cfg, dialer: net.Dialer{Timeout: cfg.DialTimeout}}
	for _, a := range cfg.Addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("client: config: address %q: %w", a, err)
		}
		s := slot{addr: a, tls: cfg.TLS}
		if cfg.TLS != nil && cfg.TLS.ServerName == "" {
			s.tls = cfg.TLS.Clone()
			s.tls.ServerName = host
		}
		c.slots = append(c.slots, s)
	}
	return c, nil
}

// NewID returns a random exactly-once id: 32 hexadecimal characters (128
// bits from crypto/rand), valid wherever the protocol takes id=.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b[:])
}

// Do sends one raw request line (without or with its trailing newline) and
// returns the response line without its newline.
//
// A write (RESERVE, CANCEL, HOLD, EVENT CREATE, EVENT DELETE) without id=
// gets a generated one, and is sent in the canonical form
// protocol.AppendLine produces. Any other line goes out as
// given, even one that does not parse, so that the caller sees the node's own
// INVALID_COMMAND. A blank line, or one holding a newline, is not sent:
// the error wraps ErrBadLine. See the package documentation for retries.
func (c *Client) Do(ctx context.Context, line string) (string, error) {
	wire, err := prepare(line)
	if err != nil {
		return "", err
	}
	return c.send(ctx, wire)
}

// prepare turns a caller's line into the bytes to send, newline included.
func prepare(line string) ([]byte, error) {
	line = strings.TrimSuffix(line, "\n")
	if strings.IndexByte(line, '\n') >= 0 {
		return nil, fmt.Errorf("%w: %q holds a newline", ErrBadLine, line)
	}
	// A line over the limit goes out as is: the node answers
	// ERROR LINE_TOO_LONG whatever it holds.
	if len(line) <= protocol.MaxLine {
		req, err := protocol.Parse([]byte(line))
		switch {
		case errors.Is(err, protocol.ErrEmpty):
			return nil, fmt.Errorf("%w: blank line", ErrBadLine)
		case err == nil && req.Verb.IsWrite() && req.ID == "":
			req.ID = NewID()
			return protocol.AppendLine(nil, req), nil
		}
	}
	return append([]byte(line), '\n'), nil
}

// Request sends one request and returns its answer line. A write without
// an ID gets one from NewID, so that retries apply it at most once. A
// request the protocol would not accept (a bad holder, event name, ttl or
// seat list) is not sent: the error wraps protocol.ErrInvalid.
func (c *Client) Request(ctx context.Context, req protocol.Request) (string, error) {
	if req.Verb.IsWrite() && req.ID == "" {
		req.ID = NewID()
	}
	if req.Event == protocol.DefaultEvent && req.Verb != protocol.VerbEventCreate && req.Verb != protocol.VerbEventDelete {
		req.Event = "" // the wire's canonical name for the default event
	}
	wire := protocol.AppendLine(nil, req)
	if back, err := protocol.Parse(wire[:len(wire)-1]); err != nil || !sameRequest(back, req) {
		return "", fmt.Errorf("client: %s: %w", strings.TrimSpace(string(wire)), protocol.ErrInvalid)
	}
	return c.send(ctx, wire)
}

// sameRequest reports whether a request survived its own line unchanged,
// which is how Request tells a request the protocol allows.
func sameRequest(a, b protocol.Request) bool {
	return a.Verb == b.Verb && a.HasSeat == b.HasSeat && a.Seat == b.Seat && slices.Equal(a.Seats, b.Seats) &&
		a.Holder == b.Holder && a.ID == b.ID && a.Event == b.Event && a.TTL == b.TTL && a.Count == b.Count
}

// Seats names the seats of a request: one seat, or several (at most
// protocol.MaxSeatsPerRequest). A seat below 1 stands for an invalid seat.
func Seats(seats ...int) (seat uint32, list []uint32) {
	if len(seats) == 1 {
		return seatNumber(seats[0]), nil
	}
	list = make([]uint32, 0, len(seats))
	for _, s := range seats {
		list = append(list, seatNumber(s))
	}
	slices.Sort(list)
	return 0, slices.Compact(list)
}

func seatRequest(verb protocol.Verb, event string, seats []int, holder string) protocol.Request {
	req := protocol.Request{Verb: verb, HasSeat: true, Holder: holder, Event: event}
	req.Seat, req.Seats = Seats(seats...)
	if len(req.Seats) == 1 {
		req.Seat, req.Seats = req.Seats[0], nil
	}
	return req
}

// Reserve books seat of the default event for holder ("" books it
// anonymously), exactly once. It returns SUCCESS, a FAILED_* line or, when
// retries ran out, an ERROR line. A holder the protocol does not allow is
// not sent: the error wraps protocol.ErrInvalid.
func (c *Client) Reserve(ctx context.Context, seat int, holder string) (string, error) {
	return c.Request(ctx, seatRequest(protocol.VerbReserve, "", []int{seat}, holder))
}

// Cancel frees seat of the default event booked by holder ("" for an
// anonymous booking), exactly once. Answers and errors are as for Reserve.
func (c *Client) Cancel(ctx context.Context, seat int, holder string) (string, error) {
	return c.Request(ctx, seatRequest(protocol.VerbCancel, "", []int{seat}, holder))
}

// ReserveSeats books every one of seats of event ("" = default) for holder,
// or none: SUCCESS, or the failure followed by the seats that caused it
// (FAILED_ALREADY_BOOKED 4,9), or for one seat part 1's bare answer. The
// holder's own holds are confirmed.
func (c *Client) ReserveSeats(ctx context.Context, event string, seats []int, holder string) (string, error) {
	return c.Request(ctx, seatRequest(protocol.VerbReserve, event, seats, holder))
}

// CancelSeats frees every one of seats of event booked or held by holder,
// or none. Answers are as for ReserveSeats.
func (c *Client) CancelSeats(ctx context.Context, event string, seats []int, holder string) (string, error) {
	return c.Request(ctx, seatRequest(protocol.VerbCancel, event, seats, holder))
}

// Hold holds every one of seats of event for holder for ttl (whole
// seconds, 1s to 1h; 0 means the protocol's default of 300s), or none:
// HELD <expires-unix-ms>, or a failure as for ReserveSeats. The holder's
// RESERVE confirms the hold, its CANCEL releases it; otherwise the seats
// are free again when it expires.
func (c *Client) Hold(ctx context.Context, event string, seats []int, holder string, ttl time.Duration) (string, error) {
	req := seatRequest(protocol.VerbHold, event, seats, holder)
	if ttl != 0 {
		if ttl%time.Second != 0 || ttl < time.Second || ttl > protocol.MaxTTL*time.Second {
			return "", fmt.Errorf("client: hold ttl %v: whole seconds from 1s to %ds: %w", ttl, protocol.MaxTTL, protocol.ErrInvalid)
		}
		req.TTL = uint32(ttl / time.Second)
	}
	return c.Request(ctx, req)
}

// Status asks for one seat of the default event (STATUS <seat>): FREE,
// BOOKED, BOOKED <holder>, HELD <holder> <expires> or FAILED_INVALID_SEAT.
func (c *Client) Status(ctx context.Context, seat int) (string, error) {
	return c.SeatStatus(ctx, "", seat)
}

// SeatStatus asks for one seat of event ("" = default); an unknown event
// answers FAILED_NO_EVENT.
func (c *Client) SeatStatus(ctx context.Context, event string, seat int) (string, error) {
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbStatus, HasSeat: true, Seat: seatNumber(seat), Event: event})
}

// Summary asks for the default event's summary (STATUS): SEATS <total>
// FREE <free> BOOKED <booked>, and HELD <held> once the event saw a hold.
func (c *Client) Summary(ctx context.Context) (string, error) {
	return c.EventSummary(ctx, "")
}

// EventSummary asks for the summary of event ("" = default).
func (c *Client) EventSummary(ctx context.Context, event string) (string, error) {
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbStatus, Event: event})
}

// History asks for the recent changes of one seat of event ("" = default):
// HISTORY <n> op,holder,index,time-ms ... (see docs/protocol.md).
func (c *Client) History(ctx context.Context, event string, seat int) (string, error) {
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbHistory, HasSeat: true, Seat: seatNumber(seat), Event: event})
}

// CreateEvent creates event name with seats 1..seats, exactly once:
// SUCCESS or FAILED_EXISTS (ERROR BUSY when the cluster already holds the
// most events it may).
func (c *Client) CreateEvent(ctx context.Context, name string, seats int) (string, error) {
	if seats < 1 || seats > protocol.MaxEventSeats {
		return "", fmt.Errorf("client: event %q of %d seats: %w", name, seats, protocol.ErrInvalid)
	}
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbEventCreate, Event: name, Count: uint32(seats)})
}

// DeleteEvent deletes event name with its seats, holds and history,
// exactly once: SUCCESS or FAILED_NO_EVENT.
func (c *Client) DeleteEvent(ctx context.Context, name string) (string, error) {
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbEventDelete, Event: name})
}

// Events lists the events (EVENT LIST): EVENTS <name> <name> ...
func (c *Client) Events(ctx context.Context) (string, error) {
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbEventList})
}

// Leader asks who leads the cluster (LEADER): LEADER <node-id> ..., or
// ERROR NO_LEADER when retries ran out without one.
func (c *Client) Leader(ctx context.Context) (string, error) {
	return c.Request(ctx, protocol.Request{Verb: protocol.VerbLeader})
}

// Addr returns the address the next request starts at: the node that
// answered last, unless it failed since.
func (c *Client) Addr() string { return c.slots[c.pref.Load()].addr }

// seatNumber maps a seat to protocol.Request.Seat, where 0 stands for any
// seat number the node answers FAILED_INVALID_SEAT.
func seatNumber(seat int) uint32 {
	if seat < 1 || seat > math.MaxInt32+1 {
		return 0
	}
	return uint32(seat)
}

// send sends wire (one request line with its newline) until a final answer
// comes, moving round the addresses as described in the package docs.
func (c *Client) send(ctx context.Context, wire []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RetryFor)
	defer cancel()

	n := int64(len(c.slots))
	i := c.pref.Load()
	backoff := minBackoff
	var lastErrLine string // most recent ERROR answer
	var lastErr error      // why the most recent attempt failed
	for attempts := 1; ; attempts++ {
		resp, err := c.attempt(ctx, int(i), wire)
		switch {
		case errors.Is(err, ErrClosed):
			return "", err
		case err != nil:
			lastErr = err
		case protocol.Classify(resp) == protocol.KindError && protocol.ErrorCodeOf(resp) != protocol.LineTooLong:
			lastErrLine = resp
			lastErr = fmt.Errorf("%s answered %q", c.slots[i].addr, resp)
		default:
			return resp, nil
		}

		// Move on, and make the next request start there too.
		next := (i + 1) % n
		c.pref.CompareAndSwap(i, next)
		i = next

		if ctx.Err() == nil {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			backoff = min(2*backoff, maxBackoff)
		}
		if ctx.Err() != nil {
			if lastErrLine != "" {
				return lastErrLine, nil
			}
			return "", fmt.Errorf("%w after %d attempts: %w", ErrNoNode, attempts, lastErr)
		}
	}
}

// attempt sends wire once to address i and waits for its answer.
func (c *Client) attempt(ctx context.Context, i int, wire []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	cn, err := c.conn(ctx, i)
	if err != nil {
		return "", err
	}
	return cn.roundTrip(ctx, wire, c.cfg.AttemptTimeout)
}

// conn returns the live connection to address i, dialling it if there is
// none. Concurrent callers share one dial.
func (c *Client) conn(ctx context.Context, i int) (*conn, error) {
	s := &c.slots[i]
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cn := s.conn; cn != nil {
		c.mu.Unlock()
		return cn, nil
	}
	if call := s.dial; call != nil {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.cn, call.err
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for dial to %s: %w", s.addr, ctx.Err())
		}
	}
	call := &dialCall{done: make(chan struct{})}
	s.dial = call
	c.mu.Unlock()

	nc, err := c.dial(ctx, s)

	c.mu.Lock()
	s.dial = nil
	switch {
	case err != nil:
		call.err = err // a *net.OpError, which names the address
	case c.closed:
		nc.Close()
		call.err = ErrClosed
	default:
		call.cn = newConn(c, i, nc)
		s.conn = call.cn
		c.wg.Add(1)
		go call.cn.readLoop()
	}
	c.mu.Unlock()
	close(call.done)
	return call.cn, call.err
}

// dial opens a connection to s, over TLS when configured: the TCP connect
// and the handshake together within Config.DialTimeout.
func (c *Client) dial(ctx context.Context, s *slot) (net.Conn, error) {
	if s.tls == nil {
		return c.dialer.DialContext(ctx, "tcp", s.addr)
	}
	d := tls.Dialer{NetDialer: &c.dialer, Config: s.tls}
	nc, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		if _, ok := errors.AsType[*net.OpError](err); !ok {
			// A handshake error does not name the address.
			err = fmt.Errorf("TLS handshake with %s: %w", s.addr, err)
		}
		return nil, err
	}
	return nc, nil
}

// forget removes cn from its slot if it is still there, so that the next
// request to that address dials afresh.
func (c *Client) forget(cn *conn) {
	c.mu.Lock()
	if s := &c.slots[cn.slot]; s.conn == cn {
		s.conn = nil
	}
	c.mu.Unlock()
}

// Close closes every connection, fails the requests waiting on them with an
// error wrapping ErrClosed, and waits for the connection readers to exit.
// Later requests fail with ErrClosed. Close is idempotent and always
// returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	var conns []*conn
	for i := range c.slots {
		if cn := c.slots[i].conn; cn != nil {
			conns = append(conns, cn)
		}
	}
	c.mu.Unlock()
	for _, cn := range conns {
		cn.fail(ErrClosed)
	}
	c.wg.Wait()
	return nil
}
