package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/transport"
)

// lineRequest is a Request of a fixed line that reports its outcome.
type lineRequest struct {
	line string
	done chan error
}

func (r *lineRequest) AppendLine(dst []byte) []byte     { return append(dst, r.line+"\n"...) }
func (r *lineRequest) Forwarded(resp string, err error) { r.done <- err }

// TestCloseCutsOffForwardingDials: with peer TLS, a forwarding connection
// whose dial hangs in the handshake (a leader that accepts and never
// answers) does not hold Close for the dial timeout, and the request it
// carried is told it was not sent.
func TestCloseCutsOffForwardingDials(t *testing.T) {
	leader := startSilentLeader(t)
	f := NewForwarder(ForwarderConfig{Dialer: &transport.Dialer{Peer: peerTLS(t)}, DialTimeout: time.Minute})
	r := &lineRequest{line: "RESERVE 1", done: make(chan error, 1)}
	f.Send(leader.ln.Addr().String(), 1, r)
	testutil.WaitFor(t, 5*time.Second, "the forwarding connection accepted by the leader", func() bool {
		return leader.accepted() > 0
	})

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		f.Close()
	}()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close still waits for a forwarding dial 3 s later")
	}
	select {
	case err := <-r.done:
		if !errors.Is(err, ErrNotSent) && !errors.Is(err, ErrClosed) {
			t.Errorf("the request was told %v, want ErrNotSent or ErrClosed", err)
		}
	default:
		t.Error("the request was never told its outcome")
	}
}
