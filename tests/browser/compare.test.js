// SPDX-License-Identifier: MIT
// Browser test of /compare?e=ID1,ID2,... (service/web/compare.js) against a real tbdev-server
// over HTTPS: two experiments of one user (the real PyTorch 1.13 and tensorboardX 2.6.2.2
// logdirs from shared/testdata/real, uploaded with the real tbdev) shown as one page, runs
// named by experiment, every dashboard drawing runs of both; a private experiment of another
// user and an ID that exists nowhere reported alike, with nothing of the private one in the
// page or its traffic; the experiment page's "Compare with…" control; reload; the limit.
//
// Usage: node compare.test.js TBDEV TBDEV_SERVER TBDEV_EXAMPLE_LOGS
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/compare (default /tmp/tbdev-artifacts/compare).
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('./lib.js');

const rep = new L.Reporter('browser_compare');
const args = L.parseArgs(process.argv);

const NAME_A = 'torch 1.13 logs';
const NAME_B = 'tensorboardX logs';
const SECRET = 'BOBS-PRIVATE-EXPERIMENT-q7w3';
const SECRET_DESC = 'bob-only-description-x9k2';
const NOWHERE = 'AAAAAAAAAAAAAAAAAAAAAA'; // a well-formed ID no experiment has

const sel = (cls, attr, v) => `.${cls}[data-${attr}="${v.replace(/["\\]/g, '\\$&')}"]`;

async function clickTab(page, key) {
  await page.click(`#nav button[data-tab="${key}"]`);
  await page.waitForFunction((k) => document.querySelector(`#nav button[data-tab="${k}"]`)?.getAttribute('aria-selected') === 'true', key);
  await page.waitForFunction(() => !document.querySelector('.content > .loading'), null, { timeout: 20000 }).catch(() => {});
}

// Scrolls each card matching cardSel into view (cards load lazily) until it is drawn, empty or
// failed; returns [{ run, tag, state, why }].
async function loadCards(page, cardSel) {
  return page.evaluate(async (s) => {
    const out = [];
    for (const el of document.querySelectorAll(s)) {
      el.scrollIntoView({ block: 'center' });
      const t0 = performance.now();
      while (!['drawn', 'empty', 'error'].includes(el.dataset.state) && performance.now() - t0 < 15000) await new Promise((r) => setTimeout(r, 25));
      out.push({ run: el.dataset.run, tag: el.dataset.tag, state: el.dataset.state, why: el.querySelector('.status')?.textContent || '',
        text: el.querySelector('.body, .card-body')?.textContent?.slice(0, 200) || el.textContent.slice(0, 200),
        img: [...el.querySelectorAll('img')].map((i) => i.complete && i.naturalWidth > 0), canvas: el.querySelectorAll('canvas, svg').length, steps: +(el.dataset.steps || 0) });
    }
    window.scrollTo(0, 0);
    return out;
  }, cardSel);
}

// Pixels of a card's canvases near each colour (the lines of each run).
async function inkByColour(page, cardSel, colours) {
  return page.evaluate(({ s, cs }) => {
    const rgb = cs.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
    const n = cs.map(() => 0);
    for (const c of document.querySelector(s).querySelectorAll('canvas')) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] < 200) continue;
        rgb.forEach((q, k) => { if (Math.abs(d[i] - q[0]) + Math.abs(d[i + 1] - q[1]) + Math.abs(d[i + 2] - q[2]) < 40) n[k]++; });
      }
    }
    return n;
  }, { s: cardSel, cs: colours });
}

async function main() {
  const real = L.realDataDir();
  if (!real || !fs.existsSync(path.join(real, 'pytorch-1.13')) || !fs.existsSync(path.join(real, 'tensorboardx-2.6.2.2'))) {
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
  const shots = L.artifactsDir('compare');
  const { server, client } = await L.setup(args);
  rep.note(`server ${server.url} (HTTPS, throwaway certificate)`);
  server.setPassword('alice', 'correct horse battery');
  const a = (await client.upload(path.join(real, 'pytorch-1.13'), { name: NAME_A, visibility: 'private' })).id;
  const b = (await client.upload(path.join(real, 'tensorboardx-2.6.2.2'), { name: NAME_B })).id;
  const bobClient = new L.Client(args.tbdev, server, server.addUser('bob'));
  await bobClient.login();
  const s = (await bobClient.upload(path.join(real, 'pytorch-1.13', 'hparams'), { name: SECRET, description: SECRET_DESC, visibility: 'private' })).id;
  rep.ok(`uploads: alice's ${a} (private) and ${b}, bob's private ${s}`);
  const auth = (tok) => ({ headers: { Accept: 'application/json', Authorization: 'Bearer ' + tok } });
  const tagsA = (await server.json(`/api/v1/experiments/${a}/tags`, auth(client.token))).tags;
  const tagsB = (await server.json(`/api/v1/experiments/${b}/tags`)).tags;
  const expected = [...new Set([...tagsA.map((t) => `${NAME_A}/${t.run}`), ...tagsB.map((t) => `${NAME_B}/${t.run}`)])].sort();

  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const consoleErrors = [];
  const page = browser.pages()[0] || await browser.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/status of 404/.test(m.text())) return; // the two experiments not found: Chromium logs each 404
    consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push('pageerror ' + e));
  // everything the page receives, to look for the private experiment in it
  const traffic = [];
  page.on('response', async (r) => {
    const u = r.url();
    let body = '';
    try { body = /\/blob\//.test(u) ? '' : (await r.body()).toString('latin1'); } catch (e) { body = ''; }
    traffic.push({ url: u, status: r.status(), body, headers: JSON.stringify(r.headers()) });
  });

  await page.goto(server.url + '/');
  await page.waitForSelector('#signin');
  await page.fill('#signin input[name=user]', 'alice');
  await page.fill('#signin input[name=password]', 'correct horse battery');
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('.list .item a', { timeout: 20000 });

  // ---- the layer itself (compare.js, as the page loads it), on cases the real data lacks
  const unit = (await page.evaluate(async () => {
    const m = await import('/static/compare.js');
    const out = {};
    out.ids = m.parseCompareIds('?e=A,B,,A&e=C');
    out.many = m.parseCompareIds('?e=' + Array.from({ length: 5000 }, (_, i) => 'id' + i).join(','));
    // equal names get the start of their ID; names with '/' that meet another's run still differ
    const map = new m.RunMap([{ id: 'AAAAAAAAAAAAAAAAAAAAA1', exp: { name: 'x' } }, { id: 'BBBBBBBBBBBBBBBBBBBBB2', exp: { name: 'x' } },
      { id: 'CCCCCCCCCCCCCCCCCCCCC3', exp: { name: 'a/b' } }, { id: 'DDDDDDDDDDDDDDDDDDDDD4', exp: { name: 'a' } }, { id: 'EEEEEEEEEEEEEEEEEEEEE5', exp: { name: '' } }]);
    const p = map.parts;
    out.labels = [map.label(p[0], 'r'), map.label(p[1], 'r'), map.label(p[2], 'c'), map.label(p[3], 'b/c'), map.label(p[4], '.'), map.label(p[0], 'r')];
    out.back = out.labels.map((l) => { const w = map.locate(l); return w.part.id.slice(0, 1) + ':' + w.run; });
    out.hp = m.mergeHparams(map, [[p[0], { hparam_infos: [{ name: 'lr' }], metric_infos: [{ tag: 'acc', group: '' }], sessions: [{ run: 'r', group: 'r', hparams: {}, metrics: {} }] }],
      [p[1], { hparam_infos: [{ name: 'lr' }, { name: 'bs' }], metric_infos: [{ tag: 'acc', group: '' }], sessions: [{ run: 'r', group: 'g', hparams: {}, metrics: {} }] }]]);
    out.layout = m.mergeLayouts([[p[0], { categories: [{ title: 'c', charts: [] }] }], [p[1], { categories: [{ title: 'c', charts: [] }, { title: 'd', charts: [] }] }]]);
    // scalar requests: an experiment whose every run of the tag is asked goes without a run list
    const l0 = map.label(p[0], 'r2'), l3 = map.label(p[3], 'z');
    const every = [out.labels[0], l0, out.labels[3], l3];
    const req = (runs) => m.splitRuns(map, runs, every).map((q) => [q.base.slice(-22, -21), q.runs, q.rename('r')]);
    out.reqAll = req(null);
    out.reqSome = req([out.labels[0], out.labels[3], l3]);
    return out;
  }).catch((e) => ({ error: String(e) }))) || {};
  if (unit.error) rep.note('compare.js did not load: ' + unit.error);
  unit.labels = unit.labels || [];
  unit.back = unit.back || [];
  unit.hp = unit.hp || {};
  unit.layout = unit.layout || { categories: [] };
  rep.check(JSON.stringify(unit.ids) === JSON.stringify({ ids: ['A', 'B', 'C'], named: 3 }), 'compare.js: e= is read in order without repeats', JSON.stringify(unit.ids));
  rep.check(unit.many && unit.many.ids.length === 10 && unit.many.named === 1000, 'compare.js: at most 10 IDs are used and at most 1000 counted', JSON.stringify(unit.many));
  rep.check(new Set(unit.labels.slice(0, 5)).size === 5 && unit.labels[0] === 'x (AAAAAA)/r' && unit.labels[1] === 'x (BBBBBB)/r' && unit.labels[5] === unit.labels[0] &&
    unit.labels[3] === 'a (DDDDDDDDDDDDDDDDDDDDD4)/b/c' && unit.labels[4] === '[No Name]/.' && unit.back.join() === 'A:r,B:r,C:c,D:b/c,E:.,A:r',
  'compare.js: run names are unique (equal experiment names, names with "/") and map back to (experiment, run)', JSON.stringify(unit.labels) + JSON.stringify(unit.back));
  rep.check(unit.hp.sessions && JSON.stringify(unit.hp.sessions.map((x) => [x.run, x.group])) === JSON.stringify([['x (AAAAAA)/r', 'x (AAAAAA)/r'], ['x (BBBBBB)/r', 'g']]) &&
    unit.hp.hparam_infos.length === 2 && unit.hp.metric_infos.length === 1, 'compare.js: hparams answers merge with sessions renamed, infos without repeats', JSON.stringify(unit.hp));
  rep.check(JSON.stringify(unit.layout.categories.map((c) => c.title)) === '["c","d"]', 'compare.js: custom scalars layouts merge, a category met twice once', JSON.stringify(unit.layout));
  rep.check(JSON.stringify(unit.reqAll) === JSON.stringify([['A', null, 'x (AAAAAA)/r'], ['D', null, 'a/r']]) &&
    JSON.stringify(unit.reqSome) === JSON.stringify([['A', ['r'], 'x (AAAAAA)/r'], ['D', null, 'a/r']]),
  'compare.js: requests of several runs (scalars, PR curves) go per experiment, without a run list when every run of the tag is asked', JSON.stringify({ all: unit.reqAll, some: unit.reqSome }));

  // ---- the compare page
  const ids = [a, b, s, NOWHERE];
  await page.goto(`${server.url}/compare?e=${ids.join(',')}`);
  await page.waitForSelector('.run-toggle', { timeout: 30000 }).catch(() => {});
  const runs = await page.$$eval('.run-toggle', (cs) => cs.map((c) => c.dataset.run)).catch(() => []);
  rep.check(JSON.stringify(runs.slice().sort()) === JSON.stringify(expected), 'the run list holds every run of both experiments, named EXPERIMENT/run',
    () => `page ${JSON.stringify(runs).slice(0, 600)} expected ${JSON.stringify(expected).slice(0, 600)}`);
  const groups = await page.$$eval('.run-list .run-group', (gs) => gs.map((g) => g.textContent)).catch(() => []);
  rep.check(JSON.stringify(groups) === JSON.stringify([NAME_A, NAME_B]), 'the sidebar groups the runs under each experiment\'s name', JSON.stringify(groups));
  const shortA = await page.$$eval('.run-list label.run', (ls) => ls.map((l) => [l.querySelector('.run-toggle').dataset.run, l.querySelector('.run-name').textContent])).catch(() => []);
  rep.check(runs.length > 0 && shortA.length === runs.length && shortA.every(([full, short]) => full.endsWith('/' + short) && (full === `${NAME_A}/${short}` || full === `${NAME_B}/${short}`)),
    'under its experiment\'s name each run goes by its own name', JSON.stringify(shortA).slice(0, 400));
  const header = await page.$$eval('.exp-header li.compared a', (as) => as.map((x) => [x.textContent, x.getAttribute('href')])).catch(() => []);
  rep.check(JSON.stringify(header) === JSON.stringify([[NAME_A, `/experiment/${a}/`], [NAME_B, `/experiment/${b}/`]]), 'the header lists both experiments with links', JSON.stringify(header));

  const missing = await page.$$eval('.compare-missing', (ps) => ps.map((p) => ({ id: p.querySelector('code')?.textContent, text: p.textContent }))).catch(() => []);
  const rest = missing.map((m) => m.text.replace(m.id, 'ID'));
  rep.check(missing.length === 2 && missing[0].id === s && missing[1].id === NOWHERE && rest[0] === rest[1] && /not found/.test(rest[0]),
    'another user\'s private experiment and a nonexistent ID are both reported "not found", in the same words', JSON.stringify(missing));
  const r404 = traffic.filter((t) => t.url.includes('/api/') && (t.url.includes(s) || t.url.includes(NOWHERE)));
  const bodyOf = (id) => r404.filter((t) => t.url.endsWith(`/api/v1/experiments/${id}`)).map((t) => `${t.status} ${t.body}`);
  rep.check(bodyOf(s).length === 1 && JSON.stringify(bodyOf(s)) === JSON.stringify(bodyOf(NOWHERE)) && r404.every((t) => t.status === 404),
    'the server\'s answers for the private and the nonexistent experiment are the same 404, byte for byte', () => JSON.stringify(r404.map((t) => [t.url, t.status, t.body])));

  await page.screenshot({ path: path.join(shots, 'compare-scalars.png'), fullPage: false });
  // the scalar card of a tag both experiments have draws runs of both, each in its colour
  const card = sel('scalar-card', 'tag', 'loss/train');
  await L.cardReady(page, card, 30000).catch(() => {});
  const dbg = await L.cardDebug(page, card);
  const lines = dbg ? dbg.series.filter((x) => x.hover && x.n > 0) : [];
  const fromA = lines.filter((x) => x.run.startsWith(NAME_A + '/')), fromB = lines.filter((x) => x.run.startsWith(NAME_B + '/'));
  rep.check(fromA.length >= 1 && fromB.length >= 1, 'the loss/train card overlays lines of runs of both experiments', () => JSON.stringify(lines.map((x) => [x.run, x.n])));
  if (fromA.length && fromB.length) {
    const ink = await inkByColour(page, card, [fromA[0].color, fromB[0].color]);
    rep.check(fromA[0].color !== fromB[0].color && ink[0] > 50 && ink[1] > 50, 'the card shows both experiments\' lines in their own colours',
      `colours ${fromA[0].color} ${fromB[0].color} pixels ${ink}`);
  }

  // per-run dashboards: cards of both experiments, drawn
  const both = (cards, label, ok) => {
    const good = cards.filter((c) => c.state === 'drawn' && (!ok || ok(c)));
    rep.check(good.some((c) => c.run.startsWith(NAME_A + '/')) && good.some((c) => c.run.startsWith(NAME_B + '/')) && cards.every((c) => c.state !== 'error'),
      `${label}: cards of both experiments are drawn`, () => JSON.stringify(cards.map((c) => [c.run, c.tag, c.state, c.why])).slice(0, 900));
  };
  const tabs = await page.$$eval('#nav button', (bs) => bs.map((x) => x.dataset.tab));
  for (const t of ['images', 'audio', 'histograms', 'distributions', 'text', 'pr_curves', 'hparams', 'graphs', 'custom_scalars'])
    if (!tabs.includes(t)) rep.notOk(`the ${t} tab is there`, JSON.stringify(tabs));
  if (tabs.includes('images')) {
    await clickTab(page, 'images');
    both(await loadCards(page, '.images-card'), 'images', (c) => c.img.length && c.img.every(Boolean));
    await page.screenshot({ path: path.join(shots, 'compare-images.png') });
  }
  if (tabs.includes('audio')) { await clickTab(page, 'audio'); both(await loadCards(page, '.audio-card'), 'audio'); }
  if (tabs.includes('histograms')) { await clickTab(page, 'histograms'); both(await loadCards(page, '.hist-card'), 'histograms', (c) => c.steps > 0 && c.canvas > 0); }
  if (tabs.includes('distributions')) { await clickTab(page, 'distributions'); both(await loadCards(page, '.dist-card'), 'distributions'); }
  if (tabs.includes('text')) { await clickTab(page, 'text'); both(await loadCards(page, '.text-card'), 'text', (c) => /step/.test(c.text)); }
  if (tabs.includes('pr_curves')) {
    // one card per tag with every run's curve (dash_pr.js)
    await clickTab(page, 'pr_curves');
    const keys = await page.$$eval('.pr-card', (cs) => cs.map((c) => c.dataset.tag));
    const curves = [];
    for (const k of keys) {
      await L.cardReady(page, sel('pr-card', 'tag', k), 20000).catch(() => {});
      const d = await L.cardDebug(page, sel('pr-card', 'tag', k));
      if (d) curves.push(...d.runs.filter((x) => x.n > 0).map((x) => [k, x.run]));
    }
    rep.check(curves.some(([, r]) => r.startsWith(NAME_A + '/')) && curves.some(([, r]) => r.startsWith(NAME_B + '/')),
      'PR curves: curves of runs of both experiments are drawn', JSON.stringify(curves));
    await page.screenshot({ path: path.join(shots, 'compare-pr.png') });
  }
  if (tabs.includes('other')) { await clickTab(page, 'other'); both(await loadCards(page, '.list-card'), 'other plugins\' data'); }
  if (tabs.includes('custom_scalars')) {
    await clickTab(page, 'custom_scalars');
    const cards = await page.$$eval('.custom-card', (cs) => cs.map((c) => c.dataset.key));
    let runsDrawn = [];
    for (const k of cards) {
      await L.cardReady(page, sel('custom-card', 'key', k), 20000).catch(() => {});
      const d = await L.cardDebug(page, sel('custom-card', 'key', k));
      if (d) runsDrawn.push(...d.series.filter((x) => x.hover && x.n > 0).map((x) => x.run));
    }
    runsDrawn = [...new Set(runsDrawn)];
    rep.check(runsDrawn.some((r) => r.startsWith(NAME_A + '/')) && runsDrawn.some((r) => r.startsWith(NAME_B + '/')), 'custom scalars: the layouts of both experiments draw their runs', JSON.stringify(runsDrawn));
  }
  if (tabs.includes('hparams')) {
    await clickTab(page, 'hparams');
    await page.waitForSelector('.hparams-table tbody tr', { timeout: 20000 }).catch(() => {});
    const sessions = await page.$$eval('.hparams-table tbody tr', (trs) => trs.map((tr) => tr.cells[0].textContent)).catch(() => []);
    const want = [...tagsA.filter((t) => t.plugin === 'hparams').map((t) => `${NAME_A}/${t.run}`), ...tagsB.filter((t) => t.plugin === 'hparams').map((t) => `${NAME_B}/${t.run}`)];
    rep.check(sessions.some((x) => x.startsWith(NAME_A + '/')) && sessions.some((x) => x.startsWith(NAME_B + '/')) && sessions.every((x) => want.includes(x)),
      'hparams: sessions of both experiments, named by experiment', JSON.stringify(sessions));
    await page.screenshot({ path: path.join(shots, 'compare-hparams.png') });
  }
  if (tabs.includes('graphs')) {
    await clickTab(page, 'graphs');
    const opts = await page.$$eval('select.graph-run option', (os) => os.map((o) => o.value)).catch(() => []);
    const nodes = [];
    for (const r of [opts.find((o) => o.startsWith(NAME_A + '/')), opts.find((o) => o.startsWith(NAME_B + '/'))].filter(Boolean)) {
      const before = await page.$eval('svg.graph-svg', (x) => x.dataset.ready || '0').catch(() => '0');
      await page.selectOption('select.graph-run', r).catch(() => {});
      await page.waitForFunction((b) => (document.querySelector('svg.graph-svg')?.dataset.ready || '0') !== b, before, { timeout: 20000 }).catch(() => {});
      nodes.push([r, await page.$$eval('.graph-nodes > *', (ns) => ns.length).catch(() => 0)]);
    }
    rep.check(nodes.length === 2 && nodes.every(([, n]) => n > 0), 'graphs: a graph of each experiment is drawn', JSON.stringify({ opts, nodes }));
  }

  // nothing of bob's experiment anywhere: DOM, titles, answers, headers
  const html = await page.evaluate(() => document.documentElement.outerHTML + document.title);
  const leaks = traffic.filter((t) => t.body.includes(SECRET) || t.body.includes(SECRET_DESC) || t.headers.includes(SECRET));
  rep.check(runs.length > 0 && traffic.some((t) => t.url.includes(`/api/v1/experiments/${s}`)) && !html.includes(SECRET) && !html.includes(SECRET_DESC) && !leaks.length,
    'the page asked for the private experiment, and its name and description are in neither the DOM nor the traffic',
    () => JSON.stringify(leaks.map((t) => t.url)));
  const asked = traffic.filter((t) => t.url.includes('/api/') && t.url.includes(s));
  rep.check(asked.length && asked.every((t) => t.status === 404), 'every API request naming the private experiment was answered 404',
    () => JSON.stringify(asked.map((t) => [t.url, t.status])));

  await clickTab(page, 'scalars').catch(() => {});
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(shots, 'compare-phone.png') });
  await page.setViewportSize({ width: 1300, height: 900 });

  // view state in the URL with e=, on reload
  await clickTab(page, 'scalars').catch(() => {});
  await page.fill('#run-filter', 'run_a', { timeout: 10000 }).catch(() => {});
  await page.press('#run-filter', 'Enter', { timeout: 10000 }).catch(() => {});
  await page.waitForFunction(() => /runs=run_a/.test(location.search), null, { timeout: 10000 }).catch(() => {});
  const search = await page.evaluate(() => location.search);
  await page.reload();
  await page.waitForSelector('.run-toggle', { timeout: 30000 }).catch(() => {});
  const after = await page.evaluate(() => ({ search: location.search, filter: document.querySelector('#run-filter')?.value, tab: document.querySelector('#nav button[aria-selected="true"]')?.dataset.tab,
    runs: [...document.querySelectorAll('.run-toggle')].map((c) => c.dataset.run) }));
  rep.check(search.includes(`e=${ids.join(',')}`) && after.search === search && after.filter === 'run_a' && after.tab === 'scalars' &&
    after.runs.length > 0 && after.runs.every((r) => /run_a/.test(r)) && after.runs.some((r) => r.startsWith(NAME_A)) && after.runs.some((r) => r.startsWith(NAME_B)),
  'the URL keeps e= with the view state, and a reload opens the same view', JSON.stringify({ search, after }));

  // "Compare with…" on an experiment's page
  await page.goto(`${server.url}/experiment/${a}/`);
  await page.waitForSelector('button.compare-with', { timeout: 20000 }).catch(() => {});
  await page.click('button.compare-with').catch(() => {});
  await page.waitForSelector('.compare-pick', { timeout: 10000 }).catch(() => {});
  const picks = await page.$$eval('.compare-pick', (cs) => cs.map((c) => c.value)).catch(() => []);
  rep.check(JSON.stringify(picks) === JSON.stringify([b]), '"Compare with…" lists the viewer\'s other experiments (not other users\')', JSON.stringify(picks));
  await page.screenshot({ path: path.join(shots, 'compare-picker.png') });
  await page.check(`.compare-pick[value="${b}"]`).catch(() => {});
  await page.click('a.compare-go').catch(() => {});
  await page.waitForURL(/\/compare\?/, { timeout: 10000 }).catch(() => {});
  await page.waitForSelector('.run-toggle', { timeout: 30000 }).catch(() => {});
  const url = new URL(page.url());
  const runs2 = await page.$$eval('.run-toggle', (cs) => cs.map((c) => c.dataset.run)).catch(() => []);
  rep.check(url.pathname === '/compare' && url.searchParams.get('e') === `${a},${b}` && JSON.stringify(runs2.slice().sort()) === JSON.stringify(expected),
    '"Compare with…" leads to /compare?e=THIS,OTHER showing both', `${page.url()} ${runs2.length} runs`);

  // live refresh: a run uploaded to one of them meanwhile appears under its name
  const late = L.tmpdir('tbdev-compare-late-');
  L.cleanup.push(() => fs.rmSync(late, { recursive: true, force: true }));
  L.writeEventFile(path.join(late, 'late_run'), Array.from({ length: 50 }, (_, i) => L.ev.scalarTf1('loss/train', i, 1 / (i + 1), 1.8e9 + i)));
  await client.upload(late, { experimentId: b });
  const lateSel = `.run-toggle[data-run="${NAME_B}/late_run"]`;
  const appeared = await page.waitForSelector(lateSel, { timeout: 45000 }).then(() => true).catch(() => false);
  const lateCard = await (appeared ? L.cardReady(page, sel('scalar-card', 'tag', 'loss/train'), 20000).then(() => L.cardDebug(page, sel('scalar-card', 'tag', 'loss/train'))) : null);
  rep.check(appeared && lateCard && lateCard.series.some((x) => x.run === `${NAME_B}/late_run` && x.n === 50),
    'live refresh: a run uploaded meanwhile to one experiment appears, and its line is drawn', () => JSON.stringify(lateCard && lateCard.series.map((x) => [x.run, x.n])));

  // the limit
  const many = [a, b, ...Array.from({ length: 10 }, (_, i) => 'x'.repeat(21) + String.fromCharCode(65 + i))];
  await page.goto(`${server.url}/compare?e=${many.join(',')}`);
  await page.waitForSelector('.compare-over', { timeout: 20000 }).catch(() => {});
  const over = await page.$eval('.compare-over', (p) => p.textContent).catch(() => '');
  const shown = await page.$$eval('.compare-missing', (ps) => ps.length).catch(() => -1);
  rep.check(/12 experiments/.test(over) && /at most 10/.test(over) && shown === 8, 'a link naming more than 10 experiments says so and shows the first 10', `${over} (${shown} not found)`);

  // signed out: alice's private experiment is not found, like any other; the unlisted one shows
  await page.evaluate(async () => {
    const me = await (await fetch('/api/v1/me', { headers: { Accept: 'application/json' } })).json();
    await fetch('/api/v1/logout', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token || '', 'Content-Type': 'application/json' } });
  });
  await page.goto(`${server.url}/compare?e=${a},${b}`);
  await page.waitForSelector('.run-toggle', { timeout: 30000 }).catch(() => {});
  const signedOut = await page.evaluate(() => ({ runs: [...document.querySelectorAll('.run-toggle')].map((c) => c.dataset.run), missing: [...document.querySelectorAll('.compare-missing code')].map((c) => c.textContent) }));
  rep.check(signedOut.missing.length === 1 && signedOut.missing[0] === a && signedOut.runs.length > 0 && signedOut.runs.every((r) => r.startsWith(NAME_B + '/')),
    'signed out, a private experiment of one\'s own is not found while the unlisted one shows', JSON.stringify(signedOut).slice(0, 400));

  const st = await page.evaluate(() => window.__tbdevTest || { csp: [], errors: [] });
  rep.check(!st.csp.length, 'no CSP violations', JSON.stringify(st.csp));
  rep.check(!consoleErrors.length, 'no console errors', () => consoleErrors.slice(0, 8).join(' | '));
}

const watchdog = setTimeout(() => { console.log('not ok - the test finished within 540 s'); L.runCleanup().then(() => process.exit(1)); }, 540000);
main().then(() => { clearTimeout(watchdog); return L.finish(rep); }).catch(async (e) => {
  rep.notOk('compare test', 'threw ' + (e && e.stack ? e.stack : e));
  clearTimeout(watchdog);
  await L.finish(rep);
});
