package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/internal/testutil"
)

// httpGet fetches path from node i's HTTP port and returns the status code
// and body.
func (tc *testCluster) httpGet(t *testing.T, client *http.Client, scheme string, i int, path string) (int, string) {
	t.Helper()
	resp, err := client.Get(scheme + "://" + tc.nodes[i].HTTPAddr() + path)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, tc.cfgs[i].ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func withHTTP(c *Config) { c.HTTP = "127.0.0.1:0" }

func TestHTTPStatusHealthAndReadiness(t *testing.T) {
	tc := newTestCluster(t, 3, 5, withHTTP)
	leader := tc.waitForLeader()
	hc := &http.Client{Timeout: 5 * time.Second}
	tc.waitConverged()
	for i := range tc.nodes {
		code, body := tc.httpGet(t, hc, "http", i, "/status")
		var st struct {
			ID          string                                   `json:"id"`
			State       string                                   `json:"state"`
			Term        uint64                                   `json:"term"`
			LeaderID    string                                   `json:"leader_id"`
			CommitIndex uint64                                   `json:"commit_index"`
			Applied     uint64                                   `json:"applied_index"`
			Peers       []struct{ ID, Address, Suffrage string } `json:"peers"`
		}
		if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
			t.Fatalf("%s /status: %d %v %s", tc.cfgs[i].ID, code, err, body)
		}
		wantState := "Follower"
		if i == leader {
			wantState = "Leader"
		}
		if st.ID != tc.cfgs[i].ID || st.State != wantState || st.Term == 0 || st.LeaderID != tc.cfgs[leader].ID ||
			st.Applied == 0 || st.CommitIndex < st.Applied || len(st.Peers) != 3 {
			t.Errorf("%s /status = %s", tc.cfgs[i].ID, body)
		}
		for _, p := range st.Peers {
			if p.Suffrage != "voter" || p.Address == "" {
				t.Errorf("%s /status peer %+v", tc.cfgs[i].ID, p)
			}
		}
		if code, body := tc.httpGet(t, hc, "http", i, "/healthz"); code != 200 {
			t.Errorf("%s /healthz: %d %s", tc.cfgs[i].ID, code, body)
		}
		if code, body := tc.httpGet(t, hc, "http", i, "/readyz"); code != 200 {
			t.Errorf("%s /readyz: %d %s", tc.cfgs[i].ID, code, body)
		}
	}
	// A follower left alone knows no leader after its heartbeat timeout:
	// not ready, but healthy.
	alone := tc.followers()[0]
	for i := range tc.nodes {
		if i != alone {
			tc.stop(i)
		}
	}
	testutil.WaitFor(t, 15*time.Second, "/readyz 503 on a node without a leader", func() bool {
		code, _ := tc.httpGet(t, hc, "http", alone, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	if code, _ := tc.httpGet(t, hc, "http", alone, "/healthz"); code != 200 {
		t.Errorf("/healthz on the lone node: %d", code)
	}
}

// metricValue returns the value of the first series of /metrics whose line
// starts with prefix (name and labels), or -1.
func metricValue(body, prefix string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			if _, err := fmt.Sscanf(line[len(prefix):], " %g", &v); err == nil {
				return v
			}
		}
	}
	return -1
}

func TestHTTPMetricsMoveWithRequests(t *testing.T) {
	tc := newTestCluster(t, 3, 5, withHTTP)
	leader := tc.waitForLeader()
	hc := &http.Client{Timeout: 5 * time.Second}
	follower := tc.followers()[0]
	c := tc.line(t, follower)
	for seat := 1; seat <= 3; seat++ {
		if got := c.Do(t, fmt.Sprintf("RESERVE %d alice", seat)); got != "SUCCESS" {
			t.Fatalf("RESERVE = %q", got)
		}
	}
	c.Do(t, "RESERVE 1 bob")
	c.Do(t, "BOOK 1")
	_, body := tc.httpGet(t, hc, "http", follower, "/metrics")
	for prefix, want := range map[string]float64{
		`seatd_requests_total{origin="client",result="SUCCESS",verb="RESERVE"}`:               3,
		`seatd_requests_total{origin="client",result="FAILED_ALREADY_BOOKED",verb="RESERVE"}`: 1,
		`seatd_requests_total{origin="client",result="INVALID_COMMAND",verb="UNPARSED"}`:      1,
		`seatd_request_duration_seconds_count{verb="RESERVE"}`:                                4,
	} {
		if got := metricValue(body, prefix); got != want {
			t.Errorf("follower %s = %v, want %v", prefix, got, want)
		}
	}
	_, body = tc.httpGet(t, hc, "http", leader, "/metrics")
	if got := metricValue(body, `seatd_requests_total{origin="forwarded",result="SUCCESS",verb="RESERVE"}`); got != 3 {
		t.Errorf("leader's forwarded RESERVE SUCCESS = %v, want 3", got)
	}
	if got := metricValue(body, "seatd_batch_writes_count"); got < 4 {
		t.Errorf("leader's batch count = %v, want at least 4 (the creation entry is not a batch)", got)
	}
	// Raft's own metrics reach the registry of the node created last
	// (go-metrics has one global sink per process).
	testutil.WaitFor(t, 10*time.Second, "Raft's metrics on /metrics", func() bool {
		_, body := tc.httpGet(t, hc, "http", len(tc.nodes)-1, "/metrics")
		return strings.Contains(body, "seatd_raft_")
	})
}

// Every node asks the others for their clocks and shows the offsets: on
// one machine they agree to well within a second.
func TestHTTPMetricsShowPeerClocks(t *testing.T) {
	tc := newTestCluster(t, 3, 5, func(c *Config) {
		withHTTP(c)
		c.ClockProbeInterval = 50 * time.Millisecond
	})
	tc.waitForLeader()
	hc := &http.Client{Timeout: 5 * time.Second}
	for i := range tc.nodes {
		for j := range tc.nodes {
			if i == j {
				continue
			}
			series := fmt.Sprintf(`seatd_peer_clock_offset_seconds{peer="%s"}`, tc.cfgs[j].ID)
			var got float64
			testutil.WaitFor(t, 10*time.Second, tc.cfgs[i].ID+"'s "+series, func() bool {
				_, body := tc.httpGet(t, hc, "http", i, "/metrics")
				got = metricValue(body, series)
				return strings.Contains(body, series)
			})
			if got > 0.5 || got < -0.5 {
				t.Errorf("%s: %s = %v s, on one machine", tc.cfgs[i].ID, series, got)
			}
		}
	}
}

// TestHTTPMetricsCountMembers: every node, followers too, serves the
// configuration's size, and follows a change of it.
func TestHTTPMetricsCountMembers(t *testing.T) {
	tc := newTestCluster(t, 3, 5, withHTTP)
	leader := tc.waitForLeader()
	hc := &http.Client{Timeout: 5 * time.Second}
	waitVoters := func(nodes []int, want float64) {
		t.Helper()
		for _, i := range nodes {
			series := `seatd_cluster_members{suffrage="voter"}`
			testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%s's %s = %v", tc.cfgs[i].ID, series, want), func() bool {
				_, body := tc.httpGet(t, hc, "http", i, "/metrics")
				return strings.Contains(body, series) && metricValue(body, series) == want &&
					metricValue(body, `seatd_cluster_members{suffrage="nonvoter"}`) == 0
			})
		}
	}
	waitVoters([]int{0, 1, 2}, 3)
	gone := tc.followers()[0]
	if err := cluster.Remove(tc.dialer(), tc.cfgs[leader].Raft, tc.cfgs[gone].ID, false); err != nil {
		t.Fatalf("remove %s: %v", tc.cfgs[gone].ID, err)
	}
	var rest []int
	for i := range tc.nodes {
		if i != gone {
			rest = append(rest, i)
		}
	}
	waitVoters(rest, 2)
}

func TestHTTPReadAPI(t *testing.T) {
	tc := newTestCluster(t, 3, 5, withHTTP)
	tc.waitForLeader()
	hc := &http.Client{Timeout: 5 * time.Second}
	c := tc.line(t, 0)
	for _, req := range []string{"EVENT CREATE gala 1500", "RESERVE 2 alice event=gala", "HOLD 3,4 bob ttl=600 event=gala"} {
		if got := c.Do(t, req); got != "SUCCESS" && !strings.HasPrefix(got, "HELD ") {
			t.Fatalf("%s = %q", req, got)
		}
	}
	tc.waitConverged()
	i := tc.followers()[0]
	code, body := tc.httpGet(t, hc, "http", i, "/v1/events")
	if code != 200 || !strings.Contains(body, `"name": "gala"`) || !strings.Contains(body, `"held": 2`) {
		t.Errorf("/v1/events: %d %s", code, body)
	}
	code, body = tc.httpGet(t, hc, "http", i, "/v1/events/gala/seats?from=1&count=5")
	var page struct {
		Seats int `json:"seats"`
		Next  int `json:"next"`
		Page  []struct {
			Seat      int    `json:"seat"`
			State     string `json:"state"`
			Holder    string `json:"holder"`
			ExpiresMs int64  `json:"expires_ms"`
		} `json:"page"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil {
		t.Fatalf("seats page: %d %v %s", code, err, body)
	}
	if page.Seats != 1500 || page.Next != 6 || len(page.Page) != 5 ||
		page.Page[0].State != "free" || page.Page[1].State != "booked" || page.Page[1].Holder != "alice" ||
		page.Page[2].State != "held" || page.Page[2].Holder != "bob" || page.Page[2].ExpiresMs == 0 {
		t.Errorf("seats page = %s", body)
	}
	// The last page says there is no next one; a full page is at most 1000.
	_, body = tc.httpGet(t, hc, "http", i, "/v1/events/gala/seats?from=1001")
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Page) != 500 || page.Next != 0 {
		t.Errorf("last page: %d seats, next %d", len(page.Page), page.Next)
	}
	code, body = tc.httpGet(t, hc, "http", i, "/v1/events/gala/seats/2/history")
	if code != 200 || !strings.Contains(body, `"op": "RESERVE"`) || !strings.Contains(body, `"holder": "alice"`) {
		t.Errorf("history: %d %s", code, body)
	}
	// The live page and its script are embedded and fetch nothing from
	// elsewhere.
	for _, path := range []string{"/", "/app.js"} {
		code, body := tc.httpGet(t, hc, "http", i, path)
		if code != 200 || strings.Contains(body, "https://") || strings.Contains(body, "http://") {
			t.Errorf("GET %s: %d, or it names another site:\n%s", path, code, body)
		}
	}
	for path, want := range map[string]int{
		"/v1/events/nope/seats":               404,
		"/v1/events/gala/seats?count=0":       400,
		"/v1/events/gala/seats?count=1001":    400,
		"/v1/events/gala/seats?from=x":        400,
		"/v1/events/gala/seats/abc/history":   400,
		"/v1/events/gala/seats/99999/history": 404,
		"/v1/events/nope/seats/1/history":     404,
		"/v1/nothing":                         404,
	} {
		if code, body := tc.httpGet(t, hc, "http", i, path); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
}

// With TLS on the client port, the HTTP port takes the same settings: a
// plaintext request fails, one with a client certificate of the CA works.
func TestHTTPUnderTLS(t *testing.T) {
	testTLS = newTestPKI(t, "tester")
	defer func() { testTLS = nil }()
	tc := newTestCluster(t, 3, 5, func(c *Config) {
		withHTTP(c)
		c.TLSClientCA = testTLS.file("ca.crt") // client certificates required
	})
	tc.waitForLeader()
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + tc.nodes[0].HTTPAddr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plaintext /healthz answered 200 on a TLS node")
		}
	}
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: testTLS.clientTLS(t, "")}}
	if _, err := noCert.Get("https://" + tc.nodes[0].HTTPAddr() + "/healthz"); err == nil {
		t.Error("/healthz without a client certificate succeeded")
	}
	withCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: testTLS.clientTLS(t, "tester")}}
	if code, body := tc.httpGet(t, withCert, "https", 0, "/healthz"); code != 200 {
		t.Errorf("/healthz with a client certificate: %d %s", code, body)
	}
}
