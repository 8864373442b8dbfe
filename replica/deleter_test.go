package replica

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/internal/testutil"
)

func writeFile(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, n), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startedDeleter returns a started deleter of dataDir.
func startedDeleter(t *testing.T, dataDir string) *deleter {
	t.Helper()
	d, err := newDeleter(dataDir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// deletingSnapshotStore returns a snapshot store of dataDir that reaps
// through a started deleter, closed when the test ends.
func deletingSnapshotStore(t *testing.T, dataDir string) *snapshotStore {
	t.Helper()
	d := startedDeleter(t, dataDir)
	t.Cleanup(d.close)
	s, err := newSnapshotStore(dataDir, 2, hclog.NewNullLogger(), d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trashEntries(t *testing.T, dataDir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "deleting"))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// A file handed to the deleter leaves its directory at once and is then
// shrunk away in the background; one left behind by a stop is removed by
// the next start.
func TestDeleterRemovesInTheBackground(t *testing.T) {
	dir := t.TempDir()
	d, err := newDeleter(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	// Not started yet: files wait in the trash.
	big := filepath.Join(dir, "segment.wal")
	writeFile(t, big, 10*shrinkStep+5)
	if err := d.remove(big); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(big); !os.IsNotExist(err) {
		t.Fatalf("the removed file is still in its directory: %v", err)
	}
	if n := len(trashEntries(t, dir)); n != 1 {
		t.Fatalf("%d entries in the trash, want the one removed", n)
	}
	d.close() // never started: nothing to stop
	if n := len(trashEntries(t, dir)); n != 1 {
		t.Fatalf("%d entries in the trash after a close without start, want 1", n)
	}

	// A new deleter finds it and removes it, with a directory beside it.
	d2, err := newDeleter(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "2-10-1")
	if err := os.Mkdir(snap, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(snap, "state.bin"), 3*shrinkStep)
	writeFile(t, filepath.Join(snap, "meta.json"), 10)
	if err := d2.start(); err != nil {
		t.Fatal(err)
	}
	defer d2.close()
	if err := d2.remove(snap); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the trash to empty", func() bool { return len(trashEntries(t, dir)) == 0 })
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Fatalf("the removed directory is back: %v", err)
	}
}

// Stopping the deleter in the middle of a file leaves the rest of it in
// the trash, and close returns without waiting for it.
func TestDeleterStopsMidFile(t *testing.T) {
	dir := t.TempDir()
	d := startedDeleter(t, dir)
	big := filepath.Join(dir, "big")
	// A sparse file of 1,000 steps: 10 s of shrinking at least, so that
	// the close surely comes in the middle of it.
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1000 * shrinkStep); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := d.remove(big); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d.close()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("close took %v: it waited for the file instead of stopping", took)
	}
	if n := len(trashEntries(t, dir)); n != 1 {
		t.Fatalf("%d entries in the trash after a stop mid-file, want 1", n)
	}
}

// With a deleter, the store keeps the two newest snapshots: older ones
// leave the snapshot directory when a new one is closed, and the trash
// empties.
func TestSnapshotStoreReapsThroughTheDeleter(t *testing.T) {
	dir := t.TempDir()
	s := deletingSnapshotStore(t, dir)
	var ids []string
	for i := 0; i < 4; i++ {
		sink, err := s.Create(1, uint64(10+i), 2, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(bytes.Repeat([]byte{byte(i)}, shrinkStep+i)); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sink.ID())
		metas, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range metas {
			got = append(got, m.ID)
		}
		want := []string{ids[i]}
		if i > 0 {
			want = append(want, ids[i-1])
		}
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Fatalf("after snapshot %d the store lists %v, want %v", i, got, want)
		}
		entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(want) {
			t.Fatalf("after snapshot %d the snapshot directory holds %d entries, want %d", i, len(entries), len(want))
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the trash to empty", func() bool { return len(trashEntries(t, dir)) == 0 })
}

// raft-wal deletes a segment through the deleter: after a head truncation
// the segment is gone from the wal directory, the log reads as truncated,
// and so it does after a reopen.
func TestWALSegmentsDeletedThroughTheDeleter(t *testing.T) {
	dir := t.TempDir()
	d, err := newDeleter(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	store, err := openLogStore(LogStoreWAL, dir, d)
	if err != nil {
		t.Fatal(err)
	}
	segments := func() int {
		entries, err := os.ReadDir(filepath.Join(dir, "wal"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if filepath.Ext(e.Name()) == ".wal" {
				n++
			}
		}
		return n
	}
	data := bytes.Repeat([]byte{1}, 1<<20)
	for i := uint64(1); i <= 70; i++ { // past raft-wal's 64 MiB segment
		if err := store.StoreLog(&raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if n := segments(); n < 2 {
		t.Fatalf("%d segments for 70 MiB: the test covers no segment deletion", n)
	}
	before := segments()
	if err := store.DeleteRange(1, 68); err != nil {
		t.Fatal(err)
	}
	if n := segments(); n != before-1 {
		t.Fatalf("%d segments after the head truncation, want %d", n, before-1)
	}
	if n := len(trashEntries(t, dir)); n != 1 {
		t.Fatalf("%d entries in the trash, want the deleted segment", n)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the trash to empty", func() bool { return len(trashEntries(t, dir)) == 0 })
	d.close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = OpenLogStore(LogStoreWAL, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if first, err := store.FirstIndex(); err != nil || first != 69 {
		t.Fatalf("FirstIndex after reopening = %d, %v; want 69", first, err)
	}
	var l raft.Log
	if err := store.GetLog(70, &l); err != nil || !bytes.Equal(l.Data, data) {
		t.Fatalf("entry 70 after reopening: %v", err)
	}
}

// A snapshot reaped while it is being read (sent to a follower, say) is
// read whole, and deleted once its reader closes.
func TestSnapshotReapedWhileReadIsReadWhole(t *testing.T) {
	dir := t.TempDir()
	s := deletingSnapshotStore(t, dir)
	data := randomBytes(10 * shrinkStep)
	first := writeSnapshot(t, s, data)
	writeSnapshot(t, s, []byte("second"))
	_, rc, err := s.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	writeSnapshot(t, s, []byte("third")) // reaps the first
	snapDir := filepath.Join(dir, "snapshots", first)
	if _, err := os.Stat(snapDir); err != nil {
		t.Fatalf("the snapshot being read was removed: %v", err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("the reader got %d bytes of the %d written", len(got), len(data))
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapDir); !os.IsNotExist(err) {
		t.Fatalf("the reaped snapshot is still there after its reader closed: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the trash to empty", func() bool { return len(trashEntries(t, dir)) == 0 })
}

// Removing what is already gone succeeds (two snapshot closes racing to
// reap the same old one); what was moved to the trash before start is
// deleted once, without a warning.
func TestDeleterRemoveIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	d, err := newDeleter(dir, hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn}))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.remove(filepath.Join(dir, "never-there")); err != nil {
		t.Fatalf("remove of a missing path: %v", err)
	}
	f := filepath.Join(dir, "segment")
	writeFile(t, f, 2*shrinkStep)
	if err := d.remove(f); err != nil {
		t.Fatal(err)
	}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the trash to empty", func() bool { return len(trashEntries(t, dir)) == 0 })
	d.close()
	if logs.Len() > 0 {
		t.Fatalf("the deleter warned: %s", logs.String())
	}
}

// A file on another file system than the trash's (a mount inside the data
// directory) cannot be renamed into the trash: it is removed at once.
func TestDeleterRemovesAcrossFileSystemsAtOnce(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "deleter-test-")
	if err != nil {
		t.Skipf("no tmpfs at /dev/shm to stand for another file system: %v", err)
	}
	defer os.RemoveAll(other)
	dir := t.TempDir()
	var a, b syscall.Stat_t
	if syscall.Stat(other, &a) != nil || syscall.Stat(dir, &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is on the same file system as the test's data directory")
	}
	d := startedDeleter(t, dir)
	defer d.close()
	f := filepath.Join(other, "segment")
	writeFile(t, f, 1000)
	if err := d.remove(f); err != nil {
		t.Fatalf("remove across file systems: %v", err)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}
	if n := len(trashEntries(t, dir)); n != 0 {
		t.Fatalf("%d entries in the trash, want none", n)
	}
}
