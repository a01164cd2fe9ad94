// SPDX-License-Identifier: MIT
// Browser test of the HParams tab (service/web/dash_hparams.js and hparams_*.js) in headless
// Chromium against the real server, with data uploaded by the real uploader: a synthetic
// experiment of 50 sessions (hparams lr, dropout, layers numeric and optimizer categorical;
// metrics accuracy and loss; every session status) written with lib.js' event writer, and
// the hparams of TensorBoard 2.12's, PyTorch 1.13's and tensorboardX's writers. Checks, as
// TensorBoard's HParams plugin behaves: the three views (table, parallel coordinates,
// scatter plot matrix) switch; the parallel coordinates have an axis per column and a line
// per session; brushing an axis (and two: AND) leaves exactly the sessions inside in the
// table, as computed here from the values written and the axis' geometry; hovering a line
// shows its session; the scatter matrix has hparams x metrics cells of the filtered
// sessions; hiding a column removes it from the table and the axes; interval, value and
// status filters reduce the rows; the CSV and JSON downloads hold exactly the rows shown
// (formula-like text guarded); a session's Scalars link opens Scalars on its runs only.
//
// Usage: node hparams.test.js TBDEV TBDEV_SERVER
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/hparams (default /tmp/tbdev-artifacts/hparams).
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('./lib.js');

const rep = new L.Reporter('browser_hparams');
const args = L.parseArgs(process.argv);

const REAL = [['tb212', ['tensorboard-2.12.3-tf-free', 'hparams']], ['pytorch', ['pytorch-1.13', 'hparams']], ['tbx', ['tensorboardx-2.6.2.2', 'hparams']]];
const N = 50;
const OPTS = ['adam', 'sgd', 'rmsprop'];
const STATUS = ['unknown', 'success', 'failure', 'running']; // api.proto's Status 0..3

// The synthetic sessions: values as written (metrics as the float32 the event holds).
function synthetic() {
  const out = [];
  for (let i = 0; i < N; i++) {
    const run = 'trial_' + String(i).padStart(2, '0');
    out.push({
      run,
      hparams: { lr: 10 ** (-4 + 3 * ((i * 13) % N) / (N - 1)), dropout: ((i * 7) % N) / 100, layers: 1 + (i % 8), optimizer: OPTS[i % 3] },
      metrics: { accuracy: Math.fround(0.5 + 0.45 * Math.sin(i * 1.7) ** 2), loss: Math.fround(0.1 + ((i * 17) % N) / 25) },
      status: STATUS[i % 4],
    });
  }
  return out;
}

function writeSynthetic(dir, sessions) {
  const infos = [{ name: 'lr', type: 3 }, { name: 'dropout', type: 3 }, { name: 'layers', type: 3 }, { name: 'optimizer', type: 1 }];
  L.writeEventFile(dir, [L.ev.hparams('_hparams_/experiment', L.hp.experiment(infos, ['accuracy', 'loss']))]);
  sessions.forEach((s, i) => {
    const evs = [L.ev.hparams('_hparams_/session_start_info', L.hp.sessionStart(s.hparams, L.WALL0 + i))];
    for (let step = 0; step < 5; step++) {
      const last = step === 4;
      evs.push(L.ev.scalarTf2('accuracy', step, last ? s.metrics.accuracy : s.metrics.accuracy * (0.5 + step / 10), L.WALL0 + i + step));
      evs.push(L.ev.scalarTf2('loss', step, last ? s.metrics.loss : s.metrics.loss * (3 - step / 2), L.WALL0 + i + step));
      evs.push(L.ev.scalarTf2('learning_rate', step, s.hparams.lr, L.WALL0 + i + step)); // a scalar that is no metric
    }
    const st = STATUS.indexOf(s.status);
    if (st > 0) evs.push(L.ev.hparams('_hparams_/session_end_info', L.hp.sessionEnd(st, L.WALL0 + i + 10), 5));
    L.writeEventFile(path.join(dir, s.run), evs);
  });
}

const sameSet = (a, b) => a.length === b.length && [...a].sort().join('|') === [...b].sort().join('|');

// The page's drawn state.
function drawn(page) {
  return page.evaluate(() => {
    const q = (s) => [...document.querySelectorAll(s)];
    const svg = document.querySelector('svg.hp-parcoords');
    return {
      view: (document.querySelector('.hp-views button[aria-selected="true"]') || {}).dataset,
      rows: q('.hparams-table tbody tr').map((r) => r.children[0].textContent),
      heads: q('.hparams-table thead th').map((t) => t.textContent),
      axes: q('svg.hp-parcoords .hp-axis').map((a) => a.dataset.col),
      // the lines are drawn on a canvas: what the dashboard says it drew (checked for ink below)
      lines: (() => { const d = window.tbdevViewer && window.tbdevViewer.page.dash; return d && d.debug ? d.debug().lines : []; })(),
      inside: svg ? +svg.dataset.inside : null,
      cells: q('.hp-smatrix .hp-scell').map((c) => ({ h: c.dataset.h, m: c.dataset.m, points: +c.dataset.points })),
      count: (document.querySelector('.hp-count') || {}).textContent,
    };
  });
}

async function view(page, name) {
  await page.click(`.hp-views button[data-view="${name}"]`);
  await page.waitForFunction((v) => document.querySelector('.hp-layout') && document.querySelector('.content').dataset.view === v, name, { timeout: 5000 });
}

// An axis' geometry in page pixels: x, the y of t = 1 (top) and t = 0 (bottom).
function axisBox(page, key) {
  return page.evaluate((k) => {
    const g = document.querySelector(`svg.hp-parcoords .hp-axis[data-key="${k}"]`);
    const line = g.querySelector('.hp-axis-line');
    const r = g.ownerSVGElement.getBoundingClientRect();
    return { x: r.left + +line.getAttribute('x1'), top: r.top + +line.getAttribute('y1'), bottom: r.top + +line.getAttribute('y2') };
  }, key);
}

async function drag(page, x, y0, y1) {
  await page.mouse.move(x, y0);
  await page.mouse.down();
  await page.mouse.move(x, (y0 + y1) / 2, { steps: 4 });
  await page.mouse.move(x, y1, { steps: 4 });
  await page.mouse.up();
}

async function download(page, kind) {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.click(`.hp-download[data-kind="${kind}"]`)]);
  const f = await d.path();
  return { name: d.suggestedFilename(), text: fs.readFileSync(f, 'utf8') };
}

// RFC 4180 rows.
function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') q = false; else cell += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\n') { row.push(cell.replace(/\r$/, '')); rows.push(row); row = []; cell = ''; } else cell += ch;
  }
  return rows;
}

async function main() {
  const real = L.realDataDir();
  if (!real || !REAL.every(([, p]) => fs.existsSync(path.join(real, ...p)))) {
    console.log('# skip: real test data not found (set TBDEV_REAL_DATA)');
    process.exit(L.SKIP);
  }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  const shots = L.artifactsDir('hparams');
  const logdir = L.tmpdir('tbdev-hparams-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  const ses = synthetic();
  writeSynthetic(path.join(logdir, 'synthetic'), ses);
  const { server, client } = await L.setup(args);
  const up = await client.upload(path.join(logdir, 'synthetic'), { name: 'hparams synthetic' });
  rep.ok(`upload of the synthetic experiment (${up.seconds.toFixed(1)} s, experiment ${up.id})`);
  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const errors = [];
  const page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', (e) => errors.push('pageerror ' + e));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.text())) errors.push(m.text()); });
  const shoot = async (name) => {
    const f = path.join(shots, name + '.png');
    await page.screenshot({ path: f, fullPage: true });
    rep.note('screenshot: ' + f);
  };
  const base = (id) => `${server.url}/experiment/${id}/?tab=hparams`;
  const byRun = new Map(ses.map((s) => [s.run, s]));
  const all = ses.map((s) => s.run);

  await rep.step('synthetic: views', async () => {
    await page.goto(base(up.id));
    await page.waitForSelector('.hparams-table tbody tr', { timeout: 15000 });
    const d0 = await drawn(page);
    rep.check(sameSet(d0.rows, all), `Table view: one row per session (${N})`, `${d0.rows.length} rows`);
    const st = await page.$$eval('.hparams-table tbody tr', (rs) => rs.map((r) => [r.children[0].textContent, r.children[1].textContent]));
    rep.check(st.every(([run, s]) => byRun.get(run).status === s), 'Table view: each session shows its status (unknown, success, failure, running)', JSON.stringify(st.slice(0, 8)));
    rep.check(await page.$$eval('.hp-views button', (b) => b.map((x) => x.textContent).join('|')) === 'Table view|Parallel coordinates view|Scatter plot matrix view',
      'three views to switch between, as TensorBoard');
    await shoot('synthetic-table');
    await view(page, 'parallel');
    const d = await drawn(page);
    rep.check(sameSet(d.axes, ['lr', 'dropout', 'layers', 'optimizer', 'accuracy', 'loss']), 'Parallel coordinates: an axis per hparam and metric (6)', JSON.stringify(d.axes));
    rep.check(sameSet(d.lines.map((l) => l.run), all), `Parallel coordinates: a polyline per session (${N})`, `${d.lines.length} lines`);
    const vertices = d.lines.map((l) => l.vertices);
    rep.check(vertices.every((n) => n === 6), 'Parallel coordinates: each polyline crosses all 6 axes', JSON.stringify(vertices.slice(0, 10)));
    const pcInk = await L.canvasInk(page, '.hp-pc-wrap');
    rep.check(pcInk[0] && pcInk[0].ink > 20000, `Parallel coordinates: the lines are drawn (${pcInk[0] && pcInk[0].ink} pixels of ink)`);
    const colours = new Set(d.lines.map((l) => l.stroke));
    rep.check(colours.size >= 20, `Parallel coordinates: lines coloured by a metric (${colours.size} colours)`);
    // colour by: the best and the worst accuracy at the two ends of the ramp
    const acc = ses.slice().sort((a, b) => a.metrics.accuracy - b.metrics.accuracy);
    const strokeOf = (run) => d.lines.find((l) => l.run === run).stroke;
    rep.check(strokeOf(acc[0].run) !== strokeOf(acc[N - 1].run), 'Parallel coordinates: lowest and highest accuracy in different colours');
    await shoot('synthetic-parallel');

    // hover: the line through a point of the dropout axis is that session's
    const ax = await axisBox(page, 'h:dropout');
    const yOf = (v) => ax.bottom - (v / 0.49) * (ax.bottom - ax.top); // dropout 0 .. 0.49 written
    const target = ses[11];
    await page.mouse.move(ax.x + 1, yOf(target.hparams.dropout));
    await page.waitForTimeout(100);
    const hov = await page.evaluate(() => ({ run: document.querySelector('svg.hp-parcoords').dataset.hover, tip: (document.querySelector('.hp-tip:not([hidden])') || {}).textContent || '' }));
    rep.check(hov.run === target.run && hov.tip.includes(target.run) && hov.tip.includes('adam') === (target.hparams.optimizer === 'adam'),
      'Parallel coordinates: hovering a line highlights its session and shows its values', JSON.stringify(hov));
    await shoot('synthetic-parallel-hover');

    // brush dropout from between two values to between two others: the rows left are the
    // sessions whose dropout is inside, computed from the values written
    const lo = 0.125, hi = 0.305; // no value written within 0.005 of either end
    await drag(page, ax.x, yOf(lo), yOf(hi));
    const expect1 = ses.filter((s) => s.hparams.dropout >= lo && s.hparams.dropout <= hi).map((s) => s.run);
    await page.waitForTimeout(100);
    let db = await drawn(page);
    rep.check(db.inside === expect1.length && sameSet(db.rows, expect1), `Brushing the dropout axis over [${lo}, ${hi}] leaves exactly its ${expect1.length} sessions in the table`,
      `inside ${db.inside}, rows ${db.rows.length}: ${db.rows.join(',')} vs ${expect1.join(',')}`);
    rep.check(db.lines.filter((l) => !l.out).length === expect1.length, 'Brushing: the other lines are drawn grey, behind');
    // a second brush, on the categorical axis around "adam": AND
    const ao = await axisBox(page, 'h:optimizer');
    const yAdam = ao.bottom - (1 / 6) * (ao.bottom - ao.top); // adam < rmsprop < sgd: the first of 3 points
    await drag(page, ao.x, yAdam + 15, yAdam - 15);
    await page.waitForTimeout(100);
    const expect2 = ses.filter((s) => s.hparams.dropout >= lo && s.hparams.dropout <= hi && s.hparams.optimizer === 'adam').map((s) => s.run);
    db = await drawn(page);
    rep.check(sameSet(db.rows, expect2), `Brushing two axes combines them with AND (${expect2.length} sessions)`, `${db.rows.join(',')} vs ${expect2.join(',')}`);
    await shoot('synthetic-parallel-brushed');
    await view(page, 'table');
    db = await drawn(page);
    rep.check(sameSet(db.rows, expect2), 'The brushed set is the table view\'s rows', `${db.rows.length}`);
    // TensorBoard's log scale, offered for positive data: decades as ticks
    await view(page, 'parallel');
    await page.click('.hp-scale[data-key="h:lr"]');
    const ticks = await page.$$eval('.hp-axis[data-key="h:lr"] .hp-tick-label', (t) => t.map((x) => x.textContent));
    const sw = await page.$eval('.hp-scale[data-key="h:lr"]', (e) => e.textContent);
    db = await drawn(page);
    rep.check(/^log/.test(sw) && ['1e-4', '0.001', '0.01', '0.1'].every((t) => ticks.includes(t)) && sameSet(db.rows, expect2),
      'Parallel coordinates: the lr axis switches to a log scale (ticks at decades), the brushes kept', JSON.stringify({ sw, ticks, rows: db.rows.length }));
    rep.check(!(await page.$('.hp-scale[data-key="h:dropout"]')), 'No log scale offered for an axis whose domain includes 0 (dropout)');
    await shoot('synthetic-parallel-log');
    await page.click('.hp-scale[data-key="h:lr"]');
    await view(page, 'scatter');
    db = await drawn(page);
    const want = ['h:lr', 'h:dropout', 'h:layers', 'h:optimizer'].flatMap((hk) => ['m:accuracy', 'm:loss'].map((mk) => hk + ' ' + mk));
    rep.check(sameSet(db.cells.map((c) => c.h + ' ' + c.m), want), 'Scatter plot matrix: a cell per hparam x metric (4 x 2)', JSON.stringify(db.cells));
    rep.check(db.cells.every((c) => c.points === expect2.length), 'Scatter plot matrix: only the brushed sessions are drawn', JSON.stringify(db.cells.map((c) => c.points)));
    const ink = await L.canvasInk(page, '.hp-smatrix');
    rep.check(ink[0] && ink[0].ink > 50 * expect2.length, 'Scatter plot matrix: the points are drawn', JSON.stringify(ink));
    // hover a point: its session
    const p = await page.evaluate(() => {
      const sm = document.querySelector('.hp-scell');
      const r = sm.getBoundingClientRect();
      return { left: r.left, top: r.top, w: r.width };
    });
    const s0 = byRun.get(expect2[0]);
    const lrT = (Math.log10(s0.hparams.lr) - Math.log10(Math.min(...ses.map((s) => s.hparams.lr)))) / (Math.log10(Math.max(...ses.map((s) => s.hparams.lr))) - Math.log10(Math.min(...ses.map((s) => s.hparams.lr))));
    const linT = (s0.hparams.lr - Math.min(...ses.map((s) => s.hparams.lr))) / (Math.max(...ses.map((s) => s.hparams.lr)) - Math.min(...ses.map((s) => s.hparams.lr)));
    const accs = ses.map((s) => s.metrics.accuracy);
    const aT = (s0.metrics.accuracy - Math.min(...accs)) / (Math.max(...accs) - Math.min(...accs));
    await page.mouse.move(p.left + 6 + linT * (p.w - 12), p.top + 6 + (1 - aT) * (p.w - 12));
    await page.waitForTimeout(100);
    const sh = await page.evaluate(() => document.querySelector('.hp-smatrix').dataset.hover);
    rep.check(sh === s0.run, 'Scatter plot matrix: hovering a point shows its session', `${sh} vs ${s0.run} (log t ${lrT.toFixed(2)})`);
    await shoot('synthetic-scatter-brushed');
    // clearing the brushes: a click on each axis
    await view(page, 'parallel');
    for (const k of ['h:dropout', 'h:optimizer']) { const b = await axisBox(page, k); await page.mouse.click(b.x, (b.top + b.bottom) / 2); }
    db = await drawn(page);
    rep.check(db.rows.length === N && db.inside === N, 'A click on a brushed axis clears its brush', `${db.rows.length}`);
  });

  await rep.step('synthetic: filters', async () => {
    // hiding a column: gone from the table, the axes and the matrix
    await page.click('.hp-show[data-key="h:layers"]');
    let d = await drawn(page);
    rep.check(!d.heads.includes('layers') && d.heads.includes('dropout'), 'Hiding a column removes it from the table', JSON.stringify(d.heads));
    rep.check(d.axes.length === 5 && !d.axes.includes('layers'), 'Hiding a column removes its axis', JSON.stringify(d.axes));
    await view(page, 'scatter');
    d = await drawn(page);
    rep.check(d.cells.length === 6 && !d.cells.some((c) => c.h === 'h:layers'), 'Hiding a column removes its scatter cells', JSON.stringify(d.cells.length));
    await view(page, 'table');
    // an interval on a metric
    const thr = 0.7;
    await page.fill('.hp-filter[data-key="m:accuracy"] .hp-min', String(thr));
    await page.press('.hp-filter[data-key="m:accuracy"] .hp-min', 'Enter');
    let want = ses.filter((s) => s.metrics.accuracy >= thr);
    d = await drawn(page);
    rep.check(sameSet(d.rows, want.map((s) => s.run)) && want.length < N, `An interval filter (accuracy >= ${thr}) leaves its ${want.length} sessions`, `${d.rows.length}`);
    // status: not failure
    await page.click('.hp-status-cb[data-status="failure"]');
    want = want.filter((s) => s.status !== 'failure');
    d = await drawn(page);
    rep.check(sameSet(d.rows, want.map((s) => s.run)), `A status filter (no failures) reduces the rows to ${want.length}`, `${d.rows.length}`);
    // a categorical value unticked
    await page.click('.hp-filter[data-key="h:optimizer"] .hp-value[data-value="ssgd"]');
    want = want.filter((s) => s.hparams.optimizer !== 'sgd');
    d = await drawn(page);
    rep.check(sameSet(d.rows, want.map((s) => s.run)), `A value filter (no sgd) reduces the rows to ${want.length}`, `${d.rows.length}`);
    await view(page, 'parallel');
    d = await drawn(page);
    rep.check(sameSet(d.lines.map((l) => l.run), want.map((s) => s.run)), 'The filters apply to the parallel coordinates', `${d.lines.length}`);
    await view(page, 'scatter');
    d = await drawn(page);
    rep.check(d.cells.every((c) => c.points === want.length), 'The filters apply to the scatter plot matrix', JSON.stringify(d.cells.map((c) => c.points)));
    await view(page, 'table');
    await shoot('synthetic-table-filtered');

    // downloads: exactly the rows shown, the columns shown
    const csv = await download(page, 'csv');
    const rows = parseCsv(csv.text);
    rep.check(csv.name.endsWith('.csv') && rows[0].join('|') === 'Session|Status|lr|dropout|optimizer|accuracy|loss', 'CSV download: the columns shown', rows[0].join('|'));
    rep.check(sameSet(rows.slice(1).map((r) => r[0]), want.map((s) => s.run)), `CSV download: exactly the ${want.length} filtered rows`, `${rows.length - 1}`);
    const bad = rows.slice(1).filter((r) => { const s = byRun.get(r[0]); return !s || Number(r[3]) !== s.hparams.dropout || Number(r[5]) !== s.metrics.accuracy || r[4] !== s.hparams.optimizer || r[1] !== s.status; });
    rep.check(!bad.length, 'CSV download: the values in full', JSON.stringify(bad.slice(0, 3)));
    const js = await download(page, 'json');
    const j = JSON.parse(js.text);
    rep.check(Array.isArray(j) && sameSet(j.map((x) => x.session), want.map((s) => s.run)) && j.every((x) => x.hparams.dropout === byRun.get(x.session).hparams.dropout && !('layers' in x.hparams) && x.metrics.loss === byRun.get(x.session).metrics.loss),
      `JSON download: exactly the ${want.length} filtered rows with their values`, js.text.slice(0, 300));
    const guard = await page.evaluate(async () => {
      const m = await import('/static/hparams_model.js');
      return ['=1+2', '+1', '-x', '@SUM(A1)', '\tx', '\rx', 'a"b', 'ok', -1.5].map(m.csvField);
    });
    rep.check(JSON.stringify(guard) === JSON.stringify(['"\'=1+2"', '"\'+1"', '"\'-x"', '"\'@SUM(A1)"', '"\'\tx"', '"\'\rx"', '"a""b"', '"ok"', '-1.5']),
      'CSV cells a spreadsheet would read as formulas get a leading quote (numbers stay numbers)', JSON.stringify(guard));
    // the session link: Scalars with that session's runs and metrics only
    const pick = want[0].run;
    await page.click(`.hparams-table tr[data-run="${pick}"] a.hp-scalars`);
    await page.waitForSelector('.scalar-card', { timeout: 15000 });
    await page.waitForTimeout(500);
    const sc = await page.evaluate(() => ({
      url: location.search, tab: (document.querySelector('nav [aria-selected="true"]') || {}).textContent,
      runs: [...document.querySelectorAll('.run-list .run-toggle')].filter((c) => c.checked).map((c) => c.dataset.run),
      tags: [...new Set([...document.querySelectorAll('.scalar-card')].filter((c) => c.offsetParent !== null).map((c) => c.dataset.tag))],
      shown: window.tbdevViewer.ctx.visibleRuns(),
    }));
    rep.check(sc.tab === 'Scalars' && sameSet(sc.shown, [pick]) && sameSet(sc.runs, [pick]), `A session's Scalars link opens Scalars with only its run (${pick})`, JSON.stringify(sc));
    rep.check(sameSet(sc.tags, ['accuracy', 'loss']), 'A session\'s Scalars link shows its metrics (not learning_rate)', JSON.stringify(sc.tags));
    await shoot('synthetic-scalars-link');
  });

  // ---- real writers' hparams ----
  for (const [name, p] of REAL) {
    await rep.step('real ' + name, async () => {
      const u = await client.upload(path.join(real, ...p), { name: 'hparams ' + name });
      const hp = await server.json(`/api/v1/experiments/${u.id}/hparams`);
      const hkeys = [...new Set(hp.sessions.flatMap((s) => Object.keys(s.hparams)))];
      const mkeys = [...new Set(hp.sessions.flatMap((s) => Object.keys(s.metrics)))];
      await page.goto(base(u.id));
      await page.waitForSelector('.hparams-table tbody tr', { timeout: 15000 });
      let d = await drawn(page);
      rep.check(sameSet(d.rows, hp.sessions.map((s) => s.run)) && d.rows.length >= 2, `${name}: a row per session (${hp.sessions.length})`, JSON.stringify(d.rows));
      const st = await page.$$eval('.hparams-table tbody tr', (rs) => rs.map((r) => r.children[1].textContent));
      rep.check(sameSet(st, hp.sessions.map((s) => s.status)), `${name}: statuses as the API reports them (${[...new Set(st)].join(', ')})`);
      await shoot(`real-${name}-table`);
      await view(page, 'parallel');
      d = await drawn(page);
      rep.check(d.axes.length === hkeys.length + mkeys.length && mkeys.length > 0, `${name}: an axis per hparam and metric (${hkeys.length} + ${mkeys.length})`, JSON.stringify(d.axes));
      rep.check(sameSet(d.lines.map((l) => l.run), hp.sessions.map((s) => s.run)), `${name}: a polyline per session`, `${d.lines.length}`);
      await shoot(`real-${name}-parallel`);
      await view(page, 'scatter');
      d = await drawn(page);
      rep.check(d.cells.length === hkeys.length * mkeys.length && d.cells.every((c) => c.points > 0), `${name}: scatter cells for hparams x metrics (${d.cells.length})`, JSON.stringify(d.cells));
      await shoot(`real-${name}-scatter`);
    });
  }
  // ---- the dark theme, and 1,000 sessions x 20 columns ----
  await rep.step('dark theme and size', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(base(up.id));
    await page.waitForSelector('.hparams-table tbody tr', { timeout: 15000 });
    for (const v of ['parallel', 'scatter']) { await view(page, v); await shoot(`synthetic-dark-${v}`); }
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('.hp-main')).backgroundColor);
    rep.check(bg === 'rgb(32, 35, 42)', 'Dark theme: the views on the dark card colour', bg);
    await page.emulateMedia({ colorScheme: 'light' });
    const big = [];
    for (let i = 0; i < 1000; i++) {
      const hparams = {}, metrics = {};
      for (let k = 0; k < 15; k++) hparams['h' + k] = k === 3 ? OPTS[i % 3] : ((i * (k + 3)) % 997) / 997;
      for (let k = 0; k < 5; k++) metrics['m' + k] = Math.fround(((i * (k + 7)) % 991) / 991);
      big.push({ run: 'r' + String(i).padStart(4, '0'), hparams, metrics, status: STATUS[i % 4] });
    }
    const dir = path.join(logdir, 'big');
    L.writeEventFile(dir, [L.ev.hparams('_hparams_/experiment', L.hp.experiment([], ['m0', 'm1', 'm2', 'm3', 'm4']))]);
    for (const s of big) L.writeEventFile(path.join(dir, s.run), [L.ev.hparams('_hparams_/session_start_info', L.hp.sessionStart(s.hparams)),
      ...Object.entries(s.metrics).map(([k, v]) => L.ev.scalarTf2(k, 1, v))]);
    const ub = await client.upload(dir, { name: 'hparams 1000 x 20' });
    await page.goto(base(ub.id));
    await page.waitForSelector('.hparams-table tbody tr', { timeout: 60000 });
    // (how fast: tests/bench/hparams_bench.js)
    await view(page, 'parallel');
    const d = await drawn(page);
    rep.check(d.lines.length === 1000 && d.axes.length === 20, '1,000 sessions x 20 columns: 1,000 lines on 20 axes', `${d.lines.length} ${d.axes.length}`);
    const ax = await axisBox(page, 'h:h0');
    await drag(page, ax.x, ax.top + 50, ax.top + 200);
    await page.click('.hp-status-cb[data-status="failure"]');
    await view(page, 'scatter');
    const cells = (await drawn(page)).cells.length;
    rep.check(cells === 15 * 5, '1,000 sessions x 20 columns: 75 scatter cells', `${cells}`);
    const more = await page.$$eval('.hparams-table tbody tr', (r) => r.length);
    await page.click('.hp-more');
    const all = await page.$$eval('.hparams-table tbody tr', (r) => r.length);
    rep.check(more === 200 && all > 200, `1,000 sessions: the table draws 200 rows, then all ${all} on "Show all"`, `${more} ${all}`);
    await view(page, 'parallel');
    await shoot('big-parallel');
  });
  rep.check(!errors.length, 'no page errors', () => errors.join('; '));
}

main().then(() => L.finish(rep), async (e) => { rep.notOk('test run', e && e.stack ? e.stack : String(e)); await L.finish(rep); });
