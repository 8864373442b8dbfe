package cluster

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/certs"
	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/transport"
)

// followerHandler leads nothing and names leader as the leader.
type followerHandler struct{ leader string }

func (h followerHandler) NodeStatus() NodeStatus             { return NodeStatus{} }
func (h followerHandler) Backup() (*Backup, error)           { return nil, ErrNotLeader }
func (h followerHandler) Join(id, address string) error      { return ErrNotLeader }
func (h followerHandler) Members() ([]Member, error)         { return nil, ErrNotLeader }
func (h followerHandler) Remove(id string, force bool) error { return ErrNotLeader }
func (h followerHandler) AppliedIndex() uint64               { return 0 }
func (h followerHandler) LeaderAddress() string              { return h.leader }

// silentLeader accepts membership connections, records the request line
// each sends, and never answers.
type silentLeader struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
	conns []net.Conn
}

func startSilentLeader(t *testing.T) *silentLeader {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &silentLeader{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.conns = append(l.conns, conn)
			l.mu.Unlock()
			go func() {
				r := bufio.NewReader(conn)
				if _, err := r.ReadByte(); err != nil { // the service header
					return
				}
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				l.mu.Lock()
				l.lines = append(l.lines, strings.TrimSpace(line))
				l.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range l.conns {
			c.Close()
		}
	})
	return l
}

func (l *silentLeader) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *silentLeader) received(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, got := range l.lines {
		if got == line {
			return true
		}
	}
	return false
}

// startFollower serves membership as a follower whose leader is at
// leaderAddr, dialling it with d; served is closed when ServeMembership
// returns.
func startFollower(t *testing.T, leaderAddr string, d *transport.Dialer) (ln net.Listener, served chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served = make(chan struct{})
	go func() {
		defer close(served)
		ServeMembership(ln, followerHandler{leader: leaderAddr}, d, hclog.NewNullLogger())
	}()
	t.Cleanup(func() {
		ln.Close()
		<-served
	})
	return ln, served
}

// stopAndWait closes the follower's listener and fails unless
// ServeMembership returns, and client's connection ends, within 3 s.
func stopAndWait(t *testing.T, ln net.Listener, served chan struct{}, client net.Conn) {
	t.Helper()
	ln.Close()
	select {
	case <-served:
	case <-time.After(3 * time.Second):
		t.Fatal("ServeMembership still waits 3 s after its listener closed")
	}
	client.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadAll(client); err != nil {
		t.Errorf("the client's connection was not ended: %v", err)
	}
}

// TestStoppingCutsOffRelays: a follower relaying a request to a leader that
// does not answer must not hold its own stop for the relay's timeout
// (membershipTimeout, 25 s): closing the listener ends the relay, and the
// client's connection, at once.
func TestStoppingCutsOffRelays(t *testing.T) {
	for _, tc := range []struct{ request, relayed string }{
		{"JOIN n9 127.0.0.1:1", "RELAYED JOIN n9 127.0.0.1:1"},
		{"MEMBERS", "RELAYED MEMBERS"},
		{"BACKUP", "RELAYED BACKUP"},
	} {
		t.Run(strings.Fields(tc.request)[0], func(t *testing.T) {
			leader := startSilentLeader(t)
			ln, served := startFollower(t, leader.ln.Addr().String(), &transport.Dialer{})
			client := sendLine(t, ln.Addr().String(), tc.request)
			testutil.WaitFor(t, 5*time.Second, "the request relayed to the leader", func() bool {
				return leader.received(tc.relayed)
			})
			stopAndWait(t, ln, served, client)
		})
	}
}

// TestStoppingCutsOffRelayHandshakes: with peer TLS, a relay to a leader
// that accepts the connection but never answers the TLS handshake is cut
// off too (the dial itself honours the stop, not only the connection it
// returns).
func TestStoppingCutsOffRelayHandshakes(t *testing.T) {
	peer := peerTLS(t)
	for _, request := range []string{"MEMBERS", "BACKUP"} {
		t.Run(request, func(t *testing.T) {
			leader := startSilentLeader(t)
			ln, served := startFollower(t, leader.ln.Addr().String(), &transport.Dialer{Peer: peer})
			client := sendLine(t, ln.Addr().String(), request)
			testutil.WaitFor(t, 5*time.Second, "the relay's connection accepted by the leader", func() bool {
				return leader.accepted() > 0
			})
			stopAndWait(t, ln, served, client)
		})
	}
}

// peerTLS is the peer TLS of a node n1 at 127.0.0.1, from a CA made for
// the test.
func peerTLS(t *testing.T) *transport.PeerConfig {
	t.Helper()
	dir := t.TempDir()
	if err := certs.GenerateCA(dir, "", 0, false); err != nil {
		t.Fatal(err)
	}
	if err := certs.IssueNode(dir, dir, "n1", []string{"127.0.0.1"}, 0, false); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := certs.Files(dir, "n1")
	caFile, _ := certs.Files(dir, certs.CAName)
	peer, err := transport.PeerTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	return peer
}

// TestStoppingCutsOffSilentClients: a client that connects and never sends
// its request line does not hold a stopping node for the connection's
// deadline.
func TestStoppingCutsOffSilentClients(t *testing.T) {
	ln, served := startFollower(t, "127.0.0.1:1", &transport.Dialer{})
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	stopAndWait(t, ln, served, client)
}

// sendLine connects to addr and sends line; the connection is closed when
// the test ends.
func sendLine(t *testing.T, addr, line string) net.Conn {
	t.Helper()
	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := io.WriteString(client, line+"\n"); err != nil {
		t.Fatal(err)
	}
	return client
}
