package robustness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// seatState is the model's state of one seat.
type seatState struct {
	booked bool
	holder string
}

type modelInput struct {
	kind   OpKind
	holder string
}

type modelOutput struct {
	result  string
	unknown bool
}

// expected applies the protocol's rules to one seat.
func expected(s seatState, in modelInput) (string, seatState) {
	switch in.kind {
	case OpReserve:
		if !s.booked {
			return "SUCCESS", seatState{booked: true, holder: in.holder}
		}
		if in.holder != "" && s.holder == in.holder {
			return "SUCCESS", s
		}
		return "FAILED_ALREADY_BOOKED", s
	case OpCancel:
		if !s.booked {
			return "FAILED_NOT_BOOKED", s
		}
		if s.holder != in.holder {
			return "FAILED_NOT_HOLDER", s
		}
		return "SUCCESS", seatState{}
	}
	if !s.booked {
		return "FREE", s
	}
	if s.holder == "" {
		return "BOOKED", s
	}
	return "BOOKED " + s.holder, s
}

// seatModel is the sequential specification of one seat. A write whose
// outcome is unknown may have taken effect (with whatever result) or not.
var seatModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		bySeat := map[int][]porcupine.Operation{}
		var seats []int
		for _, op := range history {
			seat := op.Metadata.(*Op).Seat
			if _, ok := bySeat[seat]; !ok {
				seats = append(seats, seat)
			}
			bySeat[seat] = append(bySeat[seat], op)
		}
		sort.Ints(seats)
		out := make([][]porcupine.Operation, 0, len(seats))
		for _, s := range seats {
			out = append(out, bySeat[s])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{seatState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		s, in, out := state.(seatState), input.(modelInput), output.(modelOutput)
		want, next := expected(s, in)
		if out.unknown {
			if next == s {
				return []interface{}{s}
			}
			return []interface{}{next, s}
		}
		if out.result != want {
			return nil
		}
		return []interface{}{next}
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(modelInput), output.(modelOutput)
		res := out.result
		if out.unknown {
			res = "?"
		}
		return fmt.Sprintf("%s %s -> %s", in.kind, in.holder, res)
	},
	DescribeState: func(state interface{}) string {
		s := state.(seatState)
		if !s.booked {
			return "free"
		}
		if s.holder == "" {
			return "booked (anonymous)"
		}
		return "booked by " + s.holder
	},
	DescribeOperationMetadata: func(info interface{}) string {
		o := info.(*Op)
		return fmt.Sprintf("seat %d, client %d, id %s, attempts %d, node %d", o.Seat, o.Client, o.ID, o.Attempts, o.Node)
	},
}

// narrow shortens unknown-outcome writes so the checker can decide: an
// unknown RESERVE by a unique holder that somebody later observed (a STATUS
// naming the holder, or the holder's CANCEL succeeding) did take effect with
// SUCCESS and ended no later than that observation; every other unknown
// write stays open until the end of the history. It returns how many were
// narrowed.
func narrow(ops []*Op, end int64) int {
	narrowed := 0
	for _, w := range ops {
		if !w.Unknown {
			continue
		}
		w.Return = end
		if w.Kind != OpReserve || w.Holder == "" {
			continue
		}
		first := int64(-1)
		for _, o := range ops {
			if o == w || o.Seat != w.Seat || o.Unknown || o.Return < w.Call {
				continue
			}
			seen := (o.Kind == OpStatus && o.Result == "BOOKED "+w.Holder) ||
				(o.Kind == OpCancel && o.Holder == w.Holder && o.Result == "SUCCESS")
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

// checkLinearizable runs porcupine over the history, partitioned per seat.
// On a violation (or if porcupine gives up, which also counts as a failure)
// it writes the HTML visualization into dir.
func checkLinearizable(ops []*Op, dir string, timeout time.Duration) (porcupine.CheckResult, string, error) {
	history := make([]porcupine.Operation, 0, len(ops))
	for _, o := range ops {
		history = append(history, porcupine.Operation{
			ClientId: o.Client,
			Input:    modelInput{kind: o.Kind, holder: o.Holder},
			Output:   modelOutput{result: o.Result, unknown: o.Unknown},
			Call:     o.Call,
			Return:   o.Return,
			Metadata: o,
		})
	}
	model := seatModel.ToModel()
	res, info := porcupine.CheckOperationsVerbose(model, history, timeout)
	if res == porcupine.Ok {
		return res, "", nil
	}
	path := filepath.Join(dir, "linearizability.html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return res, "", fmt.Errorf("write visualization: %w", err)
	}
	return res, path, nil
}

// checkNoDoubleBooking verifies directly that no seat was granted to two
// named holders at once: between two acknowledged RESERVEs of a seat by
// different named holders, the first holder must have cancelled (or tried
// to) before the second reservation returned.
func checkNoDoubleBooking(ops []*Op) []string {
	var problems []string
	bySeat := map[int][]*Op{}
	for _, o := range ops {
		bySeat[o.Seat] = append(bySeat[o.Seat], o)
	}
	for seat, list := range bySeat {
		var grants []*Op
		for _, o := range list {
			if o.Kind == OpReserve && o.Result == "SUCCESS" && !o.Unknown && o.Holder != "" {
				grants = append(grants, o)
			}
		}
		sort.Slice(grants, func(i, j int) bool { return grants[i].Return < grants[j].Return })
		for k := 1; k < len(grants); k++ {
			a, b := grants[k-1], grants[k]
			if a.Holder == b.Holder {
				continue
			}
			released := false
			for _, o := range list {
				if o.Kind == OpCancel && o.Holder == a.Holder && (o.Unknown || o.Result == "SUCCESS") && o.Call <= b.Return {
					released = true
					break
				}
			}
			if !released {
				problems = append(problems, fmt.Sprintf("seat %d granted to %s (id %s) and then to %s (id %s) without %s cancelling",
					seat, a.Holder, a.ID, b.Holder, b.ID, a.Holder))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// expectedFinal returns, per seat, the holder that must still hold it at the
// end: the last acknowledged named booking that its holder never tried to
// cancel afterwards. Seats whose fate the history leaves open are omitted.
func expectedFinal(ops []*Op) map[int]string {
	lastGrant := map[int]*Op{}
	for _, o := range ops {
		if o.Kind == OpReserve && o.Result == "SUCCESS" && !o.Unknown && o.Holder != "" {
			if g := lastGrant[o.Seat]; g == nil || o.Return > g.Return {
				lastGrant[o.Seat] = o
			}
		}
	}
	want := map[int]string{}
	for seat, g := range lastGrant {
		cancelled := false
		for _, o := range ops {
			if o.Seat == seat && o.Kind == OpCancel && o.Holder == g.Holder && (o.Unknown || o.Result == "SUCCESS") {
				cancelled = true
				break
			}
		}
		if !cancelled {
			want[seat] = g.Holder
		}
	}
	return want
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
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
