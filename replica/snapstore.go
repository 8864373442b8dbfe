package replica

import (
	"os"
	"path/filepath"

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
// in one burst, and every log append's fdatasync on the same disk waits
// behind it (a sustained run measured 90–170 ms stalls of every request at
// the end of every node's snapshot). With writeback, every writebackEvery
// bytes the sink starts writing the last range out and waits for the range
// before it, so that at most two ranges are in flight and the final fsync
// finds little left to write. It is what RocksDB's bytes_per_sync and
// PostgreSQL's backend_flush_after do.
type snapshotStore struct {
	*raft.FileSnapshotStore
	dir    string // the data directory: the store's snapshots are in dir/snapshots
	logger hclog.Logger
	// writeback starts writing out f's range [off, off+n) and waits for
	// the range before it; nil where the platform has no such call.
	writeback func(f *os.File, off, n, prevOff, prevN int64) error
}

func newSnapshotStore(dir string, retain int, logger hclog.Logger) (*snapshotStore, error) {
	fs, err := raft.NewFileSnapshotStoreWithLogger(dir, retain, logger)
	if err != nil {
		return nil, err
	}
	return &snapshotStore{FileSnapshotStore: fs, dir: dir, logger: logger, writeback: platformWriteback}, nil
}

// Create opens raft's sink and a second descriptor of its state file, to
// write back through.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil || s.writeback == nil {
		return sink, err
	}
	// raft.FileSnapshotStore's layout: dir/snapshots/<id>.tmp/state.bin
	// while the snapshot is written.
	path := filepath.Join(s.dir, "snapshots", sink.ID()+".tmp", "state.bin")
	f, err := os.Open(path)
	if err != nil {
		s.logger.Warn("snapshot written without writeback: cannot open its state file", "path", path, "error", err)
		return sink, nil
	}
	return &writebackSink{SnapshotSink: sink, file: f, writeback: s.writeback, logger: s.logger}, nil
}

// writebackSink is raft's sink, counting what is written and writing it
// back every writebackEvery bytes.
type writebackSink struct {
	raft.SnapshotSink
	file      *os.File // read-only; the same file as the sink's
	writeback func(f *os.File, off, n, prevOff, prevN int64) error
	logger    hclog.Logger
	written   int64 // bytes given to Write
	done      int64 // bytes up to which writeback was started
	prev      int64 // where the range started before done began
	failed    bool  // a writeback failed: stop trying (the final fsync still makes it durable)
}

func (s *writebackSink) Write(p []byte) (int, error) {
	n, err := s.SnapshotSink.Write(p)
	s.written += int64(n)
	// The sink buffers a few KB: write back only what has surely reached
	// the file, up to a range boundary.
	if end := (s.written - 64<<10) / writebackEvery * writebackEvery; !s.failed && end > s.done {
		if werr := s.writeback(s.file, s.done, end-s.done, s.prev, s.done-s.prev); werr != nil {
			s.failed = true
			s.logger.Warn("snapshot writeback failed; the rest is written at close", "error", werr)
		}
		s.prev, s.done = s.done, end
	}
	return n, err
}

func (s *writebackSink) Close() error {
	err := s.SnapshotSink.Close()
	s.file.Close()
	return err
}

func (s *writebackSink) Cancel() error {
	err := s.SnapshotSink.Cancel()
	s.file.Close()
	return err
}
