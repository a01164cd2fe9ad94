// SPDX-License-Identifier: MIT
// Browser test: an XSS corpus in every user-controlled string renders inert in the viewer.
// The experiment's name and description, run names (directory names), tag names, text
// summaries (markdown and a rank-2 string table), hparams names and values, a custom scalars
// layout, and another plugin's name all carry payloads such as
//   <script>alert(1)</script>   <img src=x onerror="window.__xss=1">   [link](javascript:alert(1))
//   <svg onload="window.__xss=2">   data:text/html,<script>alert(1)</script>
// The event files are written here (TFRecord framing, masked CRC32C, protobuf by hand) and
// uploaded with the real tbdev client to a real tbdev-server over HTTPS. Every dashboard, the
// signed-in home page, the user page and URLs with payloads in their query are opened, and:
// no dialog opens, window.__xss is never set, the only script elements are index.html's two,
// no element has an on* attribute or a javascript:/data: URL, no CSP violation is reported,
// and the strings appear as text.
//
// Usage: node xss.test.js TBDEV TBDEV_SERVER [TBDEV_EXAMPLE_LOGS]
'use strict';

const fs = require('fs');
const path = require('path');
const L = require('./lib.js');

const rep = new L.Reporter('browser_xss');
const args = L.parseArgs(process.argv);

const P = {
  script: '<script>alert(1)</script>',
  img: '<img src=x onerror="window.__xss=1">',
  mdjs: '[link](javascript:alert(1))',
  svg: '<svg onload="window.__xss=2">',
  data: 'data:text/html,<script>alert(1)</script>',
  quote: '"><img src=x onerror=window.__xss=4>',
  js: 'javascript:window.__xss=3',
};
const RUNS = [P.script, P.img, P.svg, P.mdjs, P.data, P.quote];
const TAGS = [P.script, P.img, P.mdjs, P.svg, P.data, P.quote, P.js];
// Tags of other kinds: a tag has one kind per run, so these differ from the scalar tags.
const T = {
  hist: `hist ${P.img}`, image: `image ${P.svg}`, audio: `audio ${P.script}`, md: `md ${P.mdjs}`,
  table: `table ${P.data}`, pr: `pr ${P.data}`, other: `other ${P.svg}`,
};
const NAME = `${P.img}${P.script}`; // 62 characters, under the 100 limit
const DESCRIPTION = [
  `# ${P.script}`, P.img, P.mdjs, P.svg, `[d](${P.data})`, `<a href="${P.js}">a</a>`, `![i](${P.js})`,
  '<iframe src="javascript:window.__xss=5"></iframe>', `<details open ontoggle="window.__xss=6">x</details>`,
].join('\n\n');
// Blank lines between blocks: a line that opens with an HTML tag starts an HTML block that
// runs to the next blank line (CommonMark), which would swallow what follows.
const MARKDOWN = [
  `# ${P.script}`, `Inline ${P.img} image`, `Link: ${P.mdjs}`, `Inline ${P.svg} svg`, `[data](${P.data})`,
  `<a href="${P.js}">raw a</a>`,
  [`| ${P.quote} | b |`, '|---|---|', `| [x](${P.js}) | <iframe src="javascript:window.__xss=5"></iframe> |`].join('\n'),
  `![img](${P.js})`, '<details open ontoggle="window.__xss=6">d</details>', '<style>body{display:none}</style>',
  `<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=7">`, '`' + P.img + '`', 'The end.',
].join('\n\n');

function writeLogdir(dir) {
  const wall = Date.now() / 1000 - 100;
  const runDirs = RUNS.map((r) => path.join(dir, ...r.split('/')));
  runDirs.forEach((d, i) => {
    const evs = [];
    for (let s = 0; s < 3; s++) evs.push(L.eventPb(wall + s, s, { values: [...TAGS, 'plain'].map((t, k) => L.valuePb(t, { simple: Math.sin(s + k + i) })) }));
    if (i === 0) {
      const limits = [-1, 0, 1, 2], counts = [1, 3, 2, 1];
      for (let s = 0; s < 3; s++) evs.push(L.ev.histoTf1(T.hist, s, limits.map((x) => x + s * 0.2), counts, wall + s));
      evs.push(L.ev.imageTf1(T.image, 0, L.png(8, 6), 6, 8, wall));
      evs.push(L.ev.audioTf1(T.audio, 0, L.wav(0.2, 440), 8000, wall));
      evs.push(L.ev.textTensor(T.md, 0, [MARKDOWN], [], wall));
      evs.push(L.ev.textTensor(T.table, 0, [P.script, P.img, P.svg, P.quote], [2, 2], wall));
      evs.push(L.ev.textTensor('list', 0, [P.js, P.mdjs], [2], wall));
      evs.push(L.ev.prCurve(T.pr, 0, [[5, 3, 1], [5, 2, 0], [0, 3, 5], [0, 2, 4], [0.5, 0.6, 1], [1, 0.6, 0.2]], wall));
      evs.push(L.ev.otherTensor(P.img, T.other, 0, [1, 2, 3], wall));
      evs.push(L.ev.graphDef(Buffer.from('not really a GraphDef ' + P.script), wall));
      evs.push(L.ev.customScalars([{ title: P.img, charts: [{ title: P.script, tags: ['.*'] }, { title: P.svg, tags: [P.js] }] }], wall));
      evs.push(L.ev.hparams('_hparams_/experiment', L.hp.experiment([{ name: P.img, type: 1 }, { name: P.svg, type: 1 }], [P.quote]), 0, wall));
    }
    if (i < 2) {
      evs.push(L.ev.hparams('_hparams_/session_start_info', L.hp.sessionStart({ [P.img]: P.script, [P.svg]: P.mdjs, lr: 0.1 * (i + 1) }, wall), 0, wall));
      evs.push(L.ev.hparams('_hparams_/session_end_info', L.hp.sessionEnd(1, wall + 50), 0, wall));
    }
    L.writeEventFile(d, evs);
  });
}

// Runs in the page: everything that would show an injection took effect.
function inertProblems() {
  const bad = [];
  if (window.__xss !== undefined) bad.push('window.__xss = ' + window.__xss);
  const scripts = [...document.scripts].map((s) => s.getAttribute('src') || (s.type === 'importmap' ? 'importmap: ' : 'inline: ') + s.textContent.slice(0, 60));
  const want = ['importmap: {"imports":{"three":"/static/three.module.js"}}', '/static/app.js']; // index.html's own
  if (JSON.stringify(scripts) !== JSON.stringify(want)) bad.push('script elements ' + JSON.stringify(scripts));
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'srcdoc', 'background', 'srcset'];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase(), v = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
      if (n.startsWith('on')) bad.push(`<${el.tagName.toLowerCase()}> has ${n}="${a.value}"`);
      if (urlAttrs.includes(n) && /^(javascript|data|vbscript):/.test(v)) bad.push(`<${el.tagName.toLowerCase()}> ${n}="${a.value}"`);
      if (n === 'style' && /expression|url\(/i.test(a.value)) bad.push(`<${el.tagName.toLowerCase()}> style="${a.value}"`);
    }
  }
  for (const el of document.body.querySelectorAll('iframe, frame, object, embed, base, meta, link, style, form:not(#signin):not(#device), math, template, noembed'))
    bad.push('unexpected <' + el.tagName.toLowerCase() + '> in the body');
  const noscript = document.body.querySelectorAll('noscript');
  if (noscript.length !== 1) bad.push(noscript.length + ' noscript elements');
  for (const s of document.body.querySelectorAll('svg')) if (!(s.classList.contains('hist-svg') && s.closest('.hist-card')) && !(s.classList.contains('graph-svg') && s.closest('.graph-canvas'))
    && !(s.classList.contains('hp-parcoords') && s.closest('.hp-pc-wrap'))) bad.push('foreign <svg> ' + s.outerHTML.slice(0, 80));
  // images: the viewer's samples from the blob API, and markdown images (src checked above)
  for (const img of document.body.querySelectorAll('img')) {
    if (img.closest('.desc, .md')) continue;
    if (!img.classList.contains('sample') || !new URL(img.src).pathname.startsWith('/api/v1/experiments/')) bad.push('foreign <img> ' + img.outerHTML.slice(0, 100));
  }
  const t = window.__tbdevTest;
  if (t && t.csp.length) bad.push('CSP violations ' + JSON.stringify(t.csp));
  return bad;
}

async function loadAllCards(page) {
  await page.evaluate(async () => {
    for (const card of document.querySelectorAll('.card')) {
      card.scrollIntoView({ block: 'center' });
      const t0 = performance.now();
      while (performance.now() - t0 < 5000) {
        const done = card.dataset.loaded !== '1' ? !card.querySelector('.chart, .hist, .scroll, .tools a') // not a lazy card
          : card.querySelector('canvas, svg, img, audio, .textstep, .tools a, .empty, .empty-state, .error');
        if (done) break;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    window.scrollTo(0, 0);
  });
  // let images fail/load and any handlers run
  await page.waitForTimeout(400);
}

async function main() {
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  if (!L.haveOpenssl()) {
    console.log('# skip: the openssl CLI is needed for the test certificate');
    process.exit(L.SKIP);
  }
  const shots = L.artifactsDir('xss');
  const logdir = L.tmpdir('tbdev-xss-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  writeLogdir(logdir);

  const { server, client } = await L.setup(args);
  rep.note(`server ${server.url} (HTTPS, throwaway certificate)`);
  server.setPassword('alice', 'correct horse battery');
  const up = await client.upload(logdir, { name: NAME, description: DESCRIPTION, visibility: 'public' });
  const id = up.id;
  rep.ok(`upload of the XSS corpus (experiment ${id})`);
  const api = (p) => server.json(`/api/v1/experiments/${id}${p}`);
  const e = await api('');
  rep.check(e.name === NAME, 'the API keeps the name verbatim', JSON.stringify(e.name));
  const tags = (await api('/tags')).tags;
  const runs = [...new Set(tags.map((t) => t.run))].sort();
  rep.check(JSON.stringify(runs) === JSON.stringify(RUNS.slice().sort()), 'the API has the payload run names verbatim', JSON.stringify(runs));
  const scalarTags = [...new Set(tags.filter((t) => t.kind === 'scalar').map((t) => t.tag))];
  rep.check(TAGS.every((t) => scalarTags.includes(t)), 'the API has the payload tag names verbatim', JSON.stringify(scalarTags));

  const browser = await L.launchBrowser();
  await browser.addInitScript(L.INIT_SCRIPT);
  const dialogs = [], consoleErrors = [];
  const watch = (page, label) => {
    page.on('dialog', (d) => { dialogs.push(`[${label}] ${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // the payload run's "graph" is not a GraphDef: GET .../graph answers 422, which Chromium
      // logs; the page shows the server's message as text (checked by the graphs step)
      const u = (m.location() || {}).url || '';
      if (/\/graph\?/.test(u) && /status of 422/.test(m.text())) return;
      consoleErrors.push(`[${label}] ${m.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`[${label}] pageerror ${err}`));
  };
  const page = browser.pages()[0] || await browser.newPage();
  watch(page, 'experiment');
  const base = `${server.url}/experiment/${id}/`;
  await page.goto(base);
  await page.waitForSelector('#nav button', { timeout: 20000 });

  const inert = async (p, label) => {
    const bad = await p.evaluate(inertProblems);
    rep.check(!bad.length && !dialogs.length, `${label}: inert (no dialog, no window.__xss, only index.html's scripts, no on* attributes or javascript:/data: URLs, no CSP violation)`,
      () => [...dialogs, ...bad].slice(0, 12).join(' | '));
  };
  const textOf = (p, sel) => p.$$eval(sel, (els) => els.map((e) => e.textContent));

  // header and sidebar
  const h1 = await page.$eval('.exp-header h1', (el) => el.textContent);
  rep.check(h1 === NAME, 'the name appears as text in the header', JSON.stringify(h1));
  const title = await page.title();
  rep.check(title.startsWith(NAME), 'the name appears as text in the page title', JSON.stringify(title));
  const desc = await page.$eval('.exp-header .desc', (el) => ({ text: el.textContent, html: el.innerHTML, active: [...el.querySelectorAll('script, svg, iframe, details, style, math, object, embed')].map((x) => x.tagName) }));
  rep.check(desc.text.includes('link') && !desc.active.length, 'the description is rendered as markdown without active elements', JSON.stringify(desc));
  rep.note('description as rendered: ' + JSON.stringify(desc.html).slice(0, 600));
  const runLabels = await page.$$eval('.run-toggle', (cs) => cs.map((c) => c.parentElement.textContent));
  rep.check(RUNS.every((r) => runLabels.includes(r)), 'the run names appear as text in the run list', JSON.stringify(runLabels));

  const tabs = await page.$$eval('#nav button', (bs) => bs.map((b) => b.dataset.tab));
  for (const need of ['scalars', 'histograms', 'distributions', 'images', 'audio', 'text', 'hparams', 'pr_curves', 'custom_scalars', 'graphs', 'other'])
    rep.check(tabs.includes(need), `the corpus has a ${need} dashboard`, JSON.stringify(tabs));

  for (const tab of tabs) {
    await rep.step(`dashboard ${tab}`, async () => {
      await page.click(`#nav button[data-tab="${tab}"]`);
      await page.waitForFunction(() => !document.querySelector('.content > .loading'), null, { timeout: 15000 }).catch(() => {});
      await page.waitForTimeout(200);
      await loadAllCards(page);
      await inert(page, tab);
      const f = path.join(shots, `${tab}.png`);
      await page.screenshot({ path: f, fullPage: true });
      rep.note('screenshot: ' + f);
      if (tab === 'scalars') {
        const titles = await textOf(page, '.scalar-card h3');
        rep.check(TAGS.every((t) => titles.includes(t)), 'Scalars: tag names appear as card titles', JSON.stringify(titles));
        // run names in the hover table, as text
        const over = await page.$('.scalar-card .u-over');
        const b = over && await over.boundingBox();
        if (b) await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
        await page.waitForTimeout(200);
        const lg = await page.$$eval('.tip tbody tr td:nth-child(2)', (ts) => ts.map((t) => t.textContent));
        await page.mouse.move(0, 0);
        await inert(page, tab + ' hover table');
        rep.check(lg.length && RUNS.every((r) => lg.includes(r)), 'Scalars: run names appear as text in the hover table', JSON.stringify(lg));
      } else if (['histograms', 'distributions', 'images', 'audio', 'pr_curves'].includes(tab)) {
        const heads = await textOf(page, '.card h3');
        const groups = await textOf(page, '.group > h2');
        const want = { histograms: T.hist, distributions: T.hist, images: T.image, audio: T.audio, pr_curves: T.pr }[tab];
        // PR curves: one card per tag, the run names beside their step sliders
        const runsText = tab === 'pr_curves' ? await textOf(page, '.pr-card .pr-run-name') : heads;
        const tagShown = tab === 'pr_curves' ? heads.includes(want) : heads.some((h) => h.includes(RUNS[0]) && h.includes(want)) && groups.includes(want);
        rep.check(tagShown && runsText.some((h) => h.includes(RUNS[0])), `${tab}: run and tag appear as text`, JSON.stringify({ heads, groups, runsText }));
      } else if (tab === 'text') {
        const md = await page.$$eval('.text-card', (cs) => cs.map((c) => ({
          head: c.querySelector('h3').textContent, html: c.querySelector('.md')?.innerHTML || '', text: c.querySelector('.md')?.textContent || '',
          cells: [...c.querySelectorAll('.md td, .md th')].map((x) => x.textContent.trim()),
          active: [...c.querySelectorAll('.md script, .md svg, .md iframe, .md details, .md style, .md math, .md object, .md embed')].map((x) => x.tagName) })));
        const m = md.find((x) => x.head.includes(T.md)), tb = md.find((x) => x.head.includes(T.table));
        rep.note('markdown text as rendered: ' + JSON.stringify(m && m.html).slice(0, 1200));
        rep.note('rank-2 text table as rendered: ' + JSON.stringify(tb && tb.html).slice(0, 600));
        rep.check(m && !m.active.length && m.text.includes('The end.'), 'Text: markdown with raw HTML is rendered to the end without active elements', JSON.stringify(m));
        const codeText = await textOf(page, '.text-card .md code');
        rep.check(codeText.includes(P.img), 'Text: a payload in a code span appears as text', JSON.stringify(codeText));
        rep.check(tb && [P.script, P.img, P.svg, P.quote].every((x) => tb.cells.includes(x)), 'Text: each cell of a rank-2 string tensor shows its string as text',
          () => `cells ${JSON.stringify(tb && tb.cells)}; want ${JSON.stringify([P.script, P.img, P.svg, P.quote])}`);
        const missing = [P.script, P.img, P.svg].filter((x) => !(m && m.text.includes(x)));
        rep.check(!missing.length, 'Text: raw HTML in a markdown text summary appears as text (as TensorBoard shows it), not dropped',
          () => `missing from the rendered text: ${JSON.stringify(missing)}; rendered: ${JSON.stringify(m && m.html).slice(0, 300)}`);
      } else if (tab === 'hparams') {
        const cells = await textOf(page, '.hparams-table td, .hparams-table th');
        rep.check([P.img, P.svg, P.script, P.mdjs].every((s) => cells.includes(s)), 'HParams: hparam names and values appear as text', JSON.stringify(cells));
        // the filter panel, the parallel coordinates (axis titles, tick labels, the hover readout)
        // and the scatter matrix's headings draw the same strings as text
        const panel = await textOf(page, '.hp-panel label');
        rep.check([P.img, P.svg, P.mdjs].every((s) => panel.some((x) => x.includes(s))), 'HParams: names and values appear as text in the filter panel', JSON.stringify(panel));
        await page.click('.hp-views button[data-view="parallel"]');
        await page.waitForSelector('svg.hp-parcoords .hp-axis');
        const axes = await page.$$eval('svg.hp-parcoords .hp-axis-title title', (t) => t.map((x) => x.textContent));
        rep.check([P.img, P.svg].every((s) => axes.includes(s)), 'HParams: hparam names appear as text as axis titles', JSON.stringify(axes));
        const box = await page.$eval('svg.hp-parcoords', (e) => { const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
        for (let k = 1; k < 12; k++) await page.mouse.move(box.x + box.w * k / 12, box.y + box.h / 2);
        await inert(page, 'HParams: the parallel coordinates view and its hover readout');
        await page.click('.hp-views button[data-view="scatter"]');
        const heads = await textOf(page, '.hp-colhead, .hp-rowhead');
        if (await page.$('.hp-scell')) rep.check([P.img, P.svg].every((s) => heads.includes(s)), 'HParams: hparam names appear as text as scatter matrix headings', JSON.stringify(heads));
        else rep.check(!!(await page.$('.hp-plot .empty-state')), 'HParams: without metric values the scatter matrix says so');
        await inert(page, 'HParams: the scatter plot matrix view');
      } else if (tab === 'custom_scalars') {
        const t = await textOf(page, '.group h2, .custom-card h3');
        rep.check([P.img, P.script, P.svg].every((s) => t.includes(s)), 'Custom Scalars: layout titles appear as text', JSON.stringify(t));
      } else if (tab === 'other') {
        const t = await textOf(page, '.list-card');
        rep.check(t.some((x) => x.includes(P.img) && x.includes(T.other)), 'Other: plugin and tag names appear as text', JSON.stringify(t));
      } else if (tab === 'graphs') {
        await page.waitForSelector('select.graph-run option', { state: 'attached', timeout: 10000 });
        const t = await textOf(page, 'select.graph-run option');
        rep.check(t.some((x) => x.includes(RUNS[0])), 'Graphs: the run name appears as text', JSON.stringify(t));
      }
    });
  }

  // filters typed by the user
  await rep.step('filters', async () => {
    await page.click('#nav button[data-tab="scalars"]');
    await page.fill('#run-filter', P.img);
    await page.press('#run-filter', 'Enter');
    await page.fill('#tag-filter', P.svg);
    await page.press('#tag-filter', 'Enter');
    await page.waitForTimeout(300);
    await loadAllCards(page);
    await inert(page, 'payloads typed into the run and tag filters');
  });

  // payloads in the URL's query
  await rep.step('query', async () => {
    const p2 = await browser.newPage();
    watch(p2, 'query');
    const q = new URLSearchParams({ tab: P.img, runs: P.svg, tags: P.script, off: RUNS.join(','), x: P.quote, hist: P.img, smoothing: P.js });
    await p2.goto(base + '?' + q.toString());
    await p2.waitForSelector('#nav button');
    await p2.waitForTimeout(500);
    await loadAllCards(p2);
    await inert(p2, 'payloads in the query string');
    const rf = await p2.$eval('#run-filter', (el) => el.value).catch(() => null);
    rep.check(rf === P.svg, 'the run filter shows the query payload as its value', JSON.stringify(rf));
    for (const tab of ['histograms', 'scalars']) {
      await p2.goto(base + '?' + new URLSearchParams({ tab, hist: P.img, x: P.quote, runs: '(' }).toString());
      await p2.waitForSelector('#nav button');
      await p2.waitForTimeout(300);
      await loadAllCards(p2);
      await inert(p2, `${tab} with payloads in hist/x and an invalid run regex`);
    }
    await p2.close();
  });

  // the signed-in home page and the public user page list the experiment by name
  await rep.step('lists', async () => {
    const p3 = await browser.newPage();
    watch(p3, 'home');
    await p3.goto(server.url + '/');
    await p3.waitForSelector('#signin');
    await p3.fill('#signin input[name=user]', 'alice');
    await p3.fill('#signin input[name=password]', 'correct horse battery');
    await p3.click('#signin button[type=submit]');
    await p3.waitForSelector('.list .item a', { timeout: 10000 });
    const names = await textOf(p3, '.list .item a');
    rep.check(names.includes(NAME), 'home page: the name appears as text in the list', JSON.stringify(names));
    await inert(p3, 'home page (signed in)');
    await p3.screenshot({ path: path.join(shots, 'home.png') });
    await p3.goto(server.url + '/user/alice');
    await p3.waitForSelector('.list .item a, .empty-state', { timeout: 10000 });
    const pub = await textOf(p3, '.list .item a');
    rep.check(pub.includes(NAME), 'user page: the name appears as text in the list', JSON.stringify(pub));
    await inert(p3, 'user page');
    // a payload as the user name in the path: the viewer says "No such user.", or the server
    // refuses the path itself with a non-HTML 404
    const before = consoleErrors.length;
    const resp = await p3.goto(server.url + '/user/' + encodeURIComponent(P.img));
    await p3.waitForTimeout(800);
    const ctype = resp.headers()['content-type'] || '';
    consoleErrors.splice(before); // the 404 is expected there
    if (/text\/html/.test(ctype)) {
      await inert(p3, 'user page for a payload user name');
      const msg = await p3.$eval('#main', (m) => m.textContent);
      rep.check(/No such user/.test(msg), 'user page for a payload user name says "No such user."', msg);
    } else {
      const r = await p3.evaluate(() => ({ xss: window.__xss, els: [...document.querySelectorAll('body *')].map((e) => e.tagName), text: document.body.textContent.slice(0, 200) }));
      rep.check(resp.status() === 404 && r.xss === undefined && r.els.every((t) => t === 'PRE' || t === 'DIV'), `user page for a payload user name: a non-HTML ${resp.status()} (${ctype}) shown as text`, JSON.stringify(r));
    }
    // the device page with a payload code in the link: never pre-filled (one click on an
    // attacker's link must not approve their login)
    await p3.goto(server.url + '/device?code=' + encodeURIComponent(P.quote));
    await p3.waitForSelector('#device', { timeout: 10000 });
    const code = await p3.$eval('#device input[name=user_code]', (el) => el.value);
    rep.check(code === '', 'device page: a code in the link is not put into the form', JSON.stringify(code));
    await inert(p3, 'device page with a payload code in the link');
    // a device login whose client says it is a payload: shown as text on the approval page
    const dc = await L.request(server.url + '/api/v1/device/code', {
      method: 'POST', ca: server.cacert, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_version: P.script, client_host: P.img }),
    });
    const userCode = JSON.parse(dc.body.toString()).user_code;
    await p3.fill('#device input[name=user_code]', userCode.toLowerCase());
    await p3.click('#device button[type=submit]');
    await p3.waitForSelector('.device-asker', { timeout: 10000 });
    const shown = await p3.$eval('.device-asker', (el) => ({ version: el.querySelector('.device-version').textContent, host: el.querySelector('.device-host').textContent, ip: el.querySelector('.device-ip').textContent }));
    rep.check(shown.version === P.script && shown.host === P.img && shown.ip.startsWith('127.0.0.1'),
      'device page: the asking client\'s address, version and host name are shown, as text', JSON.stringify(shown));
    await inert(p3, 'device approval page with a payload client');
    await p3.click('#device-approve');
    await p3.waitForFunction(() => /Approved/.test(document.querySelector('#device [role=status]').textContent), null, { timeout: 10000 });
    rep.ok('device page: approving after seeing who asked');
    await p3.close();
  });

  rep.check(!dialogs.length, 'no dialog opened on any page', () => dialogs.join(' | '));
  const errs = consoleErrors.filter((x) => !/favicon\.ico/.test(x));
  rep.check(!errs.length, 'no console errors', () => errs.slice(0, 10).join(' | '));
}

const watchdog = setTimeout(() => { console.log('not ok - the test finished within 540 s'); L.runCleanup().then(() => process.exit(1)); }, 540000);
main().then(() => { clearTimeout(watchdog); return L.finish(rep); }).catch(async (e) => {
  rep.notOk('xss test', 'threw ' + (e && e.stack ? e.stack : e));
  clearTimeout(watchdog);
  await L.finish(rep);
});
