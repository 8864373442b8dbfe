package robustness

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// SlackMs bounds, in milliseconds, how far the log time of the entry that
// applied a write may lie outside the write's life as the client saw it
// (the nodes' clocks are this machine's clock; the slack covers the
// millisecond rounding and the moment between reading the clock and
// sending or receiving).
const SlackMs = 50

// phase is what one seat is in the model.
type phase uint8

const (
	seatFree phase = iota
	seatBooked
	seatHeld
)

func (p phase) String() string { return [...]string{"free", "booked", "held"}[p] }

// slot is the model's state of one seat. A held seat's hold ends at some
// log time in [lo, hi]: exact once a HELD answer or a STATUS named it, a
// range for a HOLD whose outcome is unknown.
type slot struct {
	phase  phase
	holder string
	lo, hi int64
}

// groupState is the model's state of one partition: one group of seats of
// one event, and whether the event exists. It is comparable with ==.
type groupState struct {
	init   bool // set by the first step (Init cannot know the partition)
	exists bool
	first  int // the group's first seat
	seats  [GroupSize]slot
}

// modelInput is one operation as the model sees it, for one partition.
type modelInput struct {
	kind   OpKind
	event  string // canonical name
	first  int    // the partition's first seat
	seats  []int  // ascending; seats outside the group (seat 0) are invalid
	multi  bool
	holder string
	ttlMs  int64
	// callMs and retMs are the operation's life in wall time (Unix ms);
	// retMs is the end of the history for an unknown write.
	callMs, retMs int64
}

type modelOutput struct {
	result  string
	unknown bool
}

// failure kinds in the order a multi-seat answer chooses between them.
var failureOrder = []string{"FAILED_INVALID_SEAT", "FAILED_NOT_HOLDER", "FAILED_NOT_BOOKED", "FAILED_ALREADY_BOOKED"}

// initialState is the state before the partition's first operation: the
// default event exists from cluster creation, the others are created by
// operations in the history.
func initialState(in *modelInput) groupState {
	return groupState{init: true, exists: in.event == DefaultEvent, first: in.first}
}

// window is the log time range of the entry (write) or state (read) that
// an operation saw.
type window struct {
	lo, hi int64
	write  bool // lo binds: every hold that ended by lo has expired
}

func (in *modelInput) window(out modelOutput) window {
	if !in.kind.IsWrite() {
		return window{lo: -1 << 62, hi: in.retMs + SlackMs}
	}
	if in.kind == OpHold && !out.unknown {
		if exp, ok := heldExpiry(out.result); ok {
			t := exp - in.ttlMs
			return window{lo: t, hi: t, write: true}
		}
	}
	return window{lo: in.callMs - SlackMs, hi: in.retMs + SlackMs, write: true}
}

// expiries returns every state s may be in at the log time of window w:
// holds whose end is certainly reached are freed, those whose end may be
// reached are freed or not, consistently (a hold that ends no later than
// one that has expired has expired too; the seats of one hold go together).
func expiries(s groupState, w window) []groupState {
	type hold struct {
		holder string
		lo, hi int64
		seats  []int
	}
	var forced, maybe []hold
	var kept []hold
	add := func(list []hold, i int) []hold {
		sl := s.seats[i]
		for k := range list {
			if list[k].holder == sl.holder && list[k].lo == sl.lo && list[k].hi == sl.hi {
				list[k].seats = append(list[k].seats, i)
				return list
			}
		}
		return append(list, hold{sl.holder, sl.lo, sl.hi, []int{i}})
	}
	for i, sl := range s.seats {
		switch {
		case sl.phase != seatHeld:
		case w.write && sl.hi <= w.lo:
			forced = add(forced, i)
		case sl.lo <= w.hi:
			maybe = add(maybe, i)
		default:
			kept = add(kept, i)
		}
	}
	base := s
	for _, h := range forced {
		for _, i := range h.seats {
			base.seats[i] = slot{}
		}
	}
	if len(maybe) == 0 {
		return []groupState{base}
	}
	var out []groupState
	for mask := 0; mask < 1<<len(maybe); mask++ {
		ok := true
		for a := range maybe {
			if mask&(1<<a) == 0 {
				continue
			}
			// a expired: every hold ending surely before it has too.
			for b := range maybe {
				if mask&(1<<b) == 0 && maybe[b].hi <= maybe[a].lo {
					ok = false
				}
			}
			for _, k := range kept {
				if k.hi <= maybe[a].lo {
					ok = false
				}
			}
		}
		if !ok {
			continue
		}
		next := base
		for a, h := range maybe {
			if mask&(1<<a) != 0 {
				for _, i := range h.seats {
					next.seats[i] = slot{}
				}
			}
		}
		out = append(out, next)
	}
	return out
}

// index returns the position of seat n in the state, or -1 for a seat the
// event does not have.
func (s *groupState) index(n int) int {
	if n < s.first || n >= s.first+GroupSize {
		return -1
	}
	return n - s.first
}

// seatWrite applies a RESERVE, CANCEL or HOLD to s (whose holds have been
// expired for the entry's time): all or nothing. It returns the answer
// without the HOLD's expiry, and the next state, whose new holds end in
// [expLo, expHi].
func seatWrite(s groupState, in *modelInput, expLo, expHi int64) (string, groupState) {
	if !s.exists {
		return "FAILED_NO_EVENT", s
	}
	failed := map[string][]int{}
	next := s
	for _, n := range in.seats {
		i := s.index(n)
		if i < 0 {
			failed["FAILED_INVALID_SEAT"] = append(failed["FAILED_INVALID_SEAT"], n)
			continue
		}
		sl := s.seats[i]
		mine := in.holder != "" && sl.holder == in.holder
		fail := ""
		switch in.kind {
		case OpReserve:
			switch {
			case sl.phase == seatFree, sl.phase == seatHeld && mine:
				next.seats[i] = slot{phase: seatBooked, holder: in.holder}
			case sl.phase == seatBooked && mine:
			default:
				fail = "FAILED_ALREADY_BOOKED"
			}
		case OpCancel:
			switch {
			case sl.phase == seatFree:
				fail = "FAILED_NOT_BOOKED"
			case sl.phase == seatBooked && sl.holder == in.holder, sl.phase == seatHeld && mine:
				next.seats[i] = slot{}
			default:
				fail = "FAILED_NOT_HOLDER"
			}
		case OpHold:
			switch {
			case sl.phase == seatFree, sl.phase == seatHeld && mine:
				next.seats[i] = slot{phase: seatHeld, holder: in.holder, lo: expLo, hi: expHi}
			default:
				fail = "FAILED_ALREADY_BOOKED"
			}
		}
		if fail != "" {
			failed[fail] = append(failed[fail], n)
		}
	}
	for _, word := range failureOrder {
		if list := failed[word]; len(list) > 0 {
			if !in.multi {
				return word, s
			}
			parts := make([]string, len(list))
			for k, n := range list {
				parts[k] = strconv.Itoa(n)
			}
			return word + " " + strings.Join(parts, ","), s
		}
	}
	if in.kind == OpHold {
		return "HELD", next
	}
	return "SUCCESS", next
}

// apply returns the answer op would get in state s (holds already expired
// for its time) and the next state. For a HOLD that took effect the answer
// is "HELD" and the new holds end in [expLo, expHi].
func apply(s groupState, in *modelInput, expLo, expHi int64) (string, groupState) {
	switch in.kind {
	case OpEventCreate:
		if s.exists {
			return "FAILED_EXISTS", s
		}
		return "SUCCESS", groupState{init: true, exists: true, first: s.first}
	case OpEventDelete:
		if !s.exists {
			return "FAILED_NO_EVENT", s
		}
		return "SUCCESS", groupState{init: true, first: s.first}
	case OpStatus:
		if !s.exists {
			return "FAILED_NO_EVENT", s
		}
		i := s.index(in.seats[0])
		if i < 0 {
			return "FAILED_INVALID_SEAT", s
		}
		switch sl := s.seats[i]; sl.phase {
		case seatBooked:
			if sl.holder == "" {
				return "BOOKED", s
			}
			return "BOOKED " + sl.holder, s
		case seatHeld:
			return "HELD " + sl.holder, s // the expiry is matched by the caller
		}
		return "FREE", s
	}
	return seatWrite(s, in, expLo, expHi)
}

// modelStep is the nondeterministic step of one partition.
func modelStep(state interface{}, input interface{}, output interface{}) []interface{} {
	s, in, out := state.(groupState), input.(*modelInput), output.(modelOutput)
	if !s.init {
		s = initialState(in)
	}
	w := in.window(out)
	var next []interface{}
	if out.unknown {
		// Not applied: time may still have passed (but no entry of this
		// write's needs to have been applied).
		for _, e := range expiries(s, window{lo: w.lo, hi: w.hi}) {
			next = append(next, e)
		}
		// Applied, with whatever answer.
		for _, e := range expiries(s, w) {
			_, n := apply(e, in, w.lo+in.ttlMs, w.hi+in.ttlMs)
			next = append(next, n)
		}
		return next
	}
	for _, e := range expiries(s, w) {
		want, n := apply(e, in, w.lo+in.ttlMs, w.hi+in.ttlMs)
		switch {
		case want == "HELD" && in.kind == OpHold:
			exp, ok := heldExpiry(out.result)
			if !ok || exp < in.callMs-SlackMs+in.ttlMs || exp > in.retMs+SlackMs+in.ttlMs {
				continue
			}
		case in.kind == OpStatus && strings.HasPrefix(want, "HELD "):
			// HELD <holder> <expires>: the expiry must lie in the hold's
			// range, which the answer then pins down.
			holder, ms, ok := strings.Cut(strings.TrimPrefix(out.result, "HELD "), " ")
			exp, err := strconv.ParseInt(ms, 10, 64)
			sl := &n.seats[n.index(in.seats[0])]
			if !ok || err != nil || "HELD "+holder != want || exp < sl.lo || exp > sl.hi {
				continue
			}
			sl.lo, sl.hi = exp, exp
		case want != out.result:
			continue
		}
		next = append(next, n)
	}
	return next
}

func hashState(state interface{}) uint64 {
	s := state.(groupState)
	h := fnv.New64a()
	var b [8]byte
	put := func(v int64) {
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		h.Write(b[:])
	}
	if s.exists {
		put(1)
	}
	for _, sl := range s.seats {
		put(int64(sl.phase))
		h.Write([]byte(sl.holder))
		put(sl.lo)
		put(sl.hi)
	}
	return h.Sum64()
}

func describeState(state interface{}) string {
	s := state.(groupState)
	if !s.init {
		return "initial"
	}
	if !s.exists {
		return "no event"
	}
	parts := make([]string, 0, GroupSize)
	for i, sl := range s.seats {
		var d string
		switch sl.phase {
		case seatFree:
			d = "free"
		case seatBooked:
			d = "booked"
			if sl.holder != "" {
				d += " " + sl.holder
			}
		case seatHeld:
			if sl.lo == sl.hi {
				d = fmt.Sprintf("held %s until %d", sl.holder, sl.lo)
			} else {
				d = fmt.Sprintf("held %s until [%d, %d]", sl.holder, sl.lo, sl.hi)
			}
		}
		parts = append(parts, fmt.Sprintf("%d: %s", s.first+i, d))
	}
	return strings.Join(parts, "; ")
}

// partitionKey names one partition: a group of seats of an event.
type partitionKey struct {
	event string
	group int
}

// groupModel is the sequential specification of one group of seats of one
// event. A write whose outcome is unknown may have taken effect (with
// whatever answer) or not; holds end at a log time the model knows exactly
// or within bounds, and expire nondeterministically within those bounds.
var groupModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[partitionKey][]porcupine.Operation{}
		eventOps := map[string][]porcupine.Operation{}
		for _, op := range history {
			in := op.Input.(*modelInput)
			if in.kind == OpEventCreate || in.kind == OpEventDelete {
				eventOps[in.event] = append(eventOps[in.event], op)
				continue
			}
			k := partitionKey{in.event, (in.first - 1) / GroupSize}
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]partitionKey, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].event != keys[j].event {
				return keys[i].event < keys[j].event
			}
			return keys[i].group < keys[j].group
		})
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			part := byKey[k]
			// Every partition of an event sees the event's creations and
			// deletions.
			for _, eop := range eventOps[k.event] {
				in := *eop.Input.(*modelInput)
				in.first = k.group*GroupSize + 1
				eop.Input = &in
				part = append(part, eop)
			}
			out = append(out, part)
		}
		return out
	},
	Init:  func() []interface{} { return []interface{}{groupState{}} },
	Step:  modelStep,
	Hash:  hashState,
	Equal: func(a, b interface{}) bool { return a.(groupState) == b.(groupState) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(*modelInput), output.(modelOutput)
		res := out.result
		if out.unknown {
			res = "?"
		}
		var seats []string
		for _, n := range in.seats {
			seats = append(seats, strconv.Itoa(n))
		}
		desc := in.kind.String() + " " + strings.Join(seats, ",")
		if in.kind == OpEventCreate || in.kind == OpEventDelete {
			desc = in.kind.String() + " " + in.event
		}
		if in.holder != "" {
			desc += " " + in.holder
		}
		if in.ttlMs > 0 {
			desc += fmt.Sprintf(" ttl=%ds", in.ttlMs/1000)
		}
		return desc + " -> " + res
	},
	DescribeState: describeState,
	DescribeOperationMetadata: func(info interface{}) string {
		o := info.(*Op)
		return fmt.Sprintf("%s; client %d, id %s, attempts %d, node %d", o.Line(), o.Client, o.ID, o.Attempts, o.Node)
	},
}

// modelOperations turns the history into porcupine operations; clock maps
// the run's timeline onto the wall clock the log times are in.
func modelOperations(ops []*Op, clock *wallClock) []porcupine.Operation {
	history := make([]porcupine.Operation, 0, len(ops))
	for _, o := range ops {
		in := &modelInput{
			kind:   o.Kind,
			event:  o.EventName(),
			seats:  o.Seats,
			multi:  o.Multi(),
			holder: o.Holder,
			ttlMs:  int64(o.TTL) * 1000,
			callMs: clock.earliest(o.Call, o.Return),
			retMs:  clock.latest(o.Return),
		}
		if g := o.Group(); g >= 0 {
			in.first = g*GroupSize + 1
		}
		history = append(history, porcupine.Operation{
			ClientId: o.Client,
			Input:    in,
			Output:   modelOutput{result: o.Result, unknown: o.Unknown},
			Call:     o.Call,
			Return:   o.Return,
			Metadata: o,
		})
	}
	return history
}
