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

// The seat map shows a page of 1,000 seats: an event of 2,500 is paged,
// ?from= picks the page (kept in the address), and a from past the last
// seat shows the last page.
func TestLivePagePagesTheSeatMap(t *testing.T) {
	browser := chromium(t)
	tc := newTestCluster(t, 3, 2500, withHTTP)
	leader := tc.waitForLeader()
	if got := tc.line(t, leader).Do(t, "RESERVE 2100 alice"); got != "SUCCESS" {
		t.Fatalf("RESERVE = %q", got)
	}
	tc.waitConverged()
	base := "http://" + tc.nodes[tc.followers()[0]].HTTPAddr() + "/"

	dom := renderedPage(t, browser, base)
	if !strings.Contains(dom, `<div id="paging">`) || !strings.Contains(dom, "seats 1–1000 of 2500") {
		t.Fatalf("the first page does not offer paging over 2500 seats:\n%s", dom)
	}
	if strings.Contains(dom, `id="seat-1001"`) {
		t.Errorf("the first page shows seat 1001")
	}
	for _, url := range []string{base + "?event=default&from=2001", base + "?from=9001"} {
		dom = renderedPage(t, browser, url)
		if !strings.Contains(dom, "seats 2001–2500 of 2500") {
			t.Fatalf("%s: not the last page:\n%s", url, dom)
		}
		if !strings.Contains(dom, `<div class="seat booked" id="seat-2100"`) || strings.Contains(dom, `id="seat-1"`) {
			t.Errorf("%s: seat 2100 is not shown booked, or seat 1 is still shown", url)
		}
		if !strings.Contains(dom, `<button id="next" type="button" disabled="">`) {
			t.Errorf("%s: next is not disabled on the last page", url)
		}
	}

	// A link to an event that does not exist still shows the cluster and
	// the events to choose from, and says why there is no seat map.
	dom = renderedPage(t, browser, base+"?event=nosuch")
	if !strings.Contains(dom, `<option value="default">default</option>`) {
		t.Errorf("an unknown event: the list of events is not shown:\n%s", dom)
	}
	if !strings.Contains(dom, fmt.Sprintf(`data-id="%s"`, tc.cfgs[leader].ID)) {
		t.Errorf("an unknown event: the cluster is not shown")
	}
	if !strings.Contains(dom, "not updated: v1/events/nosuch/seats") || !strings.Contains(dom, "404") {
		t.Errorf("an unknown event: no error shown")
	}
}
