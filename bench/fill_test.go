package bench

import (
	"context"
	"testing"
	"time"
)

func TestFillSpreadsBookingsOverEvents(t *testing.T) {
	f := startFake(t, "n1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := FillConfig{Addrs: []string{f.addr()}, Events: 10, EventSeats: 1000, Booked: 2345}
	res, err := Fill(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) != 10 {
		t.Fatalf("%d events created, want 10", len(f.events))
	}
	total, requests := 0, 10
	for i := range 10 {
		name := FillEventName(i)
		n := len(f.eventSeats[name])
		if f.events[name] != 1000 || (n != 234 && n != 235) {
			t.Errorf("%s: %d seats, %d booked; want 1000 seats and 234 or 235 booked", name, f.events[name], n)
		}
		total += n
		requests += (n + 99) / 100
	}
	if total != 2345 || res.Requests != requests {
		t.Errorf("booked %d seats in %d requests; want 2345 in %d", total, res.Requests, requests)
	}
	if f.dupIDs != 0 {
		t.Errorf("%d writes without a fresh id", f.dupIDs)
	}
	// Filling again keeps the events and finds every seat taken.
	f.mu.Unlock()
	_, err = Fill(ctx, cfg)
	f.mu.Lock()
	if err == nil {
		t.Error("a second fill of the same seats succeeded")
	}
}

func TestFillRefusesImpossibleShapes(t *testing.T) {
	for _, cfg := range []FillConfig{
		{Addrs: []string{"127.0.0.1:1"}, Events: 0, EventSeats: 10},
		{Addrs: []string{"127.0.0.1:1"}, Events: 1, EventSeats: 10, Booked: 11},
		{Addrs: []string{"127.0.0.1:1"}, Events: 1, EventSeats: 2_000_000},
	} {
		if _, err := Fill(context.Background(), cfg); err == nil {
			t.Errorf("Fill(%+v) accepted", cfg)
		}
	}
}

func TestDistinctInAnEvent(t *testing.T) {
	f := startFake(t, "n1")
	f.events["gala"] = 1_000_000
	f.eventSeats["gala"] = map[uint32]bool{}
	cfg := quick(WorkloadDistinct, f.addr())
	cfg.Event = "gala"
	res := run(t, cfg)
	onlyKinds(t, res, "SUCCESS")
	f.mu.Lock()
	defer f.mu.Unlock()
	if int64(len(f.eventSeats["gala"])) < res.Committed || len(f.seats) != 0 {
		t.Errorf("%d seats booked in gala and %d in default for %d committed; want every booking in gala",
			len(f.eventSeats["gala"]), len(f.seats), res.Committed)
	}
}
