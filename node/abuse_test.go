package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/replica"
	"github.com/seatd/seatd/transport"
)

// TestRoguePeerCannotJoinVoteOrForward starts a node whose peer certificate
// comes from another CA, bootstrapped with the real cluster as its peers and
// a far higher term, and checks that it can neither disturb the cluster nor
// reach its node-to-node services; nor can a rogue raw TLS or plaintext
// connection forward writes.
func TestRoguePeerCannotJoinVoteOrForward(t *testing.T) {
	pki := newTestPKI(t, "tester")
	tc := newTestCluster(t, 3, 5, pki.secure)
	leader := tc.waitForLeader()
	leaderID := tc.cfgs[leader].ID
	term0 := tc.nodes[leader].rep.Raft().CurrentTerm()
	f := tc.followers()[0]

	// The rogue node: a node certificate from an unrelated CA.
	rogue := newTestPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rogueAddr := ln.Addr().String()
	cfg := testConfig()
	cfg.ID = "rogue"
	cfg.Raft = rogueAddr
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "rogue")
	cfg.Seats = 5
	cfg.Peers = []Peer{{ID: "rogue", Addr: rogueAddr}}
	for _, c := range tc.cfgs {
		cfg.Peers = append(cfg.Peers, Peer{ID: c.ID, Addr: c.Raft})
	}
	rogue.secure(&cfg)
	cfg.TLSClientCA = ""
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "rogue", Level: hclog.Debug, Output: tc.logs.Prefixed("rogue")})

	// First start bootstraps the rogue's state; then its stored term is
	// raised far above the cluster's, and it is started again.
	first := cfg
	first.RaftListener = ln
	rn, err := New(first)
	if err != nil {
		t.Fatalf("start rogue: %v", err)
	}
	if err := rn.Close(); err != nil {
		t.Fatalf("close rogue: %v", err)
	}
	highTerm := term0 + 1000
	store, err := replica.OpenLogStore(cfg.LogStore, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetUint64([]byte("CurrentTerm"), highTerm); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	second := cfg
	if second.RaftListener, err = net.Listen("tcp", rogueAddr); err != nil {
		t.Fatalf("re-listen rogue: %v", err)
	}
	rn, err = New(second)
	if err != nil {
		t.Fatalf("restart rogue: %v", err)
	}
	t.Cleanup(func() { rn.Close() })
	if got := rn.rep.Raft().CurrentTerm(); got < highTerm {
		t.Fatalf("rogue resumed with term %d, want at least %d", got, highTerm)
	}

	// (a), (b): for about 3 seconds of the rogue running, the leader and
	// its term stay, nobody follows the rogue, and writes keep succeeding
	// through a real follower.
	honest, err := pki.tlsLine(t, tc.addr(f), "tester")
	if err != nil {
		t.Fatal(err)
	}
	sawCandidate := false
	writes := 0
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if rn.IsLeader() {
			t.Fatal("the rogue node became leader")
		}
		if rn.rep.Raft().State() == raft.Candidate {
			sawCandidate = true
		}
		for i, n := range tc.nodes {
			if id := n.LeaderID(); id == "rogue" {
				t.Fatalf("%s follows the rogue node", tc.cfgs[i].ID)
			}
		}
		if !tc.nodes[leader].IsLeader() {
			t.Fatalf("%s lost leadership while the rogue ran", leaderID)
		}
		if got := tc.nodes[leader].rep.Raft().CurrentTerm(); got != term0 {
			t.Fatalf("leader term moved from %d to %d while the rogue ran", term0, got)
		}
		if got := honest.Do(t, "RESERVE 1"); got != "SUCCESS" {
			t.Fatalf("RESERVE 1 while the rogue ran = %q", got)
		}
		if got := honest.Do(t, "CANCEL 1"); got != "SUCCESS" {
			t.Fatalf("CANCEL 1 while the rogue ran = %q", got)
		}
		writes += 2
	}
	// The rogue really campaigned (pre-vote keeps it a candidate without
	// raising its term further).
	testutil.WaitFor(t, 10*time.Second, "the rogue to campaign", func() bool {
		sawCandidate = sawCandidate || rn.rep.Raft().State() == raft.Candidate
		return sawCandidate
	})
	if rn.IsLeader() {
		t.Fatal("the rogue node became leader")
	}
	if !tc.nodes[leader].IsLeader() || tc.nodes[leader].rep.Raft().CurrentTerm() != term0 {
		t.Fatalf("after the rogue: %s leader=%v term=%d, want leader at term %d",
			leaderID, tc.nodes[leader].IsLeader(), tc.nodes[leader].rep.Raft().CurrentTerm(), term0)
	}
	for i, n := range tc.nodes {
		if n.rep.Raft().CurrentTerm() >= highTerm || n.LeaderID() != leaderID {
			t.Fatalf("%s: term %d leader %q after the rogue", tc.cfgs[i].ID, n.rep.Raft().CurrentTerm(), n.LeaderID())
		}
	}
	t.Logf("rogue ran 3s: %d writes succeeded; leader %s kept term %d; rogue term %d state %s",
		writes, leaderID, term0, rn.rep.Raft().CurrentTerm(), rn.rep.Raft().State())

	// (c) A raw TLS connection with the rogue node certificate cannot
	// forward a write.
	rogueCert, err := tls.LoadX509KeyPair(rogue.file("node.crt"), rogue.file("node.key"))
	if err != nil {
		t.Fatal(err)
	}
	rawTLS := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Present the rogue certificate whatever CAs the server asks for
		// (with Certificates, Go would withhold a non-matching one).
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rogueCert, nil },
		RootCAs:              pki.clientTLS(t, "").RootCAs, // the real server verifies
		ServerName:           "127.0.0.1",
	}
	for _, i := range []int{leader, f} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", tc.cfgs[i].Raft, rawTLS)
		if err != nil {
			t.Logf("rogue TLS dial to %s refused at the handshake: %v", tc.cfgs[i].ID, err)
			continue
		}
		conn.SetDeadline(time.Now().Add(6 * time.Second))
		_, werr := conn.Write(append([]byte{transport.HeaderForward}, "RESERVE 5 rogue\n"...))
		got, rerr := io.ReadAll(conn)
		conn.Close()
		if len(got) > 0 {
			t.Fatalf("rogue TLS connection to %s got an answer %q", tc.cfgs[i].ID, got)
		}
		if rerr == nil && werr == nil {
			// EOF without an answer is fine: the server closed it.
			t.Logf("rogue TLS connection to %s closed without an answer", tc.cfgs[i].ID)
		} else {
			t.Logf("rogue TLS connection to %s: write=%v read=%v", tc.cfgs[i].ID, werr, rerr)
		}
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			t.Fatalf("rogue TLS connection to %s was held open without being refused", tc.cfgs[i].ID)
		}
	}

	// (d) A plaintext connection to the node-to-node port gets no answer.
	plain, err := net.DialTimeout("tcp", tc.cfgs[leader].Raft, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	plain.SetDeadline(time.Now().Add(7 * time.Second))
	if _, err := plain.Write(append([]byte{transport.HeaderForward}, "RESERVE 4 rogue\n"...)); err != nil {
		t.Logf("plaintext write: %v", err)
	}
	got, rerr := io.ReadAll(plain)
	plain.Close()
	// Only a TLS alert record (content type 21) would be acceptable.
	if len(got) > 0 && got[0] != 0x15 {
		t.Fatalf("plaintext connection to the raft port got an answer %q", got)
	}
	t.Logf("plaintext connection to the raft port: %d bytes back, read ended with %v", len(got), rerr)

	// Nothing the rogue sent was applied, on any node.
	for i := range tc.nodes {
		c, err := pki.tlsLine(t, tc.addr(i), "tester")
		if err != nil {
			t.Fatal(err)
		}
		for _, seat := range []int{4, 5} {
			if got := c.Do(t, fmt.Sprintf("STATUS %d", seat)); got != "FREE" {
				t.Fatalf("%s: STATUS %d = %q after rogue forwards, want FREE", tc.cfgs[i].ID, seat, got)
			}
		}
		c.Conn.Close()
	}
}

// TestIdleAndSlowlorisDoNotStopHonestClients holds thousands of idle
// connections and a couple hundred slow senders on a node and checks that an
// honest client keeps being served promptly, and that slow senders are cut
// off within the line timeout.
func TestIdleAndSlowlorisDoNotStopHonestClients(t *testing.T) {
	const (
		idleConns   = 5000
		slowConns   = 200
		lineTimeout = 2 * time.Second
		cutMargin   = 1500 * time.Millisecond
	)
	tc := newTestCluster(t, 1, 5, func(c *Config) {
		c.MaxConns = 6000
		c.LineTimeout = lineTimeout
	})
	n := tc.nodes[0]
	addr := tc.addr(0)

	measure := func(what string) (p50, p99 time.Duration) {
		t.Helper()
		c := testutil.DialLine(t, addr)
		defer c.Conn.Close()
		lat := make([]time.Duration, 0, 300)
		for i := 0; i < 300; i++ {
			start := time.Now()
			c.Send(t, "STATUS 1\n")
			got, err := c.ReadLine(10 * time.Second)
			lat = append(lat, time.Since(start))
			if err != nil || got != "FREE" {
				t.Fatalf("%s: honest STATUS 1 #%d = %q (%v)", what, i, got, err)
			}
		}
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	p50Without, p99Without := measure("without attack")

	// Idle connections, dialled by a few workers.
	idle := make([]net.Conn, idleConns)
	var dialErr atomic.Value
	var dwg sync.WaitGroup
	const workers = 32
	for w := 0; w < workers; w++ {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			for i := w; i < idleConns; i += workers {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					dialErr.Store(err)
					return
				}
				idle[i] = c
			}
		}()
	}
	dwg.Wait()
	t.Cleanup(func() {
		for _, c := range idle {
			if c != nil {
				c.Close()
			}
		}
	})
	if err := dialErr.Load(); err != nil {
		t.Fatalf("dial idle connection: %v", err)
	}
	testutil.WaitFor(t, 20*time.Second, "the node to hold every idle connection", func() bool {
		return n.clientConns.Load() >= idleConns
	})

	// Slow senders: each starts a line and adds a byte every 500ms; when
	// the server cuts it off, it reconnects and starts again.
	stop := make(chan struct{})
	var swg sync.WaitGroup
	var connected, cutOnce atomic.Int64
	var maxLife atomic.Int64 // nanoseconds
	var problems sync.Map    // index -> error text
	for s := 0; s < slowConns; s++ {
		swg.Add(1)
		go func() {
			defer swg.Done()
			first := true
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					problems.Store(s, "dial: "+err.Error())
					return
				}
				start := time.Now()
				if _, err := io.WriteString(c, "STAT"); err != nil {
					problems.Store(s, "first write: "+err.Error())
					c.Close()
					return
				}
				if first {
					connected.Add(1)
				}
				buf := make([]byte, 256)
				for {
					c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
					k, err := c.Read(buf)
					if k > 0 {
						problems.Store(s, fmt.Sprintf("slow sender got an answer %q", buf[:k]))
						c.Close()
						return
					}
					if errors.Is(err, os.ErrDeadlineExceeded) {
						select {
						case <-stop:
							c.Close()
							return
						default:
						}
						c.Write([]byte{'x'}) // an error shows on the next read
						continue
					}
					// The server closed the connection.
					life := int64(time.Since(start))
					for {
						old := maxLife.Load()
						if life <= old || maxLife.CompareAndSwap(old, life) {
							break
						}
					}
					if first {
						cutOnce.Add(1)
						first = false
					}
					break
				}
				c.Close()
			}
		}()
	}
	stopSlow := sync.OnceFunc(func() { close(stop); swg.Wait() })
	t.Cleanup(stopSlow)

	testutil.WaitFor(t, 20*time.Second, "every slow sender to connect", func() bool {
		return connected.Load() == slowConns
	})
	held := n.clientConns.Load()
	p50With, p99With := measure("under attack")
	t.Logf("ABUSE p99 without=%s with=%s (p50 without=%s with=%s; node held %d connections)",
		p99Without, p99With, p50Without, p50With, held)
	if held < idleConns+slowConns/2 {
		t.Errorf("the node held only %d connections during the measurement", held)
	}

	testutil.WaitFor(t, lineTimeout+10*time.Second, "the server to cut off every slow sender", func() bool {
		return cutOnce.Load() == slowConns
	})
	stopSlow()
	problems.Range(func(k, v any) bool {
		t.Errorf("slow sender %v: %v", k, v)
		return true
	})
	if life := time.Duration(maxLife.Load()); life > lineTimeout+cutMargin {
		t.Errorf("a slow sender held its connection for %s, over the line timeout %s + %s", life, lineTimeout, cutMargin)
	} else {
		t.Logf("longest slow-sender connection: %s (line timeout %s)", life, lineTimeout)
	}
	if p99With >= 500*time.Millisecond {
		t.Errorf("honest p99 under attack = %s, want under 500ms", p99With)
	}
	// The idle connections are still held (IdleTimeout is minutes), and
	// the node still serves.
	if got := n.clientConns.Load(); got < idleConns {
		t.Errorf("after the attack the node holds %d connections, want the %d idle ones", got, idleConns)
	}
	if got, err := testutil.Request(addr, "STATUS 1", 5*time.Second); err != nil || got != "FREE" {
		t.Errorf("STATUS 1 after the attack = %q (%v)", got, err)
	}
}
