// SPDX-License-Identifier: MIT
// Browser test of the PR Curves tab against TensorBoard's plugin, in headless Chromium, on a
// real tbdev-server over HTTPS with data uploaded by the real tbdev client: one card per tag
// with every shown run overlaid in its colour (one request per card), a step slider per run
// that moves only that run's line, hidden runs dropped, a hover table whose threshold,
// precision, recall, TP, FP, TN and FN are those written, new runs on a live refresh, real
// PyTorch and tensorboardX PR curves, and the dark theme.
//
// Usage: node pr.test.js TBDEV TBDEV_SERVER
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/pr (default /tmp/tbdev-artifacts/pr).
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib.js');

const rep = new L.Reporter('browser_pr');
const args = L.parseArgs(process.argv);

const T = 21; // thresholds of the synthetic curves
const P = 1000, N = 3000; // positives and negatives
// run -> its steps, per tag: different steps per run, and delta only in pr/two
const RUNS = {
  'pr/one': { alpha: [0, 10, 20], beta: [5, 15], gamma: [0, 100, 200, 300] },
  'pr/two': { alpha: [0, 10, 20], beta: [5, 15], gamma: [0, 100, 200, 300], delta: [7] },
};
const TAGS = Object.keys(RUNS);

// The six rows of a synthetic curve, as float32 (what the server stores): recall strictly
// falls with the threshold, and each (tag, run, step) has its own curve.
function curve(ti, ri, si) {
  const a = 0.25 + 0.2 * ri + 0.1 * si + 0.05 * ti, b = 1.2 + 1.1 * ri + 0.5 * si + 0.3 * ti;
  const rows = [[], [], [], [], [], []];
  for (let i = 0; i < T; i++) {
    const u = i / (T - 1);
    const tp = Math.round(P * Math.pow(1 - u, a)), fp = Math.round(N * Math.pow(1 - u, b));
    const vals = [tp, fp, N - fp, P - tp, tp + fp > 0 ? tp / (tp + fp) : 0, tp / P];
    vals.forEach((v, k) => rows[k].push(Math.fround(v)));
  }
  return rows;
}

const runIndex = (run) => ['alpha', 'beta', 'gamma', 'delta', 'epsilon'].indexOf(run);

function writeRun(dir, run, tags) {
  const evs = [];
  for (const tag of tags) {
    RUNS[tag][run].forEach((step, si) => evs.push(L.ev.prCurve(tag, step, curve(TAGS.indexOf(tag), runIndex(run), si), L.WALL0 + 60 * step + runIndex(run))));
  }
  L.writeEventFile(path.join(dir, run), evs);
}

function writeData(dir, real) {
  for (const run of ['alpha', 'beta', 'gamma', 'delta']) writeRun(dir, run, TAGS.filter((t) => RUNS[t][run]));
  execFileSync('cp', ['-r', path.join(real, 'pytorch-1.13', 'media'), path.join(dir, 'real_pytorch')]);
  execFileSync('cp', ['-r', path.join(real, 'tensorboardx-2.6.2.2', 'media'), path.join(dir, 'real_tbx')]);
}

// Pixels of the card's plot near each colour (#rrggbb), and a hash of where they are.
async function colourInk(page, sel, colours) {
  return page.evaluate(([s, cols]) => {
    const card = document.querySelector(s);
    const cv = card && card.querySelector('canvas'), over = card && card.querySelector('.u-over');
    if (!cv || !over) return null;
    const cr = cv.getBoundingClientRect(), or = over.getBoundingClientRect();
    const sx = cv.width / cr.width, sy = cv.height / cr.height;
    const x0 = Math.round((or.left - cr.left) * sx), y0 = Math.round((or.top - cr.top) * sy);
    const w = Math.round(or.width * sx), hgt = Math.round(or.height * sy);
    const d = cv.getContext('2d').getImageData(x0, y0, w, hgt).data;
    const rgb = cols.map((c) => [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)]);
    const out = cols.map(() => ({ n: 0, hash: 0 }));
    for (let i = 0, p = 0; i < d.length; i += 4, p++) {
      if (d[i + 3] < 200) continue;
      rgb.forEach((c, k) => {
        if (Math.abs(d[i] - c[0]) + Math.abs(d[i + 1] - c[1]) + Math.abs(d[i + 2] - c[2]) < 40) {
          out[k].n++;
          out[k].hash = (out[k].hash * 31 + p) >>> 0;
        }
      });
    }
    return out;
  }, [sel, colours]);
}

async function main() {
  const real = L.realDataDir();
  if (!real || !fs.existsSync(path.join(real, 'pytorch-1.13')) || !fs.existsSync(path.join(real, 'tensorboardx-2.6.2.2'))) {
    console.log('# skip: real test data not found (set TBDEV_REAL_DATA)');
    process.exit(L.SKIP);
  }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium') || !L.haveOpenssl()) {
    console.log('# skip: playwright-core, /usr/bin/chromium or openssl missing');
    process.exit(L.SKIP);
  }
  const shots = L.artifactsDir('pr');
  const logdir = L.tmpdir('tbdev-pr-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  writeData(logdir, real);
  const { server, client } = await L.setup(args);
  const up = await client.upload(logdir, { name: 'pr curves test' });
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
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const shoot = async (name) => {
    const f = path.join(shots, name + '.png');
    await page.screenshot({ path: f });
    rep.note('screenshot: ' + f);
  };
  const sel = (tag) => `.pr-card[data-tag="${tag}"]`;
  const debug = (tag) => L.cardDebug(page, sel(tag));
  const colours = async (runs) => page.evaluate((rs) => rs.map((r) => window.tbdevViewer.ctx.colors.get(r)), runs);
  const tags = (await api('/tags')).tags.filter((t) => t.plugin === 'pr_curves');
  const allTags = [...new Set(tags.map((t) => t.tag))].sort();
  rep.note('PR tags: ' + JSON.stringify(tags.map((t) => t.run + ' · ' + t.tag)));

  await rep.step('one card per tag, every run overlaid', async () => {
    await page.goto(base + '?tab=pr_curves');
    await page.waitForSelector('.pr-card', { timeout: 15000 });
    const cards = await page.$$eval('.pr-card', (cs) => cs.map((c) => c.dataset.tag));
    rep.check(JSON.stringify([...cards].sort()) === JSON.stringify(allTags), `one card per tag (${allTags.length} tags, ${tags.length} run/tag pairs)`, () => `cards ${JSON.stringify(cards)}`);
    for (const tag of TAGS) {
      await L.cardReady(page, sel(tag));
      const d = await debug(tag);
      const want = Object.keys(RUNS[tag]).sort();
      rep.check(d && JSON.stringify(d.drawn) === JSON.stringify(want), `${tag}: ${want.length} lines drawn, one per run (${want.join(', ')})`, () => JSON.stringify(d && d.drawn));
      const cols = await colours(want);
      const ink = await colourInk(page, sel(tag), cols);
      rep.check(ink && ink.every((x) => x.n > 30), `${tag}: each run's colour is on the plot`, () => JSON.stringify({ cols, ink }));
      const last = d ? d.runs.map((r) => [r.run, r.step]) : [];
      const wantLast = want.map((r) => [r, RUNS[tag][r][RUNS[tag][r].length - 1]]);
      rep.check(JSON.stringify(last) === JSON.stringify(wantLast), `${tag}: each run at its own last step by default`, () => JSON.stringify(last));
      const labels = await page.$$eval(`${sel(tag)} .pr-run`, (rs) => rs.map((r) => [r.dataset.run, r.querySelector('.pr-step').textContent, !!r.querySelector('input[type=range]'), r.querySelector('.pr-time').textContent]));
      rep.check(labels.length === want.length && labels.every(([r, st, slider, time]) => st === `step ${RUNS[tag][r].slice(-1)[0]}` && slider === (RUNS[tag][r].length > 1) && /\d/.test(time)),
        `${tag}: a labelled step slider per run (run, step, relative and wall time; none for one step)`, () => JSON.stringify(labels));
    }
    const asked = requests.filter((u) => /\/pr_curves\?/.test(u) && /tag=pr%2Fone(&|$)/.test(u));
    rep.check(asked.length === 1, `one request for a card of ${Object.keys(RUNS['pr/one']).length} runs`, () => JSON.stringify(asked));
    await page.$eval(sel('pr/two'), (c) => c.scrollIntoView({ block: 'center' }));
    await shoot('synthetic');
  });

  await rep.step('slider per run', async () => {
    const tag = 'pr/two';
    const before = await debug(tag);
    const runs = Object.keys(RUNS[tag]).sort();
    const cols = await colours(runs);
    const inkBefore = await colourInk(page, sel(tag), cols);
    await page.focus(`${sel(tag)} .pr-run[data-run="beta"] input[type=range]`);
    await page.keyboard.press('Home');
    await L.sleep(150);
    const after = await debug(tag);
    const inkAfter = await colourInk(page, sel(tag), cols);
    const label = await page.$eval(`${sel(tag)} .pr-run[data-run="beta"] .pr-step`, (e) => e.textContent);
    const by = (d, r) => d && d.runs.find((x) => x.run === r);
    rep.check(label === 'step 5' && by(after, 'beta') && by(after, 'beta').step === 5, "moving beta's slider to its first step shows step 5", () => JSON.stringify({ label, beta: by(after, 'beta') }));
    const bi = runs.indexOf('beta');
    const want = curve(TAGS.indexOf(tag), runIndex('beta'), 0);
    const b = by(after, 'beta');
    rep.check(b && b.builds > by(before, 'beta').builds && JSON.stringify(b.recall) === JSON.stringify(want[5]), "beta's line is rebuilt from its step-5 curve", () => JSON.stringify(b));
    rep.check(inkBefore && inkAfter && inkBefore[bi].hash !== inkAfter[bi].hash, "beta's pixels moved", () => JSON.stringify({ inkBefore, inkAfter }));
    const others = runs.filter((r) => r !== 'beta').map((r) => [r, by(before, r), by(after, r)]);
    rep.check(others.every(([, x, y]) => x && y && x.step === y.step && x.builds === y.builds && JSON.stringify(x.recall) === JSON.stringify(y.recall)),
      'the other runs keep their step and their line (not rebuilt)', () => JSON.stringify(others.map(([r, x, y]) => [r, x && x.step, y && y.step, x && x.builds, y && y.builds])));
    const labels = await page.$$eval(`${sel(tag)} .pr-run`, (rs) => rs.map((r) => r.dataset.run + ' ' + r.querySelector('.pr-step').textContent));
    rep.check(JSON.stringify(labels) === JSON.stringify(runs.map((r) => `${r} step ${r === 'beta' ? 5 : RUNS[tag][r].slice(-1)[0]}`)), 'the other labels are unchanged', JSON.stringify(labels));
    const one = await debug('pr/one');
    rep.check(one && by(one, 'beta').step === 15, 'the slider moves beta in its own card only', () => JSON.stringify(one && by(one, 'beta')));
  });

  await rep.step('hover table', async () => {
    const tag = 'pr/two';
    const d = await debug(tag);
    // what was written at each run's current step
    const cur = Object.keys(RUNS[tag]).sort().map((r) => {
      const si = RUNS[tag][r].indexOf(d.runs.find((x) => x.run === r).step);
      return { run: r, rows: curve(TAGS.indexOf(tag), runIndex(r), si) };
    });
    // a recall whose nearest threshold is clear in every run (by several pixels' worth)
    const margin = (rx) => Math.min(...cur.map((c) => {
      const ds = c.rows[5].map((x) => Math.abs(x - rx)).sort((a, b) => a - b);
      return ds[1] - ds[0];
    }));
    let rx = 0.5;
    for (let x = 0.1; x < 0.9; x += 0.001) if (margin(x) > margin(rx)) rx = x;
    rep.check(margin(rx) > 0.008, `the test finds a recall (${rx.toFixed(3)}) with one clear nearest threshold per run (margin ${margin(rx).toFixed(4)})`, '');
    if (!(margin(rx) > 0.008)) return;
    const py = 0.5;
    const pos = await page.evaluate(([s, x, y]) => {
      const el = document.querySelector(s);
      el.scrollIntoView({ block: 'center' });
      return window.tbdevViewer.cardFor(el).clientPos(x, y);
    }, [sel(tag), rx, py]);
    await page.mouse.move(pos.x, pos.y);
    await L.sleep(200);
    const table = await page.evaluate(() => {
      const tip = document.querySelector('.tip');
      if (!tip || tip.hidden) return null;
      return { head: [...tip.querySelectorAll('thead th')].map((t) => t.textContent), rows: [...tip.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
        swatches: [...tip.querySelectorAll('tbody .swatch')].map((s) => s.style.background) };
    });
    await shoot('hover');
    await page.mouse.move(0, 0);
    rep.check(table && JSON.stringify(table.head.slice(1, 10)) === JSON.stringify(['Run', 'Threshold', 'Precision', 'Recall', 'TP', 'FP', 'TN', 'FN', 'Step']),
      'the hover table has Run, Threshold, Precision, Recall, TP, FP, TN, FN, Step', () => JSON.stringify(table && table.head));
    if (!table) return;
    const bad = [];
    for (const c of cur) {
      const k = c.rows[5].map((x, i) => [Math.abs(x - rx), i]).sort((a, b) => a[0] - b[0])[0][1];
      const want = [k / (T - 1), c.rows[4][k], c.rows[5][k], c.rows[0][k], c.rows[1][k], c.rows[2][k], c.rows[3][k]];
      const row = table.rows.find((r) => r[1] === c.run);
      const got = row ? row.slice(2, 9).map(Number) : [];
      const same = row && want.every((w, i) => Math.abs(got[i] - w) <= 5e-7 * Math.max(1, Math.abs(w)));
      if (!same) bad.push({ run: c.run, threshold: k, want, got: row });
    }
    rep.check(!bad.length, `the hover table shows, for each of ${cur.length} runs, the written values at its threshold nearest recall ${rx.toFixed(4)}`, () => JSON.stringify(bad));
    const cols = await colours(cur.map((c) => c.run));
    const sw = table.rows.map((r, i) => [r[1], table.swatches[i]]);
    const rgb = (hex) => `rgb(${parseInt(hex.slice(1, 3), 16)}, ${parseInt(hex.slice(3, 5), 16)}, ${parseInt(hex.slice(5, 7), 16)})`;
    rep.check(sw.every(([r, s]) => s === rgb(cols[cur.findIndex((c) => c.run === r)])), 'each row has its run colour swatch', JSON.stringify({ sw, cols }));
  });

  await rep.step('hidden run', async () => {
    const tag = 'pr/two';
    await page.click('.run-toggle[data-run="gamma"]');
    await L.sleep(200);
    await L.cardReady(page, sel(tag));
    const d = await debug(tag);
    const [gc] = await colours(['gamma']);
    const ink = await colourInk(page, sel(tag), [gc]);
    const rows = await page.$$eval(`${sel(tag)} .pr-run`, (rs) => rs.map((r) => r.dataset.run));
    rep.check(d && JSON.stringify(d.drawn) === JSON.stringify(['alpha', 'beta', 'delta']), 'hiding gamma removes its line', () => JSON.stringify(d && d.drawn));
    rep.check(ink && ink[0].n < 5, `no pixel in gamma's colour once hidden (${ink && ink[0].n})`, '');
    rep.check(!rows.includes('gamma') && rows.length === 3, "gamma's slider is gone", JSON.stringify(rows));
    const cards = await page.$$eval('.pr-card', (cs) => cs.length);
    rep.check(cards === allTags.length, 'still one card per tag', String(cards));
    await page.click('.run-toggle[data-run="gamma"]');
    await L.sleep(200);
    const back = await debug(tag);
    rep.check(back && back.drawn.includes('gamma'), 'showing gamma again draws it again', () => JSON.stringify(back && back.drawn));
  });

  await rep.step('run filter', async () => {
    await page.fill('#run-filter', '^(alpha|delta)$');
    await page.press('#run-filter', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('.pr-card').length === 1 || document.querySelectorAll('.pr-card').length === 2, null, { timeout: 5000 }).catch(() => {});
    const cards = await page.$$eval('.pr-card', (cs) => cs.map((c) => c.dataset.tag).sort());
    rep.check(JSON.stringify(cards) === JSON.stringify(TAGS), 'the run filter leaves the cards of tags with a matching run', JSON.stringify(cards));
    const drawn = [];
    for (const tag of TAGS) {
      await L.cardReady(page, sel(tag));
      const d = await debug(tag);
      drawn.push(d && d.drawn);
    }
    rep.check(JSON.stringify(drawn) === JSON.stringify([['alpha'], ['alpha', 'delta']]), 'and draws the matching runs only', JSON.stringify(drawn));
    await page.fill('#run-filter', '');
    await page.press('#run-filter', 'Enter');
    await page.waitForFunction((n) => document.querySelectorAll('.pr-card').length === n, allTags.length, { timeout: 5000 }).catch(() => {});
  });

  await rep.step('real PyTorch and tensorboardX PR curves', async () => {
    for (const [run, tag, what] of [['real_pytorch', 'pr_curve/class0', "PyTorch's add_pr_curve"], ['real_tbx', 'pr/curve', "tensorboardX's add_pr_curve"]]) {
      const t = tags.find((x) => x.run === run && x.tag === tag);
      if (!t) { rep.check(false, `${what}: a PR tag in the upload`, JSON.stringify(tags)); continue; }
      const s = (await api(`/pr_curves?tag=${encodeURIComponent(t.tag)}&run=${run}`)).series[0];
      await L.cardReady(page, sel(t.tag));
      const d = await debug(t.tag);
      const r = d && d.runs.find((x) => x.run === run);
      const thresholds = s.points[s.points.length - 1].thresholds;
      rep.check(r && JSON.stringify(r.steps) === JSON.stringify(s.points.map((p) => p.step)) && r.step === s.points[s.points.length - 1].step && r.thresholds === thresholds && d.drawn.includes(run),
        `${what}: drawn at its last step of ${s.points.length}, ${thresholds} thresholds`, () => JSON.stringify(r && { steps: r.steps, step: r.step, thresholds: r.thresholds, drawn: d.drawn }));
      const ink = await colourInk(page, sel(t.tag), await colours([run]));
      rep.check(ink && ink[0].n > 50, `${what}: its line is on the plot (${ink && ink[0].n} px in its colour)`, '');
      const want = s.points[s.points.length - 1].recall;
      rep.check(r && want.every((v, i) => Math.abs(v - r.recall[i]) < 1e-9), `${what}: the recall drawn is the API's`, '');
      if (run === 'real_pytorch') {
        await page.$eval(sel(t.tag), (c) => c.scrollIntoView({ block: 'center' }));
        await shoot('real-pytorch');
      }
    }
  });

  await rep.step('rows cut between pages', async () => {
    // pages of 4 KB cut each 51-threshold row of the PyTorch curve in two or more
    const whole = (await api('/pr_curves?tag=pr_curve%2Fclass0&run=real_pytorch')).series[0].points;
    const got = await page.evaluate(async () => {
      const m = await import('/static/dash_pr.js');
      const r = await m.fetchCurves(window.tbdevViewer.ctx.base, 'pr_curve/class0', ['real_pytorch'], 0, undefined, 4096);
      return (r.byRun.get('real_pytorch') || []).map((p) => ({ step: p.step, tp: p.tp, fp: p.fp, tn: p.tn, fn: p.fn, precision: p.precision, recall: p.recall }));
    });
    const pages = requests.filter((u) => /page_bytes=4096/.test(u)).length;
    const want = whole.map((p) => ({ step: p.step, tp: p.tp, fp: p.fp, tn: p.tn, fn: p.fn, precision: p.precision, recall: p.recall }));
    rep.check(pages > whole.length && JSON.stringify(got) === JSON.stringify(want), `a curve read in ${pages} pages of 4 KB is the whole answer's ${whole.length} rows`,
      () => JSON.stringify({ pages, got: got.map((p) => [p.step, p.recall.length]), want: want.map((p) => [p.step, p.recall.length]) }));
  });

  await rep.step('new run on live refresh', async () => {
    RUNS['pr/one'].epsilon = [3, 6];
    const more = L.tmpdir('tbdev-pr-more-');
    L.cleanup.push(() => fs.rmSync(more, { recursive: true, force: true }));
    writeRun(more, 'epsilon', ['pr/one']);
    await client.upload(more, { experimentId: id });
    await page.evaluate(() => window.tbdevViewer.page.refreshNow());
    await page.waitForFunction((s) => { const el = document.querySelector(s); const c = el && window.tbdevViewer.cardFor(el); const d = c && c.debug && c.debug(); return d && d.drawn.includes('epsilon'); },
      sel('pr/one'), { timeout: 15000, polling: 200 }).catch(() => {});
    const d = await debug('pr/one');
    rep.check(d && JSON.stringify(d.drawn) === JSON.stringify(['alpha', 'beta', 'epsilon', 'gamma']), 'a run uploaded while the page is open joins its card', () => JSON.stringify(d && d.drawn));
  });

  await rep.step('dark theme', async () => {
    await page.evaluate(() => window.tbdevViewer.ctx.state.set({ theme: 'dark' }));
    await L.sleep(300);
    const tag = 'pr/two';
    await L.cardReady(page, sel(tag));
    const d = await debug(tag);
    const bg = await page.$eval(sel(tag), (c) => getComputedStyle(c).backgroundColor);
    const lum = (bg.match(/\d+/g) || []).slice(0, 3).map(Number).reduce((a, b) => a + b, 0) / 3;
    rep.check(d && d.drawn.length === 4 && lum < 80, `dark theme: a dark card (${bg}) with its 4 lines`, () => JSON.stringify(d && d.drawn));
    const axis = await page.$eval(`${sel(tag)} canvas`, (cv) => {
      const ctx = cv.getContext('2d'), d = ctx.getImageData(0, 0, cv.width, cv.height).data;
      let light = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 100 && d[i] > 120 && d[i + 1] > 120 && d[i + 2] > 120) light++;
      return light;
    });
    rep.check(axis > 100, `dark theme: axis labels drawn light (${axis} px)`, '');
    await page.$eval(sel(tag), (c) => c.scrollIntoView({ block: 'center' }));
    await shoot('dark');
    await page.evaluate(() => window.tbdevViewer.ctx.state.set({ theme: 'light' }));
  });

  const csp = await page.evaluate(() => window.__tbdevTest && window.__tbdevTest.csp);
  rep.check(!errors.length && !(csp && csp.length), 'no page errors or CSP violations', () => JSON.stringify({ errors, csp }));
  await browser.close();
}

const watchdog = setTimeout(() => { console.log('not ok - the test finished within 300 s'); L.runCleanup().then(() => process.exit(1)); }, 300000);
main().then(() => { clearTimeout(watchdog); return L.finish(rep); }).catch(async (e) => {
  rep.notOk('pr test', 'threw ' + (e && e.stack ? e.stack : e));
  clearTimeout(watchdog);
  await L.finish(rep);
});
