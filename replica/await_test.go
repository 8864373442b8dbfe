package replica

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// neverAnswered is a Raft future that Raft dropped at shutdown: Error
// blocks forever (hashicorp/raft v1.7.3 gives such futures no shutdown
// channel).
type neverAnswered struct{ block chan struct{} }

func (f neverAnswered) Error() error { <-f.block; return nil }

type answered struct{ err error }

func (f answered) Error() error { return f.err }

func TestAwaitGivesUpOnceRaftHasShutDown(t *testing.T) {
	r := &Replica{raftDown: make(chan struct{})}
	want := errors.New("leadership lost")
	if err := r.await(answered{want}); err != want {
		t.Fatalf("await of an answered future = %v, want %v", err, want)
	}
	dropped := neverAnswered{block: make(chan struct{})}
	defer close(dropped.block) // let the waiting goroutine end with the test
	result := make(chan error, 1)
	go func() { result <- r.await(dropped) }()
	select {
	case err := <-result:
		t.Fatalf("await returned %v while Raft was still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(r.raftDown)
	select {
	case err := <-result:
		if !errors.Is(err, raft.ErrRaftShutdown) {
			t.Fatalf("await after shutdown = %v, want ErrRaftShutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("await still waits 5 s after Raft shut down")
	}
}
