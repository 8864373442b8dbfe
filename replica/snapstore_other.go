//go:build !linux

package replica

import "os"

// platformWriteback is nil off Linux: snapshots are written out at close.
var platformWriteback func(f *os.File, off, n, prevOff, prevN int64) error
