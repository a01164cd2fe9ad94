// SPDX-License-Identifier: MIT
// HParams tab benchmark (issue 14): 1,000 sessions x 20 columns (15 hparams, one of them
// categorical, and 5 metrics), uploaded by the real uploader to the real server and shown
// in headless Chromium (1300x900); medians of RUNS repetitions after one warm-up, each until
// the next frame is painted:
//   - the parallel coordinates view built (1,000 lines on 20 axes, the table under it);
//   - one brush step (what every pointer move of a drag does: filter, repaint the lines);
//   - the table after a brush ends; the scatter plot matrix view (75 cells);
//   the limit measured in the same run: stroking the same 1,000 polylines on a bare canvas
//   (what any drawing of these lines must at least spend), given as a ratio to a brush step.
//
// Usage: node tests/bench/hparams_bench.js TBDEV TBDEV_SERVER
// Environment: TBDEV_BENCH_RUNS (default 7). Exits 77 without playwright-core or Chromium.
// Prints 'hparams_bench: ...' lines.
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('../browser/lib.js');

const RUNS = +(process.env.TBDEV_BENCH_RUNS || 7);
const OPTS = ['adam', 'sgd', 'rmsprop'];

function out(s) { console.log('hparams_bench: ' + s); }

async function main() {
  const args = L.parseArgs(process.argv);
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) { console.log('# skip: playwright-core or chromium missing'); process.exit(L.SKIP); }
  const logdir = L.tmpdir('tbdev-hparams-bench-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  const metrics = ['m0', 'm1', 'm2', 'm3', 'm4'];
  L.writeEventFile(logdir, [L.ev.hparams('_hparams_/experiment', L.hp.experiment([], metrics))]);
  for (let i = 0; i < 1000; i++) {
    const hparams = {};
    for (let k = 0; k < 15; k++) hparams['h' + k] = k === 3 ? OPTS[i % 3] : ((i * (k + 3)) % 997) / 997;
    L.writeEventFile(path.join(logdir, 'r' + String(i).padStart(4, '0')), [L.ev.hparams('_hparams_/session_start_info', L.hp.sessionStart(hparams)),
      ...metrics.map((m, k) => L.ev.scalarTf2(m, 1, ((i * (k + 7)) % 991) / 991))]);
  }
  const { server, client } = await L.setup(args);
  const up = await client.upload(logdir, { name: 'hparams bench' });
  const browser = await L.launchBrowser();
  const page = browser.pages()[0] || await browser.newPage();
  const res = { parallel: [], brushStep: [], table: [], scatter: [], bareLines: [] };
  for (let i = 0; i <= RUNS; i++) {
    await page.goto(`${server.url}/experiment/${up.id}/?tab=hparams`);
    await page.waitForSelector('.hparams-table tbody tr', { timeout: 60000 });
    const m = await page.evaluate(async () => {
      const d = window.tbdevViewer.page.dash;
      const paint = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const r = {};
      let t = performance.now();
      document.querySelector('.hp-views button[data-view="parallel"]').click();
      await paint();
      r.parallel = performance.now() - t;
      r.lines = d.debug().lines.length;
      const pc = d.pc, col = pc.cols[0];
      t = performance.now();
      pc.setBrush(col, 0, pc.el.querySelector('.hp-brush'), 100, 250); // y from 100 to 250 px on the first axis
      await paint();
      r.brushStep = performance.now() - t;
      t = performance.now();
      d.brushed(true);
      await paint();
      r.table = performance.now() - t;
      r.rows = d.shownRows.length;
      // the limit: the same polylines on a bare canvas of the same size
      const c = document.createElement('canvas');
      c.width = pc.canvas.width; c.height = pc.canvas.height;
      c.style.position = 'fixed'; c.style.left = '0'; c.style.top = '0';
      document.body.append(c);
      await paint();
      t = performance.now();
      const g = c.getContext('2d');
      g.lineWidth = 1;
      pc.ys.forEach((ys, k) => {
        g.strokeStyle = pc.colors[k];
        g.beginPath();
        ys.forEach((y, j) => (j ? g.lineTo(pc.xs[j], y) : g.moveTo(pc.xs[j], y)));
        g.stroke();
      });
      await paint();
      r.bareLines = performance.now() - t;
      c.remove();
      t = performance.now();
      document.querySelector('.hp-views button[data-view="scatter"]').click();
      await paint();
      r.scatter = performance.now() - t;
      r.cells = document.querySelectorAll('.hp-scell').length;
      return r;
    });
    if (m.lines !== 1000 || m.cells !== 75) throw new Error('not drawn as expected: ' + JSON.stringify(m));
    if (i === 0) continue; // warm-up
    for (const k of ['parallel', 'brushStep', 'table', 'scatter', 'bareLines']) res[k].push(m[k]);
    res.rows = m.rows;
  }
  const md = (k) => L.median(res[k]);
  const f = (x) => x.toFixed(0) + ' ms';
  out(`1,000 sessions x 20 columns; medians of ${RUNS} page loads, each until painted`);
  out(`parallel coordinates view built: ${f(md('parallel'))}; a brush step: ${f(md('brushStep'))}; the table after the brush (${res.rows} rows): ${f(md('table'))}; scatter plot matrix (75 cells): ${f(md('scatter'))}`);
  out(`limit in the same run: the same 1,000 polylines on a bare canvas ${f(md('bareLines'))}; brush step / limit = ${(md('brushStep') / md('bareLines')).toFixed(2)}`);
  out('raw: ' + JSON.stringify(res));
}

main().then(() => L.runCleanup().then(() => process.exit(0)), (e) => { console.error(e.stack); L.runCleanup().then(() => process.exit(1)); });
