package node

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// FuzzRequestWrite: every write request the parser accepts (with a holder
// for a HOLD, as the connection requires) becomes a write that passes the
// state machine's Check at format 2 and that Decode reads back as it was,
// so that the leader never writes an entry its voters would refuse (which
// would halt every node). At format 1, Check refuses exactly the part-3
// writes, as needing a newer format.
func FuzzRequestWrite(f *testing.F) {
	for _, s := range []string{
		"RESERVE 3 alice id=x", "CANCEL 3", "RESERVE 0", "RESERVE abc bob",
		"RESERVE 1-100 bob event=gala", "CANCEL 3,4,9 a event=e id=k",
		"HOLD 3,4 alice ttl=120 event=gala id=h", "HOLD 7 z ttl=3600", "HOLD 1,1 a",
		"EVENT CREATE gala 1000000 id=c", "EVENT DELETE gala", "RESERVE 4294967295,1 x",
		"RESERVE 3 x event=default",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		req, err := protocol.Parse([]byte(line))
		if err != nil || !req.Verb.IsWrite() {
			return
		}
		if req.Verb == protocol.VerbHold && req.Holder == "" {
			req.Holder = "identity" // the connection refuses a hold without one
		}
		w := requestWrite(&req)
		if err := fsm.Check(fsm.FormatV2, &w); err != nil {
			t.Fatalf("%q: Check at format 2: %v (write %+v)", line, err, w)
		}
		entry := fsm.AppendBatch(nil, fsm.FormatV2, 1, []fsm.Write{w})
		e, err := fsm.Decode(entry)
		if err != nil {
			t.Fatalf("%q: Decode of the leader's own entry: %v", line, err)
		}
		got := e.Writes[0]
		if got.Op != w.Op || got.Event != w.Event || got.Holder != w.Holder || got.ID != w.ID || got.TTL != w.TTL || got.Count != w.Count {
			t.Fatalf("%q: decoded %+v from %+v", line, got, w)
		}
		err1 := fsm.Check(fsm.FormatV1, &w)
		if req.IsPart1() != (err1 == nil) || (err1 != nil && !errors.Is(err1, fsm.ErrNeedsFormat)) {
			t.Fatalf("%q: part 1 %v, Check at format 1: %v", line, req.IsPart1(), err1)
		}
	})
}

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
		if c.resp != formatBusy {
			t.Fatalf("answer %q, want %q", c.resp, formatBusy)
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
