package replica

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
)

// Internal tuning of the leader's batching. Batches form on completion: a
// new log entry is started as soon as fewer than maxOutstandingApplies are
// being committed, carrying every write that queued meanwhile.
//
// One entry in flight is group commit at its simplest: while an entry
// commits, every write that arrives waits for the next one. Flushes, not
// CPU, bound a loaded cluster (all nodes share one disk on the benchmark
// machine), and every further entry in flight costs a flush on every node.
// docs/benchmarks.md: against 2 in flight, 1 gave 14% more writes/s at 64
// and 256 clients with boltdb and 5-7% more with wal; 8 was worse than 2.
const (
	maxBatchWrites        = 1024
	maxOutstandingApplies = 1
	maxReadBatch          = 4096
)

// pendingApply is one log entry being committed and the calls it carries.
type pendingApply struct {
	future raft.ApplyFuture
	calls  []Call
	// priors[i] is whether calls[i] had been attempted before this entry
	// (an earlier entry that may have committed): an entry that never
	// entered the log restores it rather than clearing it.
	priors  []bool
	started time.Time
}

// runWriteBatcher turns queued writes into log entries on the leader. It
// owns the applies it starts; a companion goroutine waits for them in order.
func (r *Replica) runWriteBatcher() {
	defer r.bg.Done()
	slots := make(chan struct{}, maxOutstandingApplies)
	applies := make(chan pendingApply, maxOutstandingApplies)
	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		for p := range applies {
			r.completeApply(p)
			<-slots
		}
	}()
	defer func() {
		close(applies)
		<-completerDone
	}()

	for {
		select {
		case slots <- struct{}{}:
		case <-r.stop:
			return
		}
		var first Call
		select {
		case first = <-r.writes:
		case <-r.tick:
			// A hold has fallen due. A write waiting takes precedence:
			// its entry carries the time forward as well as a tick
			// would. Otherwise a tick entry frees the hold on every node.
			select {
			case first = <-r.writes:
			default:
			}
			if first == nil {
				if r.fsm.Format() >= fsm.FormatV2 && r.fsm.Halted() == nil {
					applies <- pendingApply{future: r.raft.Apply(fsm.AppendTick(nil, time.Now().UnixMilli()), r.cfg.ApplyTimeout)}
				} else {
					<-slots
				}
				continue
			}
		case <-r.stop:
			return
		}
		batch := make([]Call, 1, 16)
		batch[0] = first
	drain:
		for len(batch) < maxBatchWrites {
			select {
			case c := <-r.writes:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		entry, batch, priors := r.encodeBatch(batch)
		if len(batch) == 0 {
			<-slots
			continue
		}
		if hookAnswerBeforeCommit(r, batch, entry) {
			<-slots
			continue
		}
		applies <- pendingApply{future: r.raft.Apply(entry, r.cfg.ApplyTimeout), calls: batch, priors: priors, started: time.Now()}
	}
}

// encodeBatch encodes the writes of batch into one log entry of the
// cluster's format and returns it with the calls it carries. A write that
// format cannot carry (a part-3 request before every voter can apply
// format 2) is answered ERROR BUSY, and one the state machine's decoder
// would refuse INVALID_COMMAND, at once: neither goes into the log.
func (r *Replica) encodeBatch(batch []Call) ([]byte, []Call, []bool) {
	format := r.fsm.Format()
	kept := batch[:0]
	var priors []bool
	for _, c := range batch {
		w := requestWrite(c.Request())
		switch err := fsm.Check(format, &w); {
		case errors.Is(err, fsm.ErrNeedsFormat):
			c.Finish(FormatBusy)
		case err != nil:
			r.logger.Debug("write refused before the log", "request", c.Request().Verb.String(), "error", err)
			c.Finish(protocol.InvalidCommand)
		default:
			priors = append(priors, c.Attempted())
			c.SetAttempted(true)
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil, nil, nil
	}
	entry := fsm.AppendBatchHeader(make([]byte, 0, 32*len(kept)), format, time.Now().UnixMilli(), len(kept))
	for _, c := range kept {
		w := requestWrite(c.Request())
		entry = fsm.AppendWrite(entry, format, &w)
	}
	return entry, kept, priors
}

// FormatBusy is the answer to a part-3 request while the cluster runs log
// format 1 (a server answers it too, before it forwards such a request).
var FormatBusy = protocol.ErrorLine(protocol.Busy, "the cluster still runs log format 1: events, seat lists, holds and history need every voter upgraded")

// requestWrite turns a parsed write request into the state machine's write.
func requestWrite(req *protocol.Request) fsm.Write {
	w := fsm.Write{Event: req.Event, Seat: req.Seat, Seats: req.Seats, Holder: req.Holder, ID: req.ID, Count: req.Count}
	switch req.Verb {
	case protocol.VerbReserve:
		w.Op = fsm.OpReserve
	case protocol.VerbCancel:
		w.Op = fsm.OpCancel
	case protocol.VerbHold:
		w.Op = fsm.OpHold
		w.TTL = req.TTL
		if w.TTL == 0 {
			w.TTL = protocol.DefaultTTL
		}
	case protocol.VerbEventCreate:
		w.Op = fsm.OpEventCreate
	case protocol.VerbEventDelete:
		w.Op = fsm.OpEventDelete
	}
	return w
}

// completeApply waits for one entry and answers its calls with the FSM's
// results for it.
func (r *Replica) completeApply(p pendingApply) {
	err := r.await(p.future)
	if len(p.calls) == 0 { // a tick
		if err != nil {
			r.logger.Debug("tick entry not applied", "error", err)
		}
		return
	}
	if err == nil {
		switch res := p.future.Response().(type) {
		case []fsm.Result:
			if o := r.cfg.Observer; o != nil {
				o.ObserveBatch(len(p.calls), time.Since(p.started))
			}
			for i, c := range p.calls {
				c.Finish(resultLine(res[i]))
			}
			return
		case error:
			r.logger.Error("log entry rejected by the state machine", "error", res)
			err = res
		default:
			err = errors.New("unexpected state machine response")
		}
	}
	notApplied := errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress)
	for i, c := range p.calls {
		switch {
		case errors.Is(err, raft.ErrRaftShutdown):
			// Raft reports shutdown even for entries it committed: the
			// outcome is unknown.
			c.Finish(protocol.ErrorLine(protocol.Timeout, "the node shut down before the answer; outcome unknown"))
		case notApplied:
			c.SetAttempted(p.priors[i])
			c.Reroute()
		case c.Request().ID != "" && (errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrAbortedByRestore)):
			// Safe to retry through the new leader: the id makes it
			// exactly-once.
			c.Reroute()
		default:
			c.Finish(protocol.ErrorLine(protocol.Timeout, "leadership lost before the write was committed; outcome unknown"))
		}
	}
}

// runReadBatcher answers reads on the leader: each batch of reads waits for
// one leadership confirmation, then is answered from the local state, which
// then holds every write acknowledged before the reads arrived.
func (r *Replica) runReadBatcher() {
	defer r.bg.Done()
	batch := make([]Call, 0, 64)
	for {
		batch = batch[:0]
		select {
		case c := <-r.reads:
			batch = append(batch, c)
		case <-r.stop:
			return
		}
	drain:
		for len(batch) < maxReadBatch {
			select {
			case c := <-r.reads:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		if err := r.fsm.Halted(); err != nil {
			// Answering from a state machine that stopped applying the
			// log would be a stale read.
			for _, c := range batch {
				c.Finish(protocol.ErrorLine(protocol.NoLeader, "this node cannot apply the log; upgrade it"))
			}
			continue
		}
		if !r.confirmLeadership() {
			for _, c := range batch {
				c.Retry()
			}
			continue
		}
		for _, c := range batch {
			c.Finish(r.ReadLocal(*c.Request()))
		}
	}
}
