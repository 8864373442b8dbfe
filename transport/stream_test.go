package transport

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// newTestStream starts a mux on a loopback port with a Raft stream layer.
func newTestStream(t *testing.T) (*StreamLayer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := NewMux(ln, ln.Addr(), hclog.NewNullLogger())
	stream := NewStreamLayer(mux, &Dialer{})
	mux.Start()
	t.Cleanup(func() { mux.Close() })
	return stream, ln.Addr().String()
}

// serveLikeRaft mimics hashicorp/raft's connection handler: it reads until
// the connection fails, then closes it (raft's handleConn defers Close).
func serveLikeRaft(conn net.Conn) {
	defer conn.Close()
	io.Copy(io.Discard, conn)
}

// A node closes its Raft stores only after the transport's handlers of
// incoming connections are gone, because a handler answering a heartbeat
// may write the new term to the stable store (hashicorp/raft panics when
// that write fails on a closed store).
func TestStreamLayerWaitsForAcceptedHandlers(t *testing.T) {
	stream, addr := newTestStream(t)
	peer, err := stream.Dial(raft.ServerAddress(addr), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	conn, err := stream.Accept()
	if err != nil {
		t.Fatal(err)
	}
	handlerDone := make(chan struct{})
	go func() {
		defer close(handlerDone)
		serveLikeRaft(conn)
	}()

	// The handler is blocked reading an open connection: not drained.
	if stream.WaitAccepted(50 * time.Millisecond) {
		t.Fatal("WaitAccepted returned true while a handler was still serving")
	}
	stream.CloseAccepted()
	if !stream.WaitAccepted(5 * time.Second) {
		t.Fatal("handler did not finish after CloseAccepted")
	}
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Fatal("handler goroutine still running after WaitAccepted returned")
	}

	// A connection accepted after CloseAccepted is closed at once, so its
	// handler stops at its first read.
	late, err := (&Dialer{}).Dial(HeaderRaft, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	conn, err = stream.Accept()
	if err != nil {
		t.Fatal(err)
	}
	go serveLikeRaft(conn)
	if !stream.WaitAccepted(5 * time.Second) {
		t.Fatal("a connection accepted after CloseAccepted kept its handler running")
	}
}
