package node

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/replica"
	"github.com/seatd/seatd/transport"
)

// A follower still at format 1 forwards a part-3 request only to a leader
// whose formats service says it applies format 2: a leader of an older
// build would answer it by the older grammar.
func TestFollowerAsksTheLeaderBeforePart3(t *testing.T) {
	n := &Node{}
	req, err := protocol.Parse([]byte("HOLD 1,2 alice"))
	if err != nil {
		t.Fatal(err)
	}
	call := func() *call { return &call{n: n, req: req, done: make(chan struct{}, 1)} }

	n.leaderFormats.entries = map[string]formatEntry{
		"old:1": {newest: 1, at: time.Now()},
		"new:1": {newest: 2, at: time.Now()},
	}
	c := call()
	if n.leaderServesPart3(c, "old:1") {
		t.Fatal("forwarded to a leader of format 1")
	}
	select {
	case <-c.done:
		if c.resp != replica.FormatBusy {
			t.Fatalf("answer %q, want %q", c.resp, replica.FormatBusy)
		}
	default:
		t.Fatal("not answered")
	}
	if !n.leaderServesPart3(call(), "new:1") {
		t.Fatal("not forwarded to a leader of format 2")
	}

	// What a leader of the first release says: it hangs up on the unknown
	// service byte.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadFull(conn, make([]byte, 1))
			conn.Close()
		}
	}()
	var fc formatCache
	fc.probe(&transport.Dialer{}, ln.Addr().String())
	if newest, ok := fc.get(ln.Addr().String()); !ok || newest != 1 {
		t.Fatalf("cached %d, %v for an old leader", newest, ok)
	}
}
