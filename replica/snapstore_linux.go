package replica

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// platformWriteback starts the write-out of f's range [off, off+n) and then
// waits until the range [prevOff, prevOff+prevN) is on its way to the disk
// (sync_file_range(2): it does not flush the disk's cache nor write the
// file's metadata; the sink's fsync at close makes the snapshot durable).
func platformWriteback(f *os.File, off, n, prevOff, prevN int64) error {
	if err := unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return fmt.Errorf("sync_file_range write: %w", err)
	}
	if prevN == 0 {
		return nil
	}
	if err := unix.SyncFileRange(int(f.Fd()), prevOff, prevN, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER); err != nil {
		return fmt.Errorf("sync_file_range wait: %w", err)
	}
	return nil
}
