package replica

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Log store kinds for Config.LogStore.
const (
	// LogStoreBolt is hashicorp/raft-boltdb/v2 in DATA/raft.db: the
	// long-proven default. Each append costs two fdatasyncs.
	LogStoreBolt = "boltdb"
	// LogStoreWAL is hashicorp/raft-wal in DATA/wal/: one fdatasync per
	// append, so commits wait for half the disk flushes. Its authors still
	// call it experimental; opt in with --log-store wal.
	LogStoreWAL = "wal"
)

// LogStore is what Raft needs from the store: the log and the stable store
// (term, vote), closed on shutdown.
type LogStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// OpenLogStore opens the store kind in dir, refusing to open a directory
// that another kind created (the node would forget its log).
func OpenLogStore(kind, dir string) (LogStore, error) {
	boltPath, walDir := filepath.Join(dir, "raft.db"), filepath.Join(dir, "wal")
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	switch kind {
	case LogStoreBolt:
		if exists(walDir) {
			return nil, fmt.Errorf("%w: %s holds a wal log store; start with --log-store wal", ErrConfig, dir)
		}
		s, err := raftboltdb.New(raftboltdb.Options{Path: boltPath})
		if err != nil {
			return nil, fmt.Errorf("open boltdb log store: %w", err)
		}
		return s, nil
	case LogStoreWAL:
		if exists(boltPath) {
			return nil, fmt.Errorf("%w: %s holds a boltdb log store; start with --log-store boltdb", ErrConfig, dir)
		}
		if err := os.MkdirAll(walDir, 0o700); err != nil {
			return nil, fmt.Errorf("create wal directory: %w", err)
		}
		meta := &metadb.BoltMetaDB{}
		s, err := wal.Open(walDir, wal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, fmt.Errorf("open wal log store: %w", err)
		}
		return &walStore{WAL: s, meta: meta}, nil
	}
	return nil, errors.New("unknown log store " + kind)
}

// walStore closes the WAL's metadata database too, which WAL.Close (v0.4.0)
// leaves open: its file lock would block the next open in the same process.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

// Close closes the log and its metadata database.
func (s *walStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close())
}
