// Plain JavaScript, no build step. The key stays in this tab's sessionStorage and goes out only as a bearer token.
// The page's state (query, range, filters, the view) lives in the URL's query string, in the API's own parameters
// (and `view=patterns` for the Patterns view): a link shows the same search, and the back button returns to the
// previous one.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const FACETS = ["level", "service", "namespace", "container", "host"];
const LEVEL_ORDER = ["emergency", "alert", "fatal", "critical", "error", "warn", "warning", "notice", "info", "debug",
  "trace"];
const PAGE = 200;
const MAX_ROWS = 2000;       // a live tail keeps the newest this many rows on screen
const MAX_PENDING = 2000;    // lines kept while the tail is paused (all are counted)
const CONTEXT_LINES = 50;
const TOP_PATTERNS = 20;     // with at most ~80 histogram bars per pattern, within the API's bound on counts
const VARIABLE = "<*>";      // what a pattern's template holds in place of a variable part

$("key").value = sessionStorage.getItem("logjet-key") || "";
const headers = () => $("key").value ? { Authorization: "Bearer " + $("key").value } : {};
const status = (text) => { $("status").textContent = text; };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- state <-> URL ----

function readUrl() {
  const p = new URLSearchParams(location.search);
  const include = {};
  for (const f of FACETS) if (p.has(f)) include[f] = p.get(f);
  return { q: p.get("q") || "", from: p.get("from") || "now-15m", to: p.get("to") || "now", include,
    exclude: p.getAll("exclude"), pattern: p.get("pattern") || "",
    view: p.get("view") === "patterns" ? "patterns" : "lines" };
}

// The search, as the API's parameters.
function toParams(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  p.set("from", s.from);
  p.set("to", s.to);
  for (const f of FACETS) if (s.include[f] !== undefined) p.set(f, s.include[f]);
  if (s.pattern) p.set("pattern", s.pattern);
  for (const e of s.exclude) p.append("exclude", e);
  return p;
}

// The page's URL: the search and the view.
function urlParams(s) {
  const p = toParams(s);
  if (s.view === "patterns") p.set("view", "patterns");
  return p;
}

let state = readUrl();

function showState() {
  $("q").value = state.q;
  const range = $("range");
  range.querySelector("option.zoomed")?.remove();
  if (state.to === "now" && [...range.options].some((o) => o.value === state.from)) {
    range.value = state.from;
  } else {
    const label = `${localTime(state.from).slice(5, 19)} – ${localTime(state.to).slice(5, 19)}`;
    range.prepend(el("option", { className: "zoomed", value: "", textContent: label }));
    range.value = "";
  }
  for (const tab of document.querySelectorAll("#views [data-view]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === state.view));
  }
  $("lines").hidden = state.view !== "lines";
  $("patterns").hidden = state.view !== "patterns";
  showPatternFilter();
}

function navigate(next) {
  state = next;
  const url = "?" + urlParams(state);
  if (url !== location.search) history.pushState(null, "", url);
  showState();
  run();
  if (tail) { tail.abort(); startTail(); }  // the tail follows the new filters
}

window.addEventListener("popstate", () => { state = readUrl(); showState(); run(); });

// ---- times ----

const pad = (n, w = 2) => String(n).padStart(w, "0");

// Elasticsearch writes nanoseconds; Date takes milliseconds. Relative times ("now-15m") are resolved here.
function toMs(text) {
  const rel = /^now(?:-(\d+)([smhd]))?$/.exec(text);
  if (rel) return Date.now() - (rel[1] ? rel[1] * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2]] : 0);
  return Date.parse(text.replace(/(\.\d{3})\d+/, "$1"));
}

// In the browser's zone, with milliseconds: "2026-11-29 18:13:42.123".
function localTime(text) {
  const d = new Date(toMs(text));
  if (isNaN(d)) return text;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:` +
    `${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

// ---- API ----

async function problem(res) {
  try { const p = await res.json(); return `${p.title}: ${p.detail}`; } catch { return res.statusText; }
}

async function api(path, params) {
  const res = await fetch(path + (params ? "?" + params : ""), { headers: headers() });
  if (res.status === 401) throw new Error("enter an API key (top right) to see the logs");
  if (!res.ok) throw new Error(await problem(res));
  return res.json();
}

// An interval giving at most ~80 bars over the range.
const STEPS = [[1, "1s"], [5, "5s"], [10, "10s"], [15, "15s"], [30, "30s"], [60, "1m"], [300, "5m"], [600, "10m"],
  [900, "15m"], [1800, "30m"], [3600, "1h"], [10800, "3h"], [21600, "6h"], [43200, "12h"], [86400, "1d"],
  [604800, "7d"]];
function interval(s) {
  const span = Math.max(1, (toMs(s.to) - toMs(s.from)) / 1000);
  return (STEPS.find(([step]) => span / step <= 80) || STEPS[STEPS.length - 1]);
}

let generation = 0;  // answers to an older search are dropped

const totalText = (t) => t.relation === "eq" ? t.value.toLocaleString() : `${t.value.toLocaleString()}+`;

async function run() {
  const mine = ++generation;
  status("searching…");
  const params = toParams(state);
  const [step, every] = interval(state);
  try {
    const facetsAsked = api("/v1/facets", new URLSearchParams([...params, ["interval", every]]));
    if (state.view === "patterns") {
      // Every pattern of the search, the chosen one among them (marked): a click on another switches to it.
      const all = new URLSearchParams([...params, ["top", TOP_PATTERNS], ["interval", every]]);
      all.delete("pattern");
      const [found, facets] = await Promise.all([api("/v1/patterns", all), facetsAsked]);
      if (mine !== generation) return;
      drawPatterns(found);
      status(`${totalText(found.total)} matching entries in ${found.patterns.length}` +
        `${found.others ? "+" : ""} patterns (times in ${ZONE})`);
      drawFacets(facets.facets);
      drawHistogram(facets.over_time || [], step * 1000);
      return;
    }
    const [page, facets] = await Promise.all([api("/v1/logs", new URLSearchParams([...params, ["size", PAGE]])),
      facetsAsked]);
    if (mine !== generation) return;
    $("rows").replaceChildren();
    shown.clear();
    page.documents.forEach((d) => addRow(d, false));
    const first = page.documents[0];
    if (state.pattern && first && first.logjet && first.logjet.pattern) {
      templates.set(state.pattern, first.logjet.pattern.template);
      showPatternFilter();
    }
    status(`${totalText(page.total)} matching entries; showing ${page.documents.length} (times in ${ZONE})`);
    drawFacets(facets.facets);
    drawHistogram(facets.over_time || [], step * 1000);
  } catch (err) {
    if (mine === generation) status(err.message);
  }
}

// ---- patterns ----

const templates = new Map();  // pattern id -> template, as the answers showed them

// A template with each variable part marked, so that what varies stands apart from the fixed words.
function templateNode(text) {
  const node = el("span", { className: "template" });
  text.split(VARIABLE).forEach((part, i) => {
    if (i > 0) node.append(el("span", { className: "var", textContent: VARIABLE }));
    if (part) node.append(part);
  });
  return node;
}

function choosePattern(id) {
  navigate({ ...state, pattern: id, view: "lines" });
}

function showPatternFilter() {
  const box = $("pattern-filter");
  if (!state.pattern) { box.hidden = true; box.replaceChildren(); return; }
  const clear = el("button", { type: "button", className: "plain clear", textContent: "×",
    title: "all patterns again" });
  clear.addEventListener("click", () => navigate({ ...state, pattern: "" }));
  const known = templates.get(state.pattern);
  box.replaceChildren("pattern ", known !== undefined ? templateNode(known) :
    el("code", { textContent: state.pattern }), clear);
  box.hidden = false;
}

function shareBar(share) {
  const W = 80, H = 10;
  const bar = svg("svg", { class: "share", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-label": `${(share * 100).toFixed(1)}% of the matching entries` });
  bar.append(svg("rect", { class: "track", x: 0, y: 0, width: W, height: H }),
    svg("rect", { class: "fill", x: 0, y: 0, width: Math.max(share > 0 ? 1 : 0, share * W), height: H }));
  return bar;
}

function sparkline(buckets) {
  const W = 120, H = 24;
  const line = svg("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-label": "lines over time" });
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const bw = W / Math.max(1, buckets.length);
  buckets.forEach((b, i) => {
    if (!b.count) return;
    const h = Math.max(1, b.count / max * H);
    const rect = svg("rect", { x: i * bw, y: H - h, width: Math.max(1, bw - 0.5), height: h });
    rect.append(svg("title", {}, `${localTime(b.time)}: ${b.count}`));
    line.append(rect);
  });
  return line;
}

function drawPatterns(found) {
  const total = found.total.value || 1;
  const sorted = [...found.patterns].sort((a, b) => b.count - a.count);
  const rows = sorted.map((p) => {
    templates.set(p.id, p.template);
    const share = p.count / total;
    const tr = el("tr", { className: "pattern", title: `latest: ${p.sample}` },
      el("td", { className: "count", textContent: p.count.toLocaleString() }),
      el("td", { className: "share" }, shareBar(share),
        el("span", { className: "pct", textContent: `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%` })),
      el("td", { className: "spark" }, sparkline(p.over_time || [])),
      el("td", { className: "msg" }, templateNode(p.template)));
    tr.dataset.id = p.id;
    if (p.id === state.pattern) tr.classList.add("selected");
    // A click lists the pattern's lines; on the chosen pattern it lifts the filter.
    tr.addEventListener("click", () => (p.id === state.pattern ? navigate({ ...state, pattern: "" })
      : choosePattern(p.id)));
    return tr;
  });
  $("pattern-rows").replaceChildren(...rows);
  $("pattern-others").textContent = found.others
    ? `${found.others.toLocaleString()} more matching entries in patterns not listed (the top ${TOP_PATTERNS} are)`
    : sorted.length ? "" : "no entries match";
  showPatternFilter();
}

// ---- facets ----

function facetClick(name, value) {
  const next = { ...state, include: { ...state.include }, exclude: [...state.exclude] };
  const key = `${name}:${value}`;
  if (next.include[name] === value) {           // filtered on it: exclude it instead
    delete next.include[name];
    next.exclude.push(key);
  } else if (next.exclude.includes(key)) {      // excluded: back to no filter
    next.exclude = next.exclude.filter((e) => e !== key);
  } else {                                      // filter on it (one value per facet)
    next.include[name] = value;
    next.exclude = next.exclude.filter((e) => e !== key);
  }
  navigate(next);
}

function drawFacets(facets) {
  const sections = FACETS.map((name) => {
    const values = (facets[name] || []).map((v) => [String(v.value), v.count]);
    // Excluded values match nothing: listed anyway, so a click can lift the exclusion.
    for (const e of state.exclude) {
      const [n, ...rest] = e.split(":");
      const v = rest.join(":");
      if (n === name && !values.some(([x]) => x === v)) values.push([v, null]);
    }
    if (!values.length) return null;
    const items = values.map(([value, count]) => {
      const button = el("button", { type: "button", title: "click: only this; again: all but this; again: clear" },
        el("span", { className: "name", textContent: value }),
        el("span", { className: "count", textContent: count === null ? "–" : count.toLocaleString() }));
      button.dataset.facet = name;
      button.dataset.value = value;
      if (state.include[name] === value) button.classList.add("included");
      if (state.exclude.includes(`${name}:${value}`)) button.classList.add("excluded");
      button.addEventListener("click", () => facetClick(name, value));
      return el("li", {}, button);
    });
    const section = el("section", {}, el("h3", { textContent: name }), el("ul", {}, ...items));
    section.dataset.facet = name;
    return section;
  });
  $("facets").replaceChildren(...sections.filter(Boolean));
}

// ---- histogram ----

function levelClass(level) {
  return "l-" + (LEVEL_ORDER.includes(level) ? level : "other");
}

const TICK_MS = [1e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 108e5, 216e5, 432e5, 864e5, 6048e5];

function niceMax(n) {
  if (n <= 5) return Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= n);
}

function drawHistogram(buckets, stepMs) {
  const chart = $("histogram");
  const W = chart.clientWidth || 900, H = 150;
  const M = { left: 48, right: 8, top: 6, bottom: 22 };
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const start = buckets.length ? Date.parse(buckets[0].time) : toMs(state.from);
  const end = buckets.length ? Date.parse(buckets[buckets.length - 1].time) + stepMs : toMs(state.to);
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.count)));
  const x = (t) => M.left + (t - start) / Math.max(1, end - start) * pw;
  const y = (n) => M.top + ph - n / max * ph;
  const nodes = [];
  const yAxis = svg("g", { class: "axis y" });
  const grid = svg("g", { class: "grid" });
  for (const n of [0, max / 2, max]) {
    grid.append(svg("line", { x1: M.left, x2: W - M.right, y1: y(n), y2: y(n) }));
    yAxis.append(svg("text", { x: M.left - 6, y: y(n) + 4, "text-anchor": "end" },
      Number.isInteger(n) ? n.toLocaleString() : n.toFixed(1)));
  }
  yAxis.append(svg("line", { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ph }));
  nodes.push(grid);
  const levels = new Set();
  const bars = svg("g", { class: "bars" });
  const bw = Math.max(1, pw / Math.max(1, buckets.length) - 1);
  for (const b of buckets) {
    const t = Date.parse(b.time);
    let acc = 0;
    const parts = Object.entries(b.by || {}).sort(([a], [c]) => LEVEL_ORDER.indexOf(a) - LEVEL_ORDER.indexOf(c));
    const other = b.count - parts.reduce((s, [, n]) => s + n, 0);
    if (other > 0) parts.push(["other", other]);
    for (const [level, n] of parts) {
      levels.add(level);
      const rect = svg("rect", { x: x(t), y: y(acc + n), width: bw, height: Math.max(0, y(acc) - y(acc + n)),
        class: levelClass(level) });
      rect.append(svg("title", {}, `${localTime(b.time)}: ${n} ${level}`));
      bars.append(rect);
      acc += n;
    }
  }
  nodes.push(bars);
  const xAxis = svg("g", { class: "axis x" });
  xAxis.append(svg("line", { x1: M.left, x2: W - M.right, y1: M.top + ph, y2: M.top + ph }));
  // Ticks at round local times (every 5 minutes, every hour, ...), about one per 120 pixels.
  const step = TICK_MS.find((ms) => (end - start) / ms <= Math.max(2, pw / 120)) || TICK_MS[TICK_MS.length - 1];
  const shift = new Date(start).getTimezoneOffset() * 6e4;
  const [from, to] = step < 6e4 ? [11, 19] : end - start > 864e5 ? [5, 16] : [11, 16];
  for (let t = Math.ceil((start - shift) / step) * step + shift; t <= end; t += step) {
    const px = x(t);
    xAxis.append(svg("line", { x1: px, x2: px, y1: M.top + ph, y2: M.top + ph + 4 }));
    xAxis.append(svg("text", { x: px, y: H - 6,
      "text-anchor": px < M.left + 30 ? "start" : px > W - M.right - 30 ? "end" : "middle" },
    localTime(new Date(t).toISOString()).slice(from, to)));
  }
  nodes.push(xAxis, yAxis);
  chart.replaceChildren(...nodes);
  $("legend").replaceChildren(...[...levels].map((l) => el("span", { className: levelClass(l), textContent: l })));
  chart.dataset.start = start;
  chart.dataset.end = end;
  chart.dataset.left = M.left;
  chart.dataset.width = pw;
}

// Drag across the histogram to zoom into that range.
(function zoom() {
  const chart = $("histogram");
  let from = null, box = null;
  const at = (e) => {
    const r = chart.getBoundingClientRect();
    const scale = (Number(chart.viewBox.baseVal?.width) || r.width) / r.width;
    const left = Number(chart.dataset.left), width = Number(chart.dataset.width);
    return Math.min(left + width, Math.max(left, (e.clientX - r.left) * scale));
  };
  const time = (px) => Number(chart.dataset.start) +
    (px - Number(chart.dataset.left)) / Number(chart.dataset.width) * (Number(chart.dataset.end) - Number(chart.dataset.start));
  chart.addEventListener("mousedown", (e) => {
    if (!chart.dataset.width) return;
    from = at(e);
    box = svg("rect", { class: "selection", x: from, y: 0, width: 0, height: 150 });
    chart.append(box);
    e.preventDefault();
  });
  window.addEventListener("mousemove", (e) => {
    if (from === null) return;
    const to = at(e);
    box.setAttribute("x", Math.min(from, to));
    box.setAttribute("width", Math.abs(to - from));
  });
  window.addEventListener("mouseup", (e) => {
    if (from === null) return;
    const to = at(e);
    box.remove();
    const [a, b] = [Math.min(from, to), Math.max(from, to)];
    from = null;
    if (b - a < 3) return;
    navigate({ ...state, from: new Date(time(a)).toISOString(), to: new Date(time(b)).toISOString() });
  });
})();

// ---- rows ----

const shown = new Set();  // event ids on screen: a document indexed just before the tail starts can also be in the search's page

function cells(doc) {
  const level = (doc.log && doc.log.level) || "";
  const service = (doc.service && doc.service.name) || (doc.container && doc.container.name) || "";
  const ts = doc["@timestamp"] || "";
  return [
    el("td", { className: "time", textContent: localTime(ts), title: `${ts} (UTC)` }),
    el("td", { className: "lvl-" + level, textContent: level }),
    el("td", { textContent: service }),
    el("td", { className: "msg", textContent: doc.message || "" }),
  ];
}

function addRow(doc, prepend) {
  const id = doc.event && doc.event.id;
  if (id && shown.has(id)) return;
  if (id) shown.add(id);
  const tr = el("tr", { className: "row" }, ...cells(doc));
  if (id) tr.dataset.id = id;
  tr.addEventListener("click", () => toggle(tr, doc));
  const body = $("rows");
  if (prepend) {
    tr.classList.add("fresh");
    body.prepend(tr);
    while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  } else {
    body.appendChild(tr);
  }
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "copied";
  } catch {
    button.textContent = "select and copy";
  }
  setTimeout(() => { button.textContent = button.dataset.label; }, 1500);
}

function copyButton(label, text) {
  const b = el("button", { type: "button", className: "plain copy", textContent: label });
  b.dataset.label = label;
  b.addEventListener("click", (e) => { e.stopPropagation(); copy(text(), b); });
  return b;
}

// Every field, nested as in the document, each value copyable.
function fieldTree(value, top) {
  const ul = el("ul", { className: top ? "fields top" : "fields" });
  for (const [k, v] of Object.entries(value)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      ul.append(el("li", {}, el("span", { className: "k", textContent: k }), fieldTree(v, false)));
    } else {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      ul.append(el("li", {}, el("span", { className: "k", textContent: k + ": " }),
        el("span", { className: "v", textContent: text }), copyButton("copy", () => text)));
    }
  }
  return ul;
}

function toggle(tr, doc) {
  const next = tr.nextElementSibling;
  if (next && next.classList.contains("detail")) { next.remove(); tr.classList.remove("open"); return; }
  tr.classList.add("open");
  const td = el("td", { colSpan: 4 });
  const around = el("button", { type: "button", className: "plain context", textContent: "surrounding lines" });
  around.addEventListener("click", (e) => { e.stopPropagation(); surrounding(doc, td, around); });
  const pattern = doc.logjet && doc.logjet.pattern;
  let same = null;
  if (pattern && pattern.id) {
    same = el("button", { type: "button", className: "plain same-pattern", textContent: "lines of this pattern" });
    same.addEventListener("click", (e) => {
      e.stopPropagation();
      templates.set(pattern.id, pattern.template);
      choosePattern(pattern.id);
    });
  }
  td.append(el("div", { className: "tools" }, around, same,
    copyButton("copy JSON", () => JSON.stringify(doc, null, 2))), fieldTree(doc, true));
  tr.after(el("tr", { className: "detail" }, td));
}

async function surrounding(doc, td, button) {
  const id = doc.event && doc.event.id;
  if (!id) return;
  button.disabled = true;
  td.querySelector("table.context")?.remove();
  try {
    const ctx = await api(`/v1/logs/${encodeURIComponent(id)}/context`,
      new URLSearchParams({ before: CONTEXT_LINES, after: CONTEXT_LINES }));
    const source = (doc.logjet && doc.logjet.source && doc.logjet.source.id) || "its source";
    const line = (d, cls) => {
      const tr = el("tr", { className: cls }, ...cells(d));
      return tr;
    };
    const table = el("table", { className: "context" },
      el("caption", { textContent: `${ctx.before.length} lines before and ${ctx.after.length} after, from ${source}` }),
      el("tbody", {}, ...ctx.before.map((d) => line(d, "before")), line(ctx.document, "anchor"),
        ...ctx.after.map((d) => line(d, "after"))));
    td.append(table);
    table.querySelector("tr.anchor").scrollIntoView({ block: "center" });
  } catch (err) {
    td.append(el("p", { className: "context-error", textContent: err.message }));
  } finally {
    button.disabled = false;
  }
}

// ---- live tail ----

// Server-Sent Events read with fetch: EventSource cannot send the Authorization header.
let tail = null;
let paused = false;
let pending = [];
let missed = 0;

function pauseLabel() {
  $("pause").textContent = paused ? `resume (${(pending.length + missed).toLocaleString()} new)` : "pause";
  $("pause").classList.toggle("paused", paused);
}

function received(doc) {
  // The tail is asked for the chosen pattern; a line that reached it anyway (a pattern chosen while it ran) is left out.
  if (state.pattern && (doc.logjet && doc.logjet.pattern && doc.logjet.pattern.id) !== state.pattern) return;
  if (!paused) { addRow(doc, true); return; }
  pending.push(doc);
  if (pending.length > MAX_PENDING) { pending.shift(); missed++; }
  pauseLabel();
}

async function startTail() {
  tail = new AbortController();
  const p = toParams(state);
  p.delete("from"); p.delete("to");
  paused = false; pending = []; missed = 0;
  $("pause").hidden = false;
  pauseLabel();
  try {
    const res = await fetch("/v1/logs/tail?" + p, { headers: headers(), signal: tail.signal });
    if (!res.ok) { status(await problem(res)); stopTail(); return; }
    status("live tail: new entries appear at the top");
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const event = (block.match(/^event: (.*)$/m) || [])[1];
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (event === "log") received(JSON.parse(data));
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") status("live tail ended: " + err.message);
  }
}

function stopTail() {
  if (tail) tail.abort();
  tail = null;
  $("live").checked = false;
  $("pause").hidden = true;
}

$("pause").addEventListener("click", () => {
  paused = !paused;
  if (!paused) {
    const n = pending.length + missed;
    pending.forEach((d) => addRow(d, true));
    pending = []; missed = 0;
    status(`live tail: resumed, ${n} new entries`);
  } else {
    status("live tail paused: new entries are counted and kept");
  }
  pauseLabel();
});

$("live").addEventListener("change", () => {
  if ($("live").checked) startTail(); else { stopTail(); status("live tail off"); }
});

// ---- wiring ----

for (const tab of document.querySelectorAll("#views [data-view]")) {
  tab.addEventListener("click", () => {
    if (tab.dataset.view !== state.view) navigate({ ...state, view: tab.dataset.view });
  });
}

$("search").addEventListener("click", () => navigate({ ...state, q: $("q").value }));
$("q").addEventListener("keydown", (e) => { if (e.key === "Enter") navigate({ ...state, q: $("q").value }); });
$("range").addEventListener("change", () => {
  if ($("range").value) navigate({ ...state, from: $("range").value, to: "now" });
});
$("key").addEventListener("change", () => {
  // A change event also comes when the field loses focus: search again only for a new key.
  if ($("key").value === (sessionStorage.getItem("logjet-key") || "")) return;
  sessionStorage.setItem("logjet-key", $("key").value);
  run();
});

// On load: the URL's search (the last 15 minutes by default), at once; without a key outside demo mode the API
// answers 401 and the page asks for one.
showState();
run();
