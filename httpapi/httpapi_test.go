package httpapi

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// countingCluster is a Node that counts the rounds of asking the members.
type countingCluster struct {
	rounds atomic.Int32
}

func (n *countingCluster) Status() Status { return Status{ID: "n1"} }
func (n *countingCluster) Ready() error   { return nil }
func (n *countingCluster) Cluster() []Member {
	n.rounds.Add(1)
	return []Member{{ID: "n1", State: "Leader"}, {ID: "n2", State: "Follower"}}
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
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(get)
	}
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
