package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's headless browser. CI installs it (.ci/run sets
// SEATD_CI, and then its absence fails the test); elsewhere a missing
// browser skips the page test with the command that installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("SEATD_CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the page test (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the live page is not tested here")
	return ""
}

// renderedPage loads url in headless Chromium, lets its script run for a
// few seconds of virtual time, and returns the resulting DOM.
func renderedPage(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", url).Output()
	if err != nil {
		t.Fatalf("chromium %s: %v", url, err)
	}
	return string(out)
}

// The live page, rendered by Chromium: it names every node with the leader
// highlighted, and a seat changes color once it is booked.
func TestLivePageInChromium(t *testing.T) {
	browser := chromium(t)
	tc := newTestCluster(t, 3, 50, withHTTP)
	leader := tc.waitForLeader()
	follower := tc.followers()[0]
	url := "http://" + tc.nodes[follower].HTTPAddr() + "/"

	dom := renderedPage(t, browser, url)
	if !strings.Contains(dom, fmt.Sprintf(`class="node leader" data-id="%s"`, tc.cfgs[leader].ID)) {
		t.Fatalf("the page does not highlight the leader %s:\n%s", tc.cfgs[leader].ID, dom)
	}
	for i := range tc.nodes {
		if !strings.Contains(dom, fmt.Sprintf(`data-id="%s"`, tc.cfgs[i].ID)) {
			t.Errorf("the page does not show node %s", tc.cfgs[i].ID)
		}
	}
	if !strings.Contains(dom, `<div class="seat free" id="seat-3"`) {
		t.Fatalf("seat 3 is not shown free before the booking:\n%s", dom)
	}

	if got := tc.line(t, leader).Do(t, "RESERVE 3 alice"); got != "SUCCESS" {
		t.Fatalf("RESERVE = %q", got)
	}
	tc.waitConverged()
	dom = renderedPage(t, browser, url)
	if !strings.Contains(dom, `<div class="seat booked" id="seat-3"`) {
		t.Fatalf("seat 3 did not turn booked on the page:\n%s", dom)
	}
	if !strings.Contains(dom, `<div class="seat free" id="seat-4"`) {
		t.Errorf("seat 4 is not free on the page")
	}
}
