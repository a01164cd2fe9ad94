// SPDX-License-Identifier: MIT
// Browser test of the experiment viewer (service/web/app.js) against a real tbdev-server over
// HTTPS, with data uploaded by the real tbdev client: the real PyTorch 1.13 and TensorBoard
// 2.12.3 logdirs from shared/testdata/real plus the output of tbdev-example-logs.
//
// Usage: node viewer.test.js TBDEV TBDEV_SERVER TBDEV_EXAMPLE_LOGS
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/viewer (default /tmp/tbdev-artifacts/viewer).
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib.js');

const rep = new L.Reporter('browser_viewer');
const args = L.parseArgs(process.argv);

// Which dashboards the experiment should have, and what each shows, computed from the tags
// API independently of the viewer.
function expectations(tags) {
  const pairs = (plugin) => tags.filter((t) => t.plugin === plugin);
  const scalarTags = [...new Set(tags.filter((t) => t.kind === 'scalar').map((t) => t.tag))].sort();
  const graphs = tags.filter((t) => t.kind === 'blob_sequence' && (t.plugin === 'graphs' || t.plugin.startsWith('graph_')));
  const known = new Set(['scalars', 'histograms', 'images', 'audio', 'text', 'hparams', 'pr_curves', 'custom_scalars', 'mesh']);
  const other = tags.filter((t) => t.kind !== 'scalar' && !known.has(t.plugin) && !graphs.includes(t));
  return {
    scalarTags,
    histograms: pairs('histograms'),
    images: pairs('images'),
    audio: pairs('audio'),
    text: pairs('text'),
    hparams: pairs('hparams'),
    pr_curves: pairs('pr_curves'),
    custom_scalars: pairs('custom_scalars'),
    mesh: pairs('mesh'),
    graphs,
    other,
  };
}

// Scrolls every card matching `sel` into view in turn (the viewer loads cards lazily) and
// waits until `ready(card)` holds for it. Returns the number of cards that never got ready.
async function loadCards(page, sel, readyFn, perCardMs) {
  return page.evaluate(async ({ sel, readySrc, ms }) => {
    // eslint-disable-next-line no-new-func
    const ready = new Function('card', 'return (' + readySrc + ')(card);');
    const cards = [...document.querySelectorAll(sel)];
    const stuck = [];
    for (const card of cards) {
      card.scrollIntoView({ block: 'center' });
      const t0 = performance.now();
      while (!ready(card) && performance.now() - t0 < ms) await new Promise((r) => setTimeout(r, 25));
      if (!ready(card)) stuck.push((card.dataset.run || '') + ' ' + (card.dataset.tag || card.querySelector('h3')?.textContent || '') +
        ` (state ${card.dataset.state}: ${card.querySelector('.status')?.textContent || ''})`);
    }
    window.scrollTo(0, 0);
    return { n: cards.length, stuck };
  }, { sel, readySrc: readyFn.toString(), ms: perCardMs || 10000 });
}

// Ink of each uPlot chart in the cards matching `sel`: pixels inside the plotting area (.u-over)
// that, composited over white, are darker than the grid lines (any channel < 225).
async function plotInk(page, sel) {
  // each card brought into view and drawn first: cards far off screen drop their charts
  return page.evaluate(async (s) => {
    const out = [];
    for (const card of document.querySelectorAll(s)) {
      card.scrollIntoView({ block: 'center' });
      const t0 = performance.now();
      while (!['drawn', 'empty', 'error'].includes(card.dataset.state) && performance.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 25));
      out.push(inkOf(card));
    }
    window.scrollTo(0, 0);
    return out;
    function inkOf(card) {
    const canvas = card.querySelector('canvas');
    const over = card.querySelector('.u-over');
    const label = (card.dataset.run ? card.dataset.run + ' ' : '') + (card.dataset.tag || card.querySelector('h3')?.textContent || '');
    if (!canvas || !over) return { label, ink: -1, nonWhite: -1 };
    const cr = canvas.getBoundingClientRect(), or = over.getBoundingClientRect();
    const sx = canvas.width / cr.width, sy = canvas.height / cr.height;
    const x = Math.max(0, Math.round((or.left - cr.left) * sx)), y = Math.max(0, Math.round((or.top - cr.top) * sy));
    const w = Math.min(canvas.width - x, Math.round(or.width * sx)), h = Math.min(canvas.height - y, Math.round(or.height * sy));
    const d = canvas.getContext('2d').getImageData(x, y, w, h).data;
    let ink = 0, nonWhite = 0;
    for (let i = 0; i < d.length; i += 4) {
      const a = d[i + 3] / 255;
      const r = d[i] * a + 255 * (1 - a), g = d[i + 1] * a + 255 * (1 - a), b = d[i + 2] * a + 255 * (1 - a);
      if (r < 250 || g < 250 || b < 250) nonWhite++;
      if (r < 225 || g < 225 || b < 225) ink++;
    }
    return { label, ink, nonWhite, w, h };
    }
  }, sel);
}

// A checksum of a card's canvas pixels.
async function canvasHash(page, cardSel) {
  return page.evaluate((s) => {
    const c = document.querySelector(s)?.querySelector('canvas');
    if (!c) return null;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) { h ^= d[i]; h = Math.imul(h, 16777619); }
    return (h >>> 0).toString(16);
  }, cardSel);
}

// The runs a scalar card draws (its main lines, one per run), from the viewer's card object.
async function legend(page, cardSel) {
  // cards far off screen drop their charts (bounded memory): bring this one back first
  await L.cardReady(page, cardSel).catch(() => {});
  const d = await L.cardDebug(page, cardSel);
  return d ? d.series.filter((x) => x.hover).map((x) => x.run) : null;
}

const cardByTag = (cls, tag) => `.${cls}[data-tag="${tag.replace(/["\\]/g, '\\$&')}"]`;

async function clickTab(page, key) {
  await page.click(`#nav button[data-tab="${key}"]`);
  await page.waitForFunction((k) => document.querySelector(`#nav button[data-tab="${k}"]`)?.getAttribute('aria-selected') === 'true', key);
  // the dashboards render synchronously, except hparams and custom scalars (one fetch)
  await page.waitForFunction(() => !document.querySelector('.content > .loading'), null, { timeout: 15000 }).catch(() => {});
}

async function pageState(page) {
  return page.evaluate(() => {
    const s = window.__tbdevTest || { csp: [], errors: [] };
    return { csp: s.csp.slice(), errors: s.errors.slice() };
  }).catch(() => ({ csp: [], errors: [] }));
}

async function main() {
  const real = L.realDataDir();
  if (!real || !fs.existsSync(path.join(real, 'pytorch-1.13'))) {
    console.log('# skip: real test data not found (set TBDEV_REAL_DATA)');
    process.exit(L.SKIP);
  }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  if (!L.haveOpenssl()) {
    console.log('# skip: the openssl CLI is needed for the test certificate');
    process.exit(L.SKIP);
  }
  if (!args.exampleLogs) {
    console.error('usage: node viewer.test.js TBDEV TBDEV_SERVER TBDEV_EXAMPLE_LOGS');
    process.exit(2);
  }
  const shots = L.artifactsDir('viewer');

  // ---- data: one experiment with every dashboard ----
  const logdir = L.tmpdir('tbdev-viewer-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  execFileSync('cp', ['-r', path.join(real, 'pytorch-1.13'), path.join(logdir, 'pytorch')]);
  execFileSync('cp', ['-r', path.join(real, 'tensorboard-2.12.3-tf-free'), path.join(logdir, 'tbfree')]);
  execFileSync(args.exampleLogs, [path.join(logdir, 'example')]);

  const { server, client } = await L.setup(args);
  rep.note(`server ${server.url} (HTTPS, throwaway certificate), db ${server.db}`);
  const up = await client.upload(logdir, { name: 'viewer test', description: 'Uploaded by **viewer.test.js**.' });
  const id = up.id;
  rep.ok(`upload of the real logdirs and the example logs (${up.seconds.toFixed(1)} s, experiment ${id})`);
  const api = (p) => server.json(`/api/v1/experiments/${id}${p}`);
  const tags = (await api('/tags')).tags;
  const exp = expectations(tags);
  const base = `${server.url}/experiment/${id}/`;

  // ---- browser ----
  const browser = await L.launchBrowser();
  const consoleErrors = [];
  const cspViolations = [];
  const dialogs = [];
  const watch = (page, label) => {
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`[${label}] ${m.text()} @ ${m.location()?.url || ''}`); });
    page.on('pageerror', (e) => consoleErrors.push(`[${label}] pageerror ${e}`));
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  };
  await browser.addInitScript(L.INIT_SCRIPT);
  const harvest = async (page, label) => {
    const s = await pageState(page);
    for (const v of s.csp) cspViolations.push(`[${label}] ${JSON.stringify(v)}`);
  };

  const page = browser.pages()[0] || await browser.newPage();
  watch(page, 'desktop');
  await page.goto(base);
  await page.waitForSelector('#nav button', { timeout: 20000 });

  // ---- tabs ----
  // TensorBoard's tab order (tensorboard/default.py), only the tabs with data, Other last
  const wantTabs = [
    ['scalars', 'Scalars', exp.scalarTags.length], ['custom_scalars', 'Custom Scalars', exp.custom_scalars.length],
    ['images', 'Images', exp.images.length], ['audio', 'Audio', exp.audio.length], ['graphs', 'Graphs', exp.graphs.length],
    ['distributions', 'Distributions', exp.histograms.length], ['histograms', 'Histograms', exp.histograms.length],
    ['text', 'Text', exp.text.length], ['pr_curves', 'PR Curves', exp.pr_curves.length], ['hparams', 'HParams', exp.hparams.length],
    ['mesh', 'Mesh', exp.mesh.length],
    ['other', 'Other', exp.other.length],
  ].filter((t) => t[2] > 0);
  const tabsShown = await page.$$eval('#nav button', (bs) => bs.map((b) => [b.dataset.tab, b.textContent, b.tagName, b.getAttribute('role')]));
  rep.check(JSON.stringify(tabsShown.map((t) => [t[0], t[1]])) === JSON.stringify(wantTabs.map((t) => [t[0], t[1]])),
    `tabs are ${wantTabs.map((t) => t[1]).join(', ')}`, () => 'got ' + JSON.stringify(tabsShown));
  for (const need of ['scalars', 'histograms', 'distributions', 'images', 'audio', 'text', 'hparams', 'pr_curves', 'custom_scalars', 'graphs'])
    if (!wantTabs.find((t) => t[0] === need)) rep.notOk(`the test data has ${need}`, 'the uploaded logdirs should cover every dashboard');
  rep.check(tabsShown.every((t) => t[2] === 'BUTTON'), 'every tab is a <button>');

  const overflow = async (p) => p.evaluate(() => {
    const m = document.getElementById('main');
    return { doc: document.documentElement.scrollWidth, vw: document.documentElement.clientWidth, main: m.scrollWidth, mainClient: m.clientWidth };
  });

  // ---- each dashboard ----
  const shotPaths = [];
  const shoot = async (p, name, full) => {
    const f = path.join(shots, name + '.png');
    await p.screenshot({ path: f, fullPage: !!full });
    shotPaths.push(f);
    return f;
  };
  const perRunCount = async (cls, list, what) => {
    const got = await page.$$eval(`.${cls}`, (cs) => cs.map((c) => c.dataset.run + '\u0000' + c.dataset.tag).sort());
    const want = list.map((t) => t.run + '\u0000' + t.tag).sort();
    rep.check(JSON.stringify(got) === JSON.stringify(want), `${what}: one card per (run, tag): ${want.length}`,
      () => `got ${got.length}: ${JSON.stringify(got.map((s) => s.replace('\u0000', ' · ')))}`);
  };

  for (const [key, label] of wantTabs) {
    await rep.step(`dashboard ${label}`, async () => {
      await clickTab(page, key);
      const o = await overflow(page);
      rep.check(o.doc <= o.vw, `${label}: no horizontal page overflow at 1300 px`, () => `document is ${o.doc} px wide in a ${o.vw} px viewport (main content ${o.main} px)`);
      if (key === 'scalars') {
        const want = exp.scalarTags;
        const got = await page.$$eval('.scalar-card', (cs) => cs.map((c) => c.dataset.tag).sort());
        rep.check(JSON.stringify(got) === JSON.stringify(want), `Scalars: one card per scalar tag: ${want.length}`, () => `got ${JSON.stringify(got)}`);
        const r = await loadCards(page, '.scalar-card', (c) => !!(c.querySelector('canvas') || c.querySelector('.chart.empty') || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'Scalars: every chart loads', () => 'stuck: ' + r.stuck.join('; '));
        const ink = await plotInk(page, '.scalar-card');
        const blank = ink.filter((i) => i.ink < 10);
        rep.check(!blank.length, `Scalars: no blank chart (min ink ${Math.min(...ink.map((i) => i.ink))} px)`, () => 'blank: ' + JSON.stringify(blank));
        // legends name exactly the runs that have the tag
        const bad = [];
        for (const tag of want) {
          const runs = [...new Set(tags.filter((t) => t.tag === tag && t.kind === 'scalar').map((t) => t.run))].sort();
          const lg = ((await legend(page, cardByTag('scalar-card', tag))) || []).sort();
          if (JSON.stringify(lg) !== JSON.stringify(runs)) bad.push(`${tag}: lines of ${JSON.stringify(lg)} != runs ${JSON.stringify(runs)}`);
        }
        rep.check(!bad.length, 'Scalars: each chart draws exactly the runs with that tag', () => bad.join('; '));
        const legends = await page.$$eval('.scalar-card .u-legend', (ls) => ls.length);
        rep.check(legends === 0, 'Scalars: no legend (a hover table instead)', String(legends));
        // the y-axis tick labels fit in the space the axis has (else they are cut off at the left)
        const clipped = await page.$$eval('.scalar-card', (cs) => cs.map((c) => {
          const card = window.tbdevViewer.cardFor(c);
          const u = card && card.chart && card.chart.u;
          if (!u) return null;
          const ax = u.axes[1], ctx = document.createElement('canvas').getContext('2d');
          ctx.font = ax.font[0];
          const vals = (ax._values || []).filter((v) => v !== null && v !== undefined).map(String);
          const textW = Math.max(0, ...vals.map((v) => ctx.measureText(v).width)) / (window.devicePixelRatio || 1);
          const need = textW + (ax.ticks && ax.ticks.show !== false ? ax.ticks.size : 0) + (ax.gap || 0);
          return need > ax._size + 1 ? { tag: c.dataset.tag, labels: vals, need: Math.ceil(need), axisWidth: ax._size } : null;
        }).filter(Boolean));
        rep.check(!clipped.length, 'Scalars: y-axis tick labels fit in the axis (not cut off)', () => JSON.stringify(clipped));
        // the x value shown when hovering is a step number
        const hover = await hoverStep(page, cardByTag('scalar-card', 'loss/train'));
        rep.check(/^\d+$/.test(hover), 'Scalars: hovering shows the step (hover table)', `step column is "${hover}"`);
      } else if (key === 'histograms') {
        await perRunCount('hist-card', exp.histograms, 'Histograms');
        const r = await loadCards(page, '.hist-card', (c) => !!(c.querySelector('svg') || c.querySelector('.empty') || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'Histograms: every chart loads', () => 'stuck: ' + r.stuck.join('; '));
        const h = await page.$$eval('.hist-card', (cs) => cs.map((c) => {
          const paths = [...c.querySelectorAll('svg path')];
          const drawn = paths.filter((p) => { const b = p.getBBox(); return b.width > 1 && (p.getAttribute('stroke') || 'none') !== 'none'; });
          return { run: c.dataset.run, tag: c.dataset.tag, paths: paths.length, drawn: drawn.length, empty: !!c.querySelector('.empty') };
        }));
        const pts = new Map(exp.histograms.map((t) => [t.run + ' ' + t.tag, t.points]));
        // how many values each histogram holds, from the API
        const counts = new Map();
        for (const t of exp.histograms) {
          const r = await api(`/histograms?tag=${encodeURIComponent(t.tag)}&run=${encodeURIComponent(t.run)}&points=50`);
          counts.set(t.run + ' ' + t.tag, r.series[0].points.reduce((a, p) => a + p.buckets.reduce((b, k) => b + Number(k[2]), 0), 0));
        }
        const blank = h.filter((x) => !x.drawn && counts.get(x.run + ' ' + x.tag) > 0).map((x) => Object.assign(x, { values: counts.get(x.run + ' ' + x.tag) }));
        rep.check(!blank.length, `Histograms: every card whose histograms hold values draws curves (${h.reduce((a, x) => a + x.drawn, 0)} curves)`, () => 'blank (shows "Empty histograms."): ' + JSON.stringify(blank));
        const short = h.filter((x) => x.drawn && x.drawn < Math.min(50, pts.get(x.run + ' ' + x.tag)));
        rep.check(!short.length, 'Histograms: one curve per step (up to 50)', () => JSON.stringify(short.map((x) => [x.run, x.tag, x.drawn, pts.get(x.run + ' ' + x.tag)])));
      } else if (key === 'distributions') {
        await perRunCount('dist-card', exp.histograms, 'Distributions');
        const r = await loadCards(page, '.dist-card', (c) => !!(c.querySelector('canvas') || /No data/.test(c.textContent) || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'Distributions: every chart loads', () => 'stuck: ' + r.stuck.join('; '));
        const ink = await plotInk(page, '.dist-card');
        const multi = new Set(exp.histograms.filter((t) => t.points > 1 && !/empty/.test(t.tag)).map((t) => t.run + ' ' + t.tag));
        const blank = ink.filter((i) => multi.has(i.label) && i.ink < 10);
        rep.check(!blank.length, `Distributions: no blank chart for a histogram with 2+ steps (${multi.size} charts)`, () => 'blank: ' + JSON.stringify(blank));
        const single = ink.filter((i) => !multi.has(i.label));
        if (single.length) rep.note('Distributions of one-step or empty histograms (not checked for ink): ' + single.map((i) => `${i.label} ink ${i.ink}`).join('; '));
        const first = exp.histograms.find((t) => t.points > 1);
        const hover = await hoverStep(page, `.dist-card[data-run="${first.run}"][data-tag="${first.tag}"]`);
        rep.check(/^\d+$/.test(hover), 'Distributions: the x axis is the step (hover shows a step number)', `readout step is "${hover}" for ${first.run} ${first.tag} (steps ${first.min_step}..${first.max_step})`);
      } else if (key === 'images') {
        // one card per (run, tag) and sample: the first sample's card adds the others once loaded
        const r = await loadCards(page, '.images-card', (c) => { const im = c.querySelector('img.sample'); return !!((im && im.complete) || c.querySelector('.empty-state') || c.querySelector('.error')); });
        rep.check(!r.stuck.length, 'Images: every card loads its image', () => 'stuck: ' + r.stuck.join('; '));
        const pairs = [...new Set(await page.$$eval('.images-card', (cs) => cs.map((c) => c.dataset.run + '\u0000' + c.dataset.tag)))].sort();
        const wantPairs = exp.images.map((t) => t.run + '\u0000' + t.tag).sort();
        rep.check(JSON.stringify(pairs) === JSON.stringify(wantPairs), `Images: cards for every (run, tag): ${wantPairs.length}`, JSON.stringify(pairs));
        // cards far off screen drop their images (bounded memory): look at each as it loads
        const imgs = await page.evaluate(async () => {
          const out = [];
          for (const c of document.querySelectorAll('.images-card')) {
            c.scrollIntoView({ block: 'center' });
            const t0 = performance.now();
            while (!(c.querySelector('img.sample')?.complete) && performance.now() - t0 < 5000) await new Promise((res) => setTimeout(res, 25));
            out.push({ card: c.dataset.run + ' ' + c.dataset.tag + ' #' + c.dataset.sample, imgs: [...c.querySelectorAll('img.sample')].map((i) => [i.naturalWidth, i.naturalHeight]) });
          }
          window.scrollTo(0, 0);
          return out;
        });
        const bad = imgs.filter((x) => !x.imgs.length || x.imgs.some(([w]) => !(w > 0)));
        rep.check(!bad.length, `Images: every image decodes (naturalWidth > 0; ${imgs.reduce((a, x) => a + x.imgs.length, 0)} images)`, () => JSON.stringify(bad));
        // stepping back through the slider shows another step's image
        const stepped = await page.evaluate(async () => {
          const card = [...document.querySelectorAll('.images-card')].find((c) => c.querySelector('input[type=range]') && +c.querySelector('input[type=range]').max > 0);
          if (!card) return null;
          const s = card.querySelector('input[type=range]');
          const before = card.querySelector('img.sample').src, label0 = card.querySelector('.tools .sub').textContent;
          s.value = '0'; s.dispatchEvent(new Event('input'));
          await new Promise((r) => setTimeout(r, 300));
          return { before, after: card.querySelector('img.sample').src, label0, label1: card.querySelector('.tools .sub').textContent };
        });
        if (stepped) rep.check(stepped.before !== stepped.after && stepped.label0 !== stepped.label1, 'Images: the step slider shows another step', JSON.stringify(stepped));
      } else if (key === 'audio') {
        await perRunCount('audio-card', exp.audio, 'Audio');
        const r = await loadCards(page, '.audio-card', (c) => !!(c.querySelector('audio') || c.querySelector('.empty-state') || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'Audio: every card loads', () => 'stuck: ' + r.stuck.join('; '));
        const res = await page.evaluate(async () => {
          const out = [];
          for (const c of document.querySelectorAll('.audio-card')) {
            const a = c.querySelector('audio');
            if (!a) { out.push({ card: c.dataset.run + ' ' + c.dataset.tag, src: null }); continue; }
            const r = await fetch(a.src, { credentials: 'same-origin' });
            const b = await r.arrayBuffer();
            out.push({ card: c.dataset.run + ' ' + c.dataset.tag, src: a.getAttribute('src'), status: r.status, type: r.headers.get('content-type'), bytes: b.byteLength });
          }
          return out;
        });
        const bad = res.filter((x) => x.status !== 200 || !/^audio\//.test(x.type || '') || !(x.bytes > 44));
        rep.check(!bad.length, `Audio: every clip's src answers 200 with an audio/* type (${res.length} clips)`, () => JSON.stringify(bad));
        // a clip actually decodes in the browser
        const playable = await page.evaluate(async () => {
          const a = document.querySelector('.audio-card audio');
          a.preload = 'auto'; a.load();
          const t0 = performance.now();
          while (a.readyState < 1 && !a.error && performance.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 50));
          return { readyState: a.readyState, duration: a.duration, error: a.error && a.error.code };
        });
        rep.check(playable.readyState >= 1 && playable.duration > 0, 'Audio: the first clip loads its metadata (duration > 0)', JSON.stringify(playable));
      } else if (key === 'text') {
        await perRunCount('text-card', exp.text, 'Text');
        const r = await loadCards(page, '.text-card', (c) => !!(c.querySelector('.textstep') || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'Text: every card shows its text', () => 'stuck: ' + r.stuck.join('; '));
        const t = await page.$$eval('.text-card', (cs) => cs.map((c) => ({ card: c.dataset.run + ' ' + c.dataset.tag, steps: c.querySelectorAll('.textstep').length, chars: [...c.querySelectorAll('.textstep .md')].map((m) => m.textContent.trim().length) })));
        const pts = new Map(exp.text.map((x) => [x.run + ' ' + x.tag, x.points]));
        const bad = t.filter((x) => x.steps !== pts.get(x.card) || x.chars.some((n) => n === 0));
        rep.check(!bad.length, 'Text: one non-empty entry per step', () => JSON.stringify(bad));
        const md = await page.$$eval('.text-card .md table', (ts) => ts.length);
        rep.check(md > 0, 'Text: markdown tables are rendered as tables');
      } else if (key === 'hparams') {
        await page.waitForSelector('.hparams-table tbody', { timeout: 15000 });
        const hp = await api('/hparams');
        const rows = await page.$$eval('.hparams-table tbody tr', (rs) => rs.map((r) => [...r.children].map((td) => td.textContent)));
        rep.check(rows.length === hp.sessions.length && rows.length > 0, `HParams: one row per session (${hp.sessions.length})`, `got ${rows.length} rows`);
        const cells = rows.flat();
        const junk = cells.filter((c) => /^(undefined|null|NaN|\[object Object\])$/.test(c));
        rep.check(!junk.length, 'HParams: no cell shows undefined/null/[object Object] (missing values show –)', () => `${junk.length} cells: ${JSON.stringify([...new Set(junk)])}; rows ${JSON.stringify(rows)}`);
        // sorting by clicking a header reorders the rows
        const before = rows.map((r) => r[0]).join('|');
        await page.click('.hparams-table th:nth-child(1)');
        const after = (await page.$$eval('.hparams-table tbody tr', (rs) => rs.map((r) => r.children[0].textContent))).join('|');
        rep.check(rows.length < 2 || before !== after, 'HParams: clicking the Session header reverses the order', `${before} -> ${after}`);
      } else if (key === 'pr_curves') {
        const prTags = [...new Set(exp.pr_curves.map((t) => t.tag))].sort();
        const prCards = await page.$$eval('.pr-card', (cs) => cs.map((c) => c.dataset.tag).sort());
        rep.check(JSON.stringify(prCards) === JSON.stringify(prTags), `PR Curves: one card per tag, its runs overlaid: ${prTags.length}`, () => `got ${JSON.stringify(prCards)}`);
        const r = await loadCards(page, '.pr-card', (c) => !!(c.querySelector('canvas') || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'PR Curves: every chart loads', () => 'stuck: ' + r.stuck.join('; '));
        const ink = await plotInk(page, '.pr-card');
        const blank = ink.filter((i) => i.ink < 10);
        rep.check(!blank.length, `PR Curves: no blank chart (min ink ${Math.min(...ink.map((i) => i.ink))} px)`, () => JSON.stringify(blank));
      } else if (key === 'custom_scalars') {
        const layout = await api('/custom_scalars');
        const charts = (layout.categories || []).flatMap((c) => c.charts || []);
        await page.waitForSelector('.custom-card', { timeout: 15000 }).catch(() => {}); // the layout loads first
        const n = await page.$$eval('.custom-card', (cs) => cs.length);
        rep.check(n === charts.length && n > 0, `Custom Scalars: one card per layout chart (${charts.length})`, `got ${n}`);
        const r = await loadCards(page, '.custom-card', (c) => !!(c.querySelector('canvas') || c.querySelector('.chart.empty') || c.querySelector('.error')));
        rep.check(!r.stuck.length, 'Custom Scalars: every chart loads', () => 'stuck: ' + r.stuck.join('; '));
        const ink = await plotInk(page, '.custom-card');
        // a chart whose regexes match scalar tags must draw them
        // TensorBoard matches a chart's regular expressions with re.match: anchored, case-sensitive
        const matching = charts.map((ch) => exp.scalarTags.some((t) => (ch.tags || []).some((re) => { try { return new RegExp('^(?:' + re + ')').test(t); } catch (e) { return false; } })));
        const blank = ink.filter((i, k) => matching[k] && i.ink < 10);
        rep.check(!blank.length, `Custom Scalars: no blank chart among the ${matching.filter(Boolean).length} that match tags`, () => JSON.stringify(blank));
      } else if (key === 'graphs') {
        // drawn by graph.js (tests/browser/graph.test.js checks the drawing itself)
        const runs = [...new Set(exp.graphs.map((t) => t.run))].sort();
        await page.waitForFunction(() => { const s = document.querySelector('.graph-svg'); return (s && s.dataset.ready) || document.querySelector('.graph-panel .error'); }, null, { timeout: 20000 });
        const got = await page.$$eval('select.graph-run option', (os) => os.map((o) => o.value));
        rep.check(JSON.stringify(got) === JSON.stringify(runs), `${label}: the run selector lists every run with a graph (${runs.length})`, JSON.stringify(got));
        const st = await page.evaluate(() => ({ nodes: document.querySelectorAll('.graph-viewport .gnode').length, error: (document.querySelector('.graph-panel .error') || {}).textContent }));
        rep.check(st.nodes > 0 || st.error, `${label}: the first run's graph is drawn, or says why not`, JSON.stringify(st));
      } else if (key === 'mesh') {
        // drawn by dash_mesh.js (tests/browser/mesh.test.js checks the drawing, with WebGL on);
        // here one card per mesh of the index, each drawn or saying why not
        const want = await page.evaluate(async () => (await (await fetch(window.tbdevViewer.ctx.base + '/meshes')).json()).meshes.length);
        const r = await loadCards(page, '.mesh-card', (c) => ['drawn', 'error', 'empty'].includes(c.dataset.state) && (c.dataset.state !== 'error' || c.querySelector('.status').textContent.length > 0));
        rep.check(want > 0 && r.n === want && !r.stuck.length, `${label}: one card per mesh (${want}), each drawn or saying why not`, () => `${r.n} cards; stuck: ${r.stuck.join('; ')}`);
      } else if (key === 'other') {
        const list = exp.other;
        const got = await page.$$eval('.list-card', (cs) => cs.length);
        rep.check(got === list.length, `${label}: one card per (run, tag): ${list.length}`, `got ${got}`);
        const r = await loadCards(page, '.list-card', (c) => !!(c.querySelector('.tools a') || c.querySelector('.error')));
        rep.check(!r.stuck.length, `${label}: every card gets a download link`, () => 'stuck: ' + r.stuck.join('; '));
        const dl = await page.evaluate(async () => {
          const out = [];
          for (const a of document.querySelectorAll('.list-card .tools a')) {
            const res = await fetch(a.href, { credentials: 'same-origin' });
            out.push({ href: a.getAttribute('href'), status: res.status, bytes: (await res.arrayBuffer()).byteLength });
          }
          return out;
        });
        const bad = dl.filter((d) => d.status !== 200 || !d.bytes);
        rep.check(!bad.length && dl.length >= list.length, `${label}: every download link answers 200 with data (${dl.length} links)`, () => JSON.stringify(bad));
      }
      rep.note(`screenshot: ${await shoot(page, key)}`);
    });
  }
  await harvest(page, 'dashboards');

  // ---- smoothing ----
  await rep.step('smoothing', async () => {
    await clickTab(page, 'scalars');
    const sel = cardByTag('scalar-card', 'loss/train');
    await loadCards(page, sel, (c) => !!c.querySelector('canvas'));
    const smoothingBefore = await page.$eval('#smoothing', (e) => e.value);
    const h0 = await canvasHash(page, sel);
    const d0 = (await L.cardDebug(page, sel)).series.map((x) => x.head);
    // keyboard on the slider: Home is 0 (no smoothing)
    await page.focus('#smoothing');
    await page.keyboard.press('Home');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('smoothing') === '0', null, { timeout: 5000 }).catch(() => {});
    await loadCards(page, sel, (c) => c.dataset.smoothing === '0'); // redrawn (cards off screen redraw when seen)
    await page.waitForTimeout(50);
    const h1 = await canvasHash(page, sel);
    const dbg1 = await L.cardDebug(page, sel);
    rep.check(h0 && h1 && h0 !== h1, `smoothing: moving the slider from ${smoothingBefore} to 0 redraws the line`, `canvas hash ${h0} -> ${h1}`);
    rep.check(dbg1 && dbg1.series.every((x) => x.hover), 'smoothing 0: no separate raw series', JSON.stringify(dbg1 && dbg1.series.map((x) => [x.run, x.hover])));
    await page.focus('#smoothing');
    await page.keyboard.press('End');
    await page.waitForFunction(() => +new URLSearchParams(location.search).get('smoothing') > 0.9, null, { timeout: 5000 }).catch(() => {});
    await loadCards(page, sel, (c) => +c.dataset.smoothing > 0.9);
    await page.waitForTimeout(50);
    const h2 = await canvasHash(page, sel);
    const d2 = await page.evaluate((s) => { const d = window.tbdevViewer.cardFor(document.querySelector(s)).debug(); return { n: d.series.length, data: d.series.map((x) => x.head) }; }, sel);
    rep.check(h2 !== h1 && h2 !== h0, 'smoothing: 0.99 draws yet another line', `${h0} ${h1} ${h2}`);
    // the smoothed series of 0.99 varies less than the raw one
    const rough = (col) => col.slice(1).reduce((a, v, i) => a + (Number.isFinite(v) && Number.isFinite(col[i]) ? Math.abs(v - col[i]) : 0), 0);
    const raw = d2.data[0], sm = d2.data[1];
    rep.check(raw && sm && rough(sm) < rough(raw) / 2, 'smoothing: the smoothed series is smoother than the raw one', () => `roughness raw ${rough(raw)} smoothed ${rough(sm)} (first 50 points; before: ${JSON.stringify(d0).slice(0, 80)})`);
  });

  // ---- run filter ----
  await rep.step('run filter', async () => {
    const sel = cardByTag('scalar-card', 'accuracy');
    await loadCards(page, sel, (c) => !!c.querySelector('canvas'));
    const all = (await legend(page, sel)) || [];
    await page.fill('#run-filter', '^example/');
    await page.press('#run-filter', 'Enter');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('runs') === '^example/', null, { timeout: 5000 }).catch(() => {});
    await loadCards(page, sel, (c) => !!c.querySelector('canvas'));
    const filtered = (await legend(page, sel)) || [];
    rep.check(all.includes('pytorch/scalars/run_b') && !filtered.includes('pytorch/scalars/run_b') && filtered.length && filtered.every((l) => l.startsWith('example/')),
      'run filter regex ^example/ (Enter) hides the other runs from the legend', `before ${JSON.stringify(all)} after ${JSON.stringify(filtered)}`);
    const toggles = await page.$$eval('.run-toggle', (cs) => cs.map((c) => c.dataset.run));
    rep.check(toggles.length && toggles.every((r) => r.startsWith('example/')), 'run filter: the run list shows only matching runs', JSON.stringify(toggles));
    // unchecking a run removes its series
    await page.uncheck('.run-toggle[data-run="example/eval"]');
    await page.waitForFunction(() => (new URLSearchParams(location.search).get('off') || '').includes('example/eval'), null, { timeout: 5000 }).catch(() => {});
    await loadCards(page, sel, (c) => !!c.querySelector('canvas'));
    const off = (await legend(page, sel)) || [];
    rep.check(!off.includes('example/eval') && off.includes('example/train'), 'unchecking a .run-toggle removes that run from the legend', JSON.stringify(off));
  });

  // ---- URL state ----
  await rep.step('URL state', async () => {
    // state now: scalars, smoothing 0.99, runs ^example/, example/eval off; add a tag filter
    await page.fill('#tag-filter', 'loss|acc');
    await page.press('#tag-filter', 'Enter');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('tags') === 'loss|acc', null, { timeout: 5000 }).catch(() => {});
    const url = page.url();
    const snap = async (p) => p.evaluate(() => ({
      tab: document.querySelector('#nav button[aria-selected="true"]')?.dataset.tab,
      smoothing: document.getElementById('smoothing')?.value,
      runs: document.getElementById('run-filter')?.value,
      tagsRe: document.getElementById('tag-filter')?.value,
      toggles: [...document.querySelectorAll('.run-toggle')].map((c) => c.dataset.run + '=' + c.checked),
      cards: [...document.querySelectorAll('.scalar-card')].map((c) => c.dataset.tag),
    }));
    const s0 = await snap(page);
    const p2 = await browser.newPage();
    watch(p2, 'reopened');
    await p2.goto(url);
    await p2.waitForSelector('#nav button[aria-selected="true"]');
    await p2.waitForSelector('.scalar-card, .empty-state', { timeout: 10000 });
    const s1 = await snap(p2);
    rep.check(JSON.stringify(s0) === JSON.stringify(s1), 'the URL reopens the same view (tab, smoothing, run and tag filters, hidden runs, cards)',
      `url ${url}: before ${JSON.stringify(s0)} after ${JSON.stringify(s1)}`);
    rep.check(s0.smoothing === '0.99' && s0.runs === '^example/' && s0.cards.length > 0 && s0.cards.length < exp.scalarTags.length,
      'the view under test is not the default one', JSON.stringify(s0));
    // the same chart is drawn: same legend
    const sel = cardByTag('scalar-card', 'accuracy');
    await loadCards(page, sel, (c) => !!c.querySelector('canvas'));
    await loadCards(p2, sel, (c) => !!c.querySelector('canvas'));
    const l0 = await legend(page, sel), l1 = await legend(p2, sel);
    rep.check(JSON.stringify(l0) === JSON.stringify(l1), 'the reopened chart has the same series', `${JSON.stringify(l0)} vs ${JSON.stringify(l1)}`);
    await harvest(p2, 'reopened');
    await p2.close();
    // back to the default view
    await page.goto(base + '?tab=scalars');
    await page.waitForSelector('.scalar-card');
  });

  // ---- downloads ----
  await rep.step('downloads', async () => {
    for (const tag of ['accuracy', 'loss/train', 'split']) {
      const sel = cardByTag('scalar-card', tag);
      const links = await page.$eval(sel, (c) => ({ csv: c.querySelector('a.dl-csv')?.href, json: c.querySelector('a.dl-json')?.href }));
      const got = await page.evaluate(async ({ csv, json }) => {
        const a = await fetch(csv, { credentials: 'same-origin' }), b = await fetch(json, { credentials: 'same-origin' });
        return { csvStatus: a.status, csvType: a.headers.get('content-type'), csvDisp: a.headers.get('content-disposition'), csv: await a.text(), jsonStatus: b.status, json: await b.text() };
      }, links);
      const want = await api(`/scalars?tag=${encodeURIComponent(tag)}&points=all`);
      const wantPts = [];
      for (const s of want.series) for (const p of s.points) wantPts.push([s.run, tag, p[1], Number(p[0]), num(p[2])]);
      let jsonOk = false, jsonWhy = '';
      try {
        const j = JSON.parse(got.json);
        jsonOk = got.jsonStatus === 200 && JSON.stringify(j) === JSON.stringify(want);
        if (!jsonOk) jsonWhy = `status ${got.jsonStatus}, ${j.series?.length} series vs ${want.series.length}`;
      } catch (e) { jsonWhy = 'not JSON: ' + got.json.slice(0, 200); }
      rep.check(jsonOk, `download JSON of "${tag}" equals the API at points=all (${wantPts.length} points)`, jsonWhy);
      const rows = parseCsv(got.csv);
      const header = rows.shift();
      const csvPts = rows.filter((r) => r.length > 1).map((r) => [r[0].replace(/^'/, ''), r[1].replace(/^'/, ''), Number(r[2]), Number(r[3]), num(r[4])]);
      const same = csvPts.length === wantPts.length && csvPts.every((r, i) => r[0] === wantPts[i][0] && r[1] === wantPts[i][1] && r[2] === wantPts[i][2]
        && r[3] === wantPts[i][3] && (r[4] === wantPts[i][4] || (Number.isNaN(r[4]) && Number.isNaN(wantPts[i][4]))));
      rep.check(got.csvStatus === 200 && /^text\/csv/.test(got.csvType || '') && JSON.stringify(header) === '["run","tag","step","wall_time","value"]' && same,
        `download CSV of "${tag}" has the same rows as the API at points=all`, () => {
          const i = csvPts.findIndex((r, k) => JSON.stringify(r) !== JSON.stringify(wantPts[k]));
          return `status ${got.csvStatus} type ${got.csvType} header ${JSON.stringify(header)} rows ${csvPts.length} vs ${wantPts.length}; first difference at ${i}: ${JSON.stringify(csvPts[i])} vs ${JSON.stringify(wantPts[i])}`;
        });
    }
  });
  await harvest(page, 'downloads');

  // ---- keyboard ----
  await rep.step('keyboard', async () => {
    const p3 = await browser.newPage();
    watch(p3, 'keyboard');
    await p3.goto(base);
    await p3.waitForSelector('#nav button');
    const order = [];
    let focusStyle = null;
    for (let i = 0; i < 30; i++) {
      await p3.keyboard.press('Tab');
      const a = await p3.evaluate(() => { const e = document.activeElement; return e ? (e.dataset.tab ? 'tab:' + e.dataset.tab : e.tagName + (e.id ? '#' + e.id : '')) : null; });
      order.push(a);
      if (a && a.startsWith('tab:') && !focusStyle) focusStyle = await p3.evaluate(() => { const s = getComputedStyle(document.activeElement); return { outline: s.outlineStyle, width: s.outlineWidth, visible: document.activeElement.matches(':focus-visible') }; });
    }
    const reached = wantTabs.map((t) => 'tab:' + t[0]).filter((t) => order.includes(t));
    rep.check(reached.length === wantTabs.length, `keyboard: every tab is reached with Tab (${reached.length}/${wantTabs.length})`, `focus order ${JSON.stringify(order)}`);
    const idx = wantTabs.map((t) => order.indexOf('tab:' + t[0]));
    rep.check(idx.every((v, i) => i === 0 || v > idx[i - 1]), 'keyboard: tabs are reached in their visual order', JSON.stringify(idx));
    // focus the Text tab and press Enter, then Space on Images
    await p3.focus('#nav button[data-tab="text"]');
    await p3.keyboard.press('Enter');
    await p3.waitForSelector('.text-card', { timeout: 5000 }).catch(() => {});
    const sel1 = await p3.$eval('#nav button[aria-selected="true"]', (b) => b.dataset.tab);
    await p3.focus('#nav button[data-tab="images"]');
    await p3.keyboard.press('Space');
    await p3.waitForSelector('.images-card', { timeout: 5000 }).catch(() => {});
    const sel2 = await p3.$eval('#nav button[aria-selected="true"]', (b) => b.dataset.tab);
    rep.check(sel1 === 'text' && sel2 === 'images' && await p3.$('.images-card'), 'keyboard: Enter and Space on a focused tab open its dashboard', `${sel1}, ${sel2}`);
    rep.check(focusStyle && focusStyle.visible && focusStyle.outline !== 'none', 'keyboard: a tab focused with Tab shows a focus outline', JSON.stringify(focusStyle));
    await harvest(p3, 'keyboard');
    await p3.close();
  });

  // ---- phone width ----
  await rep.step('phone width', async () => {
    const p4 = await browser.newPage();
    watch(p4, 'phone');
    await p4.setViewportSize({ width: 390, height: 844 });
    const bad = [];
    for (const [key, label] of wantTabs) {
      await p4.goto(base + '?tab=' + key);
      await p4.waitForSelector('#nav button[aria-selected="true"]');
      await p4.waitForTimeout(key === 'hparams' || key === 'custom_scalars' ? 800 : 300);
      const o = await overflow(p4);
      if (o.doc > o.vw || o.main > o.mainClient) bad.push(`${label}: document ${o.doc}/${o.vw} px, main ${o.main}/${o.mainClient} px`);
      if (['scalars', 'images', 'hparams', 'text'].includes(key)) rep.note(`screenshot: ${await shoot(p4, 'phone-' + key)}`);
      await harvest(p4, 'phone ' + key);
    }
    rep.check(!bad.length, 'phone width 390x844: no horizontal overflow of the main content on any dashboard', bad.join('; '));
    await p4.close();
  });

  // ---- live refresh ----
  await rep.step('live refresh', async () => {
    await page.goto(base + '?tab=scalars&smoothing=0&runs=' + encodeURIComponent('^example/'));
    const sel = cardByTag('scalar-card', 'loss');
    await page.waitForSelector(sel);
    await loadCards(page, sel, (c) => !!c.querySelector('canvas'));
    const train = tags.find((t) => t.run === 'example/train' && t.tag === 'loss');
    // zoom in by dragging across the middle of the plot
    const box = await page.$eval(`${sel} .u-over`, (e) => { e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
    await page.mouse.move(box.x + box.w * 0.2, box.y + box.h / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.w * 0.4, box.y + box.h / 2, { steps: 5 });
    await page.mouse.move(box.x + box.w * 0.6, box.y + box.h / 2, { steps: 5 });
    await page.mouse.up();
    await page.mouse.move(box.x - 50, box.y - 50);
    const zoom0 = await page.evaluate((s) => { const d = window.tbdevViewer.cardFor(document.querySelector(s)).debug(); return { min: d.xMin, max: d.xMax, maxX: Math.max(...d.series.map((x) => x.maxX)) }; }, sel);
    rep.check(zoom0.max - zoom0.min < train.max_step * 0.7, 'live refresh: dragging on the chart zooms in', JSON.stringify(zoom0));
    // append steps to example/train and upload them into the same experiment
    const more = [];
    const t0 = Date.now() / 1000;
    for (let s = train.max_step + 1; s <= train.max_step + 100; s++) more.push(L.ev.scalarTf2('loss', s, 0.05 + 0.01 * Math.sin(s), t0 + s - train.max_step));
    L.writeEventFile(path.join(logdir, 'example', 'train'), more, '.live');
    const fetches = [];
    page.on('request', (r) => { if (/\/scalars\?tag=loss(&|$)/.test(r.url())) fetches.push(Date.now()); });
    const tUp = Date.now();
    const up2 = await client.upload(logdir, { experimentId: id });
    rep.note(`second upload took ${up2.seconds.toFixed(1)} s`);
    const tags2 = (await api('/tags')).tags;
    const train2 = tags2.find((t) => t.run === 'example/train' && t.tag === 'loss');
    rep.check(train2.max_step === train.max_step + 100, 'live refresh: the second upload appended the steps', `${train.max_step} -> ${train2.max_step}`);
    let seen = null;
    const deadline = Date.now() + 40000;
    while (Date.now() < deadline) {
      seen = await page.evaluate((s) => { const el = document.querySelector(s); const c = el && window.tbdevViewer.cardFor(el); const d = c && c.debug(); return d ? { maxX: Math.max(...d.series.map((x) => x.maxX)), min: d.xMin, max: d.xMax } : null; }, sel);
      if (seen && seen.maxX >= train2.max_step) break;
      await L.sleep(500);
    }
    const secs = ((Date.now() - tUp) / 1000).toFixed(1);
    rep.check(fetches.length > 0, 'live refresh: the viewer re-fetched the scalars of the chart', `${fetches.length} fetches`);
    rep.check(seen && seen.maxX >= train2.max_step, `live refresh: the chart shows the new steps within 40 s (${secs} s after the upload started)`, JSON.stringify(seen));
    rep.check(seen && Math.abs(seen.min - zoom0.min) < 1e-9 && Math.abs(seen.max - zoom0.max) < 1e-9, 'live refresh: the zoom is kept', `before ${JSON.stringify(zoom0)} after ${JSON.stringify(seen)}`);
    rep.note(`screenshot: ${await shoot(page, 'live-refresh')}`);
  });
  await harvest(page, 'live');

  // ---- console and CSP ----
  const benign = consoleErrors.filter((e) => /favicon\.ico/.test(e));
  const errs = consoleErrors.filter((e) => !benign.includes(e));
  if (benign.length) rep.note('favicon requests (not counted): ' + benign.join(' | '));
  rep.check(!errs.length, 'no console errors on any page', () => errs.slice(0, 10).join(' | '));
  rep.check(!cspViolations.length, 'no CSP violations (securitypolicyviolation events)', () => cspViolations.slice(0, 10).join(' | '));
  rep.check(!dialogs.length, 'no dialogs opened', () => JSON.stringify(dialogs));

  rep.note('screenshots:\n' + shotPaths.join('\n'));
}

// The step the hover readout shows while the cursor is over the middle of a chart: the
// hover table's Step column (scalars) or the readout line (distributions).
async function hoverStep(page, sel) {
  const card = await page.$(sel);
  if (!card) return 'no card ' + sel;
  await card.scrollIntoViewIfNeeded();
  const over = await card.$('.u-over');
  if (!over) return 'no chart';
  const b = await over.boundingBox();
  await page.mouse.move(b.x + b.width * 0.5, b.y + b.height * 0.5);
  await L.sleep(150);
  const v = await page.evaluate((s) => {
    const ro = document.querySelector(s + ' .readout');
    if (ro && ro.textContent.trim()) return (ro.textContent.match(/^step (\S+?):?\s/) || [])[1] || ro.textContent;
    const tip = document.querySelector('.tip');
    if (!tip || tip.hidden) return 'no hover table';
    const head = [...tip.querySelectorAll('th')].map((t) => t.textContent);
    const row = tip.querySelector('tbody tr');
    return row ? row.children[head.indexOf('Step')].textContent : 'no rows';
  }, sel);
  await page.mouse.move(0, 0);
  return v;
}

function num(v) {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return Number(v);
}

function parseCsv(text) {
  const rows = [];
  let row = [], field = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') q = false; else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\r') { /* skip */ } else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const watchdog = setTimeout(() => { console.log('not ok - the test finished within 540 s'); L.runCleanup().then(() => process.exit(1)); }, 540000);
main().then(() => { clearTimeout(watchdog); return L.finish(rep); }).catch(async (e) => {
  rep.notOk('viewer test', 'threw ' + (e && e.stack ? e.stack : e));
  clearTimeout(watchdog);
  await L.finish(rep);
});
