// SPDX-License-Identifier: MIT
// Viewer benchmark: how fast the experiment page draws its scalar charts for a large experiment.
//
// Usage: node tests/bench/viewer_bench.js TBDEV TBDEV_SERVER [TBDEV_EXAMPLE_LOGS]
//
// It writes a logdir of RUNS runs x TAGS scalar tags x STEPS steps (default 100 x 50 x 10000
// = 50M points; TF1 simple_value events with all of a run's tags in one event per step, as
// PyTorch's SummaryWriter.add_scalars-style loops write them), uploads it with the real tbdev
// client to a real tbdev-server (HTTPS, temporary SQLite database), then measures:
//   - the server-side time of one scalars request over all runs (the viewer's request:
//     /scalars?tag=T, 1000 points per run), from the server's request log, and as seen by a
//     client on the same machine;
//   - over several page loads in headless Chromium (1300x900): the time from navigation start
//     to the first scalar chart drawn, and until every chart card in the viewport is drawn.
// Each figure is printed as a 'viewer_bench: ...' line (medians, with min and max).
//
// Environment: TBDEV_BENCH_RUNS, TBDEV_BENCH_TAGS, TBDEV_BENCH_STEPS (scale down),
// TBDEV_BENCH_LOADS (page loads, default 5), TBDEV_BENCH_API (API requests, default 9),
// TBDEV_BENCH_KEEP=1 keeps the logdir and database in /tmp, TBDEV_BENCH_LOGDIR=DIR reuses a
// logdir written before (it must match the sizes).
// Exits 77 when playwright-core or Chromium is missing.
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('../browser/lib.js');

const RUNS = +(process.env.TBDEV_BENCH_RUNS || 100);
const TAGS = +(process.env.TBDEV_BENCH_TAGS || 50);
const STEPS = +(process.env.TBDEV_BENCH_STEPS || 10000);
const LOADS = +(process.env.TBDEV_BENCH_LOADS || 5);
const API_N = +(process.env.TBDEV_BENCH_API || 9);

const out = (s) => console.log('viewer_bench: ' + s);
const fmt = (xs, unit) => {
  unit = unit || 'ms';
  const m = L.median(xs);
  return `median ${m.toFixed(0)} ${unit} (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`;
};

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
        ev[o++] = 0x09; ev.writeDoubleLE(wall0 + s, o); o += 8;
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

// In the page, from the start: when the first scalar chart is drawn, and when every chart
// card in the viewport has its chart.
const PROBE = `(() => {
  const t = window.__bench = { firstChart: null, allVisible: null, visibleCards: 0, cards: 0 };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; };
  const drawn = (c) => !!(c.querySelector('canvas') || c.querySelector('.chart.empty') || c.querySelector('.error'));
  const tick = () => {
    const cards = [...document.querySelectorAll('.scalar-card')];
    t.cards = cards.length;
    if (t.firstChart === null && cards.some((c) => c.querySelector('canvas'))) t.firstChart = performance.now();
    if (t.allVisible === null && cards.length) {
      const vis = cards.filter(visible);
      if (vis.length && vis.every(drawn)) { t.allVisible = performance.now(); t.visibleCards = vis.length; }
    }
    if (t.allVisible === null) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();`;

async function main() {
  const args = L.parseArgs(process.argv);
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  const keep = !!process.env.TBDEV_BENCH_KEEP;
  out(`size ${RUNS} runs x ${TAGS} tags x ${STEPS} steps = ${(RUNS * TAGS * STEPS / 1e6).toFixed(2)}M points`);

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
  const dbBytes = fs.readdirSync(server.dir).filter((f) => f.startsWith('tbdev.db')).reduce((a, f) => a + fs.statSync(path.join(server.dir, f)).size, 0);
  out(`upload of ${(RUNS * TAGS * STEPS / 1e6).toFixed(2)}M points took ${up.seconds.toFixed(1)} s (${(RUNS * TAGS * STEPS / up.seconds / 1e6).toFixed(2)}M points/s); database ${(dbBytes / 1048576).toFixed(0)} MiB`);
  const tags = (await server.json(`/api/v1/experiments/${id}/tags`)).tags;
  const pts = tags.reduce((a, t) => a + t.points, 0);
  if (pts !== RUNS * TAGS * STEPS) out(`WARNING: the server holds ${pts} points, expected ${RUNS * TAGS * STEPS}`);

  // ---- API: one scalars request over all runs ----
  const serverMs = [], clientMs = [], sizes = [];
  for (let k = 0; k < API_N; k++) {
    const tag = tagName(k % TAGS);
    const p = `/api/v1/experiments/${id}/scalars?tag=${encodeURIComponent(tag)}`;
    const logBefore = fs.statSync(server.logPath).size;
    const t0 = process.hrtime.bigint();
    const r = await server.get(p, { headers: { Accept: 'application/json' } });
    clientMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    sizes.push(r.body.length);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${r.body.toString().slice(0, 200)}`);
    await L.sleep(50);
    const log = fs.readFileSync(server.logPath, 'utf8').slice(logBefore);
    const m = log.match(/GET \/api\/v1\/experiments\/\S+\/scalars \d+ (\d+) bytes ([\d.]+) ms/);
    if (m) serverMs.push(+m[2]);
  }
  const one = JSON.parse((await server.get(`/api/v1/experiments/${id}/scalars?tag=${encodeURIComponent(tagName(0))}`, { headers: { Accept: 'application/json' } })).body);
  out(`API scalars request, ${one.series.length} runs x ${one.series[0].total} points downsampled to ${one.series[0].points.length} each, ${(L.median(sizes) / 1048576).toFixed(1)} MiB JSON:`);
  if (serverMs.length) out(`  server-side time ${fmt(serverMs)}`);
  else out('  server-side time: no request log line found');
  out(`  client-observed time (new HTTPS connection each) ${fmt(clientMs)}`);
  const allMs = [];
  for (let k = 0; k < Math.min(3, API_N); k++) {
    const logBefore = fs.statSync(server.logPath).size;
    const r = await server.get(`/api/v1/experiments/${id}/scalars?tag=${encodeURIComponent(tagName(k))}&run=${runName(0)}&points=all`, { headers: { Accept: 'application/json' } });
    if (r.status !== 200) break;
    await L.sleep(50);
    const m = fs.readFileSync(server.logPath, 'utf8').slice(logBefore).match(/scalars \d+ (\d+) bytes ([\d.]+) ms/);
    if (m) allMs.push(+m[2]);
  }
  if (allMs.length) out(`  one run at points=all (${STEPS} points): server-side ${fmt(allMs)}`);

  // ---- page loads ----
  const browser = await L.launchBrowser();
  await browser.addInitScript(PROBE);
  const first = [], all = [], visCards = [], requests = [], firstResp = [], lastResp = [], rows = [], series = [];
  const url = `${server.url}/experiment/${id}/`;
  const errors = [];
  for (let k = 0; k < LOADS + 1; k++) {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    let nreq = 0;
    page.on('request', (r) => { if (r.url().includes('/scalars?')) nreq++; });
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.__bench && window.__bench.allVisible !== null, null, { timeout: 300000, polling: 200 });
    const b = await page.evaluate(() => {
      const r = performance.getEntriesByType('resource').filter((e) => e.name.includes('/scalars?')).map((e) => e.responseEnd).sort((x, y) => x - y);
      const c = document.querySelector('.scalar-card canvas')?.closest('.scalar-card');
      const u = c && c._chart;
      return Object.assign({}, window.__bench, { firstResponse: r[0], lastResponse: r[r.length - 1], rows: u ? u.data[0].length : 0, series: u ? u.series.length - 1 : 0 });
    });
    if (k > 0) { // the first load warms the static-file cache and the database pages
      first.push(b.firstChart); all.push(b.allVisible); visCards.push(b.visibleCards); requests.push(nreq);
      firstResp.push(b.firstResponse); lastResp.push(b.lastResponse); rows.push(b.rows); series.push(b.series);
    } else out(`cold page load (not counted): first chart ${b.firstChart.toFixed(0)} ms, all visible ${b.allVisible.toFixed(0)} ms`);
    await page.close();
  }
  out(`page load, 1300x900 viewport, ${LOADS} loads after one warm-up (times from navigation start):`);
  out(`  time to first chart ${fmt(first)}`);
  out(`  time until all visible charts are drawn ${fmt(all)} (${L.median(visCards)} cards in view, ${L.median(requests)} scalars requests)`);
  out(`  first scalars response complete at ${fmt(firstResp)}; last at ${fmt(lastResp)}`);
  out(`  first chart: ${L.median(series)} series (raw + smoothed per run) joined on ${L.median(rows)} x values`);
  if (errors.length) out('page errors: ' + errors.slice(0, 3).join(' | '));
  if (keep) out(`kept: logdir ${logdir}, database ${server.db}`);
}

main().then(() => L.runCleanup()).then(() => process.exit(0)).catch(async (e) => {
  console.error('viewer_bench: failed: ' + (e && e.stack ? e.stack : e));
  await L.runCleanup();
  process.exit(1);
});
