package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatd/seatd/protocol"
)

// quick returns a short run's configuration against addrs.
func quick(workload string, addrs ...string) Config {
	return Config{
		Addrs:    addrs,
		Workload: workload,
		Clients:  4,
		Pipeline: 4,
		Duration: 300 * time.Millisecond,
		Warmup:   50 * time.Millisecond,
	}
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s", res.Text())
	return res
}

// checkConsistent checks what holds for every result: counts add up, the
// measured answers are a subset of what the fakes sent, the latency
// summary is ordered.
func checkConsistent(t *testing.T, res *Result, fakes ...*fakeNode) {
	t.Helper()
	if res.Answers <= 0 || res.Committed <= 0 || res.OpsPerSec <= 0 {
		t.Fatalf("answers %d, committed %d, ops/s %g: want all > 0", res.Answers, res.Committed, res.OpsPerSec)
	}
	var sum, committedSum int64
	for k, n := range res.ByKind {
		sum += n
		if !strings.HasPrefix(k, "ERROR") {
			committedSum += n
		}
	}
	if sum != res.Answers || committedSum != res.Committed {
		t.Errorf("by kind sums to %d answers, %d committed; result says %d, %d", sum, committedSum, res.Answers, res.Committed)
	}
	if want := float64(res.Committed) / res.DurationSec; math.Abs(res.OpsPerSec-want) > 1e-6 {
		t.Errorf("ops/s %g, want committed/duration = %g", res.OpsPerSec, want)
	}
	sent := map[string]int64{}
	for _, f := range fakes {
		st := f.snapshot()
		if len(st.badLines) > 0 {
			t.Errorf("fake got %d lines it could not parse, e.g. %q", len(st.badLines), st.badLines[0])
		}
		if st.dupIDs > 0 {
			t.Errorf("fake saw %d writes with a missing or repeated id", st.dupIDs)
		}
		if st.badHolders > 0 {
			t.Errorf("fake saw %d writes whose holder is not b<client>", st.badHolders)
		}
		for k, n := range st.sent {
			sent[k] += n
		}
	}
	for k, n := range res.ByKind {
		if n > sent[k] {
			t.Errorf("result counts %d %s answers; the fakes sent only %d", n, k, sent[k])
		}
	}
	l := res.Latency
	if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	if len(res.CDF) != len(CDFPercentiles) {
		t.Fatalf("CDF has %d points, want %d", len(res.CDF), len(CDFPercentiles))
	}
	for i, p := range res.CDF {
		if p.Percentile != CDFPercentiles[i] || (i > 0 && p.Ms < res.CDF[i-1].Ms) {
			t.Errorf("CDF point %d = %+v after %+v", i, p, res.CDF[max(i-1, 0)])
		}
	}
	if res.CDF[len(res.CDF)-1].Ms != l.Max {
		t.Errorf("CDF at 100 = %g, max %g", res.CDF[len(res.CDF)-1].Ms, l.Max)
	}
}

// onlyKinds checks that the result's answers are of the given kinds.
func onlyKinds(t *testing.T, res *Result, kinds ...string) {
	t.Helper()
	for k := range res.ByKind {
		if !slices.Contains(kinds, k) {
			t.Errorf("answer kind %q: want only %v", k, kinds)
		}
	}
}

func TestDistinct(t *testing.T) {
	f1, f2 := startFake(t, "n1"), startFake(t, "n1")
	cfg := quick(WorkloadDistinct, f1.addr(), f2.addr())
	cfg.SeatStart = 100
	res := run(t, cfg)
	checkConsistent(t, res, f1, f2)
	// Every seat is booked once: the fakes never answer FAILED_ALREADY_BOOKED.
	onlyKinds(t, res, protocol.Success)
	for _, f := range []*fakeNode{f1, f2} {
		st := f.snapshot()
		if st.minSeat < 100 {
			t.Errorf("seat %d booked, below SeatStart 100", st.minSeat)
		}
		if st.conns != 2 {
			t.Errorf("fake has %d connections, want 2 (4 clients round robin over 2 nodes)", st.conns)
		}
		if st.verbs[protocol.VerbReserve] == 0 || len(st.verbs) != 1 {
			t.Errorf("fake got verbs %v, want RESERVEs only", st.verbs)
		}
	}
	if res.Workload != WorkloadDistinct || res.Target != TargetAll || res.Clients != 4 || res.Pipeline != 4 {
		t.Errorf("result repeats the config wrongly: %+v", res)
	}
}

func TestContention(t *testing.T) {
	f := startFake(t, "n1")
	res := run(t, quick(WorkloadContention, f.addr()))
	checkConsistent(t, res, f)
	onlyKinds(t, res, protocol.Success, protocol.FailedAlreadyBooked, protocol.FailedNotBooked, protocol.FailedNotHolder)
	if res.ByKind[protocol.Success] == 0 || res.ByKind[protocol.FailedAlreadyBooked] == 0 {
		t.Errorf("want both SUCCESS and FAILED_ALREADY_BOOKED among %v", res.ByKind)
	}
	st := f.snapshot()
	if st.verbs[protocol.VerbCancel] == 0 {
		t.Errorf("no CANCEL sent: seats do not churn (verbs %v)", st.verbs)
	}
	if st.minSeat < 1 || st.maxSeat > contentionSeats {
		t.Errorf("seats %d..%d used, want 1..%d", st.minSeat, st.maxSeat, contentionSeats)
	}
}

func TestMixed(t *testing.T) {
	f := startFake(t, "n1")
	cfg := quick(WorkloadMixed, f.addr())
	cfg.SeatStart = 50
	res := run(t, cfg)
	checkConsistent(t, res, f)
	onlyKinds(t, res, protocol.Success, protocol.Free, protocol.Booked)
	if res.ByKind[protocol.Booked] == 0 || res.ByKind[protocol.Success] == 0 {
		t.Errorf("want STATUS of booked seats (BOOKED) and RESERVEs (SUCCESS) among %v", res.ByKind)
	}
	st := f.snapshot()
	r, s := st.verbs[protocol.VerbReserve], st.verbs[protocol.VerbStatus]
	if r == 0 || s == 0 || math.Abs(float64(r-s))/float64(r+s) > 0.1 {
		t.Errorf("RESERVE %d, STATUS %d: want about half each", r, s)
	}
	if st.minSeat < 50 {
		t.Errorf("seat %d used, below SeatStart 50", st.minSeat)
	}
}

func TestRead(t *testing.T) {
	f := startFake(t, "n1")
	cfg := quick(WorkloadRead, f.addr())
	cfg.Seats = 30
	res := run(t, cfg)
	checkConsistent(t, res, f)
	onlyKinds(t, res, protocol.Free)
	st := f.snapshot()
	if len(st.verbs) != 1 || st.verbs[protocol.VerbStatus] == 0 {
		t.Errorf("verbs %v: want STATUS only", st.verbs)
	}
	if st.minSeat < 1 || st.maxSeat > 30 {
		t.Errorf("seats %d..%d asked, want within 1..30", st.minSeat, st.maxSeat)
	}
}

func TestPipelineDepth(t *testing.T) {
	for _, depth := range []int{1, 8} {
		f := startFake(t, "n1")
		f.delay = 200 * time.Microsecond
		cfg := quick(WorkloadRead, f.addr())
		cfg.Clients = 2
		cfg.Pipeline = depth
		res := run(t, cfg)
		checkConsistent(t, res, f)
		st := f.snapshot()
		t.Logf("pipeline %d: the fake saw at most %d requests in flight on a connection", depth, st.maxInflight)
		if st.maxInflight > depth {
			t.Errorf("pipeline %d: %d requests in flight on one connection", depth, st.maxInflight)
		}
		if depth > 1 && st.maxInflight < 2 {
			t.Errorf("pipeline %d: never more than %d request in flight", depth, st.maxInflight)
		}
	}
}

func TestErrorAnswers(t *testing.T) {
	f := startFake(t, "n1")
	f.errorEvery = 5
	res := run(t, quick(WorkloadDistinct, f.addr()))
	checkConsistent(t, res, f)
	onlyKinds(t, res, protocol.Success, "ERROR NO_LEADER")
	e := res.ByKind["ERROR NO_LEADER"]
	if e == 0 || res.ErrorAnswers() != e || res.Committed != res.ByKind[protocol.Success] {
		t.Errorf("ERROR answers %d, committed %d, by kind %v", res.ErrorAnswers(), res.Committed, res.ByKind)
	}
	if res.Errors != 0 {
		t.Errorf("%d connection errors; ERROR answers are not connection errors", res.Errors)
	}
}

func TestReconnects(t *testing.T) {
	f := startFake(t, "n1")
	f.closeAfter = 200
	cfg := quick(WorkloadDistinct, f.addr())
	cfg.Duration = 500 * time.Millisecond
	res := run(t, cfg)
	checkConsistent(t, res, f)
	if res.Errors == 0 || len(res.ErrorSamples) == 0 {
		t.Errorf("the fake closes connections, yet %d errors (%v)", res.Errors, res.ErrorSamples)
	}
	if st := f.snapshot(); st.conns <= cfg.Clients {
		t.Errorf("%d connections: clients did not reconnect", st.conns)
	}
}

func TestTargets(t *testing.T) {
	fakes := []*fakeNode{startFake(t, "n2"), startFake(t, "n2"), startFake(t, "n2")}
	addrs := []string{fakes[0].addr(), fakes[1].addr(), fakes[2].addr()}
	conns := func() []int {
		var c []int
		for _, f := range fakes {
			c = append(c, f.snapshot().conns)
		}
		return c
	}
	// The leader lookup itself connects too: count the difference.
	for _, tc := range []struct {
		target string
		ids    []string
		want   []string // addresses the clients should be on
	}{
		{TargetLeader, nil, []string{addrs[1]}},
		{TargetFollower, nil, []string{addrs[0]}},
		{TargetLeader, []string{"n2", "n1", "n3"}, []string{addrs[0]}},
		{TargetFollower, []string{"n2", "n1", "n3"}, []string{addrs[1]}},
		{TargetAll, nil, addrs},
	} {
		before := conns()
		cfg := quick(WorkloadRead, addrs...)
		cfg.Target, cfg.IDs, cfg.Clients, cfg.Duration, cfg.Warmup = tc.target, tc.ids, 6, 100*time.Millisecond, 0
		res := run(t, cfg)
		if !slices.Equal(res.Addrs, tc.want) {
			t.Errorf("%s with ids %v: clients on %v, want %v", tc.target, tc.ids, res.Addrs, tc.want)
		}
		after := conns()
		for i := range fakes {
			got := after[i] - before[i]
			wantLoad := slices.Contains(tc.want, addrs[i])
			if wantLoad && got < 6/len(tc.want) || !wantLoad && got > 1 { // 1: the LEADER lookup
				t.Errorf("%s with ids %v: node %d got %d new connections", tc.target, tc.ids, i, got)
			}
		}
	}

	cfg := quick(WorkloadRead, addrs...)
	cfg.Target, cfg.IDs = TargetLeader, []string{"a", "b", "c"}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), `"n2"`) {
		t.Errorf("leader id not among the ids: error %v", err)
	}
}

func TestSeatsExhausted(t *testing.T) {
	f := startFake(t, "n1")
	cfg := quick(WorkloadDistinct, f.addr())
	cfg.SeatStart, cfg.Seats = 10, 50
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, errSeatsExhausted) || !strings.Contains(err.Error(), "--seats") {
		t.Fatalf("error %v, want the seat space exhausted", err)
	}
	st := f.snapshot()
	if st.minSeat < 10 || st.maxSeat > 59 || st.dupIDs > 0 {
		t.Errorf("seats %d..%d used (dup ids %d), want within 10..59", st.minSeat, st.maxSeat, st.dupIDs)
	}
}

// A cluster smaller than the run's seat space fails the run at the first
// FAILED_INVALID_SEAT, with the seat count the workload needs and how to get
// it, instead of measuring refusals.
func TestTooFewSeats(t *testing.T) {
	for _, tc := range []struct {
		workload, event, want string
	}{
		{WorkloadDistinct, "", "--seats 1000000 or more"},
		{WorkloadMixed, "", "--seats 1000000 or more"},
		{WorkloadContention, "", "--seats 5 or more"},
		{WorkloadRead, "", "--seats 1000 or more"},
		{WorkloadFailover, "", "--seats 1000000 or more"},
		{WorkloadDistinct, "gala", "EVENT CREATE gala 1000000"},
	} {
		t.Run(tc.workload+"/"+tc.event, func(t *testing.T) {
			f := startFake(t, "n1")
			f.seatCount = 3
			if tc.event != "" {
				f.events[tc.event] = 3
				f.eventSeats[tc.event] = map[uint32]bool{}
			}
			cfg := quick(tc.workload, f.addr())
			if tc.workload == WorkloadFailover {
				cfg.Pipeline = 1
			}
			cfg.Event = tc.event
			cfg.Duration = time.Minute // the error, not the clock, ends the run
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := Run(ctx, cfg)
			if !errors.Is(err, errTooFewSeats) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want too few seats, saying %q", err, tc.want)
			}
			if ctx.Err() != nil {
				t.Errorf("the run failed only after the test's 20 s deadline")
			}
		})
	}
	// Enough seats: no error.
	for _, w := range []string{WorkloadContention, WorkloadRead} {
		f := startFake(t, "n1")
		f.seatCount = 1000
		cfg := quick(w, f.addr())
		cfg.Seats = 1000
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("%s on 1000 seats: %v", w, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	f := startFake(t, "n1")
	good := quick(WorkloadRead, f.addr())
	for name, mutate := range map[string]func(*Config){
		"no addrs":        func(c *Config) { c.Addrs = nil },
		"bad addr":        func(c *Config) { c.Addrs = []string{"nowhere"} },
		"bad target":      func(c *Config) { c.Target = "some" },
		"bad workload":    func(c *Config) { c.Workload = "write" },
		"negative":        func(c *Config) { c.Clients = -1 },
		"deep pipeline":   func(c *Config) { c.Pipeline = MaxPipeline + 1 },
		"ids count":       func(c *Config) { c.IDs = []string{"n1", "n2"} },
		"follower of one": func(c *Config) { c.Target = TargetFollower },
		"seat overflow":   func(c *Config) { c.SeatStart = maxSeat },
		"dead node":       func(c *Config) { c.Addrs = []string{deadAddr(t)} },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("%s: error %v, want a bench: error", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestCancel(t *testing.T) {
	f := startFake(t, "n1")
	cfg := quick(WorkloadRead, f.addr())
	cfg.Duration = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Run(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

func TestResultJSONAndText(t *testing.T) {
	f := startFake(t, "n1")
	res := run(t, quick(WorkloadContention, f.addr()))
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.OpsPerSec != res.OpsPerSec || back.Latency != res.Latency || len(back.CDF) != len(res.CDF) ||
		back.ByKind[protocol.Success] != res.ByKind[protocol.Success] {
		t.Errorf("JSON round trip changed the result:\n%s", data)
	}
	for _, key := range []string{`"ops_per_sec"`, `"answers_by_kind"`, `"latency_ms"`, `"p99_9"`, `"cdf"`, `"percentile"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s: %s", key, data)
		}
	}
	text := res.Text()
	for _, want := range []string{"ops/s", "p99.9", "SUCCESS", "contention", "conn errors"} {
		if !strings.Contains(text, want) {
			t.Errorf("Text lacks %q:\n%s", want, text)
		}
	}
}

func TestKindOf(t *testing.T) {
	for in, want := range map[string]string{
		"SUCCESS":                       "SUCCESS",
		"BOOKED b3":                     "BOOKED",
		"ERROR NO_LEADER":               "ERROR NO_LEADER",
		"ERROR TIMEOUT after 5s":        "ERROR TIMEOUT",
		"LEADER n1 extra":               "LEADER",
		"SEATS 5 FREE 4 BOOKED 1":       "SEATS",
		"FAILED_ALREADY_BOOKED":         "FAILED_ALREADY_BOOKED",
		"ERROR":                         "ERROR",
		"FAILED_ALREADY_BOOKED 4,9 etc": "FAILED_ALREADY_BOOKED",
	} {
		if got := string(kindOf([]byte(in))); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLinesParse checks the request lines the writer builds against the
// protocol's parser.
func TestLinesParse(t *testing.T) {
	r := &runner{runID: "abcd0123"}
	c := r.newClient(17, "x")
	for _, tc := range []struct {
		o    op
		seat uint32
		want protocol.Request
	}{
		{opReserve, 42, protocol.Request{Verb: protocol.VerbReserve, HasSeat: true, Seat: 42, Holder: "b17", ID: "abcd0123.17.1"}},
		{opCancel, 3, protocol.Request{Verb: protocol.VerbCancel, HasSeat: true, Seat: 3, Holder: "b17", ID: "abcd0123.17.2"}},
		{opStatus, 1 << 31, protocol.Request{Verb: protocol.VerbStatus, HasSeat: true, Seat: 1 << 31}},
	} {
		line := c.appendLine(nil, tc.o, tc.seat)
		if string(line) != string(protocol.AppendLine(nil, tc.want)) {
			t.Errorf("line %q, want the canonical %q", line, protocol.AppendLine(nil, tc.want))
		}
		if len(line) >= lineRoom {
			t.Errorf("line %q is longer than lineRoom", line)
		}
	}
}

// TestHotPathAllocs checks that building a request and recording its
// answer allocate nothing.
func TestHotPathAllocs(t *testing.T) {
	r := &runner{runID: "abcd0123", cfg: Config{Workload: WorkloadDistinct, SeatStart: 1, Seats: 1 << 30}}
	r.nextSeat.Store(1)
	c := r.newClient(3, "x")
	bw := bufio.NewWriterSize(discard{}, 16<<10)
	answers := [][]byte{[]byte("SUCCESS"), []byte("ERROR NO_LEADER"), []byte("BOOKED b1")}
	for _, a := range answers {
		c.record(time.Millisecond, a) // first sight of a kind allocates its counter
	}
	s := &session{follow: make(chan uint32, 2)}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		o, seat, _ := c.next(s)
		if bw.Available() < lineRoom {
			bw.Flush()
		}
		bw.Write(c.appendLine(bw.AvailableBuffer(), o, seat))
		c.record(time.Duration(i)*time.Microsecond, answers[i%len(answers)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%g allocations per request, want 0", allocs)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// The failover workload goes through the client library: a node that
// answers ERROR or closes connections costs retries, not failed requests.
func TestFailover(t *testing.T) {
	flaky, good := startFake(t, "n1"), startFake(t, "n1")
	flaky.errorEvery = 3
	flaky.closeAfter = 20
	cfg := quick(WorkloadFailover, flaky.addr(), good.addr())
	cfg.Pipeline = 1
	res := run(t, cfg)
	onlyKinds(t, res, protocol.Success)
	if res.Errors != 0 || res.Committed == 0 || res.ErrorAnswers() != 0 {
		t.Errorf("errors %d (%v), committed %d, ERROR answers %d: want only SUCCESS", res.Errors, res.ErrorSamples, res.Committed, res.ErrorAnswers())
	}
	if st := flaky.snapshot(); st.verbs[protocol.VerbReserve] == 0 || st.sent["ERROR NO_LEADER"] == 0 {
		t.Errorf("the flaky node got %d RESERVEs and sent %d ERRORs: the workers did not use it", st.verbs[protocol.VerbReserve], st.sent["ERROR NO_LEADER"])
	}
	for _, f := range []*fakeNode{flaky, good} {
		if st := f.snapshot(); st.verbs[protocol.VerbReserve] == 0 {
			t.Errorf("a fake got no RESERVE: the workers do not spread over the nodes (%v)", st.verbs)
		}
	}

	bad := quick(WorkloadFailover, good.addr())
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "pipeline 1") {
		t.Errorf("failover with pipeline 4: %v, want a config error", err)
	}
}

// The disk-flush probe runs beside the load and reports its flushes; a
// directory it cannot write in fails the run.
func TestFlushProbe(t *testing.T) {
	f := startFake(t, "n1")
	cfg := quick(WorkloadDistinct, f.addr())
	cfg.FlushProbeDir = t.TempDir()
	res := run(t, cfg)
	p := res.FlushProbe
	if p == nil || p.Flushes == 0 {
		t.Fatalf("no flush probe in the result: %+v", p)
	}
	l := p.Latency
	if !(l.P50 > 0 && l.P50 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("probe percentiles out of order: %+v", l)
	}
	if p.CPUPerFlushMicros <= 0 {
		t.Errorf("the probe measured no CPU per flush: %+v", p)
	}
	if !strings.Contains(res.Text(), "disk flushes p50") {
		t.Errorf("the text report has no probe line:\n%s", res.Text())
	}
	if entries, _ := os.ReadDir(cfg.FlushProbeDir); len(entries) != 0 {
		t.Errorf("the probe left %d files behind", len(entries))
	}
	cfg.FlushProbeDir = filepath.Join(t.TempDir(), "missing")
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "flush probe") {
		t.Errorf("a probe in a missing directory: %v, want an error", err)
	}
}

// With the nodes' process ids, the result has their CPU time in the
// window and the CPU per committed operation (the fake runs in this
// process).
func TestServerCPU(t *testing.T) {
	f := startFake(t, "n1")
	cfg := quick(WorkloadDistinct, f.addr())
	cfg.CPUPids = []int{os.Getpid()}
	res := run(t, cfg)
	if res.ServerCPUSec <= 0 || res.CPUPerOpMicros <= 0 {
		t.Fatalf("server CPU %v s, %v µs/op: want both positive", res.ServerCPUSec, res.CPUPerOpMicros)
	}
	if want := res.ServerCPUSec * 1e6 / float64(res.Committed); res.CPUPerOpMicros != want {
		t.Errorf("µs/op %v, want %v", res.CPUPerOpMicros, want)
	}
	if !strings.Contains(MarkdownTable([]LabeledResult{{"x", res}}), "server CPU µs/op") {
		t.Error("the table has no CPU column")
	}
	cfg.CPUPids = []int{1 << 30}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "cpu of pid") {
		t.Errorf("a pid that does not exist: %v, want an error", err)
	}
}
