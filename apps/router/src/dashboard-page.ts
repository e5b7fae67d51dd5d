import { createHash } from 'node:crypto'

/**
 * The dashboard served at `GET /`: one self-contained HTML page (inline style and script, an inline SVG
 * chart, no build step, nothing fetched from elsewhere) that polls `GET /v1/dashboard` every second.
 * Everything a provider controls (model names, builds, reasons) is written with `textContent`, never as
 * HTML, and the Content-Security-Policy allows only this page's own script and style (by hash) and
 * requests to this origin.
 */

const STYLE = `
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --wait: #9a6700; --muted: #6e7781; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 1200px; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.sub { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #8884; white-space: nowrap; }
td.wrap { white-space: normal; }
code { font-size: .8rem; }
.badge { padding: 0 .4rem; border-radius: .6rem; font-size: .78rem; border: 1px solid currentColor; }
.verified, .trusted { color: var(--ok); } .failed, .banned, .error { color: var(--bad); }
.pending, .running, .probation { color: var(--wait); } .unaudited, .cancelled { color: var(--muted); }
.legend span { margin-right: 1rem; } .legend i { display: inline-block; width: .8rem; height: .2rem; vertical-align: middle; margin-right: .3rem; }
.c-tps { background: #0969da; } .c-queue { background: #cf222e; } .c-flight { background: #9a6700; }
svg { width: 100%; height: 170px; border: 1px solid #8884; }
#status.lost { color: var(--bad); }
`

const SCRIPT = `
'use strict';
var POLL_MS = 1000;
function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function short(id) { return id.length > 14 ? id.slice(0, 6) + '…' + id.slice(-6) : id; }
function row(cells) {
  var tr = document.createElement('tr');
  cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : el('td', c)); });
  return tr;
}
function cell(node, cls) { var td = el('td', null, cls); td.appendChild(node); return td; }
function badge(text) { return cell(el('span', text, 'badge ' + text)); }
function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren();
  if (rows.length === 0) { var td = el('td', empty, 'sub'); td.colSpan = columns; tbody.appendChild(row([td])); }
  rows.forEach(function (r) { tbody.appendChild(r); });
}
function providerState(rep) { return rep.banned ? 'banned' : rep.probation ? 'probation' : 'trusted'; }
function renderProviders(d) {
  var rows = [];
  d.providers.forEach(function (p) {
    p.models.forEach(function (m) {
      var tr = row([
        cell(el('code', short(p.peer_id))),
        m.name, m.quantization, el('td', m.build + (m.same_build_as_router === false ? ' (other build)' : ''), 'wrap'),
        m.active_jobs + '/' + (m.max_concurrent_jobs || '?') + (m.queued_jobs ? ' +' + m.queued_jobs + ' queued' : ''),
        String(p.router_jobs_in_flight),
        p.ms_per_token === null ? '…' : p.ms_per_token + ' ms/token, first ' + p.first_token_ms + ' ms',
        p.reputation.score.toFixed(3), String(p.reputation.total_jobs),
        badge(providerState(p.reputation)),
        el('td', p.reputation.ban_reason || '', 'wrap'),
      ]);
      tr.dataset.peer = p.peer_id;
      tr.dataset.state = providerState(p.reputation);
      rows.push(tr);
    });
  });
  d.banned.forEach(function (b) {
    var tr = row([cell(el('code', short(b.peer_id))), '—', '', '', '', '', '', b.reputation.score.toFixed(3),
      String(b.reputation.total_jobs), badge('banned'), el('td', b.reputation.ban_reason || '', 'wrap')]);
    tr.dataset.peer = b.peer_id;
    tr.dataset.state = 'banned';
    rows.push(tr);
  });
  fill(document.getElementById('providers'), rows, 'no provider known yet', 11);
}
function renderJobs(d) {
  var rows = d.jobs.map(function (j) {
    var id = el('code', short(j.id));
    var idCell;
    if (j.receipt && j.receipt.indexOf('/v1/receipts/') === 0) {
      var a = el('a'); a.href = j.receipt; a.appendChild(id); a.title = 'signed receipt'; idCell = cell(a);
    } else idCell = cell(id);
    var tr = row([
      new Date(j.started_at).toLocaleTimeString(), idCell, j.model, j.mode, cell(el('code', short(j.provider))),
      badge(j.status), j.latency_ms === null ? '…' : j.latency_ms + ' ms',
      j.completion_tokens === null ? '' : String(j.completion_tokens), el('td', j.reason || '', 'wrap'),
    ]);
    tr.dataset.job = j.id;
    tr.dataset.status = j.status;
    return tr;
  });
  fill(document.getElementById('jobs'), rows, 'no job yet', 9);
}
function line(points, key, max, color, w, h) {
  if (points.length < 2) return null;
  var t0 = points[0].t, span = Math.max(1, points[points.length - 1].t - t0);
  var d = points.map(function (p) {
    return ((p.t - t0) / span * (w - 40) + 35).toFixed(1) + ',' + (h - 15 - p[key] / max * (h - 30)).toFixed(1);
  }).join(' ');
  var pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  pl.setAttribute('points', d); pl.setAttribute('fill', 'none'); pl.setAttribute('stroke', color);
  pl.setAttribute('stroke-width', '1.5'); pl.dataset.series = key;
  return pl;
}
function label(text, x, y) {
  var t = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  t.setAttribute('x', x); t.setAttribute('y', y); t.setAttribute('font-size', '10'); t.setAttribute('fill', 'currentColor');
  t.textContent = text; return t;
}
function renderChart(d) {
  var svg = document.getElementById('chart'), w = 800, h = 170, pts = d.series;
  svg.replaceChildren();
  var maxTps = Math.max(1, Math.max.apply(null, pts.map(function (p) { return p.tokens_per_second; }).concat([0])));
  var maxQ = Math.max(1, Math.max.apply(null, pts.map(function (p) { return Math.max(p.queue_depth, p.in_flight); }).concat([0])));
  svg.appendChild(label(maxTps.toFixed(0) + ' tok/s', 2, 12));
  svg.appendChild(label(maxQ + ' jobs', w - 45, 12));
  svg.appendChild(label('0', 2, h - 12));
  [line(pts, 'tokens_per_second', maxTps, '#0969da', w, h), line(pts, 'queue_depth', maxQ, '#cf222e', w, h),
   line(pts, 'in_flight', maxQ, '#9a6700', w, h)].forEach(function (l) { if (l) svg.appendChild(l); });
  var last = pts[pts.length - 1];
  document.getElementById('now-tps').textContent = last ? String(last.tokens_per_second) : '0';
  document.getElementById('now-queue').textContent = last ? String(last.queue_depth) : '0';
  document.getElementById('now-flight').textContent = last ? String(last.in_flight) : '0';
}
function poll() {
  fetch('/v1/dashboard', { cache: 'no-store' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function (d) {
      document.getElementById('peer').textContent = d.router.peer_id;
      renderProviders(d); renderJobs(d); renderChart(d);
      var s = document.getElementById('status');
      s.textContent = 'updated ' + new Date(d.now).toLocaleTimeString(); s.className = '';
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    })
    .catch(function (e) {
      var s = document.getElementById('status');
      s.textContent = 'router unreachable (' + e.message + '), retrying'; s.className = 'lost';
    })
    .finally(function () { setTimeout(poll, POLL_MS); });
}
poll();
`

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/** The page's Content-Security-Policy: its own inline script and style only, requests to this origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  // The empty favicon below (so the browser asks for no /favicon.ico).
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** The dashboard's HTML. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Infraxa router</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<h1>Infraxa router</h1>
<div class="sub">peer <code id="peer">…</code> · <span id="status">loading…</span> ·
  <a href="/v1/models">models</a> · <a href="/health">health</a> · <a href="/metrics">metrics</a></div>

<h2>Throughput and queue</h2>
<div class="legend">
  <span><i class="c-tps"></i>tokens/s <b id="now-tps">0</b></span>
  <span><i class="c-queue"></i>queue depth <b id="now-queue">0</b></span>
  <span><i class="c-flight"></i>jobs in flight <b id="now-flight">0</b></span>
</div>
<svg id="chart" viewBox="0 0 800 170" preserveAspectRatio="none" role="img" aria-label="tokens per second and queue depth over time"></svg>

<h2>Providers</h2>
<table>
<thead><tr><th>peer</th><th>model</th><th>weights</th><th>build</th><th>load</th><th>this router's jobs</th><th>speed</th><th>reputation</th><th>jobs</th><th>state</th><th>reason</th></tr></thead>
<tbody id="providers"></tbody>
</table>

<h2>Recent jobs</h2>
<table>
<thead><tr><th>started</th><th>receipt</th><th>model</th><th>mode</th><th>provider</th><th>verification</th><th>latency</th><th>tokens</th><th>reason</th></tr></thead>
<tbody id="jobs"></tbody>
</table>
<script>${SCRIPT}</script>
</body>
</html>
`
