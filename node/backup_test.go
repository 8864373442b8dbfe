package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/internal/testutil"
)

// pipelined sends every line on c at once and returns the answers.
func pipelined(t *testing.T, c *testutil.LineConn, lines []string) []string {
	t.Helper()
	c.Send(t, strings.Join(lines, "\n")+"\n")
	out := make([]string, len(lines))
	for i := range lines {
		resp, err := c.ReadLine(60 * time.Second)
		if err != nil {
			t.Fatalf("answer %d of %d: %v", i+1, len(lines), err)
		}
		out[i] = resp
	}
	return out
}

// sameState compares two state machines event by event: summaries, every
// seat (state, holder, hold expiry) and every seat's history.
func sameState(t *testing.T, want, got *fsm.FSM) {
	t.Helper()
	if w, g := strings.Join(want.Events(), ","), strings.Join(got.Events(), ","); w != g {
		t.Fatalf("events %s, want %s", g, w)
	}
	for _, ev := range want.Events() {
		ws, _ := want.Summary(ev)
		gs, err := got.Summary(ev)
		if err != nil || ws != gs {
			t.Fatalf("event %s: summary %+v (%v), want %+v", ev, gs, err, ws)
		}
		wp, _ := want.Seats(ev, 1, ws.Total)
		gp, _ := got.Seats(ev, 1, ws.Total)
		for i := range wp {
			if wp[i] != gp[i] {
				t.Fatalf("event %s seat %d: %+v, want %+v", ev, i+1, gp[i], wp[i])
			}
			if wp[i].State == fsm.SeatFree && i > 10 {
				continue // untouched seats have no history; spot-check the first ones
			}
			wh, _ := want.History(ev, uint32(i+1))
			gh, _ := got.History(ev, uint32(i+1))
			if fmt.Sprint(wh) != fmt.Sprint(gh) {
				t.Fatalf("event %s seat %d: history %v, want %v", ev, i+1, gh, wh)
			}
		}
	}
}

// A backup of 100,000 bookings across events, with holds and histories,
// taken through a follower, starts a new cluster with the same state, and
// the exactly-once ids come along.
func TestBackupRoundTrip(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	c := tc.line(t, leader)
	var lines []string
	for e := 0; e < 10; e++ {
		lines = append(lines, fmt.Sprintf("EVENT CREATE e%d 10000 id=create-%d", e, e))
	}
	for e := 0; e < 10; e++ {
		for from := 1; from <= 10000; from += 100 {
			lines = append(lines, fmt.Sprintf("RESERVE %d-%d buyer%d event=e%d id=b-%d-%d", from, from+99, from%7, e, e, from))
		}
	}
	lines = append(lines, "EVENT CREATE sale 50", "HOLD 1-5 bob ttl=3600 event=sale id=h1",
		"RESERVE 1 alice id=r1", "CANCEL 1 alice", "RESERVE 1 carol")
	for i, got := range pipelined(t, c, lines) {
		if got != "SUCCESS" && !strings.HasPrefix(got, "HELD ") {
			t.Fatalf("%q = %q", lines[i], got)
		}
	}
	if got := c.Do(t, "STATUS event=e9"); got != "SEATS 10000 FREE 0 BOOKED 10000" {
		t.Fatalf("STATUS event=e9 = %q", got)
	}

	b, err := cluster.TakeBackup(tc.dialer(), tc.cfgs[tc.followers()[0]].Raft)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	path := filepath.Join(t.TempDir(), "seats.backup")
	if err := cluster.WriteBackupFile(path, b); err != nil {
		t.Fatal(err)
	}
	t.Logf("backup of 100,000 bookings: %d bytes at index %d", len(b.State), b.Index)

	restored := newTestCluster(t, 1, 5, func(cfg *Config) { cfg.Peers, cfg.Restore = nil, path })
	restored.waitForLeader()
	testutil.WaitFor(t, 30*time.Second, "the backup installed", func() bool {
		return restored.nodes[0].FSM().DefaultSeats() != 0
	})
	sameState(t, tc.nodes[leader].FSM(), restored.nodes[0].FSM())
	rc := restored.line(t, 0)
	for _, step := range []struct{ req, want string }{
		{"RESERVE 101-200 buyer3 event=e4 id=b-4-101", "SUCCESS"}, // the recorded answer
		{"STATUS 1", "BOOKED carol"},
		{"STATUS 3 event=sale", "HELD bob " + strings.TrimPrefix(pipelined(t, c, []string{"STATUS 3 event=sale"})[0], "HELD bob ")},
		{"RESERVE 2 dave", "SUCCESS"}, // and it takes new writes
	} {
		if got := rc.Do(t, step.req); got != step.want {
			t.Errorf("restored %q = %q, want %q", step.req, got, step.want)
		}
	}
}

// A backup file that is truncated, altered, not a backup, or aimed at a
// data directory with state is refused at start, with the reason, and
// nothing is started.
func TestRestoreRefusesBadBackups(t *testing.T) {
	tc := newTestCluster(t, 1, 5, func(cfg *Config) { cfg.Peers = nil })
	tc.waitForLeader()
	tc.line(t, 0).Do(t, "RESERVE 1 alice")
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	var out, errOut strings.Builder
	if code := cluster.RunBackupCLI([]string{"--raft", "127.0.0.1:1," + tc.cfgs[0].Raft, good}, &out, &errOut); code != 0 {
		t.Fatalf("seat backup: exit %d: %s", code, errOut.String())
	}
	if _, err := cluster.ReadBackupFile(good); err != nil || !strings.Contains(out.String(), "wrote "+good) {
		t.Fatalf("seat backup wrote %q: %v", out.String(), err)
	}
	if code := cluster.RunBackupCLI([]string{"--raft", "127.0.0.1:1", good}, &out, &errOut); code != 2 {
		t.Errorf("seat backup with no reachable member: exit %d, want 2", code)
	}
	data, _ := os.ReadFile(good)
	altered := append([]byte(nil), data...)
	altered[len(altered)-3] ^= 0x40
	for name, tt := range map[string]struct {
		content []byte
		why     string
	}{
		"truncated": {data[:len(data)-10], "truncated"},
		"altered":   {altered, "sha256"},
		"garbage":   {[]byte("hello\nworld\n"), "does not start with"},
		"extra":     {append(append([]byte(nil), data...), 'x'), "after the"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			os.WriteFile(path, tt.content, 0o600)
			cfg := testConfig()
			cfg.ID, cfg.Listen, cfg.Raft, cfg.DataDir = "r1", "127.0.0.1:0", "127.0.0.1:0", filepath.Join(t.TempDir(), "r1")
			cfg.Restore = path
			n, err := New(cfg)
			if err == nil {
				n.Close()
				t.Fatalf("a %s backup was accepted", name)
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("refusal %v: want a configuration error naming %q", err, tt.why)
			}
		})
	}
	// A data directory with state is not restored into.
	tc.stop(0)
	cfg := tc.cfgs[0]
	cfg.Restore = good
	if n, err := New(cfg); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "empty --data") {
		if n != nil {
			n.Close()
		}
		t.Fatalf("restore into a used data directory: %v", err)
	}
}
