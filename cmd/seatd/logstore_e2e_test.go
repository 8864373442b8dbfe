//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seatd/seatd/internal/testutil"
)

// migrateCmd runs seatd migrate-log-store and returns its exit code and
// output.
func migrateCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(seatdBin, append([]string{"migrate-log-store"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("run migrate-log-store: %v", err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// A cluster created with --log-store boltdb is moved to the wal one node at
// a time, offline, while the others keep serving: each stopped node is
// converted by seatd migrate-log-store, restarted with default flags (it
// finds its wal), and the cluster keeps every booking and takes new ones.
// Then one node is converted back and also restarts with default flags. A
// running node's directory cannot be migrated, and a new data directory
// gets the wal store.
func TestMigrateLogStoreNodeByNode(t *testing.T) {
	const seats = 60
	pc := newProcCluster(t, procOptions{nodes: 3, seats: seats, extra: []string{"--log-store", "boltdb"}})
	var wants []statusWant
	book := func(via int, from, to int) {
		t.Helper()
		var reqs []string
		for s := from; s <= to; s++ {
			reqs = append(reqs, fmt.Sprintf("RESERVE %d m%d", s, s))
			wants = append(wants, statusWant{s, fmt.Sprintf("BOOKED m%d", s)})
		}
		answers, err := pipeline(pc.addr(via), reqs, answerTimeout)
		if err != nil {
			t.Fatalf("booking via %s: %v", pc.nodes[via].id, err)
		}
		for k, a := range answers {
			if a != "SUCCESS" {
				t.Fatalf("%q via %s = %q", reqs[k], pc.nodes[via].id, a)
			}
		}
	}
	book(0, 1, 10)

	if code, out := migrateCmd(t, "--data", pc.nodes[0].data); code != 2 || !strings.Contains(out, "in use") {
		t.Fatalf("migrating a running node's data: exit %d, %q; want 2 and an in-use error", code, out)
	}

	pc.opts.extra = nil // from now on nodes start with default flags
	for i := range pc.nodes {
		if code := pc.stop(i); code != 0 {
			t.Fatalf("%s exited %d on SIGTERM", pc.nodes[i].id, code)
		}
		code, out := migrateCmd(t, "--data", pc.nodes[i].data)
		if code != 0 || !strings.Contains(out, "from boltdb to wal") {
			t.Fatalf("migrate %s: exit %d:\n%s", pc.nodes[i].id, code, out)
		}
		if _, err := os.Stat(filepath.Join(pc.nodes[i].data, "wal")); err != nil {
			t.Fatalf("%s has no wal after migrating: %v", pc.nodes[i].id, err)
		}
		pc.restart(i)
		book(i, 10*i+11, 10*i+20)
		checkStatuses(t, pc, []int{0, 1, 2}, wants)
	}

	if code := pc.stop(1); code != 0 {
		t.Fatalf("n2 exited %d on SIGTERM", code)
	}
	if code, out := migrateCmd(t, "--data", pc.nodes[1].data, "--to", "boltdb"); code != 0 || !strings.Contains(out, "from wal to boltdb") {
		t.Fatalf("migrate n2 back: exit %d:\n%s", code, out)
	}
	pc.restart(1)
	book(1, 41, 50)
	checkStatuses(t, pc, []int{0, 1, 2}, wants)
	checkSummary(t, pc, []int{0, 1, 2}, summary(seats, 50))
	if resp, err := testutil.Request(pc.addr(1), "RESERVE 1 late", answerTimeout); err != nil || resp != "FAILED_ALREADY_BOOKED" {
		t.Fatalf("RESERVE of a seat booked before the migrations = %q (%v)", resp, err)
	}
}

// With default flags a new data directory gets hashicorp/raft-wal.
func TestNewDataDirectoryGetsWAL(t *testing.T) {
	pc := newProcCluster(t, procOptions{nodes: 1, noPeers: true})
	if _, err := os.Stat(filepath.Join(pc.nodes[0].data, "wal")); err != nil {
		t.Fatalf("no wal/ in a new data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pc.nodes[0].data, "raft.db")); err == nil {
		t.Fatal("a new data directory has a raft.db")
	}
}
