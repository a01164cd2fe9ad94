// SPDX-License-Identifier: MIT
// Viewer benchmark: the experiment page on a large experiment, against the goals of PERF.md
// and issue 13.
//
// Usage: node tests/bench/viewer_bench.js TBDEV TBDEV_SERVER [TBDEV_EXAMPLE_LOGS]
//
// It writes a logdir of RUNS runs x TAGS scalar tags x STEPS steps (default 100 x 50 x 2000
// = 10M points; TF1 simple_value events with all of a run's tags in one event per step, as
// PyTorch's SummaryWriter loops write them), uploads it with the real tbdev client to a real
// tbdev-server (HTTPS, temporary SQLite database), then measures, in headless Chromium with a
// 1400x1000 viewport, medians of LOADS page loads after one warm-up:
//   - the viewer's scalars request (one tag, every run, as the page asks it): server time
//     from the request log, bytes as sent (zstd) and uncompressed, and the same answer in the
//     old form (rows, exact 17-digit floats, no compression) for comparison;
//   - time to the first chart and to every chart in view, on loopback and throttled to
//     10 Mbit/s with 60 ms latency (DevTools protocol Network.emulateNetworkConditions), with
//     the bytes downloaded until then; the throttled first chart is also given as a ratio to
//     the least time those bytes can take at that bandwidth (a limit measured in the same run);
//   - the height of a card with every run;
//   - redraw after a setting change (smoothing, one run toggled off and on, the x axis):
//     until every chart in view shows it, and the scalars requests sent meanwhile (goal:
//     none), also as a ratio to uPlot redrawing the same charts' data (setData) in the page;
//   - after scrolling through every card: the bytes downloaded and the JS heap after a GC.
// Each figure is printed as a 'viewer_bench: ...' line.
//
// Environment: TBDEV_BENCH_RUNS, TBDEV_BENCH_TAGS, TBDEV_BENCH_STEPS (scale down),
// TBDEV_BENCH_LOADS (default 5), TBDEV_BENCH_KEEP=1 keeps the logdir and database in /tmp,
// TBDEV_BENCH_LOGDIR=DIR reuses a logdir written before (it must match the sizes),
// TBDEV_BENCH_ONLY=redraw measures only the card height, the redraws and the scrolling (no
// request timings, no page-load series), TBDEV_BENCH_SHOTS=DIR saves screenshots of the
// dashboard (as loaded, smoothing 0.6, one run off) there.
// Exits 77 when playwright-core or Chromium is missing.
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('../browser/lib.js');

const RUNS = +(process.env.TBDEV_BENCH_RUNS || 100);
const TAGS = +(process.env.TBDEV_BENCH_TAGS || 50);
const STEPS = +(process.env.TBDEV_BENCH_STEPS || 2000);
const LOADS = +(process.env.TBDEV_BENCH_LOADS || 5);
const ONLY_REDRAW = process.env.TBDEV_BENCH_ONLY === 'redraw';
const SHOTS = process.env.TBDEV_BENCH_SHOTS || '';
const VIEW = { width: 1400, height: 1000 };
const SLOW = { offline: false, latency: 60, downloadThroughput: 10e6 / 8, uploadThroughput: 10e6 / 8 };

const out = (s) => console.log('viewer_bench: ' + s);
const fmt = (xs, unit, digits) => {
  unit = unit === undefined ? 'ms' : unit;
  const d = digits === undefined ? 0 : digits;
  const m = L.median(xs);
  return `median ${m.toFixed(d)}${unit ? ' ' + unit : ''} (min ${Math.min(...xs).toFixed(d)}, max ${Math.max(...xs).toFixed(d)}, n=${xs.length})`;
};
const mib = (b) => (b / 1048576).toFixed(2) + ' MiB';

const tagName = (j) => `group_${String(Math.floor(j / 10)).padStart(2, '0')}/metric_${String(j).padStart(2, '0')}`;
const runName = (i) => `run_${String(i).padStart(3, '0')}`;

// One event file per run: STEPS events, each with TAGS simple values. Written straight into
// buffers (the encoding is fixed-size per event) and framed with the masked CRC32C.
function writeLogdir(dir) {
  const prefixes = [];
  for (let j = 0; j < TAGS; j++) {
    const tag = Buffer.from(tagName(j));
    const valueLen = 1 + L.varint(tag.length).length + tag.length + 5; // tag field + float field
    prefixes.push(Buffer.concat([Buffer.from([0x0a]), L.varint(valueLen), Buffer.from([0x0a]), L.varint(tag.length), tag, Buffer.from([0x15])]));
  }
  const summaryLen = prefixes.reduce((a, p) => a + p.length + 4, 0);
  const summaryHead = Buffer.concat([Buffer.from([0x2a]), L.varint(summaryLen)]);
  let seed = 12345;
  const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296; };
  const wall0 = Date.now() / 1000 - STEPS - 3600;
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const rdir = path.join(dir, runName(i));
    fs.mkdirSync(rdir, { recursive: true });
    const fd = fs.openSync(path.join(rdir, `events.out.tfevents.${Math.floor(wall0)}.bench.1.${i}`), 'w');
    const head = L.frame(L.ev.fileVersion(wall0));
    fs.writeSync(fd, head);
    bytes += head.length;
    const CHUNK = 1000;
    for (let s0 = 0; s0 < STEPS; s0 += CHUNK) {
      const recs = [];
      for (let s = s0; s < Math.min(STEPS, s0 + CHUNK); s++) {
        const stepV = L.varint(s);
        const evLen = 9 + (s ? 1 + stepV.length : 0) + summaryHead.length + summaryLen;
        const ev = Buffer.alloc(evLen);
        let o = 0;
        // wall times with microseconds, as time.time() gives them
        ev[o++] = 0x09; ev.writeDoubleLE(wall0 + s * 1.37 + i * 0.001 + rnd() * 1e-3, o); o += 8;
        if (s) { ev[o++] = 0x10; stepV.copy(ev, o); o += stepV.length; }
        summaryHead.copy(ev, o); o += summaryHead.length;
        for (let j = 0; j < TAGS; j++) {
          prefixes[j].copy(ev, o); o += prefixes[j].length;
          const v = Math.exp(-s / (STEPS / 3)) * (1 + 0.2 * Math.sin(s / 50 + i)) + 0.01 * j + 0.05 * (rnd() - 0.5) + 0.002 * i;
          ev.writeFloatLE(v, o); o += 4;
        }
        recs.push(L.frame(ev));
      }
      const b = Buffer.concat(recs);
      fs.writeSync(fd, b);
      bytes += b.length;
    }
    fs.closeSync(fd);
  }
  return bytes;
}

// In the page, from the start: when the first scalar chart is drawn, and when every card in
// the viewport is.
const PROBE = `(() => {
  const t = window.__bench = { firstChart: null, allVisible: null, visibleCards: 0 };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; };
  const done = (c) => ['drawn', 'empty', 'error'].includes(c.dataset.state);
  const tick = () => {
    const cards = [...document.querySelectorAll('.scalar-card')];
    if (t.firstChart === null && cards.some((c) => c.dataset.state === 'drawn' && c.querySelector('canvas'))) t.firstChart = performance.now();
    if (t.allVisible === null && cards.length) {
      const vis = cards.filter(visible);
      if (vis.length && vis.every(done)) { t.allVisible = performance.now(); t.visibleCards = vis.length; }
    }
    if (t.allVisible === null) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();`;

// Bytes received by the page (encoded, as on the wire), from the DevTools protocol.
async function byteCounter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const c = { cdp, bytes: 0, scalars: 0, urls: new Map() };
  cdp.on('Network.requestWillBeSent', (e) => c.urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => {
    c.bytes += e.encodedDataLength;
    if ((c.urls.get(e.requestId) || '').includes('/scalars?')) c.scalars++;
  });
  return c;
}

async function pageLoad(browser, url, throttle) {
  const page = await browser.newPage();
  await page.setViewportSize(VIEW);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const bc = await byteCounter(page);
  if (throttle) await bc.cdp.send('Network.emulateNetworkConditions', throttle);
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__bench && window.__bench.allVisible !== null, null, { timeout: 300000, polling: 100 });
  const b = await page.evaluate(() => {
    const t = window.__bench;
    // bytes on the wire of what had arrived when the first chart was drawn
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter((e) => e.responseEnd <= t.firstChart);
    return Object.assign({}, t, { firstBytes: (nav ? nav.transferSize : 0) + res.reduce((a, e) => a + e.transferSize, 0),
      cached: performance.getEntriesByType('resource').filter((e) => e.name.includes('/static/') && e.transferSize === 0).length });
  });
  return { page, bc, first: b.firstChart, all: b.allVisible, cards: b.visibleCards, bytes: bc.bytes, firstBytes: b.firstBytes, cached: b.cached, errors };
}

// Changes a setting through its control and waits until every card in view shows it.
// Returns the time in ms and the scalars requests sent meanwhile.
async function redraw(page, bc, change, check) {
  let reqs = 0;
  const onReq = (r) => { if (r.url().includes('/scalars?')) reqs++; };
  page.on('request', onReq);
  const ms = await page.evaluate(async ({ changeSrc, checkSrc }) => {
    // eslint-disable-next-line no-new-func
    const change = new Function('return (' + changeSrc + ')()'), ok = new Function('c', 'return (' + checkSrc + ')(c)');
    const visible = (el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; };
    const cards = [...document.querySelectorAll('.scalar-card')].filter(visible);
    const t0 = performance.now();
    change();
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      if (cards.every((c) => ok(c))) return performance.now() - t0;
      if (performance.now() - t0 > 30000) return -1;
    }
  }, { changeSrc: change.toString(), checkSrc: check.toString() });
  await L.sleep(300); // a request sent after the redraw would count too
  page.off('request', onReq);
  return { ms, requests: reqs };
}

// Stroking every line of the charts in view once, point by point (a plain canvas chart): the
// limit a redraw is compared with.
async function strokeLimit(page) {
  return page.evaluate(() => {
    const visible = (el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; };
    const t0 = performance.now();
    for (const c of [...document.querySelectorAll('.scalar-card')].filter(visible).map((el) => window.tbdevViewer.cardFor(el))) {
      if (!c || !c.chart || !c.chart.u) continue;
      const u = c.chart.u, ctx = u.ctx;
      for (const s of c.chart.all) {
        const p = new Path2D();
        for (let i = 0; i < s.xs.length; i++) p.lineTo(u.valToPos(s.xs[i], 'x', true), u.valToPos(s.ys[i], 'y', true));
        ctx.strokeStyle = s.color;
        ctx.stroke(p);
      }
      u.redraw(false);
    }
    return performance.now() - t0;
  });
}

async function main() {
  const args = L.parseArgs(process.argv);
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  const keep = !!process.env.TBDEV_BENCH_KEEP;
  out(`size ${RUNS} runs x ${TAGS} tags x ${STEPS} steps = ${(RUNS * TAGS * STEPS / 1e6).toFixed(2)}M points; viewport ${VIEW.width}x${VIEW.height}`);

  let logdir = process.env.TBDEV_BENCH_LOGDIR;
  if (!logdir) {
    logdir = L.tmpdir('tbdev-bench-logs-');
    if (!keep) L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
    const t0 = Date.now();
    const bytes = writeLogdir(logdir);
    out(`logdir written in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${(bytes / 1048576).toFixed(0)} MiB in ${RUNS} event files (${logdir})`);
  }

  // the server logs each request with its time: not --quiet
  const server = await new L.Server(args.server, { quiet: false, keep }).start();
  const token = server.addUser('bench');
  const client = new L.Client(args.tbdev, server, token);
  await client.login();
  const up = await client.upload(logdir, { name: 'viewer bench' });
  const id = up.id;
  out(`upload of ${(RUNS * TAGS * STEPS / 1e6).toFixed(2)}M points took ${up.seconds.toFixed(1)} s (${(RUNS * TAGS * STEPS / up.seconds / 1e6).toFixed(2)}M points/s)`);
  const tags = (await server.json(`/api/v1/experiments/${id}/tags`)).tags;
  const pts = tags.reduce((a, t) => a + t.points, 0);
  if (pts !== RUNS * TAGS * STEPS) out(`WARNING: the server holds ${pts} points, expected ${RUNS * TAGS * STEPS}`);

  // ---- the viewer's scalars request, and the old one ----
  const runs = Array.from({ length: RUNS }, (_, i) => runName(i));
  const q = (tag, extra) => `/api/v1/experiments/${id}/scalars?tag=${encodeURIComponent(tag)}&` + runs.map((r) => 'run=' + r).join('&') + extra;
  const logTime = async (p, headers) => {
    const before = fs.statSync(server.logPath).size;
    const r = await server.get(p, { headers: Object.assign({ Accept: 'application/json' }, headers || {}) });
    await L.sleep(30);
    const m = fs.readFileSync(server.logPath, 'utf8').slice(before).match(/GET \/api\/v1\/experiments\/\S+\/scalars \d+ (\d+) bytes ([\d.]+) ms/);
    return { r, ms: m ? +m[2] : NaN, wire: m ? +m[1] : r.body.length };
  };
  const nowMs = [], nowWire = [], nowRaw = [], oldMs = [], oldRaw = [];
  for (let k = 0; k < (ONLY_REDRAW ? 0 : 5); k++) {
    const tag = tagName(k % TAGS);
    const a = await logTime(q(tag, `&points=${Math.max(2000, STEPS)}&layout=columns&precision=display`), { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
    nowMs.push(a.ms);
    nowWire.push(a.wire);
    const plain = await server.get(q(tag, `&points=${Math.max(2000, STEPS)}&layout=columns&precision=display`), { headers: { Accept: 'application/json' } });
    nowRaw.push(plain.body.length);
    const b = await logTime(q(tag, '&points=1000'));
    oldMs.push(b.ms);
    oldRaw.push(b.r.body.length);
  }
  if (!ONLY_REDRAW) out(`the page's scalars request (one tag, ${RUNS} runs, up to ${Math.max(2000, STEPS)} points each, columns, precision=display):`);
  if (!ONLY_REDRAW) out(`  server time ${fmt(nowMs)}; ${mib(L.median(nowWire))} sent (zstd) of ${mib(L.median(nowRaw))} JSON, ratio ${(L.median(nowWire) / L.median(nowRaw)).toFixed(3)}`);
  if (!ONLY_REDRAW) out(`  before this change the page asked ?points=1000 in rows: ${mib(L.median(oldRaw))} uncompressed; server time now ${fmt(oldMs)}`);

  // ---- page loads ----
  // the server's certificate trusted, so that the page's files are cached as with a real one
  const browser = await L.launchBrowser({ trustCert: server.cacert });
  await browser.addInitScript(PROBE);
  const url = `${server.url}/experiment/${id}/?tab=scalars`;
  const errors = [];
  for (const [label, throttle] of ONLY_REDRAW ? [] : [['loopback', null], ['10 Mbit/s, 60 ms latency', SLOW]]) {
    const first = [], all = [], bytes = [], cards = [], ratio = [], firstBytes = [], cached = [];
    for (let k = 0; k < LOADS + 1; k++) {
      const l = await pageLoad(browser, url, throttle);
      errors.push(...l.errors);
      if (k > 0) {
        first.push(l.first); all.push(l.all); bytes.push(l.bytes); cards.push(l.cards); firstBytes.push(l.firstBytes); cached.push(l.cached);
        if (throttle) ratio.push(l.first / (l.firstBytes / throttle.downloadThroughput * 1000 + 4 * throttle.latency));
      } else out(`${label}: first load, nothing cached (not counted): first chart ${l.first.toFixed(0)} ms, ${mib(l.firstBytes)} by then`);
      await l.page.close();
    }
    out(`page load, ${label}, ${LOADS} loads after a warm-up (times from navigation start):`);
    out(`  first chart ${fmt(first)} (goal < ${throttle ? 3000 : 1000} ms), ${mib(L.median(firstBytes))} on the wire by then (${L.median(cached)} page files from the cache)`);
    out(`  every chart in view ${fmt(all)} (${L.median(cards)} cards), ${mib(L.median(bytes))} downloaded by then (the cards a screen ahead included)`);
    if (throttle) out(`  first chart / (its bytes at 10 Mbit/s + 4 round trips): ${fmt(ratio, '', 2)}`);
  }

  // ---- one page: card height, redraws, scrolling through every card ----
  const l = await pageLoad(browser, url, null);
  const page = l.page;
  errors.push(...l.errors);
  const height = await page.$eval('.scalar-card', (c) => ({ h: c.getBoundingClientRect().height, runs: c.dataset.runs }));
  out(`a card with ${height.runs} runs is ${height.h.toFixed(0)} px tall (goal < 700 px)`);
  const settle = () => page.waitForFunction(() => [...document.querySelectorAll('.scalar-card')].filter((c) => { const r = c.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; })
    .every((c) => c.dataset.state === 'drawn'), null, { timeout: 120000 });
  await settle();
  // the cards a screen ahead load in the background: measure once that is over
  for (let quiet = 0, last = -1; quiet < 10;) {
    await L.sleep(200);
    quiet = l.bc.scalars === last ? quiet + 1 : 0;
    last = l.bc.scalars;
  }
  const shot = async (name, sel) => {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    const f = path.join(SHOTS, name + '.png');
    if (sel) await page.locator(sel).first().screenshot({ path: f }); else await page.screenshot({ path: f });
    out(`screenshot ${f}`);
  };
  await shot('scalars-100-runs-loaded');
  await shot('scalars-100-runs-card', '.scalar-card');
  const results = { smoothing: [], toggle: [], axis: [], limit: [] };
  const reqs = { smoothing: 0, toggle: 0, axis: 0 };
  for (let k = 0; k < LOADS; k++) {
    const w = k % 2 ? 0.6 : 0.85;
    let r = await redraw(page, l.bc, new Function(`const s = document.getElementById('smoothing'); s.value = '${w}'; s.dispatchEvent(new Event('change'));`),
      new Function('c', `return c.dataset.smoothing === '${w}';`));
    results.smoothing.push(r.ms); reqs.smoothing += r.requests;
    const shown = k % 2 ? RUNS : RUNS - 1; // off, then on again
    r = await redraw(page, l.bc, () => { const cb = document.querySelector('.run-toggle[data-run="run_001"]'); cb.checked = !cb.checked; cb.dispatchEvent(new Event('change')); },
      new Function('c', `return c.dataset.runs === '${shown}';`));
    results.toggle.push(r.ms); reqs.toggle += r.requests;
    const x = k % 2 ? 'step' : 'relative';
    r = await redraw(page, l.bc, new Function(`const s = document.getElementById('x-axis'); s.value = '${x}'; s.dispatchEvent(new Event('change'));`),
      new Function('c', `return c.dataset.x === '${x}';`));
    results.axis.push(r.ms); reqs.axis += r.requests;
    results.limit.push(await strokeLimit(page));
  }
  await L.sleep(500); // the exact smoothing arrives
  // smoothing 0.85, run_001 off, relative x axis; the grid is dark because strokeLimit() set
  // strokes on uPlot's context behind its back (its cached style), on main as well
  await shot('scalars-100-runs-after-changes');
  const lim = L.median(results.limit);
  out(`redraw after a setting change, every chart in view, ${LOADS} changes each (goal < 200 ms, no download):`);
  out(`  smoothing ${fmt(results.smoothing)}, ${reqs.smoothing} scalars requests; ratio to stroking every point of those lines once ${(L.median(results.smoothing) / lim).toFixed(2)}`);
  out(`  one run toggled ${fmt(results.toggle)}, ${reqs.toggle} scalars requests; ratio ${(L.median(results.toggle) / lim).toFixed(2)}`);
  out(`  x axis step/relative ${fmt(results.axis)}, ${reqs.axis} scalars requests; ratio ${(L.median(results.axis) / lim).toFixed(2)}`);
  out(`  (stroking every point of the lines in view once: ${fmt(results.limit, 'ms', 0)})`);

  // scroll through every card, each drawn before the next
  const bytes0 = l.bc.bytes;
  const t0 = Date.now();
  const n = await page.evaluate(async () => {
    const cards = [...document.querySelectorAll('.scalar-card')];
    for (const c of cards) {
      c.scrollIntoView({ block: 'center' });
      const t = performance.now();
      while (!['drawn', 'empty', 'error'].includes(c.dataset.state) && performance.now() - t < 60000) await new Promise((r) => setTimeout(r, 20));
    }
    return cards.length;
  });
  await L.sleep(500);
  await l.bc.cdp.send('HeapProfiler.collectGarbage');
  const heap = await l.bc.cdp.send('Runtime.getHeapUsage');
  // typed arrays live outside V8's heap: count the ones the page keeps as well
  const arrays = await page.evaluate(() => window.tbdevViewer.ctx.scalarData.bytes());
  // what the charts keep beside the data (kept column ranges, the shared layers), when the page has it
  const charts = await page.evaluate(() => import('/static/chart_line.js').then((m) => (m.chartBytes ? m.chartBytes() : null)));
  out(`scrolled through all ${n} cards in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${mib(l.bc.bytes - bytes0)} more downloaded (${mib(l.bc.bytes)} in all)`);
  const mb = (b) => (b / 1048576).toFixed(0) + ' MB';
  out(`  after a GC: JS heap ${mb(heap.usedSize)} + ${mb(arrays)} of cached typed arrays` + (charts !== null ? ` + ${mb(charts)} the charts keep (column ranges, shared layers)` : '') +
    ` = ${mb(heap.usedSize + arrays + (charts || 0))} (goal < 150 MB)`);
  out(`(load average of the machine at the end: ${require('os').loadavg().map((x) => x.toFixed(1)).join(', ')} on ${require('os').cpus().length} cores)`);
  await page.close();
  if (errors.length) out('page errors: ' + errors.slice(0, 3).join(' | '));
  if (keep) out(`kept: logdir ${logdir}, database ${server.db}`);
}

main().then(() => L.runCleanup()).then(() => process.exit(0)).catch(async (e) => {
  console.error('viewer_bench: failed: ' + (e && e.stack ? e.stack : e));
  await L.runCleanup();
  process.exit(1);
});
