package replica

import (
	"errors"
	"testing"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
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
