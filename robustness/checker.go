package robustness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// seatKey names one seat of one event.
type seatKey struct {
	event string // canonical name
	seat  int
}

func (k seatKey) String() string { return fmt.Sprintf("seat %d of %s", k.seat, k.event) }

// seatKeys returns the real seats an operation names (seat 0 aside).
func seatKeys(o *Op) []seatKey {
	var keys []seatKey
	for _, s := range o.Seats {
		if s > 0 {
			keys = append(keys, seatKey{o.EventName(), s})
		}
	}
	return keys
}

// covers reports whether o names seat k.
func covers(o *Op, k seatKey) bool {
	if o.EventName() != k.event {
		return false
	}
	for _, s := range o.Seats {
		if s == k.seat {
			return true
		}
	}
	return false
}

// tookEffect reports whether a write may have changed something: it
// succeeded, or its outcome is unknown.
func tookEffect(o *Op) bool {
	return o.Unknown || o.Result == "SUCCESS" || strings.HasPrefix(o.Result, "HELD ")
}

// narrow shortens unknown-outcome writes so the checker can decide: an
// unknown RESERVE by a holder that makes no other RESERVE, which somebody
// later observed (a STATUS answering BOOKED <holder> on one of its seats,
// or — for a holder that never held — the holder's CANCEL of one of them
// succeeding), did take effect with SUCCESS and ended no later than that
// observation; every other unknown write stays open until the end of the
// history. It returns how many were narrowed.
func narrow(ops []*Op, end int64) int {
	reserves, holds := map[string]int{}, map[string]int{}
	for _, o := range ops {
		if o.Holder == "" {
			continue
		}
		switch o.Kind {
		case OpReserve:
			reserves[o.Holder]++
		case OpHold:
			holds[o.Holder]++
		}
	}
	narrowed := 0
	for _, w := range ops {
		if !w.Unknown {
			continue
		}
		w.Return = end
		if w.Kind != OpReserve || w.Holder == "" || reserves[w.Holder] != 1 {
			continue
		}
		first := int64(-1)
		for _, o := range ops {
			if o == w || o.Unknown || o.Return < w.Call || o.EventName() != w.EventName() || !sharesSeat(o, w) {
				continue
			}
			seen := (o.Kind == OpStatus && o.Result == "BOOKED "+w.Holder) ||
				(o.Kind == OpCancel && o.Holder == w.Holder && o.Result == "SUCCESS" && holds[w.Holder] == 0)
			if seen && (first < 0 || o.Return < first) {
				first = o.Return
			}
		}
		if first >= 0 {
			w.Unknown, w.Result, w.Return = false, "SUCCESS", first
			narrowed++
		}
	}
	return narrowed
}

func sharesSeat(a, b *Op) bool {
	for _, s := range a.Seats {
		if s == 0 {
			continue
		}
		for _, t := range b.Seats {
			if s == t {
				return true
			}
		}
	}
	return false
}

// LinearizabilityStats describes one porcupine check.
type LinearizabilityStats struct {
	Partitions   int
	MaxPartition int // operations in the largest partition
	Took         time.Duration
}

// checkLinearizable runs porcupine over the history, partitioned by event
// and seat group; clock maps the run's timeline onto wall time. On a
// violation (or if porcupine gives up, which also counts as a failure) it
// writes the HTML visualization into dir.
func checkLinearizable(ops []*Op, clock *wallClock, dir string, timeout time.Duration) (porcupine.CheckResult, string, LinearizabilityStats, error) {
	history := modelOperations(ops, clock)
	var stats LinearizabilityStats
	parts := groupModel.Partition(history)
	stats.Partitions = len(parts)
	for _, p := range parts {
		stats.MaxPartition = max(stats.MaxPartition, len(p))
	}
	model := groupModel.ToModel()
	begin := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, history, timeout)
	stats.Took = time.Since(begin)
	if res == porcupine.Ok {
		return res, "", stats, nil
	}
	path := filepath.Join(dir, "linearizability.html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return res, "", stats, fmt.Errorf("write visualization: %w", err)
	}
	return res, path, stats, nil
}

// checkNoDoubleBooking verifies directly that no seat was ever taken by two
// named holders at once. A seat is taken by an acknowledged RESERVE (a
// booking) or HOLD (until its expiry); two takes by different holders may
// not both be certain at the moment the later of them returned: one of them
// must have been cancelled (or tried to be) by then, or be a hold that may
// have run out or been renewed, or the event may have been deleted in
// between.
func checkNoDoubleBooking(ops []*Op, clock *wallClock) []string {
	type take struct {
		op  *Op
		exp int64 // a hold's end; 0 for a booking
	}
	takes := map[seatKey][]take{}
	releases := map[string][]*Op{} // by holder: CANCELs that may have freed seats, HOLDs that may have renewed them
	deletes := map[string][]*Op{}  // by event: deletions that may have happened
	for _, o := range ops {
		switch {
		case o.Kind == OpReserve && !o.Unknown && o.Result == "SUCCESS" && o.Holder != "":
			for _, k := range seatKeys(o) {
				takes[k] = append(takes[k], take{op: o})
			}
		case o.Kind == OpHold && !o.Unknown:
			if exp, ok := heldExpiry(o.Result); ok {
				for _, k := range seatKeys(o) {
					takes[k] = append(takes[k], take{op: o, exp: exp})
				}
			}
		}
		switch {
		case o.Kind == OpCancel && tookEffect(o), o.Kind == OpHold && tookEffect(o):
			releases[o.Holder] = append(releases[o.Holder], o)
		case o.Kind == OpEventDelete && tookEffect(o):
			deletes[o.Event] = append(deletes[o.Event], o)
		}
	}
	var problems []string
	for key, list := range takes {
		sort.Slice(list, func(i, j int) bool { return list[i].op.Return < list[j].op.Return })
		certain := func(t take, at int64) bool {
			if t.exp != 0 && t.exp <= clock.latest(at)+SlackMs {
				return false
			}
			for _, c := range releases[t.op.Holder] {
				// A renewal (another HOLD by the holder) sets a new end,
				// maybe an earlier one; it is a take of its own.
				if c != t.op && c.Call <= at && covers(c, key) {
					return false
				}
			}
			return true
		}
		for j, b := range list {
			at := b.op.Return
			if !certain(b, at) {
				continue
			}
			for _, a := range list[:j] {
				if a.op.Holder == b.op.Holder || !certain(a, at) {
					continue
				}
				deleted := false
				for _, d := range deletes[key.event] {
					if d.Call <= at && (d.Unknown || d.Return >= min(a.op.Call, b.op.Call)) {
						deleted = true
					}
				}
				if !deleted {
					problems = append(problems, fmt.Sprintf("%s taken by %s (%q -> %s) and by %s (%q -> %s) at once",
						key, a.op.Holder, a.op.Line(), a.op.Result, b.op.Holder, b.op.Line(), b.op.Result))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// expectedFinal returns, per seat, the holder that must still hold it at the
// end: the last acknowledged named booking that its holder never tried to
// cancel and whose event was not (possibly) deleted afterwards. Seats whose
// fate the history leaves open are omitted.
func expectedFinal(ops []*Op) map[seatKey]string {
	lastGrant := map[seatKey]*Op{}
	for _, o := range ops {
		if o.Kind == OpReserve && o.Result == "SUCCESS" && !o.Unknown && o.Holder != "" {
			for _, k := range seatKeys(o) {
				if g := lastGrant[k]; g == nil || o.Return > g.Return {
					lastGrant[k] = o
				}
			}
		}
	}
	want := map[seatKey]string{}
	for k, g := range lastGrant {
		open := false
		for _, o := range ops {
			switch {
			case o.Kind == OpCancel && o.Holder == g.Holder && tookEffect(o) && covers(o, k):
				open = true
			case o.Kind == OpEventDelete && o.Event == k.event && tookEffect(o) && (o.Unknown || o.Return >= g.Call):
				open = true
			}
		}
		if !open {
			want[k] = g.Holder
		}
	}
	return want
}

// change is one entry of a HISTORY answer.
type change struct {
	op     string
	holder string
	index  uint64
	timeMs int64
}

// parseHistory parses "HISTORY <n> op,holder,index,time ...".
func parseHistory(line string) ([]change, error) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "HISTORY" {
		return nil, fmt.Errorf("not a HISTORY answer: %q", line)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n != len(f)-2 {
		return nil, fmt.Errorf("HISTORY answer %q: count %q for %d changes", line, f[1], len(f)-2)
	}
	out := make([]change, 0, n)
	for _, tok := range f[2:] {
		p := strings.Split(tok, ",")
		if len(p) != 4 {
			return nil, fmt.Errorf("HISTORY change %q", tok)
		}
		idx, err1 := strconv.ParseUint(p[2], 10, 64)
		ms, err2 := strconv.ParseInt(p[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("HISTORY change %q", tok)
		}
		out = append(out, change{op: p[0], holder: p[1], index: idx, timeMs: ms})
	}
	return out, nil
}

// historyLen is how many changes of a seat the server keeps.
const historyLen = 16

// checkHistory verifies one seat's HISTORY answer against the operations
// and the seat's final STATUS: the changes follow each other as the rules
// allow, end in the final state, and each change by a named holder was made
// by one of that holder's operations, at a log time within its life (a
// HOLD's change at exactly the time its HELD answer implies; an expiry not
// before the hold's end). byHolder indexes the operations by holder; clock
// maps the run's timeline onto wall time, and endMs is the latest log time
// the history can hold.
func checkHistory(k seatKey, answer, final string, byHolder map[string][]*Op, clock *wallClock, endMs int64) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, k.String()+": "+fmt.Sprintf(format, args...))
	}
	if answer == "FAILED_NO_EVENT" || final == "FAILED_NO_EVENT" {
		if answer != final {
			bad("HISTORY answers %q but STATUS %q", answer, final)
		}
		return problems
	}
	changes, err := parseHistory(answer)
	if err != nil {
		bad("%v", err)
		return problems
	}
	// The state the changes walk through: known unless the history may
	// have been cut.
	type st struct {
		known  bool
		phase  phase
		holder string
	}
	cur := st{known: len(changes) < historyLen}
	var holdEnd int64 // the end of the hold the last HOLD change made, 0 if unknown
	for i, c := range changes {
		// Several writes of one batch entry share its index and time.
		if i > 0 && (c.index < changes[i-1].index || c.timeMs < changes[i-1].timeMs) {
			bad("change %d (%s at index %d, time %d) does not follow change %d (index %d, time %d)",
				i, c.op, c.index, c.timeMs, i-1, changes[i-1].index, changes[i-1].timeMs)
		}
		var need func(st) bool
		next := st{known: true}
		switch c.op {
		case "RESERVE":
			need = func(s st) bool { return s.phase == seatFree }
			next.phase, next.holder = seatBooked, c.holder
		case "CONFIRM":
			need = func(s st) bool { return s.phase == seatHeld && s.holder == c.holder }
			next.phase, next.holder = seatBooked, c.holder
		case "HOLD":
			need = func(s st) bool { return s.phase == seatFree || s.phase == seatHeld && s.holder == c.holder }
			next.phase, next.holder = seatHeld, c.holder
		case "CANCEL":
			need = func(s st) bool { return s.phase == seatBooked && s.holder == c.holder }
		case "RELEASE", "EXPIRE":
			need = func(s st) bool { return s.phase == seatHeld && s.holder == c.holder }
		default:
			bad("unknown change %q", c.op)
			return problems
		}
		if cur.known && !need(cur) {
			bad("change %d, %s by %q, does not follow from the state before it (%s %q)", i, c.op, c.holder, cur.phase, cur.holder)
		}
		if c.op == "EXPIRE" && holdEnd != 0 && c.timeMs < holdEnd {
			bad("hold of %s expired at log time %d, before its end %d", c.holder, c.timeMs, holdEnd)
		}
		if c.op != "EXPIRE" && c.holder != "" {
			end, msg := matchChange(k, c, byHolder[c.holder], clock, endMs)
			if msg != "" {
				bad("change %d, %s by %s at log time %d: %s", i, c.op, c.holder, c.timeMs, msg)
			}
			holdEnd = end
		}
		cur = next
	}
	if cur.known {
		var want string
		switch cur.phase {
		case seatFree:
			want = "FREE"
		case seatBooked:
			want = strings.TrimSpace("BOOKED " + cur.holder)
		case seatHeld:
			want = "HELD " + cur.holder
		}
		if final != want && !(cur.phase == seatHeld && strings.HasPrefix(final, want+" ")) {
			bad("the history ends in %q, but STATUS answers %q", want, final)
		}
	}
	return problems
}

// matchChange finds the operation that made change c: one of the holder's
// operations of the right kind that may have taken effect on the seat, whose
// life contains the change's log time (and for a HOLD whose answer is known,
// whose expiry is that time plus its ttl). It returns the end of the hold a
// HOLD change made when the operation is known, and why no operation fits.
func matchChange(k seatKey, c change, ops []*Op, clock *wallClock, endMs int64) (int64, string) {
	kind := map[string]OpKind{"RESERVE": OpReserve, "CONFIRM": OpReserve, "HOLD": OpHold, "CANCEL": OpCancel, "RELEASE": OpCancel}[c.op]
	candidates, fits := 0, 0
	var holdEnd int64 // the earliest end among the HOLDs that fit
	for _, o := range ops {
		if o.Kind != kind || !covers(o, k) || !tookEffect(o) {
			continue
		}
		candidates++
		lo, hi := clock.earliest(o.Call, 1<<62)-SlackMs, endMs
		if !o.Unknown {
			lo, hi = clock.earliest(o.Call, o.Return)-SlackMs, clock.latest(o.Return)+SlackMs
		}
		if c.timeMs < lo || c.timeMs > hi {
			continue
		}
		if kind == OpHold {
			end := c.timeMs + int64(o.TTL)*1000
			if exp, ok := heldExpiry(o.Result); ok && exp != end {
				continue
			}
			if fits == 0 || end < holdEnd {
				holdEnd = end
			}
		}
		fits++
	}
	switch {
	case fits > 0:
		return holdEnd, ""
	case candidates == 0:
		return 0, "no operation of that holder could have made it"
	}
	return 0, "no operation of that holder that could have made it was under way then"
}

// writeOps dumps the history as text, one operation per line.
func writeOps(path string, ops []*Op) error {
	var b strings.Builder
	for _, o := range ops {
		res := o.Result
		if o.Unknown {
			res = "?"
		}
		fmt.Fprintf(&b, "%12d %12d c%-3d n%-2d a%-2d %s -> %s\n", o.Call, o.Return, o.Client, o.Node, o.Attempts, o.Line(), res)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// expiredInPlay counts the acknowledged holds that ran out while their
// seats were still in play: neither confirmed, released nor renewed, with
// an operation of somebody else on one of their seats that began after the
// hold's end (so the model had to expire it).
func expiredInPlay(ops []*Op, clock *wallClock) int {
	byHolder := map[string][]*Op{}
	bySeat := map[seatKey][]*Op{}
	for _, o := range ops {
		if o.Holder != "" {
			byHolder[o.Holder] = append(byHolder[o.Holder], o)
		}
		for _, k := range seatKeys(o) {
			bySeat[k] = append(bySeat[k], o)
		}
	}
	n := 0
	for _, h := range ops {
		exp, ok := heldExpiry(h.Result)
		if h.Kind != OpHold || h.Unknown || !ok || len(byHolder[h.Holder]) != 1 {
			continue
		}
	seats:
		for _, k := range seatKeys(h) {
			for _, o := range bySeat[k] {
				if o.Holder != h.Holder && clock.earliest(o.Call, o.Return) > exp+SlackMs {
					n++
					break seats
				}
			}
		}
	}
	return n
}
