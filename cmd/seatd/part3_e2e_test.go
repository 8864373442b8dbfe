//go:build unix

package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatd/seatd/internal/testutil"
)

// TestHoldsSurviveLeaderSIGKILLAndExpireUnderTheNewLeader: holds and a
// multi-seat booking made through a follower survive a kill -9 of the
// leader; the hold still held reads HELD with its recorded end through the
// survivors, its holder confirms part of it, and the rest ends under the new
// leader (whose ticker carries log time forward) within 2 s of its end. A
// retried HOLD with the same id answers the recorded HELD line.
func TestHoldsSurviveLeaderSIGKILLAndExpireUnderTheNewLeader(t *testing.T) {
	pc := newProcCluster(t, procOptions{nodes: 3, seats: 5})
	leader := pc.leader()
	f := pc.followers(leader)
	c := testutil.DialLine(t, pc.addr(f[0]))
	for _, s := range [][2]string{
		{"EVENT CREATE gala 50 id=e1", "SUCCESS"},
		{"RESERVE 1-4 bob event=gala id=r1", "SUCCESS"},
	} {
		if got := c.Do(t, s[0]); got != s[1] {
			t.Fatalf("%q = %q, want %q", s[0], got, s[1])
		}
	}
	held := c.Do(t, "HOLD 10-13 alice ttl=6 event=gala id=h1")
	expires, err := strconv.ParseInt(strings.TrimPrefix(held, "HELD "), 10, 64)
	if err != nil {
		t.Fatalf("HOLD = %q", held)
	}
	pc.kill(leader)

	deadline := time.Now().Add(30 * time.Second)
	for _, s := range [][2]string{
		{"HOLD 10-13 alice ttl=6 event=gala id=h1", held}, // the retry answers the recorded line
		{"STATUS 11 event=gala", "HELD alice " + strconv.FormatInt(expires, 10)},
		{"RESERVE 3,10 carol event=gala", "FAILED_ALREADY_BOOKED 3,10"},
		{"RESERVE 10,11 alice event=gala", "SUCCESS"},
		{"STATUS event=gala", "SEATS 50 FREE 42 BOOKED 6 HELD 2"},
	} {
		got, _, err := doDefinite([]string{pc.addr(f[1])}, s[0], deadline)
		if err != nil {
			t.Fatal(err)
		}
		if got != s[1] {
			t.Errorf("after the kill, %q = %q, want %q", s[0], got, s[1])
		}
	}
	// Seats 12 and 13 are freed by the new leader within 2 s of the end.
	end := time.UnixMilli(expires).Add(2 * time.Second)
	for _, i := range f {
		c := testutil.DialLine(t, pc.addr(i))
		testutil.WaitFor(t, time.Until(end)+time.Second/10, fmt.Sprintf("seat 12 FREE through %s", pc.nodes[i].id), func() bool {
			return c.Do(t, "STATUS 12 event=gala") == "FREE"
		})
		if got := c.Do(t, "STATUS event=gala"); got != "SEATS 50 FREE 44 BOOKED 6 HELD 0" {
			t.Errorf("via %s after the expiry: %q", pc.nodes[i].id, got)
		}
		h := c.Do(t, "HISTORY 13 event=gala")
		if !strings.HasPrefix(h, "HISTORY 2 HOLD,alice,") || !strings.Contains(h, " EXPIRE,alice,") {
			t.Errorf("via %s: HISTORY 13 = %q, want HOLD then EXPIRE", pc.nodes[i].id, h)
		}
	}
	// The killed leader comes back and catches up to the same state.
	pc.restart(leader)
	pc.waitReady(leader)
	c = testutil.DialLine(t, pc.addr(leader))
	if got := c.Do(t, "STATUS 10 event=gala"); got != "BOOKED alice" {
		t.Errorf("the restarted node reads STATUS 10 = %q", got)
	}
}
