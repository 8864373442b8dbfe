package replica

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// logEntries makes log entries first..last of term, whose data names both.
func logEntries(first, last, term uint64) []*raft.Log {
	var logs []*raft.Log
	for i := first; i <= last; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry %d of term %d", i, term))})
	}
	return logs
}

// checkLog fails the test unless store holds exactly first..last with the
// data logEntries gives, the terms taken from termOf.
func checkLog(t *testing.T, store LogStore, first, last uint64, termOf func(uint64) uint64) {
	t.Helper()
	if got, err := store.FirstIndex(); err != nil || got != first {
		t.Fatalf("first index %d (%v), want %d", got, err, first)
	}
	if got, err := store.LastIndex(); err != nil || got != last {
		t.Fatalf("last index %d (%v), want %d", got, err, last)
	}
	for i := first; last > 0 && i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if want := fmt.Sprintf("entry %d of term %d", i, termOf(i)); string(l.Data) != want || l.Term != termOf(i) {
			t.Fatalf("entry %d is %q of term %d, want %q", i, l.Data, l.Term, want)
		}
	}
}

// A follower whose log conflicts with a new leader's deletes its tail and
// appends the leader's entries in their place. raft-wal v0.4.0 could not
// reopen such a log (hashicorp/raft-wal#31: the robustness suite saw a
// restarted node panic); v0.4.1 seals the segment and starts a new one.
// Both kinds must reopen it with the new entries.
func TestLogStoreReopensAfterTailTruncation(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			store, err := OpenLogStore(kind, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range [][2]uint64{{1, 40}, {41, 80}, {81, 100}} {
				if err := store.StoreLogs(logEntries(batch[0], batch[1], 1)); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.DeleteRange(61, 100); err != nil {
				t.Fatal(err)
			}
			if err := store.StoreLogs(logEntries(61, 70, 2)); err != nil {
				t.Fatal(err)
			}
			termOf := func(i uint64) uint64 {
				if i > 60 {
					return 2
				}
				return 1
			}
			checkLog(t, store, 1, 70, termOf)
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			store, err = OpenLogStore(kind, dir)
			if err != nil {
				t.Fatalf("reopen after a tail truncation: %v", err)
			}
			defer store.Close()
			checkLog(t, store, 1, 70, termOf)
			if err := store.StoreLogs(logEntries(71, 75, 2)); err != nil {
				t.Fatalf("append after reopening: %v", err)
			}
			checkLog(t, store, 1, 75, termOf)
		})
	}
}

// The default (LogStoreAuto) creates a wal in a new data directory, opens
// whatever kind an existing one holds, and a named kind that differs from
// the one on disk is refused, never created beside it.
func TestOpenLogStoreChoosesKind(t *testing.T) {
	newDir := t.TempDir()
	store, err := OpenLogStore(LogStoreAuto, newDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.(raft.MonotonicLogStore); !ok {
		t.Error("the wal store hides IsMonotonic from Raft")
	}
	store.Close()
	if kind, err := DetectLogStore(newDir); kind != LogStoreWAL || err != nil {
		t.Fatalf("a new directory got %q (%v), want wal", kind, err)
	}

	boltDir := t.TempDir()
	store, err = OpenLogStore(LogStoreBolt, boltDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.StoreLogs(logEntries(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	store.Close()
	store, err = OpenLogStore(LogStoreAuto, boltDir)
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, store, 1, 3, func(uint64) uint64 { return 1 })
	store.Close()
	if _, err := os.Stat(filepath.Join(boltDir, "wal")); err == nil {
		t.Fatal("opening a boltdb directory by default created a wal beside it")
	}

	for _, c := range []struct{ dir, kind string }{{boltDir, LogStoreWAL}, {newDir, LogStoreBolt}} {
		if _, err := OpenLogStore(c.kind, c.dir); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "migrate-log-store") {
			t.Errorf("%s on a directory of the other kind: %v, want a configuration error naming migrate-log-store", c.kind, err)
		}
	}
	if _, err := DetectLogStore(boltDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(boltDir, "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLogStore(LogStoreAuto, boltDir); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "both") {
		t.Errorf("a directory holding both kinds: %v, want a configuration error", err)
	}
}

// A data directory is opened by one process at a time: a second open fails
// at once with a clear error instead of waiting on bbolt's lock forever,
// and succeeds once the first has closed.
func TestOpenLogStoreLocksDataDir(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			store, err := OpenLogStore(kind, dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := OpenLogStore(kind, dir); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "in use") {
				t.Fatalf("second open: %v, want an in-use error", err)
			}
			if _, err := MigrateLogStore(context.Background(), dir, otherKind(kind), nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "in use") {
				t.Fatalf("migrating an open directory: %v, want an in-use error", err)
			}
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			store, err = OpenLogStore(kind, dir)
			if err != nil {
				t.Fatalf("open after close: %v", err)
			}
			store.Close()
		})
	}
}

func otherKind(kind string) string {
	if kind == LogStoreWAL {
		return LogStoreBolt
	}
	return LogStoreWAL
}

// seatd migrate-log-store converts a store in both directions and loses
// nothing: every entry (after a snapshot compacted its head and a leader
// change truncated its tail), the term and the vote. The old store is kept
// aside under a name no node opens, and what cannot be migrated is refused.
func TestMigrateLogStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenLogStore(LogStoreBolt, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.StoreLogs(logEntries(1, 500, 1)); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteRange(1, 99); err != nil { // compacted after a snapshot
		t.Fatal(err)
	}
	if err := store.DeleteRange(451, 500); err != nil { // a conflicting tail
		t.Fatal(err)
	}
	if err := store.StoreLogs(logEntries(451, 460, 3)); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]uint64{"CurrentTerm": 3, "LastVoteTerm": 3} {
		if err := store.SetUint64([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
		t.Fatal(err)
	}
	store.Close()
	termOf := func(i uint64) uint64 {
		if i > 450 {
			return 3
		}
		return 1
	}

	for _, to := range []string{LogStoreWAL, LogStoreBolt} {
		var lines int
		m, err := MigrateLogStore(context.Background(), dir, to, func(string) { lines++ })
		if err != nil {
			t.Fatalf("migrate to %s: %v", to, err)
		}
		if m.From != otherKind(to) || m.First != 100 || m.Last != 460 || m.Entries != 361 || lines == 0 {
			t.Fatalf("migrate to %s: %+v after %d progress lines", to, m, lines)
		}
		if kind, err := DetectLogStore(dir); kind != to || err != nil {
			t.Fatalf("after migrating to %s the directory holds %q (%v)", to, kind, err)
		}
		if _, err := os.Stat(m.Kept); err != nil {
			t.Fatalf("old store not kept: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "migrate-"+to+".tmp")); !os.IsNotExist(err) {
			t.Fatalf("staging directory left behind: %v", err)
		}
		store, err := OpenLogStore(LogStoreAuto, dir)
		if err != nil {
			t.Fatal(err)
		}
		checkLog(t, store, 100, 460, termOf)
		if v, err := store.GetUint64([]byte("CurrentTerm")); v != 3 || err != nil {
			t.Fatalf("CurrentTerm %d (%v) after migrating to %s", v, err, to)
		}
		if v, err := store.Get([]byte("LastVoteCand")); string(v) != "n2" || err != nil {
			t.Fatalf("LastVoteCand %q (%v) after migrating to %s", v, err, to)
		}
		store.Close()
	}

	if _, err := MigrateLogStore(context.Background(), dir, LogStoreBolt, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("migrating to the kind already there: %v, want a configuration error", err)
	}
	if _, err := MigrateLogStore(context.Background(), t.TempDir(), LogStoreWAL, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("migrating an empty directory: %v, want a configuration error", err)
	}
	if _, err := MigrateLogStore(context.Background(), dir, "sqlite", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("migrating to an unknown kind: %v, want a configuration error", err)
	}
}

// A store of a node that never voted has no LastVoteCand (boltdb answers
// "not found"): it migrates, and the copy has none either.
func TestMigrateLogStoreWithoutVote(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenLogStore(LogStoreBolt, dir)
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	m, err := MigrateLogStore(context.Background(), dir, LogStoreWAL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Entries != 0 || m.Last != 0 {
		t.Fatalf("%+v, want an empty log", m)
	}
	store, err = OpenLogStore(LogStoreWAL, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if v, err := get(store, "LastVoteCand"); len(v) != 0 || err != nil {
		t.Fatalf("LastVoteCand %q (%v), want none", v, err)
	}
}
