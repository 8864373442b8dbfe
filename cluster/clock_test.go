package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/transport"
)

// skewedPeer answers the membership service's CLOCK with its clock set
// ahead by skew (negative: behind).
type skewedPeer struct {
	ln    net.Listener
	skew  atomic.Int64 // nanoseconds
	delay atomic.Int64 // nanoseconds before it reads its clock and answers
}

func startSkewedPeer(t *testing.T, skew time.Duration) *skewedPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &skewedPeer{ln: ln}
	p.skew.Store(int64(skew))
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				if _, err := r.ReadByte(); err != nil { // the service header
					return
				}
				if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != "CLOCK" {
					return
				}
				time.Sleep(time.Duration(p.delay.Load()))
				fmt.Fprintf(conn, "CLOCK %d\n", time.Now().Add(time.Duration(p.skew.Load())).UnixNano())
			})
		}
	})
	return p
}

func (p *skewedPeer) addr() string { return p.ln.Addr().String() }

// within fails unless got is want to within the round trip (and a
// millisecond of scheduling).
func within(t *testing.T, what string, got, want, rtt time.Duration) {
	t.Helper()
	if d := got - want; d > rtt+time.Millisecond || d < -rtt-time.Millisecond {
		t.Errorf("%s: offset %v, want %v (round trip %v)", what, got, want, rtt)
	}
}

func TestPeerClockMeasuresOffset(t *testing.T) {
	for _, skew := range []time.Duration{0, time.Minute, -3 * time.Second} {
		p := startSkewedPeer(t, skew)
		off, rtt, err := PeerClock(context.Background(), &transport.Dialer{}, p.addr(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		within(t, fmt.Sprintf("a peer %v ahead", skew), off, skew, rtt)
	}

	// The membership service answers CLOCK with its own clock (its
	// listener here is not behind a mux: no header byte).
	ln, _ := startFollower(t, "127.0.0.1:1", &transport.Dialer{})
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := time.Now()
	answer, err := exchangeLine(conn, "the service", "CLOCK", 2*time.Second)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	var ns int64
	if _, err := fmt.Sscanf(answer, "CLOCK %d", &ns); err != nil {
		t.Fatalf("CLOCK answered %q: %v", answer, err)
	}
	if at := time.Unix(0, ns); at.Before(before.Round(0)) || at.After(after.Round(0)) {
		t.Errorf("CLOCK answered %v, not between %v and %v", at, before, after)
	}
}

// clockRounds records a ClockWatch's rounds.
type clockRounds struct {
	mu     sync.Mutex
	rounds []map[string]time.Duration
}

func (c *clockRounds) ObservePeerClocks(offsets map[string]time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rounds = append(c.rounds, offsets)
}

func (c *clockRounds) last() (int, map[string]time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rounds) == 0 {
		return 0, nil
	}
	return len(c.rounds), c.rounds[len(c.rounds)-1]
}

// runClockWatch runs a ClockWatch over members, rounds 10 ms apart, with
// its rounds recorded and its log in logs, until the test ends.
func runClockWatch(t *testing.T, logs *testutil.LogSink, members []Member) *clockRounds {
	t.Helper()
	obs := &clockRounds{}
	w := NewClockWatch(ClockWatchConfig{
		Dialer:   &transport.Dialer{},
		Members:  func() []Member { return members },
		Interval: 10 * time.Millisecond,
		Observer: obs,
		Logger:   hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return obs
}

// TestClockWatchWarnsOfSkew: each round reports every member that
// answered; a member whose clock is more than ClockSkewWarning off is
// warned of once, not every round, and its return is logged.
func TestClockWatchWarnsOfSkew(t *testing.T) {
	inSync := startSkewedPeer(t, 0)
	ahead := startSkewedPeer(t, 5*time.Second)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close() // a member that does not answer

	logs := testutil.NewLogSink(t)
	obs := runClockWatch(t, logs, []Member{{ID: "n2", Address: inSync.addr()}, {ID: "n3", Address: ahead.addr()}, {ID: "n4", Address: gone.Addr().String()}})

	testutil.WaitFor(t, 5*time.Second, "three rounds", func() bool { n, _ := obs.last(); return n >= 3 })
	_, offsets := obs.last()
	if _, ok := offsets["n4"]; ok || len(offsets) != 2 {
		t.Fatalf("a round reported %v, want n2 and n3 only", offsets)
	}
	within(t, "n2", offsets["n2"], 0, 50*time.Millisecond)
	within(t, "n3", offsets["n3"], 5*time.Second, 50*time.Millisecond)
	const warning = "a member's clock differs from this node's"
	if got := logs.Count(warning); got != 1 {
		t.Errorf("%d warnings after three rounds, want one", got)
	}
	if !logs.Contains("peer=n3 peer_ahead_by=5s") || logs.Contains("peer=n2") {
		t.Error("the warning does not name n3 alone, 5s ahead")
	}

	ahead.skew.Store(0)
	testutil.WaitFor(t, 5*time.Second, "n3's clock back in sync logged", func() bool {
		return logs.Contains("a member's clock agrees with this node's again: peer=n3")
	})
	if got := logs.Count(warning); got != 1 {
		t.Errorf("%d warnings, want still one", got)
	}
}

// TestClockWatchJudgesWithinTheRoundTrip: a member is warned of only when
// its offset minus half the round trip is beyond ClockSkewWarning, and
// called back in sync only when its offset plus half the round trip is
// within it; an answer in between leaves it as it was judged (and its
// offset is still reported).
func TestClockWatchJudgesWithinTheRoundTrip(t *testing.T) {
	// The peer waits 400 ms before it reads its clock, so it measures
	// about 200 ms further ahead than it is, give or take 200 ms.
	peer := startSkewedPeer(t, 850*time.Millisecond)
	peer.delay.Store(int64(400 * time.Millisecond))
	logs := testutil.NewLogSink(t)
	obs := runClockWatch(t, logs, []Member{{ID: "n2", Address: peer.addr()}})
	const warning, back = "a member's clock differs from this node's", "a member's clock agrees with this node's again"

	// About 1.05 s ± 0.2: beyond 1 s as measured, but not certainly.
	testutil.WaitFor(t, 10*time.Second, "two rounds", func() bool { n, _ := obs.last(); return n >= 2 })
	if _, offsets := obs.last(); offsets["n2"] < 800*time.Millisecond {
		t.Fatalf("a round reported %v, want n2 about 1 s ahead", offsets)
	}
	if logs.Contains(warning) {
		t.Fatal("an offset that may be within the threshold was warned of")
	}
	// About 2.2 s ± 0.2: certainly beyond.
	peer.skew.Store(int64(2 * time.Second))
	testutil.WaitFor(t, 10*time.Second, "the warning", func() bool { return logs.Contains(warning) })
	// Back to about 0.9 s ± 0.2: within 1 s as measured, but not
	// certainly, so still skewed.
	peer.skew.Store(int64(700 * time.Millisecond))
	n, _ := obs.last()
	testutil.WaitFor(t, 10*time.Second, "two more rounds", func() bool { m, _ := obs.last(); return m >= n+2 })
	if logs.Contains(back) {
		t.Fatal("called back in sync while the offset may still be beyond the threshold")
	}
	// 0.7 s with a quick answer: certainly within.
	peer.delay.Store(0)
	testutil.WaitFor(t, 10*time.Second, "back in sync", func() bool { return logs.Contains(back) })
	if got := logs.Count(warning); got != 1 {
		t.Errorf("%d warnings, want one", got)
	}
}
