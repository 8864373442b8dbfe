package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/transport"
)

// ClockSkewWarning is the difference between two members' clocks beyond
// which a ClockWatch logs a warning. Log time is the leader's clock: a hold
// ends early by as much as a new leader's clock runs ahead of the old
// one's (docs/protocol.md), so a second is already a visible fault.
const ClockSkewWarning = time.Second

// PeerClock asks the member at addr for its clock and returns how far it
// is ahead of this node's (negative: behind), measured against the middle
// of the request's round trip, and that round trip: the offset is right to
// within half of it.
func PeerClock(ctx context.Context, d *transport.Dialer, addr string, timeout time.Duration) (offset, rtt time.Duration, err error) {
	conn, err := d.DialContext(ctx, transport.HeaderMembership, addr, timeout)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	sent := time.Now()
	answer, err := exchangeLine(conn, addr, "CLOCK", timeout)
	if err != nil {
		return 0, 0, err
	}
	rtt = time.Since(sent)
	rest, ok := strings.CutPrefix(answer, "CLOCK ")
	if !ok {
		return 0, 0, fmt.Errorf("unexpected answer %q from %s", answer, addr)
	}
	ns, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("clock from %s: %w", addr, err)
	}
	// Both wall clocks: the peer's answer carries no monotonic reading.
	middle := sent.Round(0).Add(rtt / 2)
	return time.Unix(0, ns).Sub(middle), rtt, nil
}

// ClockObserver is told of each round of a ClockWatch: every member that
// answered, by id, with how far its clock is ahead of this node's (package
// metrics shows them; a member missing from a round is not shown).
type ClockObserver interface {
	ObservePeerClocks(offsets map[string]time.Duration)
}

// ClockWatchConfig configures a ClockWatch.
type ClockWatchConfig struct {
	// Dialer reaches the members' membership service (TLS when the
	// node-to-node port has it).
	Dialer *transport.Dialer
	// Members returns the other members to ask (this node left out).
	Members func() []Member
	// Interval is the time between rounds (default 10 s).
	Interval time.Duration
	// Timeout bounds asking one member (default 2 s).
	Timeout time.Duration
	// Observer is told of each round's offsets; may be nil.
	Observer ClockObserver
	// Logger gets the skew warnings (default: none).
	Logger hclog.Logger
}

// ClockWatch asks every other member for its clock at each interval,
// reports the offsets, and logs a warning when a member's clock differs
// from this node's by more than ClockSkewWarning (and an info line when it
// is back within it). Log time is the leader's clock, so holds last their
// ttl only as far as the members' clocks agree; this makes a disagreement
// visible before a failover turns it into holds that end early.
type ClockWatch struct {
	cfg    ClockWatchConfig
	skewed map[string]bool // members last seen beyond ClockSkewWarning
}

// NewClockWatch returns a ClockWatch; Run starts it.
func NewClockWatch(cfg ClockWatchConfig) *ClockWatch {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &ClockWatch{cfg: cfg, skewed: make(map[string]bool)}
}

// Run asks the members once per interval until ctx is done; a round under
// way is cut off then.
func (w *ClockWatch) Run(ctx context.Context) {
	ticker := time.NewTicker(w.cfg.Interval)
	defer ticker.Stop()
	for {
		w.round(ctx)
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// round asks every member at once and reports what they answered.
func (w *ClockWatch) round(ctx context.Context) {
	members := w.cfg.Members()
	offsets := make([]time.Duration, len(members))
	rtts := make([]time.Duration, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() { offsets[i], rtts[i], errs[i] = PeerClock(ctx, w.cfg.Dialer, m.Address, w.cfg.Timeout) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	answered := make(map[string]time.Duration, len(members))
	for i, m := range members {
		if errs[i] != nil {
			w.cfg.Logger.Debug("clock probe: no answer", "peer", m.ID, "error", errs[i])
			continue
		}
		answered[m.ID] = offsets[i]
		// The offset is right to within half the round trip: a member is
		// judged skewed, or in sync again, only when all of that range
		// says so, and otherwise stays as it was judged before.
		off, margin := offsets[i].Abs(), rtts[i]/2
		skewed := w.skewed[m.ID]
		switch {
		case off-margin > ClockSkewWarning:
			skewed = true
		case off+margin <= ClockSkewWarning:
			skewed = false
		}
		switch {
		case skewed && !w.skewed[m.ID]:
			w.cfg.Logger.Warn("a member's clock differs from this node's: holds end early by as much as a new leader's clock runs ahead; keep the nodes' clocks in sync (NTP)",
				"peer", m.ID, "peer_ahead_by", offsets[i].Round(time.Millisecond).String(), "round_trip", rtts[i].String())
		case !skewed && w.skewed[m.ID]:
			w.cfg.Logger.Info("a member's clock agrees with this node's again", "peer", m.ID, "peer_ahead_by", offsets[i].Round(time.Millisecond).String())
		}
		w.skewed[m.ID] = skewed
	}
	for id := range w.skewed {
		if _, ok := answered[id]; !ok {
			delete(w.skewed, id) // gone or silent: judged afresh when it answers
		}
	}
	if w.cfg.Observer != nil {
		w.cfg.Observer.ObservePeerClocks(answered)
	}
}
