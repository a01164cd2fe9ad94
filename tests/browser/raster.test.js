// SPDX-License-Identifier: MIT
// Browser test of the scalar lines the page rasterises itself (service/web/line_raster.js),
// in headless Chromium on a real tbdev-server over HTTPS with data uploaded by the real tbdev
// client. Each chart's pixels are compared with a canvas stroke of every point of the same
// series (the drawing the rasteriser replaces): per pixel column, the top and bottom row of
// coloured ink agree within 1 px, and the amount of ink is within 0.8-1.5 times the stroke's
// (a column's end rows are covered over the column's whole width, where a stroke covers a
// corner: 1.0-1.3 times as many pixels show ink); the run's colour is drawn;
// a hidden run's pixels go away; a smoothing change keeps the faint raw line; log scale,
// ignore outliers and a drag zoom re-rasterise to what the stroke draws; the hover point
// lies on the drawn line.
//
// Usage: node raster.test.js TBDEV TBDEV_SERVER
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip).
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('./lib.js');

const rep = new L.Reporter('browser_raster');
const args = L.parseArgs(process.argv);
const STEPS = 2000;
const RUNS = ['a', 'b', 'c']; // palette colours #ff7043, #0077bb, #cc3311 (all saturated)

function writeData(dir) {
  RUNS.forEach((run, i) => {
    const evs = [];
    for (let s = 0; s < STEPS; s++) {
      const t = s / STEPS;
      evs.push(L.ev.scalarTf1('wave', s, Math.exp(-3 * t) + 0.15 * Math.sin(s / 30 + i) + 0.3 * i, L.WALL0 + s));
      evs.push(L.ev.scalarTf1('decades', s, Math.pow(10, -4 * t) * (1 + 0.3 * Math.sin(s / 50 + i)), L.WALL0 + s));
      evs.push(L.ev.scalarTf1('spiky', s, (s === 1000 + i ? 1000 : 0) + Math.sin(s / 100 + i), L.WALL0 + s));
    }
    L.writeEventFile(path.join(dir, run), evs);
  });
}

// In the page: the card's canvas against a reference stroked with every point; returns
// { cols, agree, ink, refInk, colours } over the plot area. Coloured ink is a pixel whose
// channels differ by more than 20 (grid, axes and background are grey).
const COMPARE = (sel) => {
  const card = document.querySelector(sel);
  const chart = window.tbdevViewer.cardFor(card).chart, u = chart.u;
  const W = u.ctx.canvas.width, H = u.ctx.canvas.height, bb = u.bbox;
  const ref = document.createElement('canvas');
  ref.width = W; ref.height = H;
  const rc = ref.getContext('2d');
  rc.fillStyle = '#fff';
  rc.fillRect(0, 0, W, H);
  rc.save();
  rc.beginPath();
  rc.rect(bb.left, bb.top, bb.width, bb.height);
  rc.clip();
  rc.lineJoin = 'round';
  for (const list of [chart.under, chart.series]) {
    for (const s of list) {
      if (s.band) continue;
      rc.strokeStyle = s.color;
      rc.lineWidth = (s.width || 1) * devicePixelRatio;
      rc.beginPath();
      let pen = false;
      for (let i = 0; i < s.xs.length; i++) {
        const y = s.ys[i];
        if (!Number.isFinite(y) || (chart.log && y <= 0)) { pen = false; continue; }
        const px = u.valToPos(s.xs[i], 'x', true), py = u.valToPos(y, 'y', true);
        if (pen) rc.lineTo(px, py); else { rc.moveTo(px, py); pen = true; }
      }
      rc.stroke();
    }
  }
  rc.restore();
  // the chart's canvas is transparent where nothing is drawn: compose it over white as the reference is
  const a = u.ctx.getImageData(0, 0, W, H).data, b = rc.getImageData(0, 0, W, H).data;
  for (let p = 0; p < a.length; p += 4) {
    const t = a[p + 3] / 255;
    for (let j = 0; j < 3; j++) a[p + j] = Math.round(a[p + j] * t + 255 * (1 - t));
    a[p + 3] = 255;
  }
  const inked = (d, p) => Math.max(d[p], d[p + 1], d[p + 2]) - Math.min(d[p], d[p + 1], d[p + 2]) > 20;
  const x0 = Math.ceil(bb.left) + 1, x1 = Math.floor(bb.left + bb.width) - 1, y0 = Math.ceil(bb.top), y1 = Math.floor(bb.top + bb.height);
  let cols = 0, agree = 0, ink = 0, refInk = 0;
  const colours = new Map();
  for (let x = x0; x < x1; x++) {
    let ta = -1, ba = -1, tb = -1, bbm = -1;
    for (let y = y0; y < y1; y++) {
      const p = (y * W + x) * 4;
      if (inked(a, p)) {
        if (ta < 0) ta = y;
        ba = y; ink++;
        const k = '#' + [a[p], a[p + 1], a[p + 2]].map((v) => v.toString(16).padStart(2, '0')).join('');
        colours.set(k, (colours.get(k) || 0) + 1);
      }
      if (inked(b, p)) { if (tb < 0) tb = y; bbm = y; refInk++; }
    }
    if (ta < 0 && tb < 0) continue;
    cols++;
    if (ta >= 0 && tb >= 0 && Math.abs(ta - tb) <= 1 && Math.abs(ba - bbm) <= 1) agree++;
  }
  return { cols, agree, ink, refInk, colours: [...colours].sort((p, q) => q[1] - p[1]).slice(0, 40).map((c) => c[0]), runs: card.dataset.runs };
};

async function main() {
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium') || !L.haveOpenssl()) {
    console.log('# skip: playwright-core, /usr/bin/chromium or openssl missing');
    process.exit(L.SKIP);
  }
  const logdir = L.tmpdir('tbdev-raster-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  writeData(logdir);
  const { server, client } = await L.setup(args);
  const up = await client.upload(logdir, { name: 'raster test' });
  rep.ok(`upload (${up.seconds.toFixed(1)} s)`);
  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push('pageerror ' + e));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.text())) errors.push(m.text()); });
  const sel = (tag) => `.scalar-card[data-tag="${tag}"]`;
  const frames = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const same = async (tag, what) => {
    await frames();
    const c = await page.evaluate(COMPARE, sel(tag));
    const inkRatio = c.ink / Math.max(1, c.refInk);
    rep.check(c.cols > 200 && c.agree / c.cols >= 0.97 && inkRatio > 0.8 && inkRatio < 1.5,
      `${what}: the lines' pixels are where a stroke through every point puts them (${c.agree} of ${c.cols} columns within 1 px, ink ${(inkRatio * 100).toFixed(0)}%)`, JSON.stringify(c));
    return c;
  };
  const setCheck = (id, on) => page.evaluate(([i, v]) => { const e = document.getElementById(i); e.checked = v; e.dispatchEvent(new Event('change')); }, [id, on]);
  const setValue = (id, v) => page.evaluate(([i, x]) => { const e = document.getElementById(i); e.value = x; e.dispatchEvent(new Event('change')); }, [id, v]);

  await page.goto(`${server.url}/experiment/${up.id}/?tab=scalars&smoothing=0`);
  await L.cardReady(page, sel('wave'));
  await rep.step('plain lines', async () => {
    const c = await same('wave', 'Smoothing 0, three runs');
    rep.check(['#ff7043', '#0077bb', '#cc3311'].every((k) => c.colours.includes(k)), 'the runs are drawn in their colours, fully covered pixels exactly', JSON.stringify(c.colours));
  });
  await rep.step('hidden run', async () => {
    await page.evaluate(() => { const cb = document.querySelector('.run-toggle[data-run="b"]'); cb.checked = false; cb.dispatchEvent(new Event('change')); });
    await page.waitForFunction((s) => document.querySelector(s).dataset.runs === '2', sel('wave'));
    const c = await same('wave', 'Run b hidden');
    rep.check(!c.colours.includes('#0077bb'), "a hidden run's pixels go away", JSON.stringify(c.colours));
    await page.evaluate(() => { const cb = document.querySelector('.run-toggle[data-run="b"]'); cb.checked = true; cb.dispatchEvent(new Event('change')); });
    await page.waitForFunction((s) => document.querySelector(s).dataset.runs === '3', sel('wave'));
    const d = await same('wave', 'Run b shown again');
    rep.check(d.colours.includes('#0077bb'), 'a run shown again is drawn again', JSON.stringify(d.colours));
  });
  // pixels of run a's colour (#ff7043) at 15-30% alpha: the faint raw line (and the
  // edges of the smoothed one)
  const faint = () => page.evaluate((s) => {
    const u = window.tbdevViewer.cardFor(document.querySelector(s)).chart.u;
    const d = u.ctx.getImageData(0, 0, u.ctx.canvas.width, u.ctx.canvas.height).data;
    let n = 0;
    for (let p = 0; p < d.length; p += 4) {
      // the canvas is transparent under the lines: straight colour, alpha the coverage
      const t = d[p + 3] / 255;
      if (t > 0.15 && t <= 0.32 && Math.abs(d[p] - 0xff) < 8 && Math.abs(d[p + 1] - 0x70) < 8 && Math.abs(d[p + 2] - 0x43) < 8) n++;
    }
    return n;
  }, sel('wave'));
  await rep.step('smoothing', async () => {
    const plain = await faint();
    await setValue('smoothing', '0.9');
    await page.waitForFunction((s) => document.querySelector(s).dataset.smoothing === '0.9' && document.querySelector(s).dataset.exact === 'true', sel('wave'), { timeout: 15000 });
    await same('wave', 'Smoothing 0.9, with the faint raw lines');
    const smooth = await faint();
    rep.check(smooth > 300 && smooth > 2 * plain, `the unsmoothed line is drawn faintly (${smooth} pixels of run a's colour at 15-30%, ${plain} without smoothing)`);
  });
  await rep.step('log scale', async () => {
    await L.cardReady(page, sel('decades'));
    await setCheck('log-y', true);
    await page.waitForFunction((s) => window.tbdevViewer.cardFor(document.querySelector(s)).chart.log === true, sel('decades'));
    await same('decades', 'Log scale over four decades');
    await setCheck('log-y', false);
  });
  await rep.step('outliers', async () => {
    await L.cardReady(page, sel('spiky'));
    await setCheck('ignore-outliers', true);
    await page.waitForFunction((s) => window.tbdevViewer.cardFor(document.querySelector(s)).chart.u.scales.y.max < 100, sel('spiky'));
    await same('spiky', 'Ignore outliers (spikes clipped off the plot)');
    await setCheck('ignore-outliers', false);
  });
  await rep.step('zoom', async () => {
    await L.cardReady(page, sel('wave'));
    const before = await page.evaluate(COMPARE, sel('wave'));
    const box = await page.locator(sel('wave') + ' .u-over').boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction((s) => window.tbdevViewer.cardFor(document.querySelector(s)).chart.isZoomed(), sel('wave'));
    const x = await L.cardDebug(page, sel('wave'));
    rep.check(x.xMax - x.xMin < STEPS * 0.3, 'a drag zooms the x axis', JSON.stringify({ min: x.xMin, max: x.xMax }));
    const c = await same('wave', 'Zoomed to a fifth of the steps');
    rep.check(JSON.stringify(c.colours) !== JSON.stringify(before.colours) || c.ink !== before.ink, 'the zoomed chart was rasterised again', JSON.stringify({ before: before.ink, after: c.ink }));
  });
  await rep.step('hover', async () => {
    const box = await page.locator(sel('wave') + ' .u-over').boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + 5);
    await frames();
    const onLine = await page.evaluate((s) => {
      const chart = window.tbdevViewer.cardFor(document.querySelector(s)).chart, u = chart.u;
      const d = u.ctx.getImageData(0, 0, u.ctx.canvas.width, u.ctx.canvas.height), W = d.width;
      const cx = u.cursor.left;
      return chart.series.map((m) => {
        let i = 0;
        const x = u.posToVal(cx, 'x');
        while (i + 1 < m.xs.length && Math.abs(m.xs[i + 1] - x) <= Math.abs(m.xs[i] - x)) i++;
        const px = Math.round(u.valToPos(m.xs[i], 'x', true)), py = Math.round(u.valToPos(m.ys[i], 'y', true));
        let best = 0;
        for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) {
          const p = ((py + dy) * W + px + dx) * 4;
          best = Math.max(best, Math.max(d.data[p], d.data[p + 1], d.data[p + 2]) - Math.min(d.data[p], d.data[p + 1], d.data[p + 2]));
        }
        return best;
      });
    }, sel('wave'));
    const tip = await page.$$eval('.tooltip tbody tr, .tip tbody tr', (r) => r.length);
    rep.check(onLine.length === 3 && onLine.every((v) => v > 60), "the hover table's point of each run is on the drawn line", JSON.stringify(onLine));
    rep.check(tip === 3, 'the hover table lists the three runs', String(tip));
  });
  const st = await page.evaluate(() => window.__tbdevTest);
  rep.check(!st.csp.length && !errors.length, 'no CSP violations, page errors or console errors', JSON.stringify(st.csp) + errors.slice(0, 3).join(' | '));
  await L.finish(rep);
}

main().catch(async (e) => {
  rep.notOk('raster test', e && e.stack ? e.stack : String(e));
  await L.finish(rep);
});
