package replica

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkStoreLogs measures one durable append to each log store kind, as
// Raft does once per dispatch on the leader and once per AppendEntries on a
// follower: one entry of 700 bytes (about 20 batched reservations). Next to
// it, "flush" is the floor under both: 700 bytes written into a file and
// fdatasync'ed. The time per op is what one commit costs each node's disk;
// docs/benchmarks.md explains why it bounds the cluster.
//
//	go test -run '^$' -bench StoreLogs ./replica
func BenchmarkStoreLogs(b *testing.B) {
	entry := make([]byte, 700)
	for _, kind := range []string{LogStoreBolt, LogStoreWAL} {
		b.Run(kind, func(b *testing.B) {
			store, err := OpenLogStore(kind, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			logs := []*raft.Log{{Type: raft.LogCommand, Term: 1, Data: entry}}
			b.SetBytes(int64(len(entry)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				logs[0].Index = uint64(i + 1)
				if err := store.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("flush", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "flush"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		// Preallocate by writing, so the flushes below change no file
		// size or block map: this is the disk's cache flush alone.
		zeros := make([]byte, 1<<20)
		for off := int64(0); off < 64<<20; off += int64(len(zeros)) {
			if _, err := f.WriteAt(zeros, off); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(entry)))
		b.ResetTimer()
		off := int64(0)
		for i := 0; i < b.N; i++ {
			if _, err := f.WriteAt(entry, off); err != nil {
				b.Fatal(err)
			}
			off = (off + int64(len(entry))) % (64 << 20)
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
