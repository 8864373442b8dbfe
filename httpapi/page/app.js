// The live page: polls this node's HTTP port and redraws the cluster and
// one event's seat map, a page of up to 1,000 seats at a time (previous /
// next, or ?from=N in the address). No library, nothing fetched from
// elsewhere.
"use strict";

const pageSize = 1000;
const params = new URLSearchParams(location.search);
let event = params.get("event") || "default";
let from = Math.max(1, parseInt(params.get("from") || "1", 10) || 1);

// showAddress keeps the event and the page in the address, so that a
// reload or a shared link shows the same seats.
function showAddress() {
  const q = new URLSearchParams({ event: event });
  if (from > 1) q.set("from", String(from));
  history.replaceState(null, "", "?" + q.toString());
}

function goTo(first) {
  from = Math.max(1, first);
  showAddress();
  refresh();
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

function drawNodes(cluster) {
  document.getElementById("self").textContent = cluster.self;
  const box = document.getElementById("nodes");
  box.replaceChildren();
  for (const n of cluster.nodes) {
    const leader = n.state === "Leader";
    const card = el("div", "node" + (leader ? " leader" : "") + (n.state === "unreachable" ? " unreachable" : ""));
    card.dataset.id = n.id;
    card.append(el("div", "id", n.id), el("div", "role", n.state));
    card.append(el("div", "nums", "term " + n.term + " · applied " + n.applied_index));
    box.append(card);
  }
}

function drawEvents(list) {
  const sel = document.getElementById("event");
  const names = list.events.map(e => e.name);
  if (sel.options.length !== names.length || names.some((n, i) => sel.options[i].value !== n)) {
    sel.replaceChildren(...names.map(n => { const o = el("option", "", n); o.value = n; return o; }));
  }
  sel.value = event;
}

function drawSeats(page) {
  document.getElementById("counts").textContent =
    page.seats + " seats: " + page.free + " free, " + page.held + " held, " + page.booked + " booked";
  // refresh never draws an empty page of an event (it moves to the last
  // page instead), so the page shows seats from..last.
  const last = page.from + page.page.length - 1;
  document.getElementById("paging").hidden = page.seats <= page.page.length;
  document.getElementById("range").textContent = "seats " + page.from + "–" + last + " of " + page.seats;
  document.getElementById("prev").disabled = page.from <= 1;
  document.getElementById("next").disabled = !page.next;
  const grid = document.getElementById("seats");
  if (grid.children.length !== page.page.length || grid.dataset.from !== String(page.from)) {
    grid.replaceChildren(...page.page.map(s => { const d = el("div", "seat"); d.id = "seat-" + s.seat; return d; }));
    grid.dataset.from = String(page.from);
  }
  page.page.forEach((s, i) => {
    const d = grid.children[i];
    const cls = "seat " + s.state;
    if (d.className !== cls) d.className = cls;
    d.title = "seat " + s.seat + ": " + s.state + (s.holder ? " by " + s.holder : "") +
      (s.expires_ms ? " until " + new Date(s.expires_ms).toLocaleTimeString() : "");
  });
}

// Refreshes overlap (a click that changes the page while the timer's is
// under way): one is shown, seats or error, only if no later one was shown
// already and it is for the page still shown, so a slow answer for the
// previous page cannot replace the new one. The timer skips its turn while
// a refresh is under way, so a slow node does not pile requests up.
let asked = 0, shown = 0, underWay = 0;

async function refresh() {
  const mine = ++asked, wantEvent = event, wantFrom = from;
  underWay++;
  try {
    // Each part is drawn if it came: an unknown event (an old link) still
    // shows the cluster and the list of events to pick from.
    const [cluster, events, page] = await Promise.allSettled([
      getJSON("v1/cluster"), getJSON("v1/events"),
      getJSON("v1/events/" + encodeURIComponent(wantEvent) + "/seats?from=" + wantFrom + "&count=" + pageSize),
    ]);
    if (mine < shown || wantEvent !== event || wantFrom !== from) return;
    shown = mine;
    if (cluster.status === "fulfilled") drawNodes(cluster.value);
    if (events.status === "fulfilled") drawEvents(events.value);
    if (page.status === "fulfilled") {
      const p = page.value;
      if (p.page.length === 0 && wantFrom > 1 && p.seats > 0) {
        // Past the event's last seat (a smaller event, or an old link):
        // show its last page instead.
        goTo(Math.floor((p.seats - 1) / pageSize) * pageSize + 1);
        return;
      }
      drawSeats(p);
    }
    const failed = [cluster, events, page].find(r => r.status === "rejected");
    document.getElementById("error").textContent = failed ? "not updated: " + failed.reason.message : "";
  } finally {
    underWay--;
  }
}

document.getElementById("event").addEventListener("change", e => {
  event = e.target.value;
  goTo(1);
});
document.getElementById("prev").addEventListener("click", () => goTo(from - pageSize));
document.getElementById("next").addEventListener("click", () => goTo(from + pageSize));
refresh();
setInterval(() => { if (underWay === 0) refresh(); }, 500);
