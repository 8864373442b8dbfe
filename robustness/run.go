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
	"strconv"
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
	// KeepHistory writes history.txt even when the run passes.
	KeepHistory bool
	NodeFlags   []string
	Logf        func(format string, args ...any)
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
	// Holds counts acknowledged HOLDs, Multi writes of several seats,
	// EventOps creations and deletions of events.
	Holds, Multi, EventOps int
	// Histories counts the seat histories checked at the end, Expired
	// the expiries they show.
	Histories, Expired int
	// ExpiredInPlay counts the holds that ran out, untouched by their
	// holder, with later operations on their seats.
	ExpiredInPlay int
	// Check describes the linearizability check.
	Check LinearizabilityStats
	// HungOnStop names the nodes that did not exit within StopTimeout of
	// SIGTERM at the end (reported, not a violation: the e2e tests own the
	// shutdown contract).
	HungOnStop []string
	// ClockSteps describes every step of the host's wall clock of 5 ms or
	// more seen during the run (the checks allow for every step; the log
	// shows these).
	ClockSteps []string
	Violations []string
	Artifacts  string // directory with logs and visualization, on failure
}

// Failed reports whether the run found a violation or did not count.
func (r *Report) Failed() bool { return len(r.Violations) > 0 }

// notCounted prefixes the violations that say a run does not count.
const notCounted = "run does not count"

// Caught reports whether the run found a violation of a guarantee (not
// merely that the run did not count).
func (r *Report) Caught() bool {
	for _, v := range r.Violations {
		if !strings.HasPrefix(v, notCounted) {
			return true
		}
	}
	return false
}

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
	extra := ""
	if len(r.HungOnStop) > 0 {
		extra = " hung_on_sigterm=" + strings.Join(r.HungOnStop, ",")
	}
	if len(r.ClockSteps) > 0 {
		extra += fmt.Sprintf(" clock_steps=%d", len(r.ClockSteps))
	}
	status := "PASS"
	if r.Failed() {
		status = fmt.Sprintf("FAIL(%d violations, see %s)", len(r.Violations), r.Artifacts)
	}
	return fmt.Sprintf("%s seed=%d nodes=%d duration=%s ops=%d unknown=%d narrowed=%d holds=%d expired_in_play=%d multi=%d event_ops=%d resent=%d histories=%d expired=%d "+
		"partitions=%d max_partition=%d check=%s warmup_rate=%.0f/s max_recovery=%s faults=[%s]",
		status, r.Seed, r.Nodes, r.Duration.Round(time.Second), r.Ops, r.Unknown, r.Narrowed, r.Holds, r.ExpiredInPlay, r.Multi, r.EventOps, r.Resent,
		r.Histories, r.Expired, r.Check.Partitions, r.Check.MaxPartition, r.Check.Took.Round(time.Millisecond), r.WarmupRate,
		r.MaxRecovery.Round(time.Millisecond), strings.Join(ks, " ")) + extra
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
	// violateAll reports a list of problems of one kind, the first few in
	// full.
	violateAll := func(prefix string, problems []string) {
		const shown = 20
		for i, p := range problems {
			if i == shown {
				violate("%s: %d more (history.txt has the operations)", prefix, len(problems)-shown)
				break
			}
			violate("%s: %s", prefix, p)
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	setup := time.Now()
	nw, err := NewNetwork(cfg.NetID, cfg.Nodes)
	if err != nil {
		return nil, err
	}
	defer nw.Close()
	logf("network up after %s", time.Since(setup).Round(time.Millisecond))
	c := &Cluster{Binary: cfg.Binary, Dir: cfg.Dir, Net: nw, N: cfg.Nodes, Seats: cfg.Seats, Flags: cfg.NodeFlags}
	if err := c.Start(); err != nil {
		return nil, err
	}
	defer c.KillAll()
	nem := &nemesis{c: c, rng: rand.New(rand.NewSource(cfg.Seed)), electionPause: 2 * time.Second}
	if nem.leader(30*time.Second) < 0 {
		return nil, errors.New("the cluster elected no leader within 30s")
	}
	logf("cluster has a leader after %s", time.Since(setup).Round(time.Millisecond))

	start := time.Now()
	clock := newWallClock(start)
	stopClock, clockDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(clockDone)
		clock.watch(stopClock)
	}()
	// The clock is watched until the last check has read it.
	defer func() {
		close(stopClock)
		<-clockDone
	}()
	w := NewWorkload(cfg.Workload, c, start, cfg.Seed)
	if err := w.Setup(); err != nil {
		violate("%s: %v", notCounted, err)
	}
	warmFrom := time.Since(start)
	w.Start()
	time.Sleep(cfg.Warmup)
	rep.WarmupRate = float64(w.Completed(warmFrom, warmFrom+cfg.Warmup)) / cfg.Warmup.Seconds()
	if rep.WarmupRate < cfg.MinRate {
		violate("%s: warm-up reached %.0f ops/s, below the minimum %.0f", notCounted, rep.WarmupRate, cfg.MinRate)
	}

	plan := Plan(cfg.Seed, cfg.Faults, cfg.FaultCount, cfg.MinHold, cfg.MaxHold)
	probe := 0
	for i := range plan {
		f := &plan[i]
		heal, err := nem.inject(f)
		if err != nil {
			violate("%s: fault %d (%s) not injected: %v", notCounted, i, f.Kind, err)
			continue
		}
		f.Injected, f.At = true, time.Since(start)
		logf("fault %d: %s targets %v for %s", i, f.Kind, f.Targets, f.Hold)
		if notReady := holdWatchingReadiness(c, f); len(notReady) > 0 {
			violate("readiness: node(s) %v cut off from the majority by %s still answered /readyz 200 after %s",
				notReady, f.Kind, readinessBound)
		}
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
	for i := 0; i < c.N; i++ {
		if c.Exited(i) {
			violate("node %s exited by itself; the end of %s.log:\n%s", c.ID(i), c.ID(i), c.LogTail(i, 12))
		}
	}
	rep.Faults = plan
	rep.Duration = time.Since(start)
	ops := w.History()
	for _, o := range ops {
		switch {
		case o.Kind == OpHold && !o.Unknown && strings.HasPrefix(o.Result, "HELD "):
			rep.Holds++
		case o.Kind == OpEventCreate || o.Kind == OpEventDelete:
			rep.EventOps++
		}
		if o.Kind.IsWrite() && o.Multi() {
			rep.Multi++
		}
	}
	rep.ExpiredInPlay = expiredInPlay(ops, clock)

	// Every hold of the run must have ended, and the leader's ticker had
	// time to free it, before the final reads.
	if wait := time.Until(time.UnixMilli(holdsEnd(ops, clock) + holdGrace.Milliseconds())); wait > 0 {
		logf("waiting %s for the run's holds to end", wait.Round(time.Millisecond))
		time.Sleep(wait)
	}

	// Every node must end with the same applied state (expiries included).
	phase := time.Now()
	phaseDone := func(what string) {
		logf("%s took %s", what, time.Since(phase).Round(time.Millisecond))
		phase = time.Now()
	}
	converged := true
	if err := waitConverged(c, convergeTimeout); err != nil {
		violate("replicas did not converge: %v", err)
		converged = false
	}
	phaseDone("convergence")
	// Healed and converged: every node is ready again.
	for i := 0; i < c.N; i++ {
		deadline := time.Now().Add(readinessBound)
		code, err := c.Readiness(i)
		for (err != nil || code != 200) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			code, err = c.Readiness(i)
		}
		if err != nil || code != 200 {
			violate("readiness: %s answered /readyz %d (%v) %s after the last heal and convergence", c.ID(i), code, err, readinessBound)
		}
	}

	// Final reads of every touched seat through every node, recorded in
	// the history.
	keys := touchedSeats(ops)
	final, err := finalReads(c, keys, start, cfg.Workload.Clients+1)
	if err != nil {
		violate("final reads failed: %v", err)
	}
	ops = append(ops, final...)
	finalBySeat := map[int]map[seatKey]string{} // by node
	for _, o := range final {
		k := seatKeys(o)[0]
		if finalBySeat[o.Node] == nil {
			finalBySeat[o.Node] = map[seatKey]string{}
		}
		finalBySeat[o.Node][k] = o.Result
		if exp, ok := heldStatusExpiry(o.Result); ok && exp+holdGrace.Milliseconds() <= clock.earliest(o.Call, o.Return) {
			violate("hold did not expire: %s through %s reads %q, %s after its end", k, c.ID(o.Node), o.Result,
				time.Duration(clock.earliest(o.Call, o.Return)-exp)*time.Millisecond)
		}
	}
	want := expectedFinal(ops)
	var lost []string
	for _, o := range final {
		k := seatKeys(o)[0]
		if holder, ok := want[k]; ok && o.Result != "BOOKED "+holder {
			lost = append(lost, fmt.Sprintf("%s should be BOOKED %s, reads %q through %s", k, holder, o.Result, c.ID(o.Node)))
		}
	}
	violateAll("acknowledged booking lost", lost)
	phaseDone("final reads")

	// Every seat's history must agree with the operations and its final
	// state.
	histories, err := readHistories(c, keys)
	if err != nil {
		violate("history reads failed: %v", err)
	}
	rep.Histories = len(histories)
	for _, h := range histories {
		rep.Expired += strings.Count(h, " EXPIRE,")
	}
	endMs := clock.latest(clock.now())
	byHolder := map[string][]*Op{}
	for _, o := range ops {
		if o.Holder != "" {
			byHolder[o.Holder] = append(byHolder[o.Holder], o)
		}
	}
	var histProblems []string
	for i, k := range keys {
		if i < len(histories) {
			histProblems = append(histProblems, checkHistory(k, histories[i], finalBySeat[0][k], byHolder, clock, endMs)...)
		}
	}
	violateAll("seat history wrong", histProblems)
	phaseDone("history reads and checks")

	// Exactly-once: every acknowledged write sent again answers as before
	// and changes nothing.
	if !cfg.SkipResend {
		resent, diffs, err := resendWrites(c, ops)
		rep.Resent = resent
		if err != nil {
			violate("re-sending writes failed: %v", err)
		}
		violateAll("id applied twice", diffs)
		after, err := finalReads(c, keys, start, cfg.Workload.Clients+1)
		if err != nil {
			violate("reads after re-sending failed: %v", err)
		}
		var changed []string
		for _, o := range after {
			k := seatKeys(o)[0]
			if before := finalBySeat[o.Node][k]; o.Result != before {
				changed = append(changed, fmt.Sprintf("%s: %q before, %q after, through %s", k, before, o.Result, c.ID(o.Node)))
			}
		}
		violateAll("re-sent writes changed", changed)
		if converged {
			if err := waitConverged(c, convergeTimeout); err != nil {
				violate("replicas did not converge after re-sending: %v", err)
			}
		}
		phaseDone("re-sending")
	}

	violateAll("double booking", checkNoDoubleBooking(ops, clock))
	end := time.Since(start).Nanoseconds() + 1
	for _, o := range ops {
		if o.Unknown {
			rep.Unknown++
		}
	}
	rep.Narrowed = narrow(ops, end)
	rep.Ops = len(ops)
	res, vis, stats, err := checkLinearizable(ops, clock, cfg.Dir, cfg.CheckTimeout)
	rep.Check = stats
	switch {
	case err != nil:
		violate("linearizability check: %v", err)
	case res == porcupine.Illegal:
		violate("history is not linearizable; visualization: %s", vis)
	case res == porcupine.Unknown:
		violate("linearizability checker gave up after %s; visualization: %s", cfg.CheckTimeout, vis)
	}

	phaseDone("double-booking and linearizability checks")
	rep.ClockSteps = clock.steps()
	for _, step := range rep.ClockSteps {
		logf("%s", step)
	}
	for _, i := range c.StopAll() {
		rep.HungOnStop = append(rep.HungOnStop, c.ID(i))
		// SIGTERM must stop a node (answer, shut Raft down, close the
		// stores, exit 0): one that does not is a bug, not noise.
		violate("node %s did not exit within %s of SIGTERM; its goroutines are at the end of %s",
			c.ID(i), StopTimeout, filepath.Join(cfg.Dir, c.ID(i)+".log"))
	}
	phaseDone("stopping the nodes")
	if rep.Failed() || cfg.KeepHistory {
		if err := writeOps(filepath.Join(cfg.Dir, "history.txt"), ops); err != nil {
			logf("%v", err)
		}
	}
	if rep.Failed() {
		if err := os.WriteFile(filepath.Join(cfg.Dir, "violations.txt"), []byte(strings.Join(rep.Violations, "\n")+"\n"), 0o644); err != nil {
			logf("write violations: %v", err)
		}
	}
	return rep, nil
}

// convergeTimeout bounds the wait for every node to reach the same state
// once the traffic has stopped (normally a few hundred milliseconds, even
// for a node restarted just before).
const convergeTimeout = 10 * time.Second

// holdGrace is how long after a hold's end the cluster has to free it: the
// leader's ticker writes an entry when a hold falls due.
const holdGrace = 2 * time.Second

// holdsEnd returns the latest time (Unix ms) at which a hold of the run can
// end: the expiry its answer named, or for a HOLD whose outcome is unknown
// the latest its entry could carry plus its ttl.
func holdsEnd(ops []*Op, clock *wallClock) int64 {
	var end int64
	for _, o := range ops {
		if o.Kind != OpHold {
			continue
		}
		if exp, ok := heldExpiry(o.Result); ok {
			end = max(end, exp)
		} else if o.Unknown {
			end = max(end, clock.latest(o.Return)+SlackMs+int64(o.TTL)*1000)
		}
	}
	return end
}

// heldStatusExpiry returns the expiry a STATUS answer "HELD <holder> <ms>"
// names.
func heldStatusExpiry(result string) (int64, bool) {
	f := strings.Fields(result)
	if len(f) != 3 || f[0] != "HELD" {
		return 0, false
	}
	ms, err := strconv.ParseInt(f[2], 10, 64)
	return ms, err == nil
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
	return time.Since(begin), fmt.Errorf("last attempt: %w", last)
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

// touchedSeats returns every seat the history names, by event and seat.
func touchedSeats(ops []*Op) []seatKey {
	set := map[seatKey]bool{}
	for _, o := range ops {
		for _, k := range seatKeys(o) {
			set[k] = true
		}
	}
	keys := make([]seatKey, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].event != keys[j].event {
			return keys[i].event < keys[j].event
		}
		return keys[i].seat < keys[j].seat
	})
	return keys
}

// pipeline sends lines on one connection to node and returns the answers.
func pipeline(c *Cluster, node int, lines []string, timeout time.Duration) ([]string, error) {
	conn, err := net.DialTimeout("tcp", c.ClientAddr(node), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.ID(node), err)
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
			return answers, fmt.Errorf("%s, after %d answers: %w", c.ID(node), len(answers), err)
		}
		answers = append(answers, strings.TrimSuffix(s, "\n"))
	}
	return answers, <-errc
}

// seatLine returns the request line verb names for one seat.
func seatLine(verb string, k seatKey) string {
	if k.event == DefaultEvent {
		return fmt.Sprintf("%s %d", verb, k.seat)
	}
	return fmt.Sprintf("%s %d event=%s", verb, k.seat, k.event)
}

// finalReads reads every seat through every node in turn (a linearizable
// read through each) and records the reads as operations of clients
// client, client+1, ...
func finalReads(c *Cluster, keys []seatKey, start time.Time, client int) ([]*Op, error) {
	var out []*Op
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = seatLine("STATUS", k)
	}
	for node := 0; node < c.N; node++ {
		call := int64(time.Since(start))
		answers, err := pipeline(c, node, lines, time.Minute)
		ret := int64(time.Since(start))
		if err != nil {
			return out, err
		}
		for i, a := range answers {
			if strings.HasPrefix(a, "ERROR") {
				return out, fmt.Errorf("node %s: %s = %q", c.ID(node), lines[i], a)
			}
			k := keys[i]
			event := k.event
			if event == DefaultEvent {
				event = ""
			}
			out = append(out, &Op{Client: client + node, Kind: OpStatus, Event: event, Seats: []int{k.seat},
				Call: call, Return: ret, Result: a, Node: node})
		}
	}
	return out, nil
}

// readHistories reads the HISTORY of every seat (through the first node).
func readHistories(c *Cluster, keys []seatKey) ([]string, error) {
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = seatLine("HISTORY", k)
	}
	answers, err := pipeline(c, 0, lines, time.Minute)
	for i, a := range answers {
		if strings.HasPrefix(a, "ERROR") {
			return answers[:i], fmt.Errorf("%s = %q", lines[i], a)
		}
	}
	return answers, err
}

// resendWrites sends every write that got a definite answer again, with its
// id, and reports any answer that differs from the recorded one.
func resendWrites(c *Cluster, ops []*Op) (int, []string, error) {
	var writes []*Op
	for _, o := range ops {
		if o.Kind.IsWrite() && !o.Unknown && o.ID != "" {
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

// readinessBound is how long a node cut off from the majority may keep
// answering /readyz 200: a leader's lease, a follower's heartbeat timeout
// and an election, with room for -race.
const readinessBound = 10 * time.Second

// holdWatchingReadiness keeps fault f in place for its hold and, while it
// is, polls the /readyz of the nodes it cut off from the majority; the hold
// is stretched (up to readinessBound) until each has answered 503. It
// returns the ids of those that never did.
func holdWatchingReadiness(c *Cluster, f *Fault) []string {
	start := time.Now()
	pending := map[int]bool{}
	for _, i := range f.CutOff {
		pending[i] = true
	}
	for {
		for i := range pending {
			if code, err := c.Readiness(i); err == nil && code == 503 {
				delete(pending, i)
			}
		}
		elapsed := time.Since(start)
		if elapsed >= f.Hold && (len(pending) == 0 || elapsed >= readinessBound) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ids []string
	for i := range pending {
		ids = append(ids, c.ID(i))
	}
	sort.Strings(ids)
	return ids
}
