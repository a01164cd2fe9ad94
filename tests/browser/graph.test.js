// SPDX-License-Identifier: MIT
// Browser test of the Graphs tab (service/web/graph.js) in headless Chromium, on real graphs
// served by the real `tbdev serve`: TF1's mnist_with_summaries graph (363 nodes, a GraphDef
// and a MetaGraphDef), PyTorch's add_graph trace with its tagged run metadata, and the
// 7,660-node Keras graph. Checks: the graph is drawn with its name scopes collapsed (one box
// per top-level scope, no op of a scope drawn), a scope expands in place (its children drawn
// inside it) and collapses again, search finds a node deep in scopes and reveals it (its
// scopes expanded, it selected, the side panel showing its op, inputs, outputs, attributes
// and shapes), zoom and fit change the view, the tag selector switches to the meta graph, and
// a run without a drawable graph says why.
//
// Usage: node graph.test.js TBDEV TBDEV_SERVER
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/graph (default /tmp/tbdev-artifacts/graph).
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib.js');

const rep = new L.Reporter('browser_graph');
const args = L.parseArgs(process.argv);

const TF1 = ['repo-tensorflow-tensorboard', 'log_tayo', 'train'];
const PT = ['pytorch-1.13', 'graph'];
const BIG = ['repo-yuanjun0416-tensorboard_use', 'loop_noise5_cbamconcat_rms1_batchsize512', 'train'];

// The page's drawn state: boxes of collapsed and expanded scopes, ops, edges.
function drawn(page) {
  return page.evaluate(() => {
    const vp = document.querySelector('.graph-viewport');
    if (!vp) return null;
    const g = window.tbdevGraph;
    return {
      collapsed: [...vp.querySelectorAll('.gnode.group.collapsed')].map((e) => e.dataset.scope),
      expanded: [...vp.querySelectorAll('.gnode.group.expanded')].map((e) => e.dataset.scope),
      ops: [...vp.querySelectorAll('.gnode.op')].map((e) => e.dataset.name),
      edges: vp.querySelectorAll('.graph-edge').length,
      selected: [...vp.querySelectorAll('.gnode.selected')].map((e) => e.dataset.name || e.dataset.scope),
      transform: vp.getAttribute('transform'),
      info: document.querySelector('.graph-info') ? document.querySelector('.graph-info').textContent : '',
      panel: document.querySelector('.graph-panel') ? document.querySelector('.graph-panel').textContent : '',
      nodes: g && g.model ? g.model.data.nodes.length : 0,
      timings: g ? Object.assign({}, g.timings) : {},
    };
  });
}

async function waitDrawn(page, seqBefore) {
  await page.waitForFunction((s) => {
    const el = document.querySelector('.graph-svg');
    return el && el.dataset.ready && el.dataset.ready !== s && document.querySelectorAll('.graph-viewport .gnode').length > 0;
  }, seqBefore || '', { timeout: 30000, polling: 50 });
}

async function main() {
  const real = L.realDataDir();
  if (!real || ![TF1, PT, BIG].every((p) => fs.existsSync(path.join(real, ...p)))) {
    console.log('# skip: real test data not found (set TBDEV_REAL_DATA)');
    process.exit(L.SKIP);
  }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  const shots = L.artifactsDir('graph');
  const logdir = L.tmpdir('tbdev-graph-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  for (const [name, p] of [['tf1', TF1], ['pytorch', PT], ['keras', BIG]]) execFileSync('cp', ['-r', path.join(real, ...p), path.join(logdir, name)]);
  // a run whose "graph" is not a GraphDef: the page says what is wrong, it does not hang
  L.writeEventFile(path.join(logdir, 'broken'), [graphEvent(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))]);
  // a plugin this viewer does not draw: listed under Other, downloadable
  L.writeEventFile(path.join(logdir, 'broken'), [L.eventPb(L.WALL0, 1, { values: [L.valuePb('mystery', {
    metadata: L.metadataPb({ plugin: 'some_new_plugin', dataClass: L.DC_TENSOR }), tensor: L.tensorPb(L.DT_FLOAT, [], { floatVal: [1.5] }) })] })], '.other');
  const serve = await new L.LocalServe(args.tbdev, args.server, logdir).start();
  await serve.waitLocal((s) => s.state === 'watching', 120000);
  const exp = (await serve.local()).experiment_id;
  const base = `${serve.url}/experiment/${exp}/?tab=graphs`;
  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push('pageerror ' + e));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon|422|status of 4/.test(m.text())) errors.push(m.text()); });
  const shoot = async (name) => {
    const f = path.join(shots, name + '.png');
    await page.screenshot({ path: f });
    rep.note('screenshot: ' + f);
  };
  const pickRun = async (run) => {
    const before = await page.$eval('.graph-svg', (e) => e.dataset.ready || '').catch(() => '');
    await page.selectOption('select.graph-run', run);
    await waitDrawn(page, before);
  };

  await rep.step('tabs', async () => {
    await page.goto(base.replace('?tab=graphs', ''));
    await page.waitForSelector('#nav button', { timeout: 30000 });
    const tabs = await page.$$eval('#nav button', (bs) => bs.map((b) => b.dataset.tab));
    // TensorBoard's order (tensorboard/default.py) of the dashboards with data; Other last
    const want = ['scalars', 'images', 'graphs', 'distributions', 'histograms', 'other'];
    rep.check(JSON.stringify(tabs) === JSON.stringify(want), `tabs: only those with data, in TensorBoard's order (${want.join(', ')})`, JSON.stringify(tabs));
    await page.click('#nav button[data-tab="other"]');
    await page.waitForSelector('.list-card .tools a', { timeout: 15000 });
    const other = await page.$$eval('.list-card', (cs) => cs.map((c) => c.textContent));
    rep.check(other.some((t) => t.includes('mystery') && t.includes('some_new_plugin')), 'Other: an unknown plugin stays listed, with a download link', JSON.stringify(other));
  });

  await rep.step('TF1 graph drawn with scopes collapsed', async () => {
    await page.goto(base);
    await page.waitForSelector('select.graph-run', { timeout: 30000 });
    await pickRun('tf1');
    const d = await drawn(page);
    // mnist_with_summaries' top-level scopes (TensorBoard draws these collapsed)
    const want = ['input', 'layer1', 'layer2', 'dropout', 'cross_entropy', 'train', 'accuracy'];
    rep.check(d.nodes === 363, 'TF1: the whole graph is loaded (363 nodes)', String(d.nodes));
    rep.check(want.every((s) => d.collapsed.includes(s)), `TF1: top-level scopes drawn as collapsed groups (${want.join(', ')})`, JSON.stringify(d.collapsed));
    rep.check(d.expanded.length === 0 && d.ops.every((n) => !n.includes('/')), 'TF1: nothing inside a scope is drawn while it is collapsed', JSON.stringify(d.ops.filter((n) => n.includes('/')).slice(0, 5)));
    rep.check(d.edges > 5, `TF1: edges between the groups drawn (${d.edges})`);
    rep.check(/363 nodes/.test(d.info), 'TF1: the bar counts the nodes', d.info);
    await shoot('tf1-collapsed');
  });

  await rep.step('TF1 a scope expanded and collapsed', async () => {
    const before = await drawn(page);
    await page.click('.gnode.group[data-scope="layer1"] .gtoggle');
    const d = await drawn(page);
    rep.check(d.expanded.includes('layer1'), 'expand: layer1 is drawn expanded', JSON.stringify(d.expanded));
    const inside = d.collapsed.filter((s) => s && s.startsWith('layer1/'));
    rep.check(['layer1/weights', 'layer1/biases', 'layer1/Wx_plus_b'].every((s) => inside.includes(s)), 'expand: its sub-scopes (weights, biases, Wx_plus_b) are drawn inside it, collapsed', JSON.stringify(inside));
    rep.check(d.collapsed.includes('layer2') && d.edges >= before.edges, 'expand: the other scopes stay collapsed, the edges are still drawn', JSON.stringify({ before: before.edges, after: d.edges }));
    const box = await page.$eval('.gnode.group[data-scope="layer1"] .gshape', (e) => e.getBoundingClientRect().height);
    rep.check(box > 60, `expand: the expanded box grew to hold its children (${box.toFixed(0)} px high)`);
    await shoot('tf1-layer1-expanded');
    await page.click('.gnode.group[data-scope="layer1"] > .gtoggle');
    const c = await drawn(page);
    rep.check(c.collapsed.includes('layer1') && !c.collapsed.some((s) => s && s.startsWith('layer1/')), 'collapse: layer1 folds back into one box');
  });

  await rep.step('TF1 search reveals a node', async () => {
    await page.fill('input.graph-search', 'Wx_plus_b/MatMul');
    await page.waitForSelector('.graph-results li', { timeout: 5000 });
    const items = await page.$$eval('.graph-results li', (l) => l.map((e) => e.textContent));
    rep.check(items.includes('layer1/Wx_plus_b/MatMul') && items.includes('layer2/Wx_plus_b/MatMul'), 'search: lists the matching nodes', JSON.stringify(items));
    await page.click('.graph-results li:text-is("layer2/Wx_plus_b/MatMul")');
    const d = await drawn(page);
    rep.check(d.expanded.includes('layer2') && d.expanded.includes('layer2/Wx_plus_b'), 'search: the scopes holding the node are expanded', JSON.stringify(d.expanded));
    rep.check(d.ops.includes('layer2/Wx_plus_b/MatMul') && JSON.stringify(d.selected) === '["layer2/Wx_plus_b/MatMul"]', 'search: the node is drawn and selected', JSON.stringify(d.selected));
    const vis = await page.$eval('.gnode.op[data-name="layer2/Wx_plus_b/MatMul"]', (e) => {
      const b = e.getBoundingClientRect(), c = document.querySelector('.graph-canvas').getBoundingClientRect();
      return b.left >= c.left && b.right <= c.right && b.top >= c.top && b.bottom <= c.bottom;
    });
    rep.check(vis, 'search: the view is moved so that the node is on screen');
    rep.check(/MatMul/.test(d.panel) && /dropout\/dropout|dropout/.test(d.panel) && /layer2\/weights\/Variable\/read/.test(d.panel) && /layer2\/Wx_plus_b\/add/.test(d.panel),
      'side panel: op, inputs (dropout, weights) and outputs (add)', d.panel.slice(0, 400));
    rep.check(/transpose_a/.test(d.panel) && /Output shapes/.test(d.panel) && /\[\?, 10\]/.test(d.panel), 'side panel: attributes and output shapes ([?, 10])', d.panel.slice(0, 600));
    await shoot('tf1-search-matmul');
  });

  await rep.step('zoom and fit', async () => {
    const t0 = (await drawn(page)).transform;
    const c = await page.$eval('.graph-canvas', (e) => { const b = e.getBoundingClientRect(); return { x: b.left + b.width / 2, y: b.top + b.height / 2 }; });
    await page.mouse.move(c.x, c.y);
    await page.mouse.wheel(0, -300);
    await L.sleep(100);
    const t1 = (await drawn(page)).transform;
    const k = (t) => Number(/scale\(([\d.]+)\)/.exec(t)[1]);
    rep.check(k(t1) > k(t0), `wheel zooms in (scale ${k(t0)} -> ${k(t1)})`);
    await page.mouse.move(c.x, c.y);
    await page.mouse.down();
    await page.mouse.move(c.x + 120, c.y + 40, { steps: 4 });
    await page.mouse.up();
    const t2 = (await drawn(page)).transform;
    rep.check(t2 !== t1 && k(t2) === k(t1), 'dragging pans', `${t1} -> ${t2}`);
    await page.click('button.graph-btn[title^="Fit"]');
    const fit = await page.evaluate(() => {
      const vp = document.querySelector('.graph-viewport').getBoundingClientRect(), c2 = document.querySelector('.graph-canvas').getBoundingClientRect();
      return vp.left >= c2.left - 1 && vp.right <= c2.right + 1 && vp.top >= c2.top - 1 && vp.bottom <= c2.bottom + 1;
    });
    rep.check(fit, 'Fit brings the whole graph into view');
  });

  await rep.step('tag selector: the meta graph', async () => {
    const opts = await page.$$eval('select.graph-tag option', (o) => o.map((e) => e.value));
    rep.check(opts.includes('__run_graph__') && opts.includes('__meta_graph__'), 'TF1: the tag selector offers the run graph and the meta graph', JSON.stringify(opts));
    const before = await page.$eval('.graph-svg', (e) => e.dataset.ready);
    await page.selectOption('select.graph-tag', '__meta_graph__');
    await waitDrawn(page, before);
    const d = await drawn(page);
    rep.check(d.nodes === 363 && d.collapsed.includes('layer1'), 'TF1: the meta graph\'s GraphDef is drawn', JSON.stringify({ n: d.nodes }));
  });

  await rep.step('PyTorch trace', async () => {
    await pickRun('pytorch');
    const d = await drawn(page);
    rep.check(d.nodes === 20 && d.collapsed.length >= 1, 'PyTorch add_graph: 20 nodes, scopes collapsed', JSON.stringify({ n: d.nodes, c: d.collapsed }));
    await page.fill('input.graph-search', 'Conv2d');
    await page.waitForSelector('.graph-results li', { timeout: 5000 });
    await page.press('input.graph-search', 'Enter');
    const s = await drawn(page);
    rep.check(s.selected.length === 1 && /Conv2d/.test(s.selected[0]), 'PyTorch: Enter in the search box reveals the first match', JSON.stringify(s.selected));
    await shoot('pytorch-trace');
  });

  await rep.step('7,660-node Keras graph', async () => {
    await pickRun('keras');
    const d = await drawn(page);
    rep.check(d.nodes === 7660, 'Keras: all 7,660 nodes loaded', String(d.nodes));
    const drawnCount = d.collapsed.length + d.ops.length;
    rep.check(drawnCount < 300, `Keras: drawn collapsed (${drawnCount} boxes for 7,660 nodes)`);
    rep.check(d.timings.first < 3000, `Keras: first drawing ${d.timings.first.toFixed(0)} ms (under 3 s)`);
    await shoot('keras-collapsed');
    const scope = d.collapsed.filter(Boolean).sort()[0];
    const c = await page.evaluate((s) => { window.tbdevGraph.toggle(window.tbdevGraph.model.items.get('g:' + s)); return window.tbdevGraph.timings.expand; }, scope);
    rep.check(c < 300, `Keras: expanding ${scope} takes ${c.toFixed(0)} ms (under 300 ms)`);
    await page.fill('input.graph-search', 'conv1d/ExpandDims_1/dim');
    await page.waitForSelector('.graph-results li', { timeout: 5000 });
    await page.press('input.graph-search', 'Enter');
    const s = await drawn(page);
    rep.check(s.selected.length === 1 && /conv1d\/ExpandDims_1\/dim$/.test(s.selected[0]), 'Keras: search reveals a node three scopes deep', JSON.stringify(s.selected));
    await shoot('keras-search');
  });

  await rep.step('a graph that is not a GraphDef', async () => {
    await page.selectOption('select.graph-run', 'broken');
    await page.waitForSelector('.graph-panel .error', { timeout: 15000 });
    const msg = await page.$eval('.graph-panel .error', (e) => e.textContent);
    rep.check(/cannot be drawn/.test(msg) && /byte/.test(msg), 'broken: the page says the graph cannot be drawn and where it is bad', msg);
  });

  rep.check(errors.length === 0, 'no page errors', errors.slice(0, 5).join(' | '));
}

// Event.graph_def (field 4).
function graphEvent(bytes) {
  return Buffer.concat([L.fDouble(1, L.WALL0), L.fBytes(4, bytes)]);
}

main().catch((e) => rep.notOk('graph test', e.stack)).then(() => L.finish(rep));
