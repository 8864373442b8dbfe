package bench

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/node"
)

// startNode starts a one-node seatd cluster in this process on 127.0.0.1
// and returns its client address once it leads.
func startNode(t *testing.T) string {
	t.Helper()
	raftLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.ID, cfg.Raft, cfg.Listen = "n1", raftLn.Addr().String(), "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "n1")
	cfg.RaftListener = raftLn
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testutil.NewLogSink(t).Prefixed("n1")})
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	testutil.WaitFor(t, 10*time.Second, "the node to lead", func() bool {
		resp, err := testutil.Request(n.ClientAddr(), "LEADER", time.Second)
		return err == nil && resp == "LEADER n1"
	})
	return n.ClientAddr()
}

// A sale against a real node sells every seat it can, to buyers of blocks
// of 1–4, and the final check finds each booked seat in exactly one
// seated buyer's block.
func TestOnSaleSellsOut(t *testing.T) {
	addr := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Addrs: []string{addr}, Workload: WorkloadOnSale, Clients: 150, Seats: 60, Think: 2 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s", res.Text())
	s := res.OnSale
	if s == nil || s.Check != "ok" {
		t.Fatalf("on-sale report %+v, want a passed check", s)
	}
	if s.Buyers != 150 || s.SeatsSold+s.SeatsLeft != 60 || s.SeatsSold < 60-3 || s.Seated == 0 {
		t.Errorf("%d buyers, %d seats sold to %d, %d left: the sale did not sell out", s.Buyers, s.SeatsSold, s.Seated, s.SeatsLeft)
	}
	if s.Holds < int64(s.Seated) || s.HoldsLost == 0 || s.AttemptsPerSeated < 1 {
		t.Errorf("%d holds, %d lost, %.1f per seated buyer: 150 buyers for 60 seats must lose some", s.Holds, s.HoldsLost, s.AttemptsPerSeated)
	}
	if s.SellOutSec <= 0 || s.DoneSec < s.SellOutSec || s.ConfirmLatency.P50 <= 0 || s.HoldLatency.P50 <= 0 {
		t.Errorf("sell-out %.3fs, done %.3fs, confirm p50 %.3fms, hold p50 %.3fms", s.SellOutSec, s.DoneSec, s.ConfirmLatency.P50, s.HoldLatency.P50)
	}
	if res.Errors != 0 || res.ErrorAnswers() != 0 || res.ByKind["SUCCESS"] != int64(s.Seated) {
		t.Errorf("errors %d %v, ERROR answers %d, SUCCESS %d for %d seated", res.Errors, res.ErrorSamples, res.ErrorAnswers(), res.ByKind["SUCCESS"], s.Seated)
	}
	if text := res.Text(); !strings.Contains(text, "sold out") || !strings.Contains(text, "check        ok") {
		t.Errorf("the text report lacks the sale:\n%s", text)
	}
}

// The final check catches what a broken cluster or buyer would leave: a
// seated buyer missing a seat of its block, a seat booked that no buyer
// was told it has, a seat still held, and a block free while a buyer of
// its size gave up.
func TestOnSaleCheckFindsViolations(t *testing.T) {
	addr := startNode(t)
	ctx := context.Background()
	admin, err := client.New(client.Config{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if resp, err := admin.Do(ctx, "EVENT CREATE sale 10"); err != nil || resp != "SUCCESS" {
		t.Fatalf("EVENT CREATE: %q %v", resp, err)
	}
	for _, line := range []string{"RESERVE 1-2 c1 event=sale", "RESERVE 3 c2 event=sale", "RESERVE 5 stranger event=sale", "HOLD 6 c3 event=sale", "RESERVE 7-10 c4 event=sale"} {
		if resp, err := admin.Do(ctx, line); err != nil || (resp != "SUCCESS" && !strings.HasPrefix(resp, "HELD ")) {
			t.Fatalf("%s: %q %v", line, resp, err)
		}
	}
	o := &onsaleRun{event: "sale", seats: 10}
	buyers := []*buyer{
		{holder: "c1", want: 2, block: 1}, // whole: fine
		{holder: "c2", want: 2, block: 3}, // seat 4 is free: split
		{holder: "c3", want: 1},           // gave up, seat 4 free
		{holder: "c4", want: 4, block: 7}, // whole: fine
	}
	got := o.check(ctx, admin, buyers)
	for _, want := range []string{"seat 4 of c2's block", `seat 5 is "BOOKED stranger"`, `seat 6 is "HELD c3`} {
		if !strings.Contains(got, want) {
			t.Errorf("check = %q, want it to name %q", got, want)
		}
	}

	// A buyer of one seat that gave up while seat 4 was free.
	if resp, err := admin.Do(ctx, "RESERVE 4 c2 event=sale"); err != nil || resp != "SUCCESS" {
		t.Fatalf("RESERVE 4: %q %v", resp, err)
	}
	if resp, err := admin.Do(ctx, "CANCEL 5 stranger event=sale"); err != nil || resp != "SUCCESS" {
		t.Fatalf("CANCEL 5: %q %v", resp, err)
	}
	if resp, err := admin.Do(ctx, "CANCEL 6 c3 event=sale"); err != nil || resp != "SUCCESS" {
		t.Fatalf("CANCEL 6: %q %v", resp, err)
	}
	got = o.check(ctx, admin, buyers)
	if !strings.Contains(got, "seats 5-5 are free, but a buyer of 1 seats gave up") {
		t.Errorf("check = %q, want it to name the free seat a buyer gave up on", got)
	}
	if got := o.check(ctx, admin, []*buyer{buyers[0], buyers[1], buyers[3]}); got != "ok" {
		t.Errorf("check of the buyers whose blocks are whole = %q, want ok", got)
	}
}
