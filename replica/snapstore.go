package replica

import (
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// writebackEvery is how many snapshot bytes are written between two
// writebacks (see snapshotStore).
const writebackEvery = 4 << 20

// snapshotStore is raft's file snapshot store, with the snapshot written to
// the disk while it is being written rather than all at once when it is
// closed. raft's sink fsyncs the state file in Close: a snapshot of tens of
// megabytes, written in a second to the page cache, then goes to the disk
// in one burst, and every log append's flush on the same disk waits
// behind it (a sustained run measured 90–170 ms stalls of every request at
// the end of every node's snapshot). With writeback, every writebackEvery
// bytes the sink starts writing the last range out and waits for the range
// before it, so that at most two ranges are in flight and the final fsync
// finds little left to write. It is what RocksDB's bytes_per_sync and
// PostgreSQL's backend_flush_after do.
type snapshotStore struct {
	*raft.FileSnapshotStore
	dir    string // the data directory: the store's snapshots are in dir/snapshots
	retain int
	logger hclog.Logger
	// writeback starts writing out f's range [off, off+n) and waits for
	// the range before it; nil where the platform has no such call.
	writeback func(f *os.File, off, n, prevOff, prevN int64) error
	// remove deletes an old snapshot's directory (see deleter); nil:
	// raft's store deletes it at once.
	remove func(path string) error

	// The deleter truncates what it removes, which an open reader would
	// see (raft's own unlink would not disturb it): a snapshot being read
	// — sent to a follower, restored — is removed after its last reader
	// closes.
	mu      sync.Mutex
	readers map[string]int  // open readers by snapshot id
	doomed  map[string]bool // reaped while read
}

// newSnapshotStore opens the store in dir/snapshots, keeping the retain
// newest snapshots. With a deleter, old snapshots are deleted through it,
// a little at a time (raft's store then keeps one more, which the wrapper
// removes as soon as a new snapshot is in place).
func newSnapshotStore(dir string, retain int, logger hclog.Logger, del *deleter) (*snapshotStore, error) {
	inner := retain
	var remove func(string) error
	if del != nil {
		inner, remove = retain+1, del.remove
	}
	fs, err := raft.NewFileSnapshotStoreWithLogger(dir, inner, logger)
	if err != nil {
		return nil, err
	}
	return &snapshotStore{FileSnapshotStore: fs, dir: dir, retain: retain, logger: logger, writeback: platformWriteback, remove: remove,
		readers: make(map[string]int), doomed: make(map[string]bool)}, nil
}

// Open opens a snapshot and counts its reader until the reader is closed.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.Lock()
	s.readers[id]++
	s.mu.Unlock()
	meta, rc, err := s.FileSnapshotStore.Open(id)
	if err != nil {
		s.readerClosed(id)
		return nil, nil, err
	}
	return meta, &snapshotReader{ReadCloser: rc, store: s, id: id}, nil
}

// readerClosed counts a reader of id out, and removes the snapshot if it
// was reaped while read.
func (s *snapshotStore) readerClosed(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers[id]--; s.readers[id] > 0 {
		return
	}
	delete(s.readers, id)
	if s.doomed[id] {
		delete(s.doomed, id)
		s.removeLocked(id)
	}
}

// snapshotReader is an open snapshot, counted by its store.
type snapshotReader struct {
	io.ReadCloser
	store *snapshotStore
	id    string
	once  sync.Once
}

func (r *snapshotReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(func() { r.store.readerClosed(r.id) })
	return err
}

// Create opens raft's sink and a second descriptor of its state file, to
// write back through.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	out := &snapshotSink{SnapshotSink: sink, store: s}
	if s.writeback == nil {
		return out, nil
	}
	// raft.FileSnapshotStore's layout: dir/snapshots/<id>.tmp/state.bin
	// while the snapshot is written.
	path := filepath.Join(s.dir, "snapshots", sink.ID()+".tmp", "state.bin")
	if out.file, err = os.Open(path); err != nil {
		s.logger.Warn("snapshot written without writeback: cannot open its state file", "path", path, "error", err)
	}
	return out, nil
}

// reap deletes the snapshots beyond the retain newest through remove; one
// being read is deleted when its last reader closes. Failures are logged:
// the new snapshot is in place whatever happens to the old ones (raft's
// store deletes them itself beyond retain+1).
func (s *snapshotStore) reap() {
	if s.remove == nil {
		return
	}
	metas, err := s.FileSnapshotStore.List() // newest first
	if err != nil {
		s.logger.Warn("cannot list snapshots to reap", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range metas[min(s.retain, len(metas)):] {
		if s.readers[m.ID] > 0 {
			s.doomed[m.ID] = true
			s.logger.Info("reaping snapshot when its readers are done", "id", m.ID)
			continue
		}
		s.removeLocked(m.ID)
	}
}

func (s *snapshotStore) removeLocked(id string) {
	if err := s.remove(filepath.Join(s.dir, "snapshots", id)); err != nil {
		s.logger.Warn("cannot reap snapshot", "id", id, "error", err)
		return
	}
	s.logger.Info("reaping snapshot", "id", id)
}

// snapshotSink is raft's sink, writing what it is given back every
// writebackEvery bytes (when it has the file open) and reaping old
// snapshots once it is closed.
type snapshotSink struct {
	raft.SnapshotSink
	store   *snapshotStore
	file    *os.File // read-only, the same file as the sink's; nil: no writeback
	written int64    // bytes given to Write
	done    int64    // bytes up to which writeback was started
	prev    int64    // where the range started before done began
	failed  bool     // a writeback failed: stop trying (the final fsync still makes it durable)
}

func (s *snapshotSink) Write(p []byte) (int, error) {
	n, err := s.SnapshotSink.Write(p)
	s.written += int64(n)
	if s.file == nil || s.failed {
		return n, err
	}
	// The sink buffers a few KB: write back only what has surely reached
	// the file, up to a range boundary.
	if end := (s.written - 64<<10) / writebackEvery * writebackEvery; end > s.done {
		if werr := s.store.writeback(s.file, s.done, end-s.done, s.prev, s.done-s.prev); werr != nil {
			s.failed = true
			s.store.logger.Warn("snapshot writeback failed; the rest is written at close", "error", werr)
		}
		s.prev, s.done = s.done, end
	}
	return n, err
}

func (s *snapshotSink) Close() error {
	err := s.SnapshotSink.Close()
	s.closeFile()
	if err == nil {
		s.store.reap()
	}
	return err
}

func (s *snapshotSink) Cancel() error {
	err := s.SnapshotSink.Cancel()
	s.closeFile()
	return err
}

func (s *snapshotSink) closeFile() {
	if s.file != nil {
		s.file.Close()
	}
}
