package robustness

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// RunConfig describes one robustness run.
type RunConfig struct {
	Binary     string // seatd binary to test
	Dir        string // run directory: node data, logs, failure artifacts
	NetID      int    // unique among concurrent runs (picks the subnet)
	Nodes      int
	Seats      int
	Seed       int64
	Faults     []FaultKind
	FaultCount int
	MinHold    time.Duration
	MaxHold    time.Duration
	Warmup     time.Duration // traffic before the first fault
	Gap        time.Duration // traffic between a recovery and the next fault
	Workload   WorkloadConfig
	// MinRate is the completed operations per second the warm-up must
	// reach, or the run does not count.
	MinRate float64
	// RecoveryBound is how soon after a heal the cluster must answer.
	RecoveryBound time.Duration
	CheckTimeout  time.Duration
	// SkipResend leaves out the end-of-run re-send of every write (the
	// mutant matrix uses it to see which faults alone expose a bug).
	SkipResend bool
	NodeFlags  []string
	Logf       func(format string, args ...any)
}

// Report is what a run found.
type Report struct {
	Seed        int64
	Nodes       int
	Duration    time.Duration
	Ops         int
	Unknown     int
	Narrowed    int
	WarmupRate  float64
	Faults      []Fault
	MaxRecovery time.Duration
	Resent      int
	Violations  []string
	Artifacts   string // directory with logs and visualization, on failure
}

// Failed reports whether the run found a violation or did not count.
func (r *Report) Failed() bool { return len(r.Violations) > 0 }

// Summary is one line for logs and the soak script.
func (r *Report) Summary() string {
	kinds := map[FaultKind]int{}
	for _, f := range r.Faults {
		if f.Injected {
			kinds[f.Kind]++
		}
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ks)
	status := "PASS"
	if r.Failed() {
		status = fmt.Sprintf("FAIL(%d violations, see %s)", len(r.Violations), r.Artifacts)
	}
	return fmt.Sprintf("%s seed=%d nodes=%d duration=%s ops=%d unknown=%d narrowed=%d resent=%d warmup_rate=%.0f/s max_recovery=%s faults=[%s]",
		status, r.Seed, r.Nodes, r.Duration.Round(time.Second), r.Ops, r.Unknown, r.Narrowed, r.Resent, r.WarmupRate,
		r.MaxRecovery.Round(time.Millisecond), strings.Join(ks, " "))
}

// Run executes one run: start the cluster, drive traffic, inject the planned
// faults, heal, and check everything.
func Run(cfg RunConfig) (*Report, error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep := &Report{Seed: cfg.Seed, Nodes: cfg.Nodes, Artifacts: cfg.Dir}
	violate := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		logf("VIOLATION: %s", msg)
		rep.Violations = append(rep.Violations, msg)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	nw, err := NewNetwork(cfg.NetID, cfg.Nodes)
	if err != nil {
		return nil, err
	}
	defer nw.Close()
	c := &Cluster{Binary: cfg.Binary, Dir: cfg.Dir, Net: nw, N: cfg.Nodes, Seats: cfg.Seats, Flags: cfg.NodeFlags}
	if err := c.Start(); err != nil {
		return nil, err
	}
	defer c.KillAll()
	nem := &nemesis{c: c, rng: rand.New(rand.NewSource(cfg.Seed)), electionPause: 2 * time.Second}
	if nem.leader(30*time.Second) < 0 {
		return nil, errors.New("the cluster elected no leader within 30s")
	}

	start := time.Now()
	w := NewWorkload(cfg.Workload, c, start, cfg.Seed)
	w.Start()
	time.Sleep(cfg.Warmup)
	rep.WarmupRate = float64(w.Completed(cfg.Warmup)) / cfg.Warmup.Seconds()
	if rep.WarmupRate < cfg.MinRate {
		violate("run does not count: warm-up reached %.0f ops/s, below the minimum %.0f", rep.WarmupRate, cfg.MinRate)
	}

	plan := Plan(cfg.Seed, cfg.Faults, cfg.FaultCount, cfg.MinHold, cfg.MaxHold)
	probe := 0
	for i := range plan {
		f := &plan[i]
		heal, err := nem.inject(f)
		if err != nil {
			violate("run does not count: fault %d (%s) not injected: %v", i, f.Kind, err)
			continue
		}
		f.Injected, f.At = true, time.Since(start)
		logf("fault %d: %s targets %v for %s", i, f.Kind, f.Targets, f.Hold)
		time.Sleep(f.Hold)
		if err := heal(); err != nil {
			return nil, fmt.Errorf("heal %s: %w", f.Kind, err)
		}
		f.Healed = time.Since(start)
		probe++
		rec, err := waitWrite(c, cfg.Seats-probe+1, probe, cfg.RecoveryBound)
		f.Recovery = rec
		rep.MaxRecovery = max(rep.MaxRecovery, rec)
		if err != nil {
			violate("no write answered within %s after healing %s: %v", cfg.RecoveryBound, f.Kind, err)
		}
		logf("fault %d healed; cluster answered a write after %s", i, rec.Round(time.Millisecond))
		time.Sleep(cfg.Gap)
	}
	w.Stop()
	rep.Faults = plan
	rep.Duration = time.Since(start)
	ops := w.History()

	// Every node must end with the same applied state.
	if err := waitConverged(c, 30*time.Second); err != nil {
		violate("replicas did not converge: %v", err)
	}

	// Final reads of every touched seat, recorded in the history.
	seats := touchedSeats(ops)
	final, err := finalReads(c, seats, start, cfg.Workload.Clients)
	if err != nil {
		violate("final reads failed: %v", err)
	}
	ops = append(ops, final...)
	finalBySeat := map[int]string{}
	for _, o := range final {
		finalBySeat[o.Seat] = o.Result
	}
	for seat, holder := range expectedFinal(ops) {
		if got := finalBySeat[seat]; got != "BOOKED "+holder {
			violate("acknowledged booking lost: seat %d should be BOOKED %s, reads %q", seat, holder, got)
		}
	}

	// Exactly-once: every acknowledged write sent again answers as before
	// and changes nothing.
	if !cfg.SkipResend {
		resent, diffs, err := resendWrites(c, ops)
		rep.Resent = resent
		if err != nil {
			violate("re-sending writes failed: %v", err)
		}
		for _, d := range diffs {
			violate("id applied twice: %s", d)
		}
		after, err := finalReads(c, seats, start, cfg.Workload.Clients)
		if err != nil {
			violate("reads after re-sending failed: %v", err)
		}
		for _, o := range after {
			if want := finalBySeat[o.Seat]; o.Result != want {
				violate("re-sent writes changed seat %d: %q before, %q after", o.Seat, want, o.Result)
			}
		}
		if err := waitConverged(c, 30*time.Second); err != nil {
			violate("replicas did not converge after re-sending: %v", err)
		}
	}

	for _, p := range checkNoDoubleBooking(ops) {
		violate("double booking: %s", p)
	}
	end := time.Since(start).Nanoseconds() + 1
	for _, o := range ops {
		if o.Unknown {
			rep.Unknown++
		}
	}
	rep.Narrowed = narrow(ops, end)
	rep.Ops = len(ops)
	res, vis, err := checkLinearizable(ops, cfg.Dir, cfg.CheckTimeout)
	switch {
	case err != nil:
		violate("linearizability check: %v", err)
	case res == porcupine.Illegal:
		violate("history is not linearizable; visualization: %s", vis)
	case res == porcupine.Unknown:
		violate("linearizability checker gave up after %s; visualization: %s", cfg.CheckTimeout, vis)
	}

	c.StopAll()
	if rep.Failed() {
		writeOps(filepath.Join(cfg.Dir, "history.txt"), ops)
		os.WriteFile(filepath.Join(cfg.Dir, "violations.txt"), []byte(strings.Join(rep.Violations, "\n")+"\n"), 0o644)
	}
	return rep, nil
}

// waitWrite measures how long until the cluster answers a write, trying
// every node in turn; the write books a seat kept apart from the workload.
func waitWrite(c *Cluster, seat, k int, bound time.Duration) (time.Duration, error) {
	begin := time.Now()
	line := fmt.Sprintf("RESERVE %d probe-%d id=probe-%d", seat, k, k)
	var last error
	for i := 0; time.Since(begin) < bound; i++ {
		node := i % c.N
		if !c.Running(node) || c.Paused(node) {
			continue
		}
		resp, err := request(c.ClientAddr(node), line, 2*time.Second)
		if err == nil && resp == "SUCCESS" {
			return time.Since(begin), nil
		}
		if err == nil {
			err = fmt.Errorf("answer %q", resp)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(begin), fmt.Errorf("last attempt: %v", last)
}

// waitConverged waits until every node reports the same applied index and
// state digest.
func waitConverged(c *Cluster, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var reps []InspectReport
		ok := true
		for i := 0; i < c.N; i++ {
			r, err := c.Inspect(i)
			if err != nil {
				ok, last = false, fmt.Sprintf("%s: %v", c.ID(i), err)
				break
			}
			reps = append(reps, r)
		}
		if ok {
			same := true
			for _, r := range reps[1:] {
				if r.Applied != reps[0].Applied || r.Digest != reps[0].Digest {
					same = false
				}
			}
			if same {
				return nil
			}
			last = fmt.Sprintf("%+v", reps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("after %s: %s", timeout, last)
}

func touchedSeats(ops []*Op) []int {
	set := map[int]bool{}
	for _, o := range ops {
		set[o.Seat] = true
	}
	var seats []int
	for s := range set {
		seats = append(seats, s)
	}
	sort.Ints(seats)
	return seats
}

// pipeline sends lines on one connection to node and returns the answers.
func pipeline(c *Cluster, node int, lines []string, timeout time.Duration) ([]string, error) {
	conn, err := net.DialTimeout("tcp", c.ClientAddr(node), 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	errc := make(chan error, 1)
	go func() {
		bw := bufio.NewWriter(conn)
		for _, l := range lines {
			bw.WriteString(l + "\n")
		}
		errc <- bw.Flush()
	}()
	br := bufio.NewReader(conn)
	answers := make([]string, 0, len(lines))
	for range lines {
		s, err := br.ReadString('\n')
		if err != nil {
			return answers, fmt.Errorf("after %d answers: %w", len(answers), err)
		}
		answers = append(answers, strings.TrimSuffix(s, "\n"))
	}
	return answers, <-errc
}

// finalReads reads every seat through every node in turn (a linearizable
// read through each) and records the reads as operations.
func finalReads(c *Cluster, seats []int, start time.Time, client int) ([]*Op, error) {
	var out []*Op
	for node := 0; node < c.N; node++ {
		lines := make([]string, len(seats))
		for i, s := range seats {
			lines[i] = fmt.Sprintf("STATUS %d", s)
		}
		call := int64(time.Since(start))
		answers, err := pipeline(c, node, lines, time.Minute)
		ret := int64(time.Since(start))
		if err != nil {
			return out, fmt.Errorf("node %s: %w", c.ID(node), err)
		}
		for i, a := range answers {
			if strings.HasPrefix(a, "ERROR") {
				return out, fmt.Errorf("node %s: STATUS %d = %q", c.ID(node), seats[i], a)
			}
			out = append(out, &Op{Client: client + node, Kind: OpStatus, Seat: seats[i], Call: call, Return: ret, Result: a, Node: node})
		}
	}
	// Keep one read per seat (from the last node) for the final-state map
	// callers build, but return all for the history.
	return out, nil
}

// resendWrites sends every write that got a definite answer again, with its
// id, and reports any answer that differs from the recorded one.
func resendWrites(c *Cluster, ops []*Op) (int, []string, error) {
	var writes []*Op
	for _, o := range ops {
		if o.Kind != OpStatus && !o.Unknown && o.ID != "" {
			writes = append(writes, o)
		}
	}
	lines := make([]string, len(writes))
	for i, o := range writes {
		lines[i] = o.Line()
	}
	var diffs []string
	for node := 0; node < c.N && len(writes) > 0; node++ {
		// Spread the re-sends over all nodes.
		lo, hi := node*len(writes)/c.N, (node+1)*len(writes)/c.N
		answers, err := pipeline(c, node, lines[lo:hi], 2*time.Minute)
		if err != nil {
			return len(writes), diffs, err
		}
		for i, a := range answers {
			if o := writes[lo+i]; a != o.Result {
				diffs = append(diffs, fmt.Sprintf("%q answered %q first, %q when sent again", o.Line(), o.Result, a))
			}
		}
	}
	return len(writes), diffs, nil
}
