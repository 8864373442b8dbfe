package robustness

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// fixedWallClock is a timeline whose wall clock is never stepped: ns since
// the start is startMs plus ns, in wall time.
func fixedWallClock(startMs int64) *wallClock {
	return &wallClock{spans: []clockSpan{{from: 0, to: 1 << 62, offset: startMs * 1e6}}}
}

// record adds one sample: the wall clock read wallNs (Unix ns) at ns since
// the start.
func (w *wallClock) record(ns, wallNs int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.recordLocked(ns, wallNs)
}

// steppedWallClock is a timeline sampled every millisecond whose wall
// clock, startMs at the start, is stepped by stepMs between atMs-1 and
// atMs on the timeline.
func steppedWallClock(startMs, atMs, stepMs int64) *wallClock {
	w := &wallClock{}
	for t := int64(0); t <= 10_000; t++ {
		wall := startMs + t
		if t >= atMs {
			wall += stepMs
		}
		w.record(t*1e6, wall*1e6)
	}
	return w
}

func TestWallClockSpansAndSteps(t *testing.T) {
	w := &wallClock{}
	const base = int64(1_800_000_000_000) * 1e6
	w.record(0, base)
	w.record(2e6, base+2e6+300e3) // 300 µs apart: the same offset, read noise
	w.record(4e6, base+504e6)     // stepped forward by 500 ms
	w.record(6e6, base+506e6)
	w.record(8e6, base+308e6)  // and back by 200 ms
	w.record(10e6, base+312e6) // 2 ms off: a span of its own, too small to name
	if len(w.spans) != 4 {
		t.Fatalf("spans %+v, want four", w.spans)
	}
	steps := w.steps()
	if len(steps) != 2 || !strings.Contains(steps[0], "+500ms between 2ms and 4ms") || !strings.Contains(steps[1], "-200ms between 6ms and 8ms") {
		t.Errorf("steps %q", steps)
	}
}

func TestWallClockBounds(t *testing.T) {
	const start = int64(1_800_000_000_000)
	ms := func(v int64) int64 { return v * 1e6 }
	fixed := fixedWallClock(start)
	if got := fixed.earliest(ms(5), ms(10)); got != start+5 {
		t.Errorf("fixed earliest %d, want %d", got-start, 5)
	}
	if got := fixed.latest(ms(10)); got != start+10 {
		t.Errorf("fixed latest %d, want %d", got-start, 10)
	}
	if got := fixed.latest(ms(10) + 1); got != start+11 {
		t.Errorf("fixed latest rounds up: %d, want %d", got-start, 11)
	}

	// After a step back, log time stays at the latest time shown before it
	// (the state machine never lets it go back) until the clock catches up.
	forward, back := steppedWallClock(start, 1000, 500), steppedWallClock(start, 1000, -500)
	for _, c := range []struct {
		name     string
		got, off int64
	}{
		{"forward, before the step, earliest", forward.earliest(ms(500), ms(600)), 500},
		{"forward, before the step, latest", forward.latest(ms(600)), 600},
		{"forward, after the step, earliest", forward.earliest(ms(1200), ms(1300)), 1700},
		{"forward, after the step, latest", forward.latest(ms(1300)), 1800},
		{"forward, across the step, earliest", forward.earliest(ms(990), ms(1010)), 990},
		{"forward, across the step, latest", forward.latest(ms(1010)), 1510},
		{"forward, between the samples, latest", forward.latest(ms(999) + 5e5), 1500},
		{"back, across the step, earliest", back.earliest(ms(900), ms(1100)), 499},
		{"back, across the step, latest", back.latest(ms(1100)), 1000},
		{"back, after the step, earliest", back.earliest(ms(1100), ms(1200)), 600},
		{"back, once caught up, latest", back.latest(ms(1600)), 1100},
	} {
		if c.got != start+c.off {
			t.Errorf("%s: %d, want %d", c.name, c.got-start, c.off)
		}
	}
}

// TestChecksFollowAClockStep runs the checks over a history made while the
// host's wall clock was stepped forward by 500 ms at 700 ms into the run:
// judged against the stepped clock it is correct, against a fixed origin
// each check would report a violation that never happened.
func TestChecksFollowAClockStep(t *testing.T) {
	const start = int64(1_800_000_000_000)
	ms := func(v int64) int64 { return v * 1e6 }
	stepped, fixed := steppedWallClock(start, 700, 500), fixedWallClock(start)

	// A one-second hold from the start, ending at start+1010 in log time;
	// at 800 ms, when the wall clock reads start+1300, another holder books
	// one of its seats.
	hold := &Op{Client: 1, Kind: OpHold, Seats: []int{5, 6}, Holder: "h", TTL: 1, Call: 0, Return: ms(20), Result: fmt.Sprintf("HELD %d", start+1010)}
	booking := &Op{Client: 2, Kind: OpReserve, Seats: []int{6}, Holder: "k", Call: ms(800), Return: ms(820), Result: "SUCCESS"}
	ops := []*Op{hold, booking}

	if p := checkNoDoubleBooking(ops, stepped); len(p) != 0 {
		t.Errorf("double booking under the stepped clock: %v", p)
	}
	if p := checkNoDoubleBooking(ops, fixed); len(p) != 1 {
		t.Errorf("double booking against a fixed origin: %v, want one", p)
	}

	if res, _, _, err := checkLinearizable(ops, stepped, t.TempDir(), 10*time.Second); err != nil || res != porcupine.Ok {
		t.Errorf("linearizability under the stepped clock: %v %v", res, err)
	}
	if res, _, _, err := checkLinearizable(ops, fixed, t.TempDir(), 10*time.Second); err != nil || res != porcupine.Illegal {
		t.Errorf("linearizability against a fixed origin: %v %v, want illegal", res, err)
	}

	// The seat's history: held at start+10, expired by the first entry
	// after the step (start+1200), booked at start+1310.
	byHolder := map[string][]*Op{"h": {hold}, "k": {booking}}
	history := fmt.Sprintf("HISTORY 3 HOLD,h,10,%d EXPIRE,h,12,%d RESERVE,k,13,%d", start+10, start+1200, start+1310)
	k := seatKey{DefaultEvent, 6}
	if p := checkHistory(k, history, "BOOKED k", byHolder, stepped, stepped.latest(ms(5000))); len(p) != 0 {
		t.Errorf("history under the stepped clock: %v", p)
	}
	if p := checkHistory(k, history, "BOOKED k", byHolder, fixed, fixed.latest(ms(5000))); len(p) == 0 {
		t.Error("history against a fixed origin passed")
	}
}

func TestWallClockWatchSamplesUntilStopped(t *testing.T) {
	w := newWallClock(time.Now())
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		w.watch(stop)
	}()
	sampled := func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.spans[len(w.spans)-1].to >= int64(10*clockSampleEvery)
	}
	for deadline := time.Now().Add(5 * time.Second); !sampled(); time.Sleep(clockSampleEvery) {
		if time.Now().After(deadline) {
			t.Fatal("the watch took no samples for 5 s")
		}
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not stop")
	}
	if lo, hi := w.earliest(0, 0), w.latest(0); lo > hi || hi-lo > 1 {
		t.Errorf("an unstepped clock's bounds at the start: %d..%d", lo, hi)
	}
}

// TestChecksCatchAcrossAClockStep makes sure the stepped clock hides no
// real violation: a seat booked by another holder while its hold was
// certainly live is reported across a step forward, and across a step
// back, where a fixed origin would even have missed it (it would have
// believed the hold over).
func TestChecksCatchAcrossAClockStep(t *testing.T) {
	const start = int64(1_800_000_000_000)
	ms := func(v int64) int64 { return v * 1e6 }
	k := seatKey{DefaultEvent, 6}

	// Forward by 500 ms at 700 ms: a hold taken at 750 ms (log time
	// start+1260, so it ends at start+2260), and another holder's booking
	// at 800 ms (start+1310).
	forward := steppedWallClock(start, 700, 500)
	hold := &Op{Client: 1, Kind: OpHold, Seats: []int{5, 6}, Holder: "h", TTL: 1, Call: ms(750), Return: ms(770), Result: fmt.Sprintf("HELD %d", start+2260)}
	booking := &Op{Client: 2, Kind: OpReserve, Seats: []int{6}, Holder: "k", Call: ms(800), Return: ms(820), Result: "SUCCESS"}
	ops := []*Op{hold, booking}
	if p := checkNoDoubleBooking(ops, forward); len(p) != 1 {
		t.Errorf("step forward: double booking %v, want one", p)
	}
	if res, _, _, err := checkLinearizable(ops, forward, t.TempDir(), 10*time.Second); err != nil || res != porcupine.Illegal {
		t.Errorf("step forward: linearizability %v %v, want illegal", res, err)
	}
	history := fmt.Sprintf("HISTORY 2 HOLD,h,10,%d RESERVE,k,13,%d", start+1260, start+1310)
	if p := checkHistory(k, history, "BOOKED k", map[string][]*Op{"h": {hold}, "k": {booking}}, forward, forward.latest(ms(5000))); len(p) == 0 {
		t.Error("step forward: a reserve of a held seat passed the history check")
	}

	// Back by 500 ms at 700 ms: a hold taken at the start ends at
	// start+1010 in log time; at 1,200 ms the wall clock reads start+700,
	// so the hold is still live when another holder books its seat.
	back, fixed := steppedWallClock(start, 700, -500), fixedWallClock(start)
	hold = &Op{Client: 1, Kind: OpHold, Seats: []int{5, 6}, Holder: "h", TTL: 1, Call: 0, Return: ms(20), Result: fmt.Sprintf("HELD %d", start+1010)}
	booking = &Op{Client: 2, Kind: OpReserve, Seats: []int{6}, Holder: "k", Call: ms(1200), Return: ms(1220), Result: "SUCCESS"}
	ops = []*Op{hold, booking}
	if p := checkNoDoubleBooking(ops, back); len(p) != 1 {
		t.Errorf("step back: double booking %v, want one", p)
	}
	if p := checkNoDoubleBooking(ops, fixed); len(p) != 0 {
		t.Errorf("step back against a fixed origin: %v (the case a fixed origin misses)", p)
	}
	if res, _, _, err := checkLinearizable(ops, back, t.TempDir(), 10*time.Second); err != nil || res != porcupine.Illegal {
		t.Errorf("step back: linearizability %v %v, want illegal", res, err)
	}
	if res, _, _, err := checkLinearizable(ops, fixed, t.TempDir(), 10*time.Second); err != nil || res != porcupine.Ok {
		t.Errorf("step back against a fixed origin: linearizability %v %v (the case a fixed origin misses)", res, err)
	}
}
