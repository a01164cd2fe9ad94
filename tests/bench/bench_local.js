// SPDX-License-Identifier: MIT
// Local-mode benchmark: `tbdev serve` on a 1 GB logdir of scalars in the four scalar forms.
//
// Usage: node tests/bench/bench_local.js TBDEV TBDEV_SERVER TBDEV_SCALAR_FORMS
//
// It writes (once) a logdir of about TBDEV_BENCH_BYTES (default 1 GiB) with tbdev-scalar-forms:
// a quarter in each form real writers use for scalars (simple: PyTorch/tensorboardX
// simple_value; content: Keras/tf.summary tensor_content; float_val: TensorBoard's own
// writer; double: DT_DOUBLE), each 5 runs x 20 tags. Then, TBDEV_BENCH_REPS times (default 3)
// from an empty cache, it starts the real `tbdev serve` (which execs tbdev-server's local
// mode), opens its link in headless Chromium at once, and measures:
//   - the time from starting tbdev serve to the first scalar chart drawn with data;
//   - the time from starting it to everything read and stored (GET /api/v1/local: watching,
//     bytes_read = bytes_total), and the rate in values/s;
//   - the peak resident memory of the process (tbdev, which becomes tbdev-server by exec):
//     VmHWM, and the largest VmRSS sampled every 100 ms, with its anonymous part (the rest is
//     the database file mapped by SQLite, which the kernel can drop);
// and once more with the cache from the last run (a restart: nothing to read again).
// Figures are medians over the runs, against the goals (first chart < 2 s, < 200 MB resident)
// and TensorBoard's published loading rates (PERF.md: its Python loader reads 7k-90k events/s
// and samples 1,000 points per scalar series). Lines start with 'bench_local: '; the last one
// is a 'RESULT:' line with every figure.
//
// Environment: TBDEV_BENCH_BYTES, TBDEV_BENCH_REPS, TBDEV_BENCH_LOGDIR (reuse a logdir written
// before, e.g. kept with TBDEV_BENCH_KEEP=1). Exits 77 when playwright-core or Chromium is
// missing, 1 when a goal is not met or a run fails.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const L = require('../browser/lib.js');

const BYTES = +(process.env.TBDEV_BENCH_BYTES || (1 << 30));
const REPS = +(process.env.TBDEV_BENCH_REPS || 3);
const FORMS = ['simple', 'content', 'float_val', 'double'];
const RUNS = 5, TAGS = 20;
const GOAL_FIRST_CHART_S = 2, GOAL_RSS_MB = 200;
const TB_EVENTS_PER_S = [7000, 90000]; // PERF.md: TensorBoard's Python loader, published reports

const out = (s) => console.log('bench_local: ' + s);
const med = (xs) => L.median(xs);
const fmt = (xs, unit, digits) => `median ${med(xs).toFixed(digits)} ${unit} (min ${Math.min(...xs).toFixed(digits)}, max ${Math.max(...xs).toFixed(digits)}, n=${xs.length})`;

function duBytes(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? duBytes(p) : fs.statSync(p).size;
  }
  return n;
}

// Writes the logdir: each form's steps chosen from a small sample's bytes per point.
function writeLogdir(exe, forms, dir) {
  const sample = L.tmpdir('tbdev-bench-sample-');
  const per = {};
  for (const f of forms) {
    fs.mkdirSync(path.join(sample, f));
    execFileSync(exe, [path.join(sample, f), '1', String(TAGS), '200', f], { stdio: 'ignore' });
    per[f] = duBytes(path.join(sample, f)) / (TAGS * 200);
  }
  fs.rmSync(sample, { recursive: true, force: true });
  let points = 0;
  for (const f of forms) {
    const steps = Math.max(1, Math.round(BYTES / forms.length / (RUNS * TAGS * per[f])));
    fs.mkdirSync(path.join(dir, f), { recursive: true });
    execFileSync(exe, [path.join(dir, f), String(RUNS), String(TAGS), String(steps), f], { stdio: 'ignore' });
    points += RUNS * TAGS * steps;
    out(`  ${f}: ${RUNS} runs x ${TAGS} tags x ${steps} steps, ${per[f].toFixed(1)} bytes per point`);
  }
  return points;
}

// Resident memory of a process now, in MB: { rss, anon, file, hwm }.
function memOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => { const m = s.match(new RegExp('^' + k + ':\\s+(\\d+) kB', 'm')); return m ? +m[1] / 1024 : 0; };
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem'), hwm: kb('VmHWM') };
  } catch (e) { return null; }
}

// In the page: when the first scalar chart is drawn with data (epoch ms).
const PROBE = `(() => {
  const t = window.__bench = { firstChart: null };
  const tick = () => {
    for (const c of document.querySelectorAll('.scalar-card')) {
      // the page marks a card 'drawn' once its chart has its data (as viewer_bench reads it)
      if (c.dataset.state === 'drawn' && c.querySelector('canvas')) { t.firstChart = performance.timeOrigin + performance.now(); return; }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();`;

async function oneRun(args, browser, logdir, cache, label) {
  const serve = new L.LocalServe(args.tbdev, args.server, logdir, { cache, args: ['--quiet'] });
  const spawnEpoch = () => performance.timeOrigin + serve.startedAt;
  const starting = serve.start();
  // sample memory from the moment the process exists
  let peak = { rss: 0, anon: 0 };
  const sampler = setInterval(() => {
    if (!serve.proc) return;
    const m = memOf(serve.proc.pid);
    if (m && m.rss > peak.rss) peak = m;
  }, 100);
  await starting;
  const linkS = (serve.linkAt - serve.startedAt) / 1000;
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(serve.url + '/', { waitUntil: 'commit' });
  try {
    await page.waitForFunction(() => window.__bench && window.__bench.firstChart !== null, null, { timeout: 120000, polling: 50 });
  } catch (e) {
    await page.screenshot({ path: path.join(L.artifactsDir('bench_local'), 'no-chart.png') }).catch(() => {});
    throw new Error(`${label}: no chart drawn within 120 s of opening the page (screenshot in ${L.artifactsDir('bench_local')}): ${e.message}`);
  }
  const firstChartS = ((await page.evaluate(() => window.__bench.firstChart)) - spawnEpoch()) / 1000;
  const done = await serve.waitLocal((s) => s.state === 'watching' && s.bytes_read === s.bytes_total, 3600000, 200);
  const ingestS = (performance.now() - serve.startedAt) / 1000;
  const hwm = (memOf(serve.proc.pid) || {}).hwm || 0;
  clearInterval(sampler);
  await page.close();
  const code = await serve.stop('SIGINT');
  if (code !== 0) throw new Error(`${label}: tbdev serve exited ${code}: ${serve.err.slice(-500)}`);
  if (errors.length) out(`${label}: page errors: ${errors.slice(0, 3).join(' | ')}`);
  return { linkS, firstChartS, ingestS, hwm, peakRss: peak.rss, peakAnon: peak.anon, peakFile: peak.file, done };
}

async function main() {
  const a = process.argv.slice(2);
  if (a.length < 3) {
    console.error('usage: node bench_local.js TBDEV TBDEV_SERVER TBDEV_SCALAR_FORMS');
    process.exit(2);
  }
  const args = { tbdev: path.resolve(a[0]), server: path.resolve(a[1]) };
  const formsExe = path.resolve(a[2]);
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  let logdir = process.env.TBDEV_BENCH_LOGDIR;
  let points = null;
  if (!logdir) {
    logdir = L.tmpdir('tbdev-bench-local-');
    if (!process.env.TBDEV_BENCH_KEEP) L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
    const t0 = Date.now();
    out(`writing a ${(BYTES / 1048576).toFixed(0)} MiB logdir in ${logdir}:`);
    points = writeLogdir(formsExe, FORMS, logdir);
    out(`  written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const bytes = duBytes(logdir);
  out(`logdir ${(bytes / 1048576).toFixed(0)} MiB, ${FORMS.length * RUNS} runs x ${TAGS} tags${points ? `, ${(points / 1e6).toFixed(2)}M points` : ''}`);
  // what tbdev itself takes before it execs tbdev-server (its --help goes through the same parsing)
  const t = spawnSync('/usr/bin/time', ['-f', '%M', args.tbdev, 'serve', '--help'], { encoding: 'utf8' });
  const tbdevKb = t.status === 0 ? +t.stderr.trim().split('\n').pop() : NaN;

  const browser = await L.launchBrowser();
  await browser.addInitScript(PROBE);
  const runs = [];
  let cache = null;
  for (let k = 0; k < REPS; k++) {
    cache = L.tmpdir('tbdev-bench-cache-');
    L.cleanup.push(((c) => () => fs.rmSync(c, { recursive: true, force: true }))(cache));
    const r = await oneRun(args, browser, logdir, cache, `run ${k + 1}`);
    runs.push(r);
    out(`run ${k + 1}: link ${r.linkS.toFixed(2)} s, first chart ${r.firstChartS.toFixed(2)} s, all read ${r.ingestS.toFixed(1)} s (${(r.done.values_stored / r.ingestS / 1e6).toFixed(2)}M values/s), peak RSS ${r.hwm.toFixed(0)} MB (sampled ${r.peakRss.toFixed(0)} MB: ${r.peakAnon.toFixed(0)} anonymous, ${r.peakFile.toFixed(0)} file)`);
    if (k < REPS - 1) fs.rmSync(cache, { recursive: true, force: true });
  }
  const values = runs[0].done.values_stored;
  // a restart on the last run's cache: nothing is read again
  const warm = await oneRun(args, browser, logdir, cache, 'restart');
  out(`restart with the cache: first chart ${warm.firstChartS.toFixed(2)} s, up to date ${warm.ingestS.toFixed(2)} s, ${warm.done.records_read} records read again, peak RSS ${warm.hwm.toFixed(0)} MB`);

  const first = runs.map((r) => r.firstChartS), ingest = runs.map((r) => r.ingestS);
  const rss = runs.map((r) => r.hwm), anon = runs.map((r) => r.peakAnon);
  const rate = values / med(ingest);
  out(`${(values / 1e6).toFixed(2)}M values in ${(bytes / 1048576).toFixed(0)} MiB, ${REPS} runs from an empty cache:`);
  out(`  time to first chart drawn ${fmt(first, 's', 2)}; goal < ${GOAL_FIRST_CHART_S} s`);
  out(`  time to everything read ${fmt(ingest, 's', 1)}: ${(rate / 1e6).toFixed(2)}M values/s`);
  out(`  peak resident memory (VmHWM) ${fmt(rss, 'MB', 0)}, anonymous part ${fmt(anon, 'MB', 0)}; goal < ${GOAL_RSS_MB} MB; tbdev before its exec ${(tbdevKb / 1024).toFixed(1)} MB`);
  const tbSecs = TB_EVENTS_PER_S.map((r) => values / r);
  out(`  TensorBoard's Python loader at ${TB_EVENTS_PER_S.map((r) => r / 1000 + 'k').join('-')} events/s (PERF.md) would take ${(tbSecs[1] / 60).toFixed(1)}-${(tbSecs[0] / 60).toFixed(0)} min for these ${(values / 1e6).toFixed(1)}M events, and keep 1,000 points per series (${(FORMS.length * RUNS * TAGS * 1000 / 1e6).toFixed(2)}M of them); tbdev serve stores all of them ${(rate / TB_EVENTS_PER_S[1]).toFixed(0)}-${(rate / TB_EVENTS_PER_S[0]).toFixed(0)}x faster`);
  const ok = med(first) < GOAL_FIRST_CHART_S && Math.max(...rss) < GOAL_RSS_MB;
  console.log(`RESULT: bench_local bytes=${bytes} values=${values} reps=${REPS} first_chart_s=${med(first).toFixed(2)} ingest_s=${med(ingest).toFixed(1)} values_per_s=${rate.toFixed(0)} peak_rss_mb=${med(rss).toFixed(0)} max_rss_mb=${Math.max(...rss).toFixed(0)} peak_anon_mb=${med(anon).toFixed(0)} tbdev_rss_mb=${(tbdevKb / 1024).toFixed(1)} restart_first_chart_s=${warm.firstChartS.toFixed(2)} restart_records_read=${warm.done.records_read} goal_first_chart_s=${GOAL_FIRST_CHART_S} goal_rss_mb=${GOAL_RSS_MB} vs_tensorboard_loader=${(rate / TB_EVENTS_PER_S[1]).toFixed(0)}-${(rate / TB_EVENTS_PER_S[0]).toFixed(0)}x ${ok ? 'goals_met' : 'GOAL_MISSED'}`);
  await L.runCleanup();
  process.exit(ok ? 0 : 1);
}

main().catch(async (e) => {
  console.error('bench_local: failed: ' + (e && e.stack ? e.stack : e));
  await L.runCleanup();
  process.exit(1);
});
