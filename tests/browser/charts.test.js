// SPDX-License-Identifier: MIT
// Browser test of the experiment page's charts against what TensorBoard draws, in headless
// Chromium, on a real tbdev-server over HTTPS with data uploaded by the real tbdev client:
// PyTorch's and TF1's real histograms (rebinned to 30 equal-width bins, a bell and not a
// needle), distribution bands, the scalar hover table (precision, sorting, row limit), zoom
// that fetches the window at full resolution, reset, relative time per run with readable
// ticks, a card of 100 runs that stays small, images (scaled up with crisp pixels, actual
// size, tall figures whole, one card per sample, no slider for one step, brightness and
// contrast), margin charts as bands, run colours shared between tabs, display names and
// descriptions, the phone layout and the dark theme.
//
// Usage: node charts.test.js TBDEV TBDEV_SERVER
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/charts (default /tmp/tbdev-artifacts/charts).
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib.js');

const rep = new L.Reporter('browser_charts');
const args = L.parseArgs(process.argv);

const LONG = 30000; // steps of the long runs: more than one request's worth, so zoom fetches

function writeData(dir, real) {
  const W = L.WALL0;
  // two long runs that start two hours apart, with a learning rate of 1e-5
  for (const [run, start] of [['fast/a', W + 100], ['fast/b', W + 7300]]) {
    const evs = [];
    for (let s = 0; s < LONG; s++) {
      const v = Math.exp(-s / 8000) + 0.1 * Math.sin(s / 40) + (run === 'fast/a' ? 0 : 0.3);
      evs.push(L.ev.scalarTf1('loss', s, v, start + s * 0.01));
    }
    for (let s = 0; s < 10; s++) evs.push(L.ev.scalarTf1('lr', s, 1e-5 * (s + 1), start + s));
    for (let s = 0; s < 200; s++) {
      const v = 1 + 0.1 * Math.sin(s / 20);
      evs.push(L.ev.scalarTf1('m/value', s, v, start + s), L.ev.scalarTf1('m/lower', s, v - 0.5, start + s), L.ev.scalarTf1('m/upper', s, v + 0.5, start + s));
    }
    evs.push(L.ev.scalarNamed('named', 0, 1, 'A display name', 'What **this** measures', start), L.ev.scalarNamed('named', 1, 2, 'A display name', 'What **this** measures', start + 1));
    L.writeEventFile(path.join(dir, run), evs);
  }
  // a run of two seconds: relative time ticks in ms and seconds
  L.writeEventFile(path.join(dir, 'short'), Array.from({ length: 20 }, (_, s) => L.ev.scalarTf1('quick', s, s * s, W + s * 0.1)));
  // a hundred runs of one tag
  for (let i = 0; i < 100; i++) {
    L.writeEventFile(path.join(dir, 'many', 'r' + String(i).padStart(3, '0')),
      Array.from({ length: 50 }, (_, s) => L.ev.scalarTf1('crowd', s, Math.sin(s / 8 + i) + i * 0.01, W + s)));
  }
  // images: a 28x28 digit-sized image (one step), a tall figure (two steps), three samples
  const imgs = [L.ev.imageTf1('img/small', 0, L.png(28, 28), 28, 28, W),
    L.ev.imageTf1('img/tall', 0, L.png(200, 1200, 1), 1200, 200, W), L.ev.imageTf1('img/tall', 1, L.png(200, 1200, 2), 1200, 200, W + 1),
    L.ev.imagesTf2('img/multi', 0, [L.png(40, 30, 3), L.png(40, 30, 4), L.png(40, 30, 5)], 40, 30, W),
    L.ev.imagesTf2('img/multi', 1, [L.png(40, 30, 6), L.png(40, 30, 7), L.png(40, 30, 8)], 40, 30, W + 1)];
  imgs.push(L.ev.customScalars([{ title: 'Margins', charts: [{ title: 'with band', margin: [{ value: 'm/value', lower: 'm/lower', upper: 'm/upper' }] },
    { title: 'two tags', tags: ['loss', 'lr'] }] }, { title: 'Folded', closed: true, charts: [{ title: 'crowd', tags: ['crowd'] }] }]));
  L.writeEventFile(path.join(dir, 'fast/a'), imgs, '.media');
  // real histograms: PyTorch's add_histogram (bins='tensorflow') and TF1's histo
  execFileSync('cp', ['-r', path.join(real, 'pytorch-1.13', 'media'), path.join(dir, 'pytorch')]);
  execFileSync('cp', ['-r', path.join(real, 'repo-tensorflow-tensorboard', 'log_tayo', 'train'), path.join(dir, 'tf1')]);
  execFileSync('cp', ['-r', path.join(real, 'tensorboard-2.12.3-tf-free', 'tensors'), path.join(dir, 'tf2')]);
}

// The heights of a histogram curve's 30 bins, from its SVG path (baseline minus y).
function binHeights(d) {
  const pts = [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => [+m[1], +m[2]]);
  const base = pts[0][1];
  return pts.slice(1, -1).map(([, y]) => base - y);
}

async function main() {
  const real = L.realDataDir();
  if (!real || !fs.existsSync(path.join(real, 'pytorch-1.13')) || !fs.existsSync(path.join(real, 'repo-tensorflow-tensorboard'))) {
    console.log('# skip: real test data not found (set TBDEV_REAL_DATA)');
    process.exit(L.SKIP);
  }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium') || !L.haveOpenssl()) {
    console.log('# skip: playwright-core, /usr/bin/chromium or openssl missing');
    process.exit(L.SKIP);
  }
  const shots = L.artifactsDir('charts');
  const logdir = L.tmpdir('tbdev-charts-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  writeData(logdir, real);
  const { server, client } = await L.setup(args);
  const up = await client.upload(logdir, { name: 'charts test' });
  const id = up.id;
  rep.ok(`upload (${up.seconds.toFixed(1)} s, experiment ${id})`);
  const api = (p) => server.json(`/api/v1/experiments/${id}${p}`);
  const base = `${server.url}/experiment/${id}/`;
  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const errors = [];
  const page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', (e) => errors.push('pageerror ' + e));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.text())) errors.push(m.text()); });
  const shoot = async (name, p, full) => {
    const f = path.join(shots, name + '.png');
    await (p || page).screenshot({ path: f, fullPage: !!full });
    rep.note('screenshot: ' + f);
  };
  const card = (cls, tag, run) => `.${cls}[data-tag="${tag}"]` + (run ? `[data-run="${run}"]` : '');
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  // ---- histograms: rebinned on the server, drawn as TensorBoard draws them ----
  await rep.step('histograms', async () => {
    await page.goto(base + '?tab=histograms');
    const cases = [['pytorch', 'weights/normal', "PyTorch's add_histogram (bins='tensorflow')"], ['tf1', 'layer1/Wx_plus_b/pre_activations', "TF1's histo summary"]];
    for (const [run, tag, what] of cases) {
      const sel = card('hist-card', tag, run);
      await L.cardReady(page, sel);
      const r = await page.$eval(sel, (c) => ({ paths: [...c.querySelectorAll('path.hist-step')].map((p) => p.getAttribute('d')), state: c.dataset.state, steps: c.dataset.steps }));
      const last = r.paths.length ? binHeights(r.paths[r.paths.length - 1]) : [];
      const peak = Math.max(...last);
      const wide = last.filter((v) => v > 0.1 * peak).length;
      rep.check(r.paths.length >= 1 && last.length === 30, `Histograms ${what}: every step drawn through 30 bins`, JSON.stringify({ n: r.paths.length, bins: last.length }));
      rep.check(wide >= 8, `Histograms ${what}: a bell over the values (${wide} of 30 bins above 10% of the peak), not a needle at 0`, JSON.stringify(last.map((v) => Math.round(v))));
    }
    rep.check(requests.some((u) => /\/histograms\?.*bins=30/.test(u)), 'Histograms: the page asks the server for 30 bins');
    // TF2 histograms from TensorBoard's writer: constant input and an empty histogram
    for (const [tag, want] of [['hist_v2/constant', 'drawn'], ['hist_v2/empty', null]]) {
      const sel = card('hist-card', tag, 'tf2');
      await L.cardReady(page, sel);
      const st = await page.$eval(sel, (c) => ({ state: c.dataset.state, text: c.textContent, paths: c.querySelectorAll('path.hist-step').length }));
      if (want === 'drawn') rep.check(st.state === 'drawn' && st.paths > 0, 'Histograms: constant input is drawn (a single spike inside a widened range)', JSON.stringify(st));
      else rep.check(['drawn', 'empty'].includes(st.state) && !/error|NaN|undefined/i.test(st.text), 'Histograms: an empty histogram is handled (no error, no NaN)', JSON.stringify(st));
    }
    // hover: step, bin and count of the curve nearest the cursor
    const sel = card('hist-card', 'weights/normal', 'pytorch');
    await L.cardReady(page, sel);
    const box = await page.$eval(`${sel} .hist-stage`, (e) => { e.scrollIntoView({ block: 'center' }); const b = e.getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height }; });
    await page.mouse.move(box.x + box.w * 0.5, box.y + box.h * 0.8);
    await L.sleep(150);
    const readout = await page.$eval(`${sel} .readout`, (e) => e.textContent);
    rep.check(/^step \d+ · bin -?[\d.e+-]+ to -?[\d.e+-]+ · count [\d.e+-]+$/.test(readout), 'Histograms: hover reads out step, bin and count', readout);
    const axes = await page.$eval(sel, (c) => [...c.querySelectorAll('.axes text')].map((t) => t.textContent));
    rep.check(axes.length >= 6 && axes.includes('step'), 'Histograms: x ticks and a step axis', JSON.stringify(axes));
    await shoot('histograms-offset');
    await page.selectOption('#hist-mode', 'overlay');
    await page.waitForFunction((s) => document.querySelector(s + ' svg[aria-label$="(overlay)"]'), sel);
    const ov = await page.$eval(sel, (c) => ({ fills: [...c.querySelectorAll('path.hist-step')].map((p) => p.getAttribute('fill')), labels: [...c.querySelectorAll('.axes text')].map((t) => t.textContent) }));
    rep.check(ov.fills.length && ov.fills.every((f) => f === 'none') && ov.labels.includes('count'), 'Histograms: overlay mode draws outlines on one baseline with a count axis', JSON.stringify(ov).slice(0, 300));
    await shoot('histograms-overlay');
    await page.selectOption('#hist-mode', 'offset');
  });

  // ---- distributions: TensorBoard's bands ----
  await rep.step('distributions', async () => {
    await page.goto(base + '?tab=distributions');
    const ink = async (sel) => page.$eval(sel, (c) => {
      const cv = c.querySelector('canvas'), over = c.querySelector('.u-over');
      const cr = cv.getBoundingClientRect(), or = over.getBoundingClientRect();
      const sx = cv.width / cr.width, sy = cv.height / cr.height;
      const x = Math.round((or.left - cr.left) * sx), y = Math.round((or.top - cr.top) * sy), w = Math.round(or.width * sx), h = Math.round(or.height * sy);
      const d = cv.getContext('2d').getImageData(x, y, w, h).data;
      const levels = new Set();
      let inked = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 20) { inked++; levels.add(d[i + 3] >> 4); }
      return { frac: inked / (w * h), levels: levels.size };
    });
    const sel = card('dist-card', 'weights/normal', 'pytorch');
    await L.cardReady(page, sel);
    const a = await ink(sel);
    rep.check(a.frac > 0.2 && a.levels >= 3, `Distributions: filled bands, several shades (${(a.frac * 100).toFixed(0)}% of the plot, ${a.levels} alpha levels)`, JSON.stringify(a));
    rep.check(requests.some((u) => /\/histograms\?.*distribution=1/.test(u)), "Distributions: the server's compressed histograms (distribution=1)");
    const one = card('dist-card', 'raw_hist', 'pytorch');
    await L.cardReady(page, one);
    const b = await ink(one);
    rep.check(b.frac > 0.2, `Distributions: a one-step distribution draws as a column (${(b.frac * 100).toFixed(0)}% of the plot)`, JSON.stringify(b));
    const bx = await page.$eval(`${sel} .u-over`, (e) => { e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
    await page.mouse.move(bx.x + bx.w * 0.5, bx.y + bx.h * 0.5);
    await L.sleep(150);
    const ro = await page.$eval(`${sel} .readout`, (e) => e.textContent);
    rep.check(/^step \d+: min .* median .* max /.test(ro), 'Distributions: hover reads out the step and its basis points', ro);
    await shoot('distributions');
  });

  // ---- scalars: hover table, precision, a hundred runs ----
  await rep.step('scalars hover table', async () => {
    await page.goto(base + '?tab=scalars&smoothing=0.6');
    const sel = card('scalar-card', 'loss');
    await L.cardReady(page, sel, 30000);
    const hgt = await page.$eval(card('scalar-card', 'crowd'), (c) => { c.scrollIntoView({ block: 'center' }); return c.getBoundingClientRect().height; });
    await L.cardReady(page, card('scalar-card', 'crowd'));
    const crowd = await page.$eval(card('scalar-card', 'crowd'), (c) => ({ h: c.getBoundingClientRect().height, legend: !!c.querySelector('.u-legend'), runs: c.dataset.runs }));
    rep.check(crowd.runs === '100' && crowd.h < 700 && !crowd.legend, `Scalars: a card of 100 runs is ${Math.round(crowd.h)} px tall (< 700), no legend`, JSON.stringify({ crowd, hgt }));
    // the hover table on the crowded card: ten rows of a hundred, and the rest counted
    const over = async (s) => page.$eval(`${s} .u-over`, (e) => { e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
    let b = await over(card('scalar-card', 'crowd'));
    await page.mouse.move(b.x + b.w * 0.5, b.y + b.h * 0.5);
    await L.sleep(200);
    const tip = async () => page.evaluate(() => {
      const t = document.querySelector('.tip');
      if (!t || t.hidden) return null;
      return { head: [...t.querySelectorAll('th')].map((x) => x.textContent), rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map((x) => x.textContent)), more: t.querySelector('.more')?.textContent || '' };
    });
    let t = await tip();
    rep.check(t && t.rows.length === 10 && /and 90 more/.test(t.more), 'Scalars: the hover table shows 10 rows of 100 runs, and "and 90 more"', JSON.stringify(t && { n: t.rows.length, more: t.more }));
    rep.check(t && JSON.stringify(t.head) === JSON.stringify(['', 'Run', 'Smoothed', 'Value', 'Step', 'Time', 'Relative']), 'Scalars: columns run, smoothed, value, step, time, relative (TensorBoard\'s)', JSON.stringify(t && t.head));
    await shoot('scalars-tooltip-100-runs');
    await page.selectOption('#tip-sort', 'descending');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('sort') === 'descending');
    b = await over(card('scalar-card', 'crowd'));
    await page.mouse.move(b.x + b.w * 0.5 + 1, b.y + b.h * 0.5);
    await L.sleep(200);
    t = await tip();
    const sm = t ? t.rows.map((r) => Number(r[2])) : [];
    rep.check(sm.length === 10 && sm.every((v, i) => i === 0 || v <= sm[i - 1]), 'Scalars: hover table sorted by value, descending', JSON.stringify(sm));
    await page.selectOption('#tip-sort', 'default');
    // precision: a learning rate of 1e-5 is not 0
    const lr = card('scalar-card', 'lr');
    await L.cardReady(page, lr);
    b = await over(lr);
    await page.mouse.move(b.x + 2, b.y + b.h * 0.5);
    await L.sleep(200);
    t = await tip();
    const vals = t ? t.rows.map((r) => r[3]) : [];
    rep.check(vals.length === 2 && vals.every((v) => /^1e-5$|^0\.00001$/.test(v)), 'Scalars: a value of 1e-5 reads 1e-5 in the hover table (not 0)', JSON.stringify(vals));
    // the value shown is the logged value at that step
    b = await over(sel);
    await page.mouse.move(b.x + b.w * 0.3, b.y + b.h * 0.5);
    await L.sleep(200);
    t = await tip();
    const row = t && t.rows.find((r) => r[1] === 'fast/a');
    if (row) {
      const step = Number(row[4]);
      const w = await api(`/scalars?tag=loss&run=fast%2Fa&start_step=${step}&end_step=${step}`);
      const want = w.series[0].points[0][2];
      rep.check(Math.abs(Number(row[3]) - want) <= 1e-6 * Math.abs(want), `Scalars: the hover table's value at step ${step} is the logged one`, `${row[3]} vs ${want}`);
    } else rep.notOk('Scalars: the hover table has a row for fast/a', JSON.stringify(t));
    await page.mouse.move(0, 0);
  });

  // ---- scalars: zoom fetches the window at full resolution; reset ----
  await rep.step('scalars zoom', async () => {
    const sel = card('scalar-card', 'loss');
    const d0 = await L.cardDebug(page, sel);
    const mains0 = d0.series.filter((s) => s.hover);
    rep.check(mains0.length === 2 && mains0.every((s) => s.n < LONG), `Scalars: the overview of ${LONG} steps is downsampled (${mains0.map((s) => s.n).join(', ')} points)`, JSON.stringify(mains0));
    const before = requests.length;
    const b = await page.$eval(`${sel} .u-over`, (e) => { e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
    await page.mouse.move(b.x + b.w * 0.50, b.y + b.h / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.w * 0.51, b.y + b.h / 2, { steps: 3 });
    await page.mouse.move(b.x + b.w * 0.52, b.y + b.h / 2, { steps: 3 });
    await page.mouse.up();
    await page.mouse.move(0, 0);
    await page.waitForFunction((s) => { const c = window.tbdevViewer.cardFor(document.querySelector(s)); const d = c && c.debug(); return d && d.window; }, sel, { timeout: 15000 });
    const d1 = await L.cardDebug(page, sel);
    const win = requests.slice(before).filter((u) => /\/scalars\?.*start_step=\d+.*end_step=\d+/.test(u));
    const steps = d1.window.end - d1.window.start + 1;
    const mains = d1.series.filter((s) => s.hover);
    rep.check(win.length > 0, 'Scalars: zooming asks the server for the window (start_step, end_step)', requests.slice(before).join(' '));
    rep.check(steps < 2000 && mains.every((s) => s.n === steps), `Scalars: the zoomed window (${steps} steps) is drawn at full resolution: every step`, JSON.stringify({ window: d1.window, n: mains.map((s) => s.n) }));
    rep.check(d1.xMax - d1.xMin < LONG * 0.05, 'Scalars: the x axis shows the window', JSON.stringify(d1));
    const status = await page.$eval(`${sel} .status`, (e) => e.textContent);
    rep.check(/full resolution/.test(status) && /steps \d+–\d+/.test(status), 'Scalars: the card says the view is at full resolution', status);
    await shoot('scalars-zoomed');
    await page.click(`${sel} .reset-zoom`);
    await page.waitForFunction((s) => { const d = window.tbdevViewer.cardFor(document.querySelector(s)).debug(); return d && !d.window; }, sel);
    const d2 = await L.cardDebug(page, sel);
    rep.check(d2.xMin <= 0 && d2.xMax >= LONG - 1 && d2.series.filter((s) => s.hover).every((s, i) => s.n === mains0[i].n), 'Scalars: Reset zoom shows every step again', JSON.stringify({ xMin: d2.xMin, xMax: d2.xMax }));
  });

  // ---- relative time, per run ----
  await rep.step('relative time', async () => {
    await page.selectOption('#x-axis', 'relative');
    const sel = card('scalar-card', 'loss');
    await page.waitForFunction((s) => { const d = window.tbdevViewer.cardFor(document.querySelector(s)).debug(); return d && d.xTicks.some((t) => /sec|min|hr/.test(t)); }, sel, { timeout: 10000 }).catch(() => {});
    const d = await L.cardDebug(page, sel);
    const mains = d.series.filter((s) => s.hover);
    rep.check(mains.length === 2 && mains.every((s) => s.minX === 0), 'Relative time: each run measured from its own first point (both start at 0, two hours apart in wall time)', JSON.stringify(mains.map((s) => [s.run, s.minX, s.maxX])));
    const q = card('scalar-card', 'quick');
    await L.cardReady(page, q);
    const dq = await L.cardDebug(page, q);
    const ticks = dq.xTicks.filter(Boolean);
    rep.check(ticks.length >= 3 && new Set(ticks).size === ticks.length && ticks.slice(1).every((t) => /ms|sec/.test(t)), 'Relative time: a two-second run gets distinct ticks in ms or seconds', JSON.stringify(ticks));
    await shoot('scalars-relative');
    await page.selectOption('#x-axis', 'step');
  });

  // ---- display names, descriptions, run colours shared with Custom Scalars ----
  await rep.step('names and colours', async () => {
    const named = await page.$eval(card('scalar-card', 'named'), (c) => ({ h3: c.querySelector('h3').textContent, sub: c.querySelector('.sub')?.textContent, desc: c.querySelector('.card-desc')?.textContent }));
    rep.check(named.h3 === 'A display name' && named.sub === 'named' && /What this measures/.test(named.desc || ''), "Scalars: a summary's display name and description appear on its card", JSON.stringify(named));
    await L.cardReady(page, card('scalar-card', 'loss'));
    const sc = (await L.cardDebug(page, card('scalar-card', 'loss'))).series.filter((s) => s.hover).map((s) => [s.run, s.color]);
    await page.click('#nav button[data-tab="custom_scalars"]');
    await page.waitForSelector('.custom-card');
    const two = '.custom-card:nth-child(2)';
    await L.cardReady(page, two);
    const cs = (await L.cardDebug(page, two)).series.filter((s) => s.hover && s.tag === 'loss').map((s) => [s.run, s.color]);
    rep.check(sc.length === 2 && JSON.stringify(sc) === JSON.stringify(cs), 'Run colours: the same in Scalars and Custom Scalars', `${JSON.stringify(sc)} vs ${JSON.stringify(cs)}`);
    const folded = await page.$eval('details.group:nth-of-type(2)', (d) => d.open);
    rep.check(folded === false, 'Custom Scalars: a category marked closed starts collapsed');
  });

  // ---- margin charts ----
  await rep.step('margin chart', async () => {
    const sel = '.custom-card.margin-card';
    await L.cardReady(page, sel);
    const d = await L.cardDebug(page, sel);
    rep.check(d.series.some((s) => s.band), 'Custom Scalars: the margin chart has bands (lower to upper)', JSON.stringify(d.series.map((s) => [s.run, s.tag, s.band])));
    const fill = await page.$eval(sel, (c) => {
      const cv = c.querySelector('canvas'), over = c.querySelector('.u-over');
      const cr = cv.getBoundingClientRect(), or = over.getBoundingClientRect();
      const sx = cv.width / cr.width, sy = cv.height / cr.height;
      const x = Math.round((or.left - cr.left) * sx), y = Math.round((or.top - cr.top) * sy), w = Math.round(or.width * sx), h = Math.round(or.height * sy);
      const px = cv.getContext('2d').getImageData(x, y, w, h).data;
      let inked = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 30) inked++;
      return inked / (w * h);
    });
    rep.check(fill > 0.5, `Custom Scalars: the band between lower and upper is filled (${(fill * 100).toFixed(0)}% of the plot)`, String(fill));
    await shoot('custom-scalars-margin');
  });

  // ---- images ----
  await rep.step('images', async () => {
    await page.goto(base + '?tab=images');
    const small = card('images-card', 'img/small');
    await L.cardReady(page, small);
    await page.waitForFunction((s) => document.querySelector(s + ' img.sample')?.complete, small);
    const g = await page.$eval(small, (c) => { const i = c.querySelector('img.sample'); const r = i.getBoundingClientRect(); return { w: r.width, h: r.height, nat: i.naturalWidth, render: getComputedStyle(i).imageRendering, slider: !!c.querySelector('input[type=range]') }; });
    rep.check(g.nat === 28 && g.w >= 200 && Math.abs(g.h - g.w) < 2, `Images: a 28x28 image is scaled up to the card (${Math.round(g.w)} px)`, JSON.stringify(g));
    rep.check(g.render === 'pixelated', 'Images: scaled up with crisp pixels (image-rendering: pixelated)', g.render);
    rep.check(!g.slider, 'Images: a one-step image has no step slider');
    await page.click(`${small} .actual-size`);
    await page.waitForFunction((s) => Math.round(document.querySelector(s + ' img.sample').getBoundingClientRect().width) === 28, small, { timeout: 5000 }).catch(() => {});
    const a = await page.$eval(small, (c) => c.querySelector('img.sample').getBoundingClientRect().width);
    rep.check(Math.round(a) === 28, 'Images: "Actual size" shows it at 28 px', String(a));
    await page.click(`${small} .actual-size`);
    const tall = card('images-card', 'img/tall');
    await L.cardReady(page, tall);
    await page.waitForFunction((s) => document.querySelector(s + ' img.sample')?.complete, tall);
    const t = await page.$eval(tall, (c) => { const i = c.querySelector('img.sample'); const r = i.getBoundingClientRect(); return { h: r.height, fit: getComputedStyle(i).objectFit, slider: !!c.querySelector('input[type=range]') }; });
    rep.check(t.h <= 640 && t.h > 100 && t.fit === 'contain', `Images: a tall figure (200x1200) is shown whole (${Math.round(t.h)} px tall, contained)`, JSON.stringify(t));
    rep.check(t.slider, 'Images: a two-step image has a step slider');
    const multi = await page.$$eval('.images-card[data-tag="img/multi"]', (cs) => cs.map((c) => ({ sample: c.dataset.sample, label: c.querySelector('.sample-of')?.textContent, src: c.querySelector('img.sample')?.src })));
    const multiReady = await page.waitForFunction(() => document.querySelectorAll('.images-card[data-tag="img/multi"]').length === 3, null, { timeout: 10000 }).then(() => true, () => false);
    const m = await page.$$eval('.images-card[data-tag="img/multi"]', (cs) => cs.map((c) => ({ sample: c.dataset.sample, label: c.querySelector('.sample-of')?.textContent, src: c.querySelector('img.sample')?.src })));
    rep.check(multiReady && m.length === 3 && m.map((x) => x.label).join('|') === 'sample 1 of 3|sample 2 of 3|sample 3 of 3' && new Set(m.map((x) => x.src)).size === 3,
      'Images: three samples of a tag get a card each ("sample 2 of 3")', JSON.stringify({ before: multi, m }));
    await page.fill('#brightness', '1.5');
    await page.$eval('#brightness', (e) => e.dispatchEvent(new Event('input')));
    await page.$eval('#contrast', (e) => { e.value = '150'; e.dispatchEvent(new Event('input')); });
    const f = await page.$eval(small, (c) => c.querySelector('img.sample').style.filter);
    rep.check(/contrast\(150%\)/.test(f) && /brightness\(1\.5\)/.test(f), 'Images: brightness and contrast as TensorBoard applies them (CSS contrast() brightness())', f);
    await shoot('images', page, true);
    await page.click('#brightness + * , #brightness').catch(() => {});
  });

  // ---- phone ----
  await rep.step('phone', async () => {
    const p = await browser.newPage();
    p.on('pageerror', (e) => errors.push('phone pageerror ' + e));
    await p.setViewportSize({ width: 390, height: 844 });
    await p.goto(base + '?tab=custom_scalars');
    await p.waitForSelector('.custom-card');
    const g = await p.evaluate(() => {
      const sb = document.querySelector('.sidebar').getBoundingClientRect();
      const first = document.querySelector('.card').getBoundingClientRect();
      const nav = document.getElementById('nav').getBoundingClientRect();
      const sel = document.querySelector('#nav button[aria-selected="true"]').getBoundingClientRect();
      return { sidebar: sb.height, firstTop: first.top, visible: sel.left >= nav.left - 1 && sel.right <= nav.right + 1, width: document.documentElement.scrollWidth };
    });
    rep.check(g.sidebar < 80 && g.firstTop < 420, `Phone (390 px): the sidebar collapses above the charts (${Math.round(g.sidebar)} px; the first card at ${Math.round(g.firstTop)} px)`, JSON.stringify(g));
    rep.check(g.visible, 'Phone: the selected tab (Custom Scalars) is scrolled into view', JSON.stringify(g));
    rep.check(g.width <= 390, 'Phone: no horizontal overflow', String(g.width));
    await p.click('.side-toggle');
    const open = await p.$eval('.sidebar-body', (e) => e.getBoundingClientRect().height);
    rep.check(open > 100, 'Phone: "Runs and settings" opens the sidebar', String(open));
    const f = path.join(shots, 'phone.png');
    await p.screenshot({ path: f });
    rep.note('screenshot: ' + f);
    await p.close();
  });

  // ---- dark theme ----
  await rep.step('dark theme', async () => {
    const p = await browser.newPage();
    await p.emulateMedia({ colorScheme: 'dark' });
    await p.goto(base + '?tab=scalars');
    await p.waitForSelector('.scalar-card');
    const lum = (c) => { const m = c.match(/\d+/g).map(Number); return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255; };
    const colors = await p.evaluate(() => ({ body: getComputedStyle(document.body).backgroundColor, card: getComputedStyle(document.querySelector('.card')).backgroundColor, fg: getComputedStyle(document.body).color }));
    rep.check(lum(colors.body) < 0.15 && lum(colors.card) < 0.2 && lum(colors.fg) > 0.7, 'Dark theme: follows prefers-color-scheme (dark background, light text)', JSON.stringify(colors));
    await p.click('#theme-toggle'); // auto -> dark
    await p.click('#theme-toggle'); // dark -> light
    const light = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    rep.check(lum(light) > 0.8, 'Dark theme: the toggle switches to light even when the system is dark', light);
    const kept = await p.evaluate(() => JSON.parse(localStorage.getItem('tbdev.prefs') || '{}').theme);
    rep.check(kept === 'light', 'Dark theme: the choice is kept in localStorage', String(kept));
    await p.click('#theme-toggle'); // light -> auto
    await L.cardReady(p, card('scalar-card', 'loss'), 30000);
    const f = path.join(shots, 'dark.png');
    await p.screenshot({ path: f });
    rep.note('screenshot: ' + f);
    await p.close();
  });

  const st = await page.evaluate(() => window.__tbdevTest || { csp: [], errors: [] });
  rep.check(!st.csp.length, 'no CSP violations', JSON.stringify(st.csp));
  rep.check(!errors.length, 'no page errors or console errors', errors.slice(0, 5).join(' | '));
}

const watchdog = setTimeout(() => { console.log('not ok - the test finished within 540 s'); L.runCleanup().then(() => process.exit(1)); }, 540000);
main().then(() => { clearTimeout(watchdog); return L.finish(rep); }).catch(async (e) => {
  rep.notOk('charts test', 'threw ' + (e && e.stack ? e.stack : e));
  clearTimeout(watchdog);
  await L.finish(rep);
});
