// Plain JavaScript, no build step. The key stays in this tab's sessionStorage and goes out only as a bearer token.
const $ = (id) => document.getElementById(id);
$("key").value = sessionStorage.getItem("logjet-key") || "";
$("key").addEventListener("change", () => sessionStorage.setItem("logjet-key", $("key").value));
const headers = () => $("key").value ? { Authorization: "Bearer " + $("key").value } : {};
const status = (text) => { $("status").textContent = text; };

function params(extra) {
  const p = new URLSearchParams({ from: $("range").value, to: "now", ...extra });
  if ($("q").value) p.set("q", $("q").value);
  if ($("level").value) p.set("level", $("level").value);
  if ($("service").value) p.set("service", $("service").value);
  return p;
}

const shown = new Set();  // event ids on screen: a document indexed just before the tail starts can also be in the search's page

function row(doc, prepend) {
  const id = doc.event && doc.event.id;
  if (id && shown.has(id)) return;
  if (id) shown.add(id);
  const tr = document.createElement("tr");
  tr.className = "row";
  const level = (doc.log && doc.log.level) || "";
  const service = (doc.service && doc.service.name) || (doc.container && doc.container.name) || "";
  for (const [text, cls] of [[doc["@timestamp"], ""], [level, "lvl-" + level], [service, ""], [doc.message, "msg"]]) {
    const td = document.createElement("td");
    td.textContent = text || "";
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  tr.addEventListener("click", () => {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); return; }
    const detail = document.createElement("tr");
    detail.className = "detail";
    const td = document.createElement("td");
    td.colSpan = 4;
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(doc, null, 2);
    td.appendChild(pre); detail.appendChild(td); tr.after(detail);
  });
  const body = $("rows");
  prepend ? body.prepend(tr) : body.appendChild(tr);
}

async function problem(res) {
  try { const p = await res.json(); return `${p.title}: ${p.detail}`; } catch { return res.statusText; }
}

async function search() {
  status("searching…");
  const res = await fetch("/v1/logs?" + params({ size: 200 }), { headers: headers() });
  if (!res.ok) { status(await problem(res)); return; }
  const page = await res.json();
  $("rows").replaceChildren();
  shown.clear();
  page.documents.forEach((d) => row(d, false));
  const total = page.total.relation === "eq" ? page.total.value : `${page.total.value}+`;
  status(`${total} matching entries; showing ${page.documents.length}`);
  const stats = await fetch("/v1/stats?" + new URLSearchParams({ from: $("range").value, to: "now",
    interval: { "now-15m": "15s", "now-1h": "1m", "now-24h": "30m", "now-7d": "3h" }[$("range").value] }),
    { headers: headers() });
  if (stats.ok) histogram((await stats.json()).over_time);
}

function histogram(buckets) {
  const max = Math.max(1, ...buckets.map((b) => b.count));
  $("histogram").replaceChildren(...buckets.map((b) => {
    const bar = document.createElement("div");
    bar.style.height = (100 * b.count / max) + "%";
    bar.title = `${b.time}: ${b.count}`;
    return bar;
  }));
}

// Live tail over Server-Sent Events, read with fetch: EventSource cannot send the Authorization header.
let tail = null;
async function startTail() {
  tail = new AbortController();
  const p = params({});
  p.delete("from"); p.delete("to");
  try {
    const res = await fetch("/v1/logs/tail?" + p, { headers: headers(), signal: tail.signal });
    if (!res.ok) { status(await problem(res)); $("live").checked = false; return; }
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
        if (event === "log") row(JSON.parse(data), true);
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") status("live tail ended: " + err.message);
  }
}

$("search").addEventListener("click", search);
$("q").addEventListener("keydown", (e) => { if (e.key === "Enter") search(); });
$("live").addEventListener("change", () => {
  if ($("live").checked) startTail(); else if (tail) { tail.abort(); status("live tail off"); }
});
if ($("key").value) search();
