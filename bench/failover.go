package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/protocol"
)

// failoverClient is one worker of the failover workload: its own
// client.Client, which fails over between the nodes.
type failoverClient struct {
	hist       *hdrhistogram.Histogram
	answers    map[string]*int64
	errors     int64
	errSamples []string
}

// runFailover runs WorkloadFailover: each of cfg.Clients workers books
// distinct seats, one at a time, through its own client.Client over all
// the addresses (the first one it tries differs per worker). The library
// adds an id to every write and retries it on another node after a broken
// connection, an ERROR answer or a node that does not answer, for up to its
// RetryFor: a request fails only when the library gives up. The answers
// are counted as the other workloads count them; a request the library
// gave up on is an error, with the reason among the samples. It is what an
// application sees while nodes restart (scripts/rolling-restart.sh).
func runFailover(ctx context.Context, cfg Config) (*Result, error) {
	r := &runner{cfg: cfg, warm: cfg.Warmup, end: cfg.Warmup + cfg.Duration, stopCh: make(chan struct{})}
	r.nextSeat.Store(int64(cfg.SeatStart))
	workers := make([]*failoverClient, cfg.Clients)
	libs := make([]*client.Client, cfg.Clients)
	for i := range workers {
		lib, err := workerClient(cfg, i)
		if err != nil {
			return nil, err
		}
		defer lib.Close()
		libs[i] = lib
		workers[i] = &failoverClient{hist: hdrhistogram.New(histMinMicros, histMaxMicros, histDigits), answers: map[string]*int64{}}
	}
	return r.execute(ctx, func() {
		var wg sync.WaitGroup
		for i, w := range workers {
			wg.Go(func() { w.run(ctx, r, libs[i], fmt.Sprintf("b%d", i)) })
		}
		wg.Wait()
	}, func(started time.Time) *Result { return r.failoverResult(workers, started) })
}

// workerClient is worker i's own client.Client over all the addresses,
// starting at address i, so that the workers' load spreads over the nodes.
func workerClient(cfg Config, i int) (*client.Client, error) {
	addrs := append(append([]string(nil), cfg.Addrs[i%len(cfg.Addrs):]...), cfg.Addrs[:i%len(cfg.Addrs)]...)
	lib, err := client.New(client.Config{Addrs: addrs, TLS: cfg.TLS, DialTimeout: cfg.DialTimeout})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return lib, nil
}

func (w *failoverClient) run(ctx context.Context, r *runner, lib *client.Client, holder string) {
	for !r.stopped.Load() {
		seat, ok := r.distinctSeat()
		if !ok {
			return
		}
		sent := r.now()
		resp, err := lib.ReserveSeats(ctx, r.cfg.Event, []int{int(seat)}, holder)
		done := r.now()
		if err == nil && resp == protocol.FailedInvalidSeat && !r.stopped.Load() {
			r.fail(r.tooFewSeats(seat))
		}
		if !r.inWindow(sent, done) {
			continue
		}
		if err != nil {
			w.errors++
			if len(w.errSamples) < maxErrorSamples {
				w.errSamples = append(w.errSamples, err.Error())
			}
			continue
		}
		us := min(max((done-sent).Microseconds(), histMinMicros), histMaxMicros)
		_ = w.hist.RecordValue(us)
		k := string(kindOf([]byte(resp)))
		if protocol.Classify(resp) == protocol.KindError && len(w.errSamples) < maxErrorSamples {
			w.errSamples = append(w.errSamples, "answer "+resp)
		}
		if n, ok := w.answers[k]; ok {
			*n++
		} else {
			n := int64(1)
			w.answers[k] = &n
		}
	}
}

// failoverResult merges the workers' statistics.
func (r *runner) failoverResult(workers []*failoverClient, started time.Time) *Result {
	clients := make([]*benchClient, len(workers))
	for i, w := range workers {
		clients[i] = &benchClient{hist: w.hist, answers: w.answers, errors: w.errors, errSamples: w.errSamples}
	}
	return r.result(clients, r.cfg.Addrs, started)
}
