package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/protocol"
)

// FillConfig describes the state Fill leaves a cluster in, so that a run can
// be measured on a cluster that already holds many events and bookings.
type FillConfig struct {
	Addrs []string
	TLS   *tls.Config
	// Events is how many events to create, named by FillEventName (an
	// event that exists already is kept).
	Events int
	// EventSeats is each event's seat count.
	EventSeats int
	// Booked is how many seats to book in all, spread evenly over the
	// events at random seats (seeded: the same every time), 100 to a
	// request.
	Booked int
	// Workers is how many requests are in flight at once; default 32.
	Workers int
}

// FillResult says what Fill did.
type FillResult struct {
	Requests int
	Duration time.Duration
}

// FillEventName returns the name of the i-th event Fill creates (from 0).
func FillEventName(i int) string { return fmt.Sprintf("fill-%04d", i+1) }

// fillRequest is one request of a fill: create an event (no seats) or book
// seats of it.
type fillRequest struct {
	event string
	seats []int
}

// Fill creates cfg.Events events and books cfg.Booked seats spread over them,
// with multi-seat RESERVEs through the client library (exactly once, retried
// across nodes). Every request must succeed, or Fill fails.
func Fill(ctx context.Context, cfg FillConfig) (FillResult, error) {
	var res FillResult
	switch {
	case cfg.Events < 1 || cfg.EventSeats < 1 || cfg.EventSeats > protocol.MaxEventSeats:
		return res, fmt.Errorf("fill: %d events of %d seats: want at least one event of 1 to %d seats", cfg.Events, cfg.EventSeats, protocol.MaxEventSeats)
	case cfg.Booked < 0 || cfg.Booked > cfg.Events*cfg.EventSeats:
		return res, fmt.Errorf("fill: %d booked seats do not fit in %d events of %d seats", cfg.Booked, cfg.Events, cfg.EventSeats)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 32
	}
	c, err := client.New(client.Config{Addrs: cfg.Addrs, TLS: cfg.TLS})
	if err != nil {
		return res, fmt.Errorf("fill: %w", err)
	}
	defer c.Close()
	start := time.Now()

	creates := make([]fillRequest, cfg.Events)
	for e := range creates {
		creates[e] = fillRequest{event: FillEventName(e)}
	}
	var bookings []fillRequest
	rng := rand.New(rand.NewPCG(uint64(cfg.Events), uint64(cfg.Booked)))
	for e := range cfg.Events {
		n := cfg.Booked / cfg.Events
		if e < cfg.Booked%cfg.Events {
			n++
		}
		seats := rng.Perm(cfg.EventSeats)[:n]
		for i := 0; i < len(seats); i += protocol.MaxSeatsPerRequest {
			chunk := slices.Clone(seats[i:min(i+protocol.MaxSeatsPerRequest, len(seats))])
			for k := range chunk {
				chunk[k]++ // seats are numbered from 1
			}
			slices.Sort(chunk)
			bookings = append(bookings, fillRequest{event: FillEventName(e), seats: chunk})
		}
	}
	for _, batch := range [][]fillRequest{creates, bookings} {
		n, err := fillAll(ctx, c, cfg, batch)
		res.Requests += n
		if err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// fillAll sends every request, cfg.Workers at a time, and returns how many
// succeeded and the first failure.
func fillAll(ctx context.Context, c *client.Client, cfg FillConfig, reqs []fillRequest) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan fillRequest)
	var mu sync.Mutex
	var done int
	var first error
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for r := range work {
				var resp string
				var err error
				if r.seats == nil {
					resp, err = c.CreateEvent(ctx, r.event, cfg.EventSeats)
					if resp == protocol.FailedExists {
						resp = protocol.Success
					}
				} else {
					resp, err = c.ReserveSeats(ctx, r.event, r.seats, "fill-"+r.event)
				}
				if err == nil && resp != protocol.Success {
					err = fmt.Errorf("%s: answered %q", r.event, resp)
				}
				mu.Lock()
				if err == nil {
					done++
				} else if first == nil {
					first = fmt.Errorf("fill: %w", err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	for _, r := range reqs {
		select {
		case work <- r:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("fill: %w", ctx.Err())
	}
	return done, first
}
