package robustness

import (
	"fmt"
	"sync"
	"time"
)

// wallClock maps the run's timeline (nanoseconds since its start, read
// from the monotonic clock, as every operation's call and return are) onto
// the host's wall clock, which is what the nodes stamp their log entries
// with and what hold expiries are written in. The two move together until
// the wall clock is stepped (an NTP correction, a virtual machine resumed,
// an operator's date -s); a fixed origin would then put every later log
// time outside the operation that made it, and judge holds against the
// wrong end. So the run samples the offset between the two clocks every
// few milliseconds and the checks read wall-time bounds off the samples:
// between two samples that disagree the wall time is either offset, and a
// log time, which never goes backwards along the log, may be as late as the
// latest wall time the host showed so far.
type wallClock struct {
	start time.Time

	mu    sync.Mutex
	spans []clockSpan // in timeline order; one while the wall clock is not stepped
}

// clockSpan is a stretch of the timeline over which every sample found the
// same offset.
type clockSpan struct {
	from, to int64 // the first and last sample of the stretch, ns since the start
	offset   int64 // the wall clock's Unix ns minus the timeline's ns
}

// clockSampleEvery is how often the run samples the wall clock's offset.
const clockSampleEvery = 2 * time.Millisecond

// clockStepMin is the smallest change of offset counted as a step. The two
// clocks are read one after the other, and a thread preempted in between
// shows an offset off by as long as it waited (a few hundred microseconds
// seen on a loaded machine); the checks' SlackMs absorbs smaller steps.
const clockStepMin = time.Millisecond

// newWallClock starts the timeline at start and takes its first sample.
func newWallClock(start time.Time) *wallClock {
	w := &wallClock{start: start}
	w.sample()
	return w
}

// sample reads the clocks and records their offset; it returns the
// timeline position it read. The reading is taken under the lock, so that
// samples are recorded in the order they were taken (a ticker's value would
// not do: it is the tick's scheduled time, not when the clocks were read).
func (w *wallClock) sample() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now() // carries both clocks
	ns := int64(now.Sub(w.start))
	w.recordLocked(ns, now.UnixNano())
	return ns
}

// recordLocked adds one sample, the wall clock read wallNs (Unix ns) at ns
// since the start; w.mu is held.
func (w *wallClock) recordLocked(ns, wallNs int64) {
	offset := wallNs - ns
	if n := len(w.spans); n > 0 && time.Duration(w.spans[n-1].offset-offset).Abs() < clockStepMin {
		w.spans[n-1].to = max(w.spans[n-1].to, ns)
		return
	}
	w.spans = append(w.spans, clockSpan{from: ns, to: ns, offset: offset})
}

// watch samples the wall clock until stop is closed; the run owns it and
// waits for it to return.
func (w *wallClock) watch(stop <-chan struct{}) {
	tick := time.NewTicker(clockSampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			w.sample()
			return
		case <-tick.C:
			w.sample()
		}
	}
}

// reach returns the stretch of the timeline over which span i's offset
// may have held: from the previous span's last sample to the next span's
// first.
func (w *wallClock) reach(i int) (from, to int64) {
	from, to = -1<<62, 1<<62
	if i > 0 {
		from = w.spans[i-1].to
	}
	if i+1 < len(w.spans) {
		to = w.spans[i+1].from
	}
	return from, to
}

// earliest returns the earliest log time (Unix ms, rounded down) an entry
// stamped between call and ret (ns since the start) may carry: the earliest
// wall time the host may have shown in between.
func (w *wallClock) earliest(call, ret int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := int64(1 << 62)
	for i, s := range w.spans {
		from, to := w.reach(i)
		if to < call || from > ret {
			continue
		}
		best = min(best, max(call, from)+s.offset)
	}
	return floorDiv(best, 1e6)
}

// latest returns the latest log time (Unix ms, rounded up) an entry
// stamped by ns since the start may carry: the latest wall time the host
// may have shown up to then, since the state machine never lets log time
// go back.
func (w *wallClock) latest(ns int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := int64(-1 << 62)
	for i, s := range w.spans {
		from, to := w.reach(i)
		if from > ns {
			break
		}
		best = max(best, min(ns, to)+s.offset)
	}
	return -floorDiv(-best, 1e6)
}

// now returns the run's current position on the timeline, after sampling
// the wall clock there.
func (w *wallClock) now() int64 { return w.sample() }

// clockReportMin is the smallest step the run's log names. Smaller changes
// of offset still shape the bounds, but they are mostly a reading delayed
// between the two clocks (a step there and one back), not the host's clock.
const clockReportMin = 5 * time.Millisecond

// steps describes every step of the wall clock of at least clockReportMin
// seen so far, for the log.
func (w *wallClock) steps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for i := 1; i < len(w.spans); i++ {
		prev, s := w.spans[i-1], w.spans[i]
		step, sign := time.Duration(s.offset-prev.offset), "+"
		if step.Abs() < clockReportMin {
			continue
		}
		if step < 0 {
			step, sign = -step, "-"
		}
		out = append(out, fmt.Sprintf("the host's wall clock stepped by %s%v between %v and %v into the run",
			sign, step, time.Duration(prev.to).Round(time.Millisecond), time.Duration(s.from).Round(time.Millisecond)))
	}
	return out
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
