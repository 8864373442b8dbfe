package replica

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

type writebackCall struct{ off, n, prevOff, prevN int64 }

// writeSnapshot writes data through the store in writes of up to 100 KB
// and returns the snapshot's id.
func writeSnapshot(t *testing.T, s *snapshotStore, data []byte) string {
	t.Helper()
	sink, err := s.Create(1, 10, 2, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(100<<10))
		if _, err := sink.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

func readSnapshot(t *testing.T, s *snapshotStore, id string) []byte {
	t.Helper()
	_, rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// A snapshot is written back in consecutive writebackEvery ranges while it
// is written, each call waiting for the range before, and the snapshot
// reads back as written.
func TestSnapshotWrittenBackWhileWritten(t *testing.T) {
	s, err := newSnapshotStore(t.TempDir(), 2, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls []writebackCall
	real := s.writeback
	s.writeback = func(f *os.File, off, n, prevOff, prevN int64) error {
		calls = append(calls, writebackCall{off, n, prevOff, prevN})
		if real != nil {
			return real(f, off, n, prevOff, prevN)
		}
		return nil
	}
	data := randomBytes(5*writebackEvery + 100_000) // the last range is left to the close
	id := writeSnapshot(t, s, data)
	if got := readSnapshot(t, s, id); !bytes.Equal(got, data) {
		t.Fatalf("snapshot reads back %d bytes, not the %d written", len(got), len(data))
	}
	if len(calls) != 5 {
		t.Fatalf("%d writebacks for %d bytes, want 5: %v", len(calls), len(data), calls)
	}
	for i, c := range calls {
		want := writebackCall{int64(i) * writebackEvery, writebackEvery, 0, 0}
		if i > 0 {
			want.prevOff, want.prevN = int64(i-1)*writebackEvery, writebackEvery
		}
		if c != want {
			t.Fatalf("writeback %d = %+v, want %+v", i, c, want)
		}
	}
}

// A writeback that fails is not tried again, and the snapshot is still
// written whole (raft's fsync at close makes it durable).
func TestSnapshotWritebackFailureKeepsTheSnapshot(t *testing.T) {
	s, err := newSnapshotStore(t.TempDir(), 2, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	s.writeback = func(*os.File, int64, int64, int64, int64) error {
		calls++
		return errors.New("no writeback here")
	}
	data := randomBytes(3 * writebackEvery)
	id := writeSnapshot(t, s, data)
	if got := readSnapshot(t, s, id); !bytes.Equal(got, data) {
		t.Fatalf("snapshot reads back %d bytes, not the %d written", len(got), len(data))
	}
	if calls != 1 {
		t.Fatalf("writeback tried %d times after failing, want once", calls)
	}
}
