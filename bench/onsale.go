package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/protocol"
)

// WorkloadOnSale is a ticket sale's opening: Config.Clients buyers (2,000
// by default) arrive at once for one new event of Config.Seats seats
// (DefaultOnSaleSeats). Each wants a block of 1–4 adjacent seats, HOLDs a block it believes free,
// confirms it with RESERVE after a think time, and on a failure learns
// which seats were taken and tries another block, until it has its seats
// or the event has no block of its size left. The run ends when every
// buyer is done (Config.Duration bounds it) and then checks the outcome:
// every booked seat belongs to exactly one buyer's block, no block is
// split, nothing is left held. Requests go through the Go client library
// (an id on every write, retried across nodes), one client per buyer.
const WorkloadOnSale = "onsale"

// On-sale defaults.
const (
	DefaultOnSaleClients = 2000
	DefaultOnSaleSeats   = 500
	DefaultThink         = 50 * time.Millisecond
	DefaultOnSaleTimeout = 5 * time.Minute
	maxGroup             = 4
	onsaleTTL            = 60 * time.Second
)

// OnSale is what the on-sale workload measured and checked, beside the
// Result's totals (every HOLD, RESERVE and STATUS answer).
type OnSale struct {
	Event  string `json:"event"`
	Seats  int    `json:"seats"`
	Buyers int    `json:"buyers"`
	// SellOutSec is the time from the opening to the last confirmed
	// booking; DoneSec until the last buyer gave up or was seated.
	SellOutSec float64 `json:"sell_out_s"`
	DoneSec    float64 `json:"done_s"`
	// Seated buyers got their block; SeatsSold is the seats they hold,
	// SeatsLeft what no remaining buyer's block fitted.
	Seated    int `json:"seated"`
	SeatsSold int `json:"seats_sold"`
	SeatsLeft int `json:"seats_left"`
	// Holds is every HOLD answered; HoldsLost those that failed
	// (FAILED_ALREADY_BOOKED); AttemptsPerSeated is Holds per seated buyer.
	Holds             int64   `json:"holds"`
	HoldsLost         int64   `json:"holds_lost"`
	AttemptsPerSeated float64 `json:"attempts_per_seated"`
	// Reads are the STATUS summaries buyers asked for to tell a sold-out
	// event.
	Reads int64 `json:"reads"`
	// HoldLatency and LostHoldLatency are of the HOLDs that succeeded and
	// failed; ConfirmLatency of the RESERVEs that confirmed a hold.
	HoldLatency     Latency `json:"hold_latency_ms"`
	LostHoldLatency Latency `json:"lost_hold_latency_ms"`
	ConfirmLatency  Latency `json:"confirm_latency_ms"`
	// SoldAtMs is when each seat sold was confirmed (one entry per seat,
	// so a block of three adds three), in ms from the opening, in order:
	// the sell-out curve's points.
	SoldAtMs []float64 `json:"sold_at_ms"`
	// Check is "ok" or the first violations the final check found.
	Check string `json:"check"`
}

// buyer is one client of the on-sale workload.
type buyer struct {
	idx    int
	holder string
	want   int
	lib    *client.Client
	rng    *rand.Rand
	taken  []bool // seats (index seat-1) this buyer knows are taken
	block  int    // first seat of the block it got, 0 until seated
	doneAt time.Duration

	holds, lost, reads, errors int64
	answers                    map[string]*int64
	errSamples                 []string
	holdHist, lostHist         *hdrhistogram.Histogram
	confirmHist, allHist       *hdrhistogram.Histogram
}

// onsaleRun is the state the buyers of one run share.
type onsaleRun struct {
	*runner
	event    string
	seats    int
	think    time.Duration
	lastSale atomic.Int64 // ns since base of the last confirmed booking
}

// runOnSale runs WorkloadOnSale.
func runOnSale(ctx context.Context, cfg Config) (*Result, error) {
	runID, err := newRunID()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	o := &onsaleRun{
		runner: &runner{cfg: cfg, runID: runID, end: cfg.Duration, stopCh: make(chan struct{})},
		event:  "onsale-" + runID,
		seats:  cfg.Seats,
		think:  cfg.Think,
	}
	admin, err := client.New(client.Config{Addrs: cfg.Addrs, TLS: cfg.TLS, DialTimeout: cfg.DialTimeout})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer admin.Close()
	if resp, err := admin.Request(ctx, protocol.Request{Verb: protocol.VerbEventCreate, Event: o.event, Count: uint32(o.seats)}); err != nil || resp != protocol.Success {
		return nil, fmt.Errorf("bench: EVENT CREATE %s %d: %q %v", o.event, o.seats, resp, err)
	}

	buyers := make([]*buyer, cfg.Clients)
	for i := range buyers {
		lib, err := workerClient(cfg, i)
		if err != nil {
			return nil, err
		}
		defer lib.Close()
		var seed [16]byte
		_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails
		rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
		buyers[i] = &buyer{
			idx: i, holder: "c" + strconv.Itoa(i), want: 1 + rng.IntN(maxGroup), lib: lib, rng: rng,
			taken: make([]bool, o.seats), answers: map[string]*int64{},
			holdHist: newHist(), lostHist: newHist(), confirmHist: newHist(), allHist: newHist(),
		}
	}
	// Open every connection before the sale opens: a buyer's first
	// request is a read of the event, which also checks it is there.
	var wg sync.WaitGroup
	var openErr atomic.Pointer[error]
	for _, b := range buyers {
		wg.Go(func() {
			if resp, err := b.lib.EventSummary(ctx, o.event); err != nil || !strings.HasPrefix(resp, "SEATS ") {
				err = fmt.Errorf("buyer %d: STATUS event=%s: %q %v", b.idx, o.event, resp, err)
				openErr.CompareAndSwap(nil, &err)
			}
		})
	}
	wg.Wait()
	if p := openErr.Load(); p != nil {
		return nil, fmt.Errorf("bench: %w", *p)
	}

	res, err := o.execute(ctx, func() {
		var wg sync.WaitGroup
		for _, b := range buyers {
			wg.Go(func() { b.run(ctx, o) })
		}
		wg.Wait()
		o.stop()
	}, func(started time.Time) *Result { return o.result(buyers, started) })
	if err != nil {
		return nil, err
	}
	if !allDone(buyers) {
		return nil, fmt.Errorf("bench: onsale: the event did not sell out within %s (raise --duration)", cfg.Duration)
	}
	res.OnSale.Check = o.check(ctx, admin, buyers)
	if res.OnSale.Check != "ok" {
		return res, fmt.Errorf("bench: onsale: the final check failed: %s", res.OnSale.Check)
	}
	return res, nil
}

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)
}

func allDone(buyers []*buyer) bool {
	for _, b := range buyers {
		if b.doneAt == 0 {
			return false
		}
	}
	return true
}

// run is one buyer's sale: pick a block it believes free, HOLD it, think,
// RESERVE it; on a failure mark the seats the answer names as taken and
// try again, until seated or no block of its size is left.
func (b *buyer) run(ctx context.Context, o *onsaleRun) {
	for !o.stopped.Load() {
		start, ok := b.pick()
		if !ok {
			if b.soldOut(ctx, o) {
				b.doneAt = o.now()
				return
			}
			continue
		}
		seats := make([]int, b.want)
		for i := range seats {
			seats[i] = start + i
		}
		sent := o.now()
		resp, err := b.lib.Hold(ctx, o.event, seats, b.holder, onsaleTTL)
		took := o.now() - sent
		if !b.count(resp, err, took) {
			continue
		}
		b.holds++
		if !strings.HasPrefix(resp, protocol.Held+" ") {
			b.lost++
			record(b.lostHist, took)
			b.learn(resp, seats)
			if b.waitForSeats(ctx, o) {
				b.doneAt = o.now()
				return
			}
			continue
		}
		record(b.holdHist, took)
		select {
		case <-time.After(o.think):
		case <-o.stopCh:
			return
		}
		sent = o.now()
		resp, err = b.lib.ReserveSeats(ctx, o.event, seats, b.holder)
		took = o.now() - sent
		if !b.count(resp, err, took) {
			// The library retried for its RetryFor with the same id; the
			// hold lives on, so the next round's HOLD renews it.
			continue
		}
		if resp == protocol.Success {
			record(b.confirmHist, took)
			b.block = start
			b.doneAt = o.now()
			o.lastSale.Store(int64(b.doneAt))
			return
		}
		b.learn(resp, seats) // the hold ran out and someone took a seat
	}
}

// count records one answer; it reports false for a request that got no
// usable answer (an error, or an ERROR line after the library's retries).
func (b *buyer) count(resp string, err error, took time.Duration) bool {
	if err != nil {
		b.errors++
		if len(b.errSamples) < maxErrorSamples {
			b.errSamples = append(b.errSamples, err.Error())
		}
		return false
	}
	record(b.allHist, took)
	k := string(kindOf([]byte(resp)))
	if n, ok := b.answers[k]; ok {
		*n++
	} else {
		n := int64(1)
		b.answers[k] = &n
	}
	if protocol.Classify(resp) == protocol.KindError {
		if len(b.errSamples) < maxErrorSamples {
			b.errSamples = append(b.errSamples, "answer "+resp)
		}
		return false
	}
	return true
}

func record(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(min(max(d.Microseconds(), histMinMicros), histMaxMicros))
}

// pick returns the first seat of a random block of b.want adjacent seats
// that b does not know to be taken.
func (b *buyer) pick() (int, bool) {
	var starts []int
	run := 0
	for i, t := range b.taken {
		if t {
			run = 0
			continue
		}
		if run++; run >= b.want {
			starts = append(starts, i+2-b.want)
		}
	}
	if len(starts) == 0 {
		return 0, false
	}
	return starts[b.rng.IntN(len(starts))], true
}

// learn marks the seats a failed HOLD or RESERVE named as taken
// (FAILED_ALREADY_BOOKED 4,9; a single seat's answer names none).
func (b *buyer) learn(resp string, seats []int) {
	word, list, _ := strings.Cut(resp, " ")
	if word != protocol.FailedAlreadyBooked {
		return // not a seat's fault: try again
	}
	if list == "" && len(seats) == 1 {
		b.taken[seats[0]-1] = true
		return
	}
	for s := range strings.SplitSeq(list, ",") {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(b.taken) {
			b.taken[n-1] = true
		}
	}
}

// waitForSeats is asked after a lost HOLD, as a buyer looks at the seat
// count before trying again: it reads the event's summary until at least
// b.want seats are free (it returns false: try again) or too few are free
// and none is held (true: sold out for b). While seats are held, some may
// come free again (a hold that runs out): b waits a think time and looks
// again.
func (b *buyer) waitForSeats(ctx context.Context, o *onsaleRun) bool {
	for !o.stopped.Load() {
		free, held, ok := b.summary(ctx, o)
		switch {
		case !ok:
		case free >= b.want:
			return false
		case held == 0:
			return true
		}
		select {
		case <-time.After(o.think):
		case <-o.stopCh:
		}
	}
	return false
}

// summary reads the event's summary line: its free and held seats.
func (b *buyer) summary(ctx context.Context, o *onsaleRun) (free, held int, ok bool) {
	sent := o.now()
	resp, err := b.lib.EventSummary(ctx, o.event)
	if !b.count(resp, err, o.now()-sent) {
		return 0, 0, false
	}
	b.reads++
	var total, booked int
	if _, err := fmt.Sscanf(resp, "SEATS %d FREE %d BOOKED %d HELD %d", &total, &free, &booked, &held); err != nil {
		if _, err := fmt.Sscanf(resp, "SEATS %d FREE %d BOOKED %d", &total, &free, &booked); err != nil {
			b.count("ERROR unexpected summary "+resp, nil, 0)
			return 0, 0, false
		}
	}
	return free, held, true
}

// soldOut is asked when b knows of no block of its size; it reports
// whether none is left. It reads the event's summary: while seats are
// held, some may come free again (a hold that runs out), so b waits a think
// time and looks again. With none held, b's view can only be wrong about
// seats whose hold ran out: when fewer seats are free than b wants, no
// block is left; otherwise b reads the seats it believes free (and, when
// the summary counts more free seats than that, every seat) and looks
// again with what it read. Its view is then the event's, and exact.
func (b *buyer) soldOut(ctx context.Context, o *onsaleRun) bool {
	free, held, ok := b.summary(ctx, o)
	if !ok {
		return false
	}
	switch {
	case held > 0:
		select {
		case <-time.After(o.think):
		case <-o.stopCh:
		}
		return false
	case free < b.want:
		return true
	}
	// Read the seats b believes free; if fewer of them are free than the
	// summary counts, b is wrong about some it believes taken: read those
	// too.
	for _, readTaken := range []bool{false, true} {
		known := 0
		for s := 1; s <= len(b.taken); s++ {
			if b.taken[s-1] != readTaken {
				if !b.taken[s-1] {
					known++
				}
				continue
			}
			sent := o.now()
			resp, err := b.lib.SeatStatus(ctx, o.event, s)
			if !b.count(resp, err, o.now()-sent) {
				return false
			}
			b.reads++
			if b.taken[s-1] = resp != protocol.Free; !b.taken[s-1] {
				known++
			}
		}
		if readTaken || known >= free {
			break
		}
	}
	_, ok = b.pick()
	return !ok
}

// result merges the buyers' statistics into a Result with its OnSale part.
func (o *onsaleRun) result(buyers []*buyer, started time.Time) *Result {
	clients := make([]*benchClient, len(buyers))
	holdHist, lostHist, confirmHist := newHist(), newHist(), newHist()
	s := &OnSale{Event: o.event, Seats: o.seats, Buyers: len(buyers)}
	var done time.Duration
	for i, b := range buyers {
		clients[i] = &benchClient{hist: b.allHist, answers: b.answers, errors: b.errors, errSamples: b.errSamples}
		holdHist.Merge(b.holdHist)
		lostHist.Merge(b.lostHist)
		confirmHist.Merge(b.confirmHist)
		s.Holds += b.holds
		s.HoldsLost += b.lost
		s.Reads += b.reads
		if b.block > 0 {
			s.Seated++
			s.SeatsSold += b.want
			for range b.want {
				s.SoldAtMs = append(s.SoldAtMs, float64(b.doneAt.Microseconds())/1000)
			}
		}
		done = max(done, b.doneAt)
	}
	slices.Sort(s.SoldAtMs)
	s.SeatsLeft = o.seats - s.SeatsSold
	s.SellOutSec = time.Duration(o.lastSale.Load()).Seconds()
	s.DoneSec = done.Seconds()
	if s.Seated > 0 {
		s.AttemptsPerSeated = float64(s.Holds) / float64(s.Seated)
	}
	s.HoldLatency, _ = summarise(holdHist)
	s.LostHoldLatency, _ = summarise(lostHist)
	s.ConfirmLatency, _ = summarise(confirmHist)

	// The measured window is the whole sale.
	o.cfg.Duration = done
	res := o.runner.result(clients, o.cfg.Addrs, started)
	res.OnSale = s
	return res
}

// check reads every seat of the event and compares it with what the
// buyers were told: each booked seat is in the block of the one buyer who
// was told SUCCESS for it, every seated buyer has its whole block, no
// seat is still held, and no buyer gave up while a block of its size was
// free. It returns "ok" or the first violations.
func (o *onsaleRun) check(ctx context.Context, admin *client.Client, buyers []*buyer) string {
	owner := make([]string, o.seats+1) // the seated buyer whose block holds the seat
	wants := map[int]bool{}
	for _, b := range buyers {
		if b.block == 0 {
			wants[b.want] = true
			continue
		}
		for s := b.block; s < b.block+b.want; s++ {
			if owner[s] != "" {
				return fmt.Sprintf("seats %d was confirmed to both %s and %s", s, owner[s], b.holder)
			}
			owner[s] = b.holder
		}
	}
	var bad []string
	free := make([]bool, o.seats+1)
	for s := 1; s <= o.seats && len(bad) < 5; s++ {
		resp, err := admin.SeatStatus(ctx, o.event, s)
		if err != nil {
			return fmt.Sprintf("STATUS %d event=%s: %v", s, o.event, err)
		}
		switch {
		case owner[s] != "" && resp != protocol.Booked+" "+owner[s]:
			bad = append(bad, fmt.Sprintf("seat %d of %s's block is %q", s, owner[s], resp))
		case owner[s] == "" && resp == protocol.Free:
			free[s] = true
		case owner[s] == "":
			bad = append(bad, fmt.Sprintf("seat %d is %q, but no buyer was told it has it", s, resp))
		}
	}
	// A buyer that gave up must not have had a block of its size free.
	run := 0
	for s := 1; s <= o.seats && len(bad) < 5; s++ {
		if !free[s] {
			run = 0
			continue
		}
		run++
		if wants[run] {
			bad = append(bad, fmt.Sprintf("seats %d-%d are free, but a buyer of %d seats gave up", s-run+1, s, run))
			delete(wants, run)
		}
	}
	if len(bad) > 0 {
		return strings.Join(bad, "; ")
	}
	return "ok"
}
