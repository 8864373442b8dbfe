package replica

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Shrinking steps: the deleter frees shrinkStep bytes of a file, then waits
// shrinkPause.
const (
	shrinkStep  = 4 << 20
	shrinkPause = 10 * time.Millisecond
)

// deleter removes the large files a node no longer needs — old snapshots,
// raft-wal's old segments — a few megabytes at a time, in the background.
//
// Removing a file of tens of megabytes at once frees all its blocks in one
// journal commit; on a file system that discards freed blocks (ext4 mounted
// with "discard", as this project's test machine is), that commit, and every
// flush of the log waiting for it, takes tens of milliseconds. A
// sustained run measured 90–120 ms stalls of every request when raft-wal
// deleted a segment after a snapshot. The deleter instead moves the file
// into DATA/deleting/ at once (a rename: the file is gone from its
// directory, durably) and then truncates it in shrinkStep steps, so that
// each commit frees a little. What a crash leaves in DATA/deleting/ is
// removed at the next start.
type deleter struct {
	trash  string // DATA/deleting
	logger hclog.Logger

	mu      sync.Mutex
	queue   []string // paths in trash, oldest first
	next    int      // names files in trash
	started bool

	wake chan struct{} // a path was queued (capacity 1)
	stop chan struct{}
	done chan struct{}
}

func newDeleter(dataDir string, logger hclog.Logger) (*deleter, error) {
	trash := filepath.Join(dataDir, "deleting")
	if err := os.MkdirAll(trash, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", trash, err)
	}
	if err := syncDir(dataDir); err != nil { // the trash's own entry
		return nil, err
	}
	return &deleter{trash: trash, logger: logger, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// start queues what an earlier run left in the trash and starts removing
// files. Call it once the data directory is this process's (its lock held).
func (d *deleter) start() error {
	entries, err := os.ReadDir(d.trash)
	if err != nil {
		return fmt.Errorf("list %s: %w", d.trash, err)
	}
	d.mu.Lock()
	queued := make(map[string]bool, len(d.queue))
	for _, p := range d.queue { // moved there before start (raft-wal deletes at open)
		queued[p] = true
	}
	for _, e := range entries {
		if p := filepath.Join(d.trash, e.Name()); !queued[p] {
			d.queue = append(d.queue, p)
		}
	}
	d.started = true
	d.mu.Unlock()
	go d.run()
	d.signal()
	return nil
}

// close stops removing files (what is left stays in the trash for the next
// start) and waits for the goroutine. It is safe if start was not called.
func (d *deleter) close() {
	d.mu.Lock()
	started := d.started
	d.started = false
	d.mu.Unlock()
	if started {
		close(d.stop)
		<-d.done
	}
}

// remove takes path (a file or a directory) out of its directory at once,
// durably, and queues it to be removed a little at a time. A path that does
// not exist is already removed. On another file system than the trash's
// (a mount inside the data directory) it is removed at once instead.
func (d *deleter) remove(path string) error {
	d.mu.Lock()
	d.next++
	dst := filepath.Join(d.trash, strconv.FormatInt(time.Now().UnixNano(), 10)+"-"+strconv.Itoa(d.next)+"-"+filepath.Base(path))
	d.mu.Unlock()
	err := os.Rename(path, dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, syscall.EXDEV):
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("delete %s: %w", path, err)
		}
		return syncDir(filepath.Dir(path))
	case err != nil:
		return fmt.Errorf("move %s to be deleted: %w", path, err)
	}
	d.mu.Lock()
	d.queue = append(d.queue, dst) // whatever the sync below says, it is in the trash now
	d.mu.Unlock()
	d.signal()
	return syncDir(filepath.Dir(path))
}

func (d *deleter) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deleter) run() {
	defer close(d.done)
	for {
		select {
		case <-d.stop: // between files too: a long queue does not hold up a close
			return
		default:
		}
		d.mu.Lock()
		var path string
		if len(d.queue) > 0 {
			path, d.queue = d.queue[0], d.queue[1:]
		}
		d.mu.Unlock()
		if path == "" {
			select {
			case <-d.stop:
				return
			case <-d.wake:
				continue
			}
		}
		if err := d.removeSlowly(path); err != nil {
			if errors.Is(err, errStopped) {
				return
			}
			d.logger.Warn("could not delete a file no longer needed; it stays in the data directory", "path", path, "error", err)
		}
	}
}

var errStopped = errors.New("deleter stopped")

// removeSlowly shrinks every regular file under path, then removes path.
// A path already gone is not an error.
func (d *deleter) removeSlowly(path string) error {
	err := filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		return d.shrink(p)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(path)
}

func (d *deleter) shrink(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	for size := info.Size(); size > shrinkStep; {
		size -= shrinkStep
		if err := f.Truncate(size); err != nil {
			return err
		}
		select {
		case <-d.stop:
			return errStopped
		case <-time.After(shrinkPause):
		}
	}
	return nil
}
