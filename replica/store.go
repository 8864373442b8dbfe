package replica

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// walFS is raft-wal's file system with Delete handed to remove (a
// deleter's), which takes the segment out of the directory at once and
// frees its blocks a little at a time.
type walFS struct {
	*walfs.FS
	remove func(path string) error
}

// Delete implements raft-wal's types.VFS.
func (f walFS) Delete(dir, name string) error { return f.remove(filepath.Join(dir, name)) }

// Log store kinds for Config.LogStore.
const (
	// LogStoreWAL is hashicorp/raft-wal in DATA/wal/: one fsync per
	// append, so commits wait for half the disk flushes of boltdb. The
	// default for a new data directory (Consul made the same move).
	LogStoreWAL = "wal"
	// LogStoreBolt is hashicorp/raft-boltdb/v2 in DATA/raft.db: the
	// long-proven store. Each append costs two fdatasyncs.
	LogStoreBolt = "boltdb"
	// LogStoreAuto opens whichever store the data directory holds, and
	// creates LogStoreWAL in one that holds none.
	LogStoreAuto = ""
)

// DetectLogStore reports which log store kind dir holds, or LogStoreAuto
// when it holds none (a new data directory). A directory holding both is
// an error: which one is the node's log cannot be told.
func DetectLogStore(dir string) (string, error) {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	wal, bolt := exists(filepath.Join(dir, "wal")), exists(filepath.Join(dir, "raft.db"))
	switch {
	case wal && bolt:
		return "", fmt.Errorf("%w: %s holds both a wal (wal/) and a boltdb (raft.db) log store; keep the one that is this node's log", ErrConfig, dir)
	case wal:
		return LogStoreWAL, nil
	case bolt:
		return LogStoreBolt, nil
	}
	return LogStoreAuto, nil
}

// LogStore is what Raft needs from the store: the log and the stable store
// (term, vote), closed on shutdown.
type LogStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// OpenLogStore opens the store kind in dir, refusing to open a directory
// that another kind created (the node would forget its log) or that another
// process has open. LogStoreAuto opens the kind dir holds, or a new
// LogStoreWAL.
func OpenLogStore(kind, dir string) (LogStore, error) { return openLogStore(kind, dir, nil) }

// openLogStore is OpenLogStore; with a deleter, raft-wal's old segments are
// deleted through it, a little at a time.
func openLogStore(kind, dir string, del *deleter) (LogStore, error) {
	lock, err := lockDataDir(dir)
	if err != nil {
		return nil, err
	}
	found, err := DetectLogStore(dir)
	if err == nil && kind == LogStoreAuto {
		kind = found
		if kind == LogStoreAuto {
			kind = LogStoreWAL
		}
	}
	if err == nil && found != LogStoreAuto && found != kind {
		err = fmt.Errorf("%w: %s holds a %s log store, not %s; start with --log-store %s, or convert it offline with seatd migrate-log-store",
			ErrConfig, dir, found, kind, found)
	}
	var store LogStore
	if err == nil {
		store, err = openKind(kind, dir, lock, del)
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	return store, nil
}

// storePath is where a store of kind lives in dir.
func storePath(kind, dir string) string {
	if kind == LogStoreBolt {
		return filepath.Join(dir, "raft.db")
	}
	return filepath.Join(dir, "wal")
}

// openKind opens (or creates) the store of kind in dir, with no checks.
// Closing the store closes lock last, if there is one. A deleter, if not
// nil, deletes raft-wal's old segments.
func openKind(kind, dir string, lock *os.File, del *deleter) (LogStore, error) {
	switch kind {
	case LogStoreBolt:
		s, err := raftboltdb.New(raftboltdb.Options{Path: storePath(kind, dir)})
		if err != nil {
			return nil, fmt.Errorf("open boltdb log store: %w", err)
		}
		return &boltStore{BoltStore: s, lock: lock}, nil
	case LogStoreWAL:
		walDir := storePath(kind, dir)
		if err := os.MkdirAll(walDir, 0o700); err != nil {
			return nil, fmt.Errorf("create wal directory: %w", err)
		}
		meta := &metadb.BoltMetaDB{}
		var vfs types.VFS = walfs.New() // raft-wal's default
		if del != nil {
			vfs = walFS{FS: walfs.New(), remove: del.remove}
		}
		s, err := wal.Open(walDir, wal.WithMetaStore(meta), wal.WithSegmentFiler(segment.NewFiler(walDir, vfs)))
		if err != nil {
			meta.Close()
			return nil, fmt.Errorf("open wal log store: %w", err)
		}
		return &walStore{WAL: s, meta: meta, lock: lock}, nil
	}
	return nil, fmt.Errorf("%w: unknown log store %q", ErrConfig, kind)
}

// lockDataDir takes an exclusive lock on dir's LOCK file, so that a second
// node, or seatd migrate-log-store, cannot open a data directory a running
// node uses (bbolt would wait for its own lock forever; two writers would
// corrupt the log). The lock ends when the file is closed or the process
// exits, however it exits.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: data directory %s is in use by another process (a running seatd?)", ErrConfig, dir)
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return f, nil
}

// The store types embed the library's own (not the LogStore interface), so
// that optional methods Raft looks for, raft.MonotonicLogStore's
// IsMonotonic above all, stay visible: without it Raft would leave a gap
// in the WAL after installing a snapshot, which raft-wal refuses.

// boltStore gives up the data directory's lock after closing the store.
type boltStore struct {
	*raftboltdb.BoltStore
	lock *os.File
}

// Close closes the store, then the lock.
func (s *boltStore) Close() error {
	return errors.Join(s.BoltStore.Close(), closeLock(s.lock))
}

// walStore closes the WAL's metadata database too, which WAL.Close (v0.4.1)
// leaves open (its file lock would block the next open in the same
// process), and then the data directory's lock.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
	lock *os.File
}

// Close closes the log, its metadata database and the lock.
func (s *walStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close(), closeLock(s.lock))
}

// closeLock releases a data directory lock, if there is one.
func closeLock(lock *os.File) error {
	if lock == nil {
		return nil
	}
	return lock.Close()
}
