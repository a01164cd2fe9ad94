// SPDX-License-Identifier: MIT
// Browser test of the experiment page in local mode: the real `tbdev serve` (which execs the
// real tbdev-server's local mode) on a logdir written by tbdev-example-logs, and headless
// Chromium on the link it prints.
//
// Usage: node local.test.js TBDEV TBDEV_SERVER TBDEV_EXAMPLE_LOGS
// Checks: the link (/) opens the experiment page; every scalar tag gets a card whose chart is
// drawn (ink in the plot); the images dashboard shows images that decode; no page error, no
// CSP violation, no request to another origin, nothing but GETs; a run written while the
// page is open appears on it without a reload. Prints "ok - ..." / "not ok - ...", exits 0,
// 1, or 77 (skip). Screenshots go to $TBDEV_ARTIFACTS/local.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib.js');

const rep = new L.Reporter('browser_local');
const args = L.parseArgs(process.argv);

// Ink in each scalar card's plotting area: pixels darker than the grid (any channel < 225).
async function scalarInk(page) {
  return page.evaluate(() => [...document.querySelectorAll('.scalar-card')].map((card) => {
    const canvas = card.querySelector('canvas'), over = card.querySelector('.u-over');
    if (!canvas || !over) return { tag: card.dataset.tag, ink: -1 };
    const cr = canvas.getBoundingClientRect(), or = over.getBoundingClientRect();
    const sx = canvas.width / cr.width, sy = canvas.height / cr.height;
    const x = Math.max(0, Math.round((or.left - cr.left) * sx)), y = Math.max(0, Math.round((or.top - cr.top) * sy));
    const w = Math.min(canvas.width - x, Math.round(or.width * sx)), h = Math.min(canvas.height - y, Math.round(or.height * sy));
    const d = canvas.getContext('2d').getImageData(x, y, w, h).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) {
      const a = d[i + 3] / 255;
      if (d[i] * a + 255 * (1 - a) < 225 || d[i + 1] * a + 255 * (1 - a) < 225 || d[i + 2] * a + 255 * (1 - a) < 225) ink++;
    }
    return { tag: card.dataset.tag, ink };
  }));
}

// Scrolls each card into view (they load lazily) until ready(card) holds; returns the stuck.
async function loadCards(page, sel, readySrc, ms) {
  return page.evaluate(async ({ sel, readySrc, ms }) => {
    // eslint-disable-next-line no-new-func
    const ready = new Function('card', 'return (' + readySrc + ')(card);');
    const stuck = [];
    for (const card of document.querySelectorAll(sel)) {
      card.scrollIntoView({ block: 'center' });
      const t0 = performance.now();
      while (!ready(card) && performance.now() - t0 < ms) await new Promise((r) => setTimeout(r, 25));
      if (!ready(card)) stuck.push(card.dataset.tag);
    }
    window.scrollTo(0, 0);
    return stuck;
  }, { sel, readySrc, ms });
}

async function main() {
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  if (!args.exampleLogs) {
    console.error('usage: node local.test.js TBDEV TBDEV_SERVER TBDEV_EXAMPLE_LOGS');
    process.exit(2);
  }
  const shots = L.artifactsDir('local');
  const logdir = L.tmpdir('tbdev-local-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  execFileSync(args.exampleLogs, [path.join(logdir, 'example')]);

  const serve = await new L.LocalServe(args.tbdev, args.server, logdir).start();
  rep.check(/^http:\/\/localhost:\d+$/.test(serve.url), `tbdev serve prints its link (${serve.url}/)`, serve.out);
  const st = await serve.waitLocal((s) => s.state === 'watching', 120000);
  const id = st.experiment_id;
  const tags = (await serve.json(`/api/v1/experiments/${id}/tags`)).tags;
  const scalarTags = [...new Set(tags.filter((t) => t.kind === 'scalar').map((t) => t.tag))].sort();
  const images = tags.filter((t) => t.plugin === 'images');
  rep.check(scalarTags.length > 0 && images.length > 0, `the example logs hold scalars (${scalarTags.length} tags) and images (${images.length})`);

  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [], foreign = [], notGet = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/404/.test(m.text())) errors.push(m.text()); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(serve.url + '/') && !u.startsWith('data:')) foreign.push(u);
    if (r.method() !== 'GET') notGet.push(r.method() + ' ' + u);
  });

  await page.goto(serve.url + '/');
  rep.check(page.url() === `${serve.url}/experiment/${id}/`, 'the link opens the experiment page', page.url());
  await page.waitForSelector('.scalar-card', { timeout: 30000 });
  const cards = await page.$$eval('.scalar-card', (cs) => cs.map((c) => c.dataset.tag).sort());
  rep.check(JSON.stringify(cards) === JSON.stringify(scalarTags), `Scalars: one card per scalar tag (${scalarTags.length})`, () => JSON.stringify(cards));
  const stuck = await loadCards(page, '.scalar-card', ((c) => !!(c.querySelector('canvas') || c.querySelector('.error'))).toString(), 15000);
  rep.check(!stuck.length, 'Scalars: every chart loads', () => stuck.join(', '));
  const ink = await scalarInk(page);
  const blank = ink.filter((i) => i.ink < 10);
  rep.check(ink.length && !blank.length, `Scalars: every chart is drawn (min ink ${Math.min(...ink.map((i) => i.ink))} px)`, () => JSON.stringify(blank));
  await page.screenshot({ path: path.join(shots, 'scalars.png') });

  await page.click('#nav button[data-tab="images"]');
  await page.waitForSelector('.images-card', { timeout: 15000 });
  const stuckImg = await loadCards(page, '.images-card', ((c) => { const im = c.querySelector('img.sample'); return !!((im && im.complete) || c.querySelector('.error')); }).toString(), 15000);
  const sizes = await page.$$eval('.images-card img.sample', (is) => is.map((i) => i.naturalWidth));
  rep.check(!stuckImg.length && sizes.length && sizes.every((w) => w > 0), `Images: every image decodes (${sizes.length})`, () => JSON.stringify({ stuckImg, sizes }));
  await page.click('#nav button[data-tab="scalars"]');
  await page.waitForSelector('.scalar-card canvas', { timeout: 15000 });

  // a run written while the page is open appears on it, without a reload
  const run = path.join(logdir, 'live_run');
  const evs = [];
  for (let s = 0; s < 50; s++) evs.push(L.ev.scalarTf1('live/metric', s, Math.sin(s / 5)));
  L.writeEventFile(run, evs);
  const t0 = Date.now();
  let liveCard = null;
  while (Date.now() - t0 < 30000 && !liveCard) {
    await L.sleep(250);
    liveCard = await page.$('.scalar-card[data-tag="live/metric"] canvas');
  }
  rep.check(!!liveCard, `a run written while the page is open appears on it without a reload (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (liveCard) {
    await page.$eval('.scalar-card[data-tag="live/metric"]', (c) => c.scrollIntoView({ block: 'center' }));
    await L.sleep(300);
    const inkLive = (await scalarInk(page)).find((i) => i.tag === 'live/metric');
    rep.check(inkLive && inkLive.ink >= 10, `... and its chart is drawn (ink ${inkLive && inkLive.ink} px)`);
  }
  await page.screenshot({ path: path.join(shots, 'live.png') });

  const s = await page.evaluate(() => window.__tbdevTest);
  rep.check(!s.csp.length, 'no CSP violation', () => JSON.stringify(s.csp));
  rep.check(!errors.length && !s.errors.length, 'no page error', () => JSON.stringify(errors.concat(s.errors)));
  rep.check(!foreign.length, 'no request to another origin', () => foreign.slice(0, 5).join(' '));
  rep.check(!notGet.length, 'the page only reads (GET)', () => notGet.slice(0, 5).join(' '));
  const code = await serve.stop('SIGINT');
  rep.check(code === 0, 'tbdev serve stops on Ctrl-C with exit 0', `exit ${code}: ${serve.err.slice(-300)}`);
  await L.finish(rep);
}

main().catch(async (e) => {
  rep.notOk('test body finished', e && e.stack ? e.stack : String(e));
  await L.finish(rep);
});
