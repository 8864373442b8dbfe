package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/raft-wal/migrate"
)

// Migration is what MigrateLogStore did.
type Migration struct {
	From, To    string // log store kinds
	First, Last uint64 // the log's index range; 0, 0 for an empty log
	Entries     uint64
	Bytes       int64 // log entry payload bytes copied
	Kept        string
	Took        time.Duration
}

// MigrateLogStore converts the Raft log store in the data directory dir to
// kind to (LogStoreWAL or LogStoreBolt), offline: it refuses a directory a
// running node has open. It copies every log entry (with raft-wal's migrate package) and
// the stable store (term, vote) into a staging directory,
// reads the copy back and compares it entry by entry, and only then puts it
// in place. The old store is kept beside it under a name no node opens
// (Migration.Kept); delete it once the node runs well on the new one.
// Snapshots are not touched: both kinds share DATA/snapshots.
//
// A crash midway leaves either the old store alone (the staging directory
// is removed at the next try) or both stores, which a node refuses to start
// on (DetectLogStore), so no crash makes a node open a partial log.
func MigrateLogStore(ctx context.Context, dir, to string, progress func(string)) (Migration, error) {
	m := Migration{To: to}
	start := time.Now()
	if to != LogStoreWAL && to != LogStoreBolt {
		return m, fmt.Errorf("%w: log store must be %q or %q, not %q", ErrConfig, LogStoreWAL, LogStoreBolt, to)
	}
	if _, err := os.Stat(dir); err != nil {
		return m, fmt.Errorf("%w: data directory: %w", ErrConfig, err)
	}
	lock, err := lockDataDir(dir)
	if err != nil {
		return m, err
	}
	defer lock.Close()
	from, err := DetectLogStore(dir)
	if err != nil {
		return m, err
	}
	m.From = from
	switch from {
	case LogStoreAuto:
		return m, fmt.Errorf("%w: %s holds no log store to convert", ErrConfig, dir)
	case to:
		return m, fmt.Errorf("%w: %s already holds a %s log store", ErrConfig, dir, to)
	}

	staging := filepath.Join(dir, "migrate-"+to+".tmp")
	if err := os.RemoveAll(staging); err != nil {
		return m, fmt.Errorf("remove an earlier migration's staging directory: %w", err)
	}
	if err := os.Mkdir(staging, 0o700); err != nil {
		return m, fmt.Errorf("create staging directory: %w", err)
	}
	if err := copyStore(ctx, &m, dir, staging, progress); err != nil {
		os.RemoveAll(staging)
		return m, err
	}
	if err := syncDir(staging); err != nil {
		return m, err
	}

	// Put the copy in place first: until the old store is moved aside the
	// directory holds both, which no node starts on.
	if err := os.Rename(storePath(to, staging), storePath(to, dir)); err != nil {
		return m, fmt.Errorf("put the new log store in place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return m, err
	}
	m.Kept = storePath(from, dir) + ".pre-migrate-" + start.UTC().Format("20060102T150405")
	if err := os.Rename(storePath(from, dir), m.Kept); err != nil {
		return m, fmt.Errorf("move the old log store aside (%s now holds both; move %s away by hand): %w",
			dir, storePath(from, dir), err)
	}
	if err := syncDir(dir); err != nil {
		return m, err
	}
	if err := os.RemoveAll(staging); err != nil {
		return m, fmt.Errorf("remove staging directory: %w", err)
	}
	m.Took = time.Since(start)
	return m, nil
}

// copyStore copies the log and stable store of m.From in dir into a new
// store of m.To in staging, and checks the copy.
func copyStore(ctx context.Context, m *Migration, dir, staging string, progress func(string)) (err error) {
	src, err := openKind(m.From, dir, nil, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, src.Close()) }()
	dst, err := openKind(m.To, staging, nil, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dst.Close()) }()

	if m.First, err = src.FirstIndex(); err != nil {
		return fmt.Errorf("read first log index: %w", err)
	}
	if m.Last, err = src.LastIndex(); err != nil {
		return fmt.Errorf("read last log index: %w", err)
	}
	if m.Last > 0 {
		if err := withProgress(progress, func(ch chan<- string) error {
			return migrate.CopyLogs(ctx, dst, src, 1<<20, ch)
		}); err != nil {
			return fmt.Errorf("copy log: %w", err)
		}
	}
	if err := copyStable(dst, src); err != nil {
		return err
	}
	return verifyCopy(m, dst, src)
}

// verifyCopy reads every entry and stable key back from the copy and
// compares it with the original.
func verifyCopy(m *Migration, dst, src LogStore) error {
	first, err := dst.FirstIndex()
	if err != nil {
		return fmt.Errorf("check copy: %w", err)
	}
	last, err := dst.LastIndex()
	if err != nil {
		return fmt.Errorf("check copy: %w", err)
	}
	if first != m.First || last != m.Last {
		return fmt.Errorf("check copy: it holds entries %d..%d, the original %d..%d", first, last, m.First, m.Last)
	}
	for i := m.First; m.Last > 0 && i <= m.Last; i++ {
		var a, b raft.Log
		if err := src.GetLog(i, &a); err != nil {
			return fmt.Errorf("check copy: read original entry %d: %w", i, err)
		}
		if err := dst.GetLog(i, &b); err != nil {
			return fmt.Errorf("check copy: read copied entry %d: %w", i, err)
		}
		if a.Index != b.Index || a.Term != b.Term || a.Type != b.Type ||
			!bytes.Equal(a.Data, b.Data) || !bytes.Equal(a.Extensions, b.Extensions) {
			return fmt.Errorf("check copy: entry %d differs", i)
		}
		m.Entries++
		m.Bytes += int64(len(a.Data))
	}
	for _, key := range stableUintKeys {
		a, errA := getUint64(src, key)
		b, errB := getUint64(dst, key)
		if err := errors.Join(errA, errB); err != nil || a != b {
			return fmt.Errorf("check copy: stable key %s is %d, was %d: %v", key, b, a, err)
		}
	}
	for _, key := range stableKeys {
		a, errA := get(src, key)
		b, errB := get(dst, key)
		if err := errors.Join(errA, errB); err != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("check copy: stable key %s is %q, was %q: %v", key, b, a, err)
		}
	}
	return nil
}

// The keys hashicorp/raft keeps in its stable store (raft.go's keyCurrentTerm,
// keyLastVoteTerm, keyLastVoteCand).
var (
	stableUintKeys = []string{"CurrentTerm", "LastVoteTerm"}
	stableKeys     = []string{"LastVoteCand"}
)

// copyStable copies Raft's stable keys. raft-wal's migrate.CopyStable would
// do, but it fails on a key boltdb never stored (a node that never voted
// has no LastVoteCand); such a key stays unset in the copy too.
func copyStable(dst, src LogStore) error {
	for _, key := range stableUintKeys {
		v, err := getUint64(src, key)
		if err == nil && v != 0 {
			err = dst.SetUint64([]byte(key), v)
		}
		if err != nil {
			return fmt.Errorf("copy stable key %s: %w", key, err)
		}
	}
	for _, key := range stableKeys {
		v, err := get(src, key)
		if err == nil && len(v) > 0 {
			err = dst.Set([]byte(key), v)
		}
		if err != nil {
			return fmt.Errorf("copy stable key %s: %w", key, err)
		}
	}
	return nil
}

// getUint64 reads a stable key, 0 when it was never set. (raft-boltdb says
// so with ErrKeyNotFound, raft-wal with a zero value, as Raft itself
// expects: it reads "not found" as zero.)
func getUint64(s LogStore, key string) (uint64, error) {
	v, err := s.GetUint64([]byte(key))
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return 0, nil
	}
	return v, err
}

// get reads a stable key, empty when it was never set.
func get(s LogStore, key string) ([]byte, error) {
	v, err := s.Get([]byte(key))
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return nil, nil
	}
	return v, err
}

// withProgress runs copy, which reports on a channel it closes when done,
// and passes each report to progress (or drops them when progress is nil).
func withProgress(progress func(string), copy func(chan<- string) error) error {
	ch := make(chan string)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for line := range ch {
			if progress != nil {
				progress(line)
			}
		}
	}()
	err := copy(ch)
	<-done
	return err
}

// syncDir makes renames and creations in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
