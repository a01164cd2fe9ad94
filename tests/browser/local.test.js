// SPDX-License-Identifier: MIT
// Browser test of the experiment page in local mode: the real `tbdev serve` (which execs the
// real tbdev-server's local mode) on a logdir written by tbdev-example-logs, and headless
// Chromium on the link it prints.
//
// Usage: node local.test.js TBDEV TBDEV_SERVER TBDEV_EXAMPLE_LOGS
// Checks: the link (/) opens the experiment page; every scalar tag gets a card whose chart is
// drawn (ink in the plot); the images dashboard shows images that decode; no page error, no
// CSP violation, no request to another origin, nothing but GETs; a run written while the
// page is open appears on it without a reload. The local-mode parts of the page (local.js):
// no sign-in link (and no account request), the reader's state under the title ("Up to
// date"), the Share button's panel with `tbdev upload --logdir DIR` for the real DIR and a
// working Copy; on a larger logdir opened at once, the progress while it reads ("Reading the
// logs: N%", a meter) and then "Up to date"; an empty logdir's page that gets its tabs and
// charts when a run is written, without a reload. Prints "ok - ..." / "not ok - ...", exits
// 0, 1, or 77 (skip). Screenshots go to $TBDEV_ARTIFACTS/local.
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

// A logdir of about 60 MB (3 runs of 20 MB: the same records again and again), opened at once:
// the bar says how far reading is, with a meter, then that it is up to date.
async function progressWhileReading(browser, shots) {
  const dir = L.tmpdir('tbdev-local-big-');
  L.cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const block = Buffer.concat(Array.from({ length: 200 }, (_, s) => L.frame(L.ev.scalarTf1('big/loss', s, 1 / (s + 1)))));
  for (let r = 0; r < 3; r++) {
    const d = path.join(dir, `run${r}`);
    fs.mkdirSync(d);
    const fd = fs.openSync(path.join(d, `events.out.tfevents.${r}.big`), 'w');
    fs.writeSync(fd, L.frame(L.ev.fileVersion(L.WALL0)));
    for (let k = 0; k < Math.ceil((20 << 20) / block.length); k++) fs.writeSync(fd, block);
    fs.closeSync(fd);
  }
  const serve = await new L.LocalServe(args.tbdev, args.server, dir).start();
  const page = await browser.newPage();
  await page.goto(serve.url + '/');
  const seen = await page.evaluate(async () => {
    const out = { reading: [], meter: false, done: null };
    const t0 = performance.now();
    while (performance.now() - t0 < 300000) {
      const el = document.querySelector('.local-bar .local-progress');
      const txt = el ? el.textContent : '';
      const m = txt.match(/^Reading the logs: (\d+)%/);
      if (m && !out.reading.includes(+m[1])) out.reading.push(+m[1]);
      const meter = document.querySelector('.local-bar progress.local-meter');
      if (m && meter && !meter.hidden && meter.value > 0 && meter.value < 1) out.meter = true;
      if (txt.startsWith('Up to date:')) { out.done = txt; break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  });
  const st = await serve.local();
  rep.check(seen.reading.some((p) => p < 100), `while it reads 60 MB, the bar says how far it is (${seen.reading.slice(0, 8).join('%, ')}%)`, () => JSON.stringify(seen));
  rep.check(seen.meter, '... with a meter between empty and full', () => JSON.stringify(seen));
  rep.check(!!seen.done && st.state === 'watching', '... then that it is up to date', () => JSON.stringify({ seen, st }));
  const cards = await page.$$eval('.scalar-card[data-state="drawn"] canvas', (cs) => cs.length).catch(() => 0);
  rep.check(cards > 0, 'the chart of the logdir read meanwhile is drawn');
  await page.screenshot({ path: path.join(shots, 'read.png') });
  await page.close();
  await serve.stop('SIGINT');
}

// An empty logdir: the page says so, then gets its tabs and charts when a run is written.
async function emptyFillsIn(browser, shots) {
  const dir = L.tmpdir('tbdev-local-empty-');
  L.cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const serve = await new L.LocalServe(args.tbdev, args.server, dir).start();
  const page = await browser.newPage();
  await page.goto(serve.url + '/');
  await page.waitForSelector('.empty-state', { timeout: 20000 });
  const empty = await page.$eval('.empty-state', (e) => e.textContent);
  rep.check(/No data yet/.test(empty) && !/--experiment_id/.test(empty), 'an empty logdir: the page says the charts come with the first event files', empty);
  const evs = [];
  for (let s = 0; s < 30; s++) evs.push(L.ev.scalarTf1('first/metric', s, s * 0.1));
  L.writeEventFile(path.join(dir, 'run1'), evs);
  const t0 = Date.now();
  let card = null;
  while (Date.now() - t0 < 30000 && !card) {
    await L.sleep(200);
    card = await page.$('.scalar-card[data-state="drawn"] canvas');
  }
  const tabs = await page.$$eval('#nav button', (bs) => bs.map((b) => b.textContent));
  rep.check(!!card && tabs.includes('Scalars'), `... and gets its Scalars tab and chart without a reload when a run is written (${((Date.now() - t0) / 1000).toFixed(1)} s)`, () => JSON.stringify(tabs));
  await page.screenshot({ path: path.join(shots, 'filled.png') });
  await page.close();
  await serve.stop('SIGINT');
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
  const accounts = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(serve.url + '/') && !u.startsWith('data:')) foreign.push(u);
    if (r.method() !== 'GET') notGet.push(r.method() + ' ' + u);
    if (/\/api\/v1\/(me|login|sessions|experiments$)/.test(u)) accounts.push(u);
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

  // ---- the local-mode parts of the page ----
  const who = await page.$eval('#who', (w) => ({ text: w.textContent.trim(), links: w.querySelectorAll('a').length }));
  rep.check(!who.text && !who.links, 'no sign-in link in local mode', () => JSON.stringify(who));
  const barText = async () => page.$eval('.local-bar .local-progress', (e) => e.textContent).catch(() => null);
  const upToDate = await barText();
  rep.check(upToDate && upToDate.startsWith('Up to date:') && upToDate.includes(logdir), 'the reader\'s state under the title: up to date, watching the logdir', upToDate);
  const share = await page.$('.local-bar button.share');
  rep.check(!!share && !(await page.$eval('#share-panel', (p) => !p.hidden)), 'a Share button, its panel closed');
  if (share) {
    await share.click();
    const panel = await page.$eval('#share-panel', (p) => ({ open: !p.hidden, cmds: [...p.querySelectorAll('.share-command')].map((c) => c.textContent), text: p.textContent }));
    const want = `tbdev upload --logdir ${logdir}`;
    rep.check(panel.open && panel.cmds.length === 1 && panel.cmds[0] === want, `Share opens a panel with "${want}"`, () => JSON.stringify(panel));
    rep.check(/this machine only/.test(panel.text) && /tbdev auth login/.test(panel.text), 'the panel says the page is on this machine only, and to log in to a server first', panel.text);
    rep.check(await page.$eval('.local-bar button.share', (b) => b.getAttribute('aria-expanded')) === 'true', 'the Share button says its panel is open (aria-expanded)');
    await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serve.url });
    await page.click('#share-panel button.copy');
    const copied = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => 'error: ' + e);
    rep.check(copied === want, 'Copy puts the command on the clipboard', copied);
    await page.screenshot({ path: path.join(shots, 'share.png') });
    await share.click();
  }

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

  rep.check(!accounts.length, 'the page asks for no account data (no /api/v1/me)', () => accounts.join(' '));
  const s = await page.evaluate(() => window.__tbdevTest);
  rep.check(!s.csp.length, 'no CSP violation', () => JSON.stringify(s.csp));
  rep.check(!errors.length && !s.errors.length, 'no page error', () => JSON.stringify(errors.concat(s.errors)));
  rep.check(!foreign.length, 'no request to another origin', () => foreign.slice(0, 5).join(' '));
  rep.check(!notGet.length, 'the page only reads (GET)', () => notGet.slice(0, 5).join(' '));
  const code = await serve.stop('SIGINT');
  rep.check(code === 0, 'tbdev serve stops on Ctrl-C with exit 0', `exit ${code}: ${serve.err.slice(-300)}`);
  await page.close();

  await rep.step('progress while a larger logdir is read', () => progressWhileReading(browser, shots));
  await rep.step('an empty logdir fills in', () => emptyFillsIn(browser, shots));
  await L.finish(rep);
}

main().catch(async (e) => {
  rep.notOk('test body finished', e && e.stack ? e.stack : String(e));
  await L.finish(rep);
});
