// SPDX-License-Identifier: MIT
// Graphs tab benchmark (issue 14): the 7,660-node Keras graph of
// repo-yuanjun0416-tensorboard_use, served by the real `tbdev serve`, drawn in headless
// Chromium (1400x1000), medians of LOADS page loads after one warm-up:
//   - first drawing: from the start of the navigation to the graph drawn (the dashboard's
//     own mark), and the dashboard's part of it (request, model, layout, SVG);
//     the limit measured in the same run: fetching and JSON.parse-ing the same answer in the
//     page (what any drawing must at least spend), given as a ratio;
//   - expanding a scope (the one with the most ops, then the deepest scope of that): the
//     layout and SVG, and until the next frame is painted;
//   - search: typing a name in the search box until the results are listed, then revealing
//     a node four scopes deep (expanding its scopes, centring) until painted.
// Goals (issue 14): first drawing under 3 s, expanding under 300 ms.
//
// Usage: node tests/bench/graph_bench.js TBDEV TBDEV_SERVER
// Environment: TBDEV_BENCH_LOADS (default 5). Exits 77 without the real data, playwright-core
// or Chromium. Prints 'graph_bench: ...' lines.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('../browser/lib.js');

const LOADS = +(process.env.TBDEV_BENCH_LOADS || 5);
const BIG = ['repo-yuanjun0416-tensorboard_use', 'loop_noise5_cbamconcat_rms1_batchsize512', 'train'];
const FIND = 'conv1/conv1d/ExpandDims_1/dim'; // the node search reveals

function out(s) { console.log('graph_bench: ' + s); }

async function main() {
  const args = L.parseArgs(process.argv);
  const real = L.realDataDir();
  if (!real || !fs.existsSync(path.join(real, ...BIG))) { console.log('# skip: real test data not found'); process.exit(L.SKIP); }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) { console.log('# skip: playwright-core or chromium missing'); process.exit(L.SKIP); }
  const logdir = L.tmpdir('tbdev-graph-bench-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  execFileSync('cp', ['-r', path.join(real, ...BIG), path.join(logdir, 'keras')]);
  const serve = await new L.LocalServe(args.tbdev, args.server, logdir).start();
  await serve.waitLocal((s) => s.state === 'watching', 120000);
  const exp = (await serve.local()).experiment_id;
  const url = `${serve.url}/experiment/${exp}/?tab=graphs`;
  const browser = await L.launchBrowser();
  const page = browser.pages()[0] || await browser.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  const res = { first: [], dash: [], parse: [], expand: [], expandPaint: [], expand2: [], results: [], reveal: [], nodes: 0, drawn: 0 };
  for (let i = 0; i <= LOADS; i++) {
    await page.goto(url);
    await page.waitForFunction(() => { const s = document.querySelector('.graph-svg'); return s && s.dataset.ready && document.querySelectorAll('.graph-viewport .gnode').length > 0; }, null, { timeout: 60000, polling: 10 });
    const m = await page.evaluate(async (find) => {
      const g = window.tbdevGraph;
      const paint = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const r = { first: g.timings.drawnAt, dash: g.timings.first, nodes: g.model.data.nodes.length, drawn: document.querySelectorAll('.graph-viewport .gnode').length };
      // the limit: the same answer fetched and parsed, nothing drawn
      const q = `${g.ctx.base}/graph?run=${encodeURIComponent(g.run)}`;
      let t = performance.now();
      const txt = await (await fetch(q, { headers: { Accept: 'application/json' } })).text();
      JSON.parse(txt);
      r.parse = performance.now() - t;
      // expand the biggest top-level scope, then the biggest scope inside it
      const tops = g.model.root.children.filter((c) => c.kind === 'group').sort((a, b) => b.count - a.count);
      t = performance.now();
      g.toggle(tops[0]);
      r.expand = performance.now() - t;
      await paint();
      r.expandPaint = performance.now() - t;
      const inner = tops[0].children.filter((c) => c.kind === 'group').sort((a, b) => b.count - a.count)[0];
      if (inner) { t = performance.now(); g.toggle(inner); await paint(); r.expand2 = performance.now() - t; }
      // search: results listed, then the node revealed
      g.layout.expanded.clear(); g.resetLayouts(); g.draw();
      const box = document.querySelector('input.graph-search');
      t = performance.now();
      box.value = find;
      box.dispatchEvent(new Event('input'));
      await paint();
      r.results = performance.now() - t;
      t = performance.now();
      document.querySelector('.graph-results li').click();
      await paint();
      r.reveal = performance.now() - t;
      r.found = [...document.querySelectorAll('.gnode.selected')].map((e) => e.dataset.name);
      return r;
    }, FIND);
    if (!m.found || m.found[0] !== FIND) throw new Error('search did not reveal ' + FIND + ': ' + JSON.stringify(m.found));
    if (i === 0) continue; // warm-up
    for (const k of ['first', 'dash', 'parse', 'expand', 'expandPaint', 'expand2', 'results', 'reveal']) res[k].push(m[k]);
    res.nodes = m.nodes;
    res.drawn = m.drawn;
  }
  const md = (k) => L.median(res[k]);
  const f = (x) => x.toFixed(0) + ' ms';
  out(`graph: ${res.nodes} nodes, drawn collapsed as ${res.drawn} boxes; medians of ${LOADS} loads`);
  out(`first drawing (navigation start to drawn): ${f(md('first'))} (goal < 3000 ms); the Graphs tab's part (request, model, layout, SVG): ${f(md('dash'))}`);
  out(`limit in the same run: fetch + JSON.parse of the same answer ${f(md('parse'))}; first drawing / limit = ${(md('dash') / md('parse')).toFixed(2)}`);
  out(`expand the biggest top-level scope: layout+SVG ${f(md('expand'))}, painted ${f(md('expandPaint'))} (goal < 300 ms); a scope inside it, painted ${f(md('expand2'))}`);
  out(`search '${FIND}': results listed ${f(md('results'))}; reveal (4 scopes expanded, centred) painted ${f(md('reveal'))}`);
  out('raw: ' + JSON.stringify(res));
}

main().then(() => L.runCleanup().then(() => process.exit(0)), (e) => { console.error(e.stack); L.runCleanup().then(() => process.exit(1)); });
