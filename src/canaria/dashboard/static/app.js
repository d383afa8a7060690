// canaria dashboard: renders the snapshots the server pushes over server-sent events.
// Each push replaces what is shown (tables, timeline, chart data) with the server's
// bounded window, so a page left open does not grow. No framework, no CDN: uPlot comes
// from node_modules through /static/uplot.js.
"use strict";

const $ = (sel) => document.querySelector(sel);
const charts = {};
let lastSnapshot = null;
let source = null;
let window_ = { start: 0, end: 1 }; // the deployment's time window, shared by every chart
let judgeRange = [0, 3];

// ---- formatting ------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fill(tbody, rows, empty) {
  if (!rows.length && empty) rows = [[empty]];
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = el("tr", {}, ...cells.map((c) => el("td", {}, c)));
    return tr;
  }));
}

const pct = (w) => {
  if (w === null || w === undefined) return "-";
  const v = w * 100;
  return `${v > 0 && v < 1 ? v.toFixed(2) : v.toFixed(v % 1 ? 1 : 0)}%`;
};
const clockTime = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "");
const dur = (s) => {
  if (s === null || s === undefined) return "";
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
};
const age = (s) => (s < 1 ? "just now" : `${dur(s)} ago`);
const pill = (text, cls) => el("span", { class: `pill ${cls}` }, text);
const stateText = (d) => d.state + (d.rolled_back ? " (rolled back)" : "");
const change = (d) => d.targets.map((t) => `${t.function}:${t.alias} v${t.from_version ?? "-"} → v${t.to_version}`).join(", ");

// ---- overview --------------------------------------------------------------------------

function splitBar(split) {
  const bar = el("span", { class: "split" });
  Object.entries(split).forEach(([v, w], i) => {
    bar.append(el("span", { class: `seg c${i}`, style: `width:${Math.max(w * 100, 0.5)}%`, title: `v${v}: ${pct(w)}` }));
  });
  const text = Object.entries(split).map(([v, w]) => `v${v} ${pct(w)}`).join(" · ");
  return el("span", { class: "split-wrap" }, bar, el("span", { class: "split-text" }, text));
}

function renderFunctions(snap) {
  const cards = Object.entries(snap.functions).map(([name, f]) => {
    const routes = f.routes.length
      ? el("ul", { class: "routes" }, ...f.routes.map((r) => el("li", {}, el("code", {}, `${r.method} ${r.path}`), ` (${r.kind} API ${r.api}, stage ${r.stage}${r.authorizer ? `, authorizer ${r.authorizer}` : ""})`)))
      : el("p", { class: "muted" }, "no routes");
    const aliasRows = f.aliases.map((a) => [el("strong", {}, a.name), splitBar(a.split)]);
    const aliases = el("table", { class: "aliases" }, el("thead", {}, el("tr", {}, el("th", {}, "alias"), el("th", {}, "split (version → weight)"))), el("tbody"));
    fill(aliases.tBodies[0], aliasRows, f.alias_name ? "no alias yet" : "no alias ($LATEST only)");
    const versions = el("table", { class: "versions" }, el("thead", {}, el("tr", {}, ...["version", "age", "digest", "handler", "runtime"].map((h) => el("th", {}, h)))), el("tbody"));
    fill(versions.tBodies[0], f.versions.map((v) => [`v${v.number}`, age(v.age_s), el("code", { title: v.digest }, v.digest.slice(0, 12)), v.handler, v.runtime]), "no versions");
    return el("article", { class: "function", "data-function": name },
      el("h3", {}, name), routes,
      el("div", { class: "function-body" }, aliases, versions));
  });
  $("#functions").replaceChildren(...(cards.length ? cards : [el("p", { class: "muted" }, "no application loaded")]));
}

function renderAlarms(snap) {
  const rows = Object.entries(snap.alarms).map(([n, a]) => [n, pill(a.state, a.state), a.updated_at ? age(snap.now - a.updated_at) : "", a.reason]);
  fill($("#alarms tbody"), rows, "no alarms");
}

function renderHistory(snap) {
  const focusId = snap.focus ? snap.focus.id : null;
  const rows = snap.history.map((d) => {
    const link = el("a", { href: `#${d.id}` }, d.id);
    const tr = el("tr", { class: d.id === focusId ? "selected" : "", "data-deployment": d.id },
      el("td", {}, link),
      el("td", {}, clockTime(d.created_at)),
      el("td", {}, change(d)),
      el("td", {}, d.config),
      el("td", {}, pill(stateText(d), d.state)),
      el("td", {}, dur(d.duration_s)),
      el("td", {}, d.blast_radius === null ? "n/a" : `${d.blast_radius} failed`),
      el("td", {}, d.stopped_by ? `${d.stopped_by}: ${d.error_message || ""}` : (d.error_message || "")));
    return tr;
  });
  $("#history tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8 }, "no deployments yet"))]));
}

function renderGuarded(snap) {
  const rows = (snap.guarded || []).map((g) => {
    const evidence = Object.entries(g.evidence).map(([m, v]) => `${m} ${Number(v).toPrecision(3)}`).join(", ");
    let decision = g.verdict || "watching";
    if (g.action) decision += `; ${g.action_status}: ${g.action}${g.answer ? ` → ${g.answer}` : ""}`;
    const last = g.events.length ? g.events[g.events.length - 1] : null;
    return [g.deployment_id, `${g.function}:${g.alias}`, `${g.current_version} → ${g.target_version}${g.weight == null ? "" : ` (${Math.round(g.weight * 100)}%)`}`,
      pill(g.status, g.status), evidence || "-", decision, last ? `${clockTime(last.time)} ${last.message}` : ""];
  });
  fill($("#guarded tbody"), rows, "none: run canaria guard --stack NAME (see the README)");
}

// ---- charts ----------------------------------------------------------------------------

const COLORS = ["#4c78a8", "#e45756", "#54a24b", "#b279a2", "#f58518", "#72b7b2"];

function chart(id, series, data, yScale = {}, yAxis = {}) {
  const target = document.getElementById(id);
  const key = series.map((s) => s.label).join("|");
  const existing = charts[id];
  if (existing && existing.key === key) {
    existing.plot.setData(data);
    return;
  }
  if (existing) existing.plot.destroy();
  const plot = new uPlot({
    width: Math.max(320, target.clientWidth || 420),
    height: 170,
    cursor: { sync: { key: "deployment" } },
    scales: { x: { time: true, range: () => [window_.start, window_.end] }, y: yScale },
    series: [{}, ...series],
    axes: [{}, { size: 56, ...yAxis }],
    legend: { show: true, live: false },
  }, data, target);
  charts[id] = { plot, key };
}

function resizeCharts() {
  for (const [id, c] of Object.entries(charts)) {
    const w = document.getElementById(id).clientWidth;
    if (w) c.plot.setSize({ width: Math.max(320, w), height: 170 });
  }
}
window.addEventListener("resize", resizeCharts);

const line = (label, i, extra = {}) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, ...extra });
const pctAxis = { values: (u, ticks) => ticks.map((v) => pct(v)) };

function renderCharts(d) {
  window_ = d.window;
  const w = d.weights;
  chart("chart-weight", [line("new version", 1, { width: 2, fill: "rgba(228,87,86,.12)", points: { show: false } })],
    [w.map((p) => p[0]), w.map((p) => p[1])], { range: [0, 1] }, pctAxis);

  const t0 = d.targets[0];
  const per = d.series[t0.function] || {};
  const versions = Object.keys(per).sort((a, b) => a - b);
  const xs = versions.length ? per[versions[0]].map((p) => p[0]) : [];
  const col = (v, i) => per[v].map((p) => p[i]);
  const label = (v) => `v${v}${Number(v) === t0.to_version ? " (new)" : ""}`;
  chart("chart-rps", versions.map((v, i) => line(label(v), i)), [xs, ...versions.map((v) => col(v, 1))]);
  chart("chart-errors", versions.map((v, i) => line(label(v), i)), [xs, ...versions.map((v) => col(v, 2))], { range: [0, 1] }, pctAxis);
  const lat = versions.flatMap((v, i) => [line(`${label(v)} p50`, i), line(`${label(v)} p99`, i, { dash: [4, 3] })]);
  chart("chart-latency", lat, [xs, ...versions.flatMap((v) => [col(v, 4), col(v, 5)])]);

  const ev = d.evidence_history || [];
  const metrics = [...new Set(ev.flatMap((e) => Object.keys(e[1])))].sort();
  const threshold = d.judge && d.judge.threshold ? d.judge.threshold : null;
  // evidence spans many orders of magnitude: plot log10 on a linear scale, label 10^k
  const jx = ev.map((e) => e[0]);
  const lg = (v) => (v === null || v === undefined ? null : Math.log10(Math.max(v, 1e-3)));
  const logs = ev.flatMap((e) => Object.values(e[1]).map(lg)).filter((v) => v !== null);
  judgeRange = [Math.floor(Math.min(0, ...logs)), Math.ceil(Math.max(threshold ? lg(threshold) + 0.5 : 1, ...logs))];
  chart("chart-judge",
    [...metrics.map((m, i) => line(m, i)), { label: "threshold", stroke: "#111", dash: [6, 4], width: 1, points: { show: false } }],
    [jx, ...metrics.map((m) => ev.map((e) => lg(e[1][m]))), ev.map(() => (threshold ? lg(threshold) : null))],
    { range: () => judgeRange },
    { values: (u, ticks) => ticks.map((k) => (Number.isInteger(k) ? (k >= 4 || k < -1 ? `1e${k}` : String(10 ** k)) : "")) });
}

// ---- one deployment --------------------------------------------------------------------

const ACTIONS = {
  stop: { path: (d) => `/canaria/v1/deployments/${d.id}/stop`, body: {}, cli: (d) => `canaria stop ${d.id}`, text: (d) => `Stop ${d.id} and roll ${change(d)} back to the previous version?`, live: true },
  rollback: { path: (d) => `/canaria/v1/functions/${d.targets[0].function}/rollback`, body: {}, cli: (d) => `canaria rollback ${d.targets[0].function}`, text: (d) => `Roll ${d.targets[0].function} back to its previous version?`, live: false },
  promote: { path: (d) => `/canaria/v1/deployments/${d.id}/promote`, body: {}, cli: (d) => `canaria promote ${d.id}`, text: (d) => `End the current step of ${d.id} now and move to the next one?`, live: true },
  "promote-full": { path: (d) => `/canaria/v1/deployments/${d.id}/promote`, body: { full: true }, cli: (d) => `canaria promote ${d.id} --full`, text: (d) => `Shift all of ${change(d)} to the new version now, skipping every remaining wait?`, live: true },
};

function renderActions(d) {
  for (const [name, a] of Object.entries(ACTIONS)) {
    const button = document.querySelector(`#actions button[data-action="${name}"]`);
    const canRollBack = !d.completed || (d.state === "Succeeded" && !d.rolled_back && !d.rollback_of);
    button.disabled = a.live ? d.completed : !canRollBack;
    document.querySelector(`#actions code[data-cli="${name}"]`).textContent = a.cli(d);
  }
}

function renderLifecycle(d) {
  fill($("#lifecycle tbody"), d.lifecycle.map((r) => [
    r.stage,
    r.label,
    r.weight === undefined ? "" : pct(r.weight),
    pill(r.status, `st-${r.status}`),
    r.started_at && r.ended_at ? dur(r.ended_at - r.started_at) : r.started_at ? `${dur(lastSnapshot.now - r.started_at)} so far` : "",
    r.detail,
  ]));
}

function detectableText(j) {
  const n = j.canary_requests || 0;
  const need = j.min_detectable ? ` (required: ${pct(j.min_detectable)})` : "";
  if (j.detectable === null || j.detectable === undefined)
    return `After ${n} canary requests, not even a canary failing every request would have been caught yet${need}.`;
  return `After ${n} canary requests, a canary failing ${pct(j.detectable)} of its requests or more would have been caught${need}.`;
}

function renderJudge(d) {
  const j = d.judge || {};
  const note = $("#judge-note");
  const evidence = j.evidence || {};
  if (j.enabled === false) note.textContent = "The judge is switched off for this deployment: alarms only.";
  else if (!Object.keys(evidence).length) note.textContent = "Waiting for traffic on both versions.";
  else note.textContent = `Roll back when a metric's evidence reaches ${Number(j.threshold).toFixed(0)} (α = ${j.alpha ?? 0.01}). ` + detectableText(j);
  fill($("#judge tbody"), Object.entries(evidence).sort().map(([m, e]) => {
    const frac = j.threshold ? Math.min(1, Math.log(Math.max(e, 1)) / Math.log(j.threshold)) : 0;
    return [m, e === null ? "∞" : Number(e).toPrecision(3), j.threshold ? Number(j.threshold).toFixed(0) : "",
      el("span", { class: "meter" }, el("span", { class: e >= j.threshold ? "over" : "", style: `width:${(frac * 100).toFixed(1)}%` }))];
  }));
}

function renderFocus(snap) {
  const d = snap.focus;
  $("#deployment").hidden = !d;
  if (!d) return;
  $("#dep-id").textContent = d.id;
  const state = $("#dep-state");
  state.textContent = stateText(d);
  state.className = `pill ${d.state}`;
  $("#follow-latest").hidden = !snap.pinned;
  $("#dep-title").textContent = `${change(d)} · ${d.config} · started ${clockTime(d.created_at)}` +
    (d.completed ? ` · took ${dur(d.completed_at - d.created_at)}` : ` · new version at ${pct(d.current_weight)}`);
  const why = $("#dep-why");
  why.hidden = !(d.stopped_by || d.error_message);
  why.textContent = d.stopped_by || d.error_message ? `Stopped by ${d.stopped_by || d.error_code} — ${d.error_message || ""}` : "";
  renderActions(d);
  renderLifecycle(d);
  fill($("#dep-alarms tbody"), Object.entries(d.alarm_states).map(([n, a]) => [n, pill(a.state, a.state), a.reason]), "no alarms on this deployment");
  renderJudge(d);
  renderCharts(d);
  $("#timeline-note").textContent = d.events_total > d.events.length ? `(last ${d.events.length} of ${d.events_total})` : "";
  $("#timeline").replaceChildren(...d.events.map((e) => el("li", { "data-kind": e.kind },
    el("span", { class: "when" }, clockTime(e.time)), el("span", { class: "kind" }, e.kind), e.message)));
}

function render(snap) {
  lastSnapshot = snap;
  $("#app").textContent = snap.application || "";
  $("#clock").textContent = clockTime(snap.now);
  renderFunctions(snap);
  renderAlarms(snap);
  renderHistory(snap);
  renderGuarded(snap);
  renderFocus(snap);
}

// ---- operator actions ------------------------------------------------------------------

async function runAction(a, d) {
  const out = $("#action-result");
  out.textContent = `${a.cli(d)} …`;
  out.className = "";
  try {
    const resp = await fetch(a.path(d), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(a.body),
      credentials: "same-origin",
    });
    const body = await resp.json();
    if (!resp.ok) {
      out.textContent = `${a.cli(d)}: ${body.error ? body.error.message : resp.statusText}`;
      out.className = "error";
      return;
    }
    const dep = body.deployment || (body.id ? body : null);
    out.textContent = dep ? `${a.cli(d)}: ${dep.id} ${stateText(dep)}` : `${a.cli(d)}: ${body.alias.function}:${body.alias.name} → v${body.alias.version}`;
  } catch (exc) {
    out.textContent = `${a.cli(d)}: ${exc}`;
    out.className = "error";
  }
}

for (const button of document.querySelectorAll("#actions button")) {
  button.addEventListener("click", () => {
    const d = lastSnapshot && lastSnapshot.focus;
    if (!d) return;
    const a = ACTIONS[button.dataset.action];
    $("#confirm-text").textContent = a.text(d);
    $("#confirm-cli").textContent = a.cli(d);
    const dialog = $("#confirm");
    dialog.returnValue = "";
    dialog.onclose = () => { if (dialog.returnValue === "ok") runAction(a, d); };
    dialog.showModal();
  });
}

// ---- the stream ------------------------------------------------------------------------

function focusWanted() {
  return decodeURIComponent(location.hash.slice(1)) || "";
}

let downSince = null;
function setConn(live) {
  const conn = $("#conn");
  if (live) {
    downSince = null;
    conn.textContent = "live";
    conn.className = "pill live";
  } else if (downSince === null) {
    downSince = Date.now();
    setTimeout(() => { if (downSince !== null) { conn.textContent = "reconnecting…"; conn.className = "pill down"; } }, 3000);
  }
}

function connect() {
  if (source) source.close();
  const focus = focusWanted();
  source = new EventSource(`/canaria/v1/stream${focus ? `?focus=${encodeURIComponent(focus)}` : ""}`);
  source.onopen = () => setConn(true);
  source.onmessage = (msg) => { setConn(true); render(JSON.parse(msg.data)); };
  source.onerror = async () => {
    setConn(false);
    if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
    // closed for good: signed out (token changed) or the server is gone; look, then retry
    try {
      const resp = await fetch("/canaria/v1/status", { credentials: "same-origin" });
      if (resp.status === 401) { location.assign("/"); return; }
    } catch (exc) { /* server down: retry below */ }
    setTimeout(connect, 2000);
  };
}

window.addEventListener("hashchange", connect);
$("#follow-latest").addEventListener("click", (ev) => {
  ev.preventDefault();
  history.replaceState(null, "", location.pathname);
  connect();
});
connect();
