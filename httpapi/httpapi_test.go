package httpapi

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatd/seatd/internal/testutil"
)

// countingCluster is a Node that counts the rounds of asking the members;
// while hold is open, a round waits for it to close.
type countingCluster struct {
	rounds atomic.Int32
	hold   chan struct{}
}

func (n *countingCluster) Status() Status { return Status{ID: "n1"} }
func (n *countingCluster) Ready() error   { return nil }
func (n *countingCluster) Cluster() []Member {
	n.rounds.Add(1)
	if n.hold != nil {
		<-n.hold
	}
	return []Member{{ID: "n1", State: "Leader"}, {ID: "n2", State: "Follower"}}
}

// goroutinesIn counts the goroutines whose stack holds any of frames.
func goroutinesIn(frames ...string) int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		for _, f := range frames {
			if strings.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n
}

// TestClusterAskedOncePerRound: many pages polling /v1/cluster at once
// cost one round of asking the members, and a poll after clusterFresh
// starts the next round.
func TestClusterAskedOncePerRound(t *testing.T) {
	node := &countingCluster{}
	s := New(Config{Node: node, Registry: prometheus.NewRegistry()})
	now := time.Unix(1_700_000_000, 0)
	var clock sync.Mutex
	s.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	get := func() {
		rec := httptest.NewRecorder()
		s.srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/cluster", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET /v1/cluster = %d %s", rec.Code, rec.Body)
		}
	}
	// The first round is held until all 20 polls are under way: each one
	// is then either waiting for that round or asking the members itself.
	node.hold = make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(node.hold) }) }) // if the wait below fails
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(get)
	}
	testutil.WaitFor(t, 10*time.Second, "20 polls waiting", func() bool {
		return goroutinesIn("(*countingCluster).Cluster", "(*Server).clusterNow") == 20
	})
	release.Do(func() { close(node.hold) })
	wg.Wait()
	if got := node.rounds.Load(); got != 1 {
		t.Fatalf("20 polls at once asked the members %d times, want once", got)
	}
	clock.Lock()
	now = now.Add(clusterFresh - time.Millisecond)
	clock.Unlock()
	get()
	if got := node.rounds.Load(); got != 1 {
		t.Errorf("a poll within %v of the round asked again (%d rounds)", clusterFresh, got)
	}
	clock.Lock()
	now = now.Add(time.Millisecond)
	clock.Unlock()
	get()
	if got := node.rounds.Load(); got != 2 {
		t.Errorf("a poll %v after the round did not ask again (%d rounds)", clusterFresh, got)
	}
}
