// The live page: polls this node's HTTP port and redraws the cluster and
// one event's seat map (the first 1,000 seats). No library, nothing fetched
// from elsewhere.
"use strict";

const params = new URLSearchParams(location.search);
let event = params.get("event") || "default";

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
    page.seats + " seats: " + page.free + " free, " + page.held + " held, " + page.booked + " booked" +
    (page.seats > page.page.length ? " (first " + page.page.length + " shown)" : "");
  const grid = document.getElementById("seats");
  if (grid.children.length !== page.page.length) {
    grid.replaceChildren(...page.page.map(s => { const d = el("div", "seat"); d.id = "seat-" + s.seat; return d; }));
  }
  page.page.forEach((s, i) => {
    const d = grid.children[i];
    const cls = "seat " + s.state;
    if (d.className !== cls) d.className = cls;
    d.title = "seat " + s.seat + ": " + s.state + (s.holder ? " by " + s.holder : "") +
      (s.expires_ms ? " until " + new Date(s.expires_ms).toLocaleTimeString() : "");
  });
}

async function refresh() {
  try {
    const [cluster, events, page] = await Promise.all([
      getJSON("v1/cluster"), getJSON("v1/events"),
      getJSON("v1/events/" + encodeURIComponent(event) + "/seats?from=1&count=1000"),
    ]);
    drawNodes(cluster);
    drawEvents(events);
    drawSeats(page);
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "not updated: " + e.message;
  }
}

document.getElementById("event").addEventListener("change", e => {
  event = e.target.value;
  history.replaceState(null, "", "?event=" + encodeURIComponent(event));
  refresh();
});
refresh();
setInterval(refresh, 500);
