// SPDX-License-Identifier: MIT
// Browser test of the Mesh tab (service/web/dash_mesh.js, mesh_data.js, mesh_view.js) in
// headless Chromium with WebGL through SwiftShader, served by the real `tbdev serve`: the real
// tetrahedrons of PyTorch's and tensorboardX's add_mesh, and synthetic meshes written with
// lib.js's event writer. Checks: the Mesh tab is listed after HParams/PR Curves in
// TensorBoard's order and the GET .../meshes index groups the three tags of each mesh; each
// real mesh is drawn with WebGL (pixels that are not background, in the vertex colours); the
// picture changes when the step slider moves (other vertices per step), when the camera is
// dragged, and comes back with Reset camera; the sample slider shows a batch's other sample; a mesh without faces is drawn as points; a
// hostile mesh (faces naming vertices that do not exist, a huge declared shape, classes named
// in json_config) is drawn with a message and breaks nothing; the CSP's hash matches
// index.html's import map, and no CSP violation or page error happens.
//
// Usage: node mesh.test.js TBDEV TBDEV_SERVER
// Prints "ok - ..." / "not ok - ...", exits 0, 1, or 77 (skip). Screenshots go to
// $TBDEV_ARTIFACTS/mesh (default /tmp/tbdev-artifacts/mesh).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib.js');

const rep = new L.Reporter('browser_mesh');
const args = L.parseArgs(process.argv);

const PT = ['pytorch-1.13', 'media'];
const TX = ['tensorboardx-2.6.2.2', 'media'];

// MeshPluginData (tensorboard/plugins/mesh/plugin_data.proto).
function meshContent({ name, type, config, shape, components }) {
  const parts = [L.fBytes(2, name), L.fVarint(3, type)];
  if (config !== undefined) parts.push(L.fBytes(5, config));
  if (shape) parts.push(L.fBytes(6, Buffer.concat(shape.map((d) => L.varint(d)))));
  if (components !== undefined) parts.push(L.fVarint(7, components));
  return Buffer.concat(parts);
}

// One event with a mesh's parts at `step`: parts is [[suffix, type, dims, values, shape?], ...].
function meshEvent(name, step, parts, config) {
  const comps = parts.reduce((m, p) => m | (1 << p[1]), 0);
  return L.eventPb(L.WALL0 + step, step, { values: parts.map(([suffix, type, dims, values, shape]) => L.valuePb(name + suffix, {
    metadata: L.metadataPb({ plugin: 'mesh', dataClass: L.DC_TENSOR, content: meshContent({ name, type, config, shape: shape || dims, components: comps }) }),
    tensor: L.tensorPb(L.DT_FLOAT, dims, { floatVal: values }),
  })) });
}

const BIG_N = 400000;
const MANY = 40;
const XSS_NAME = 'hostile/<img src=x onerror="window.__xss=1">';
const TETRA_F = [0, 2, 3, 0, 3, 1, 0, 1, 2, 1, 3, 2];
function tetra(scale, dx) {
  return [[1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1]].flatMap(([x, y, z]) => [x * scale + dx, y * scale, z * scale]);
}

function writeSynthetic(dir) {
  const evs = [];
  const colors = [255, 0, 0, 0, 160, 0, 0, 0, 255, 200, 200, 0];
  // three steps, the tetrahedron turned a different way at each (so the picture differs)
  const turns = [[1, 0], [0.6, 0.8], [0, 1]];
  turns.forEach(([c, s], step) => {
    const v = tetra(1, 0);
    for (let i = 0; i < 4; i++) { const x = v[3 * i], y = v[3 * i + 1]; v[3 * i] = c * x - s * y; v[3 * i + 1] = s * x + c * y; }
    evs.push(meshEvent('synth/steps', step * 10, [['_VERTEX', 1, [1, 4, 3], v], ['_FACE', 2, [1, 4, 3], TETRA_F], ['_COLOR', 3, [1, 4, 3], colors]], '{}'));
  });
  // a batch of two samples: the second is the first moved and shrunk
  evs.push(meshEvent('synth/batch', 0, [['_VERTEX', 1, [2, 4, 3], tetra(1, 0).concat(tetra(0.5, 0.8))], ['_FACE', 2, [2, 4, 3], TETRA_F.concat(TETRA_F)],
    ['_COLOR', 3, [2, 4, 3], colors.concat(colors)]], '{}'));
  // a point cloud: a sphere of 2000 points, no faces, with TensorBoard-style settings
  const pts = [];
  for (let i = 0; i < 2000; i++) {
    const t = Math.acos(1 - 2 * (i + 0.5) / 2000), p = Math.PI * (1 + Math.sqrt(5)) * i;
    pts.push(Math.sin(t) * Math.cos(p), Math.sin(t) * Math.sin(p), Math.cos(t));
  }
  evs.push(meshEvent('synth/cloud', 0, [['_VERTEX', 1, [1, 2000, 3], pts]], JSON.stringify({ camera: { fov: 50 }, material: { cls: 'PointsMaterial', size: 0.06 } })));
  L.writeEventFile(path.join(dir, 'synth'), evs);
  // many meshes: more cards near the view than a browser keeps WebGL contexts (16 in Chromium)
  // (one mesh name in many runs: one group of cards, two columns)
  for (let i = 0; i < MANY; i++) {
    L.writeEventFile(path.join(dir, 'many', 'r' + String(i).padStart(2, '0')), [
      meshEvent('many/tetra', 0, [['_VERTEX', 1, [1, 4, 3], tetra(1, 0)], ['_FACE', 2, [1, 4, 3], TETRA_F], ['_COLOR', 3, [1, 4, 3], colors]])]);
  }
  // a big point cloud: 400,000 vertices (4.8 MB of float32)
  const big = new Array(3 * BIG_N);
  for (let i = 0; i < BIG_N; i++) {
    const t = i / BIG_N;
    big[3 * i] = Math.cos(40 * Math.PI * t) * (1 - t); big[3 * i + 1] = Math.sin(40 * Math.PI * t) * (1 - t); big[3 * i + 2] = 2 * t - 1;
  }
  L.writeEventFile(path.join(dir, 'big'), [meshEvent('big/spiral', 0, [['_VERTEX', 1, [1, BIG_N, 3], big]])]);

  // hostile: faces past the vertices (99, -1, 2.5) beside one good face, a declared shape of
  // two billion vertices, colours for fewer vertices than there are, classes named in the config
  const hostile = [];
  const cfg = JSON.stringify({ camera: { cls: 'WebGLRenderer', fov: 'wide' }, material: { cls: 'ShaderMaterial', fragmentShader: 'x' }, lights: [{ cls: 'Scene' }, { cls: 'AmbientLight', intensity: 1 }] });
  hostile.push(meshEvent('hostile/faces', 0, [
    ['_VERTEX', 1, [1, 4, 3], tetra(1, 0), [1, 2000000000, 3]],
    ['_FACE', 2, [1, 4, 3], [0, 2, 3, 0, 99, 1, 0, -1, 2, 1, 2.5, 2], [1, 2000000000, 3]],
    ['_COLOR', 3, [1, 2, 3], [255, 0, 0, 0, 255, 0]],
  ], cfg));
  // a name that is markup: shown as text
  hostile.push(meshEvent(XSS_NAME, 0, [['_VERTEX', 1, [1, 4, 3], tetra(1, 0)]]));
  // a json_config that is not JSON
  hostile.push(meshEvent('hostile/config', 0, [['_VERTEX', 1, [1, 4, 3], tetra(1, 0)], ['_FACE', 2, [1, 4, 3], TETRA_F]], '{"camera": '));
  L.writeEventFile(path.join(dir, 'hostile'), hostile);
}

// In the page: the picture of the card's canvas, as counts of pixels that are not background
// (white) and that are coloured (not grey), and a hash of the pixels (the renderer keeps its
// drawing buffer, so what was drawn last can be read).
async function picture(page, sel) {
  return page.evaluate(async (s) => {
    const c = document.querySelector(s + ' canvas.mesh-canvas');
    if (!c) return null;
    const cv = document.createElement('canvas'); // a WebGL canvas drawn onto a 2D one to read it
    cv.width = c.width; cv.height = c.height;
    const g = cv.getContext('2d');
    g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, cv.width, cv.height).data;
    let ink = 0, colored = 0, h = 2166136261;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], gg = d[i + 1], b = d[i + 2];
      if (r < 240 || gg < 240 || b < 240) ink++;
      if (Math.max(r, gg, b) - Math.min(r, gg, b) > 40) colored++;
      h = Math.imul(h ^ (r * 65536 + gg * 256 + b), 16777619);
    }
    return { ink, colored, total: d.length / 4, hash: h >>> 0 };
  }, sel);
}

const cardSel = (run, name) => `.mesh-card[data-run="${run}"][data-tag="${name}"]`;

async function main() {
  const real = L.realDataDir();
  if (!real || ![PT, TX].every((p) => fs.existsSync(path.join(real, ...p)))) {
    console.log('# skip: real test data not found (set TBDEV_REAL_DATA)');
    process.exit(L.SKIP);
  }
  if (!L.playwright() || !fs.existsSync(process.env.TBDEV_CHROMIUM || '/usr/bin/chromium')) {
    console.log('# skip: playwright-core or /usr/bin/chromium missing');
    process.exit(L.SKIP);
  }
  const shots = L.artifactsDir('mesh');
  const logdir = L.tmpdir('tbdev-mesh-logs-');
  L.cleanup.push(() => fs.rmSync(logdir, { recursive: true, force: true }));
  execFileSync('cp', ['-r', path.join(real, ...PT), path.join(logdir, 'pytorch')]);
  execFileSync('cp', ['-r', path.join(real, ...TX), path.join(logdir, 'tensorboardx')]);
  writeSynthetic(logdir);
  const serve = await new L.LocalServe(args.tbdev, args.server, logdir).start();
  await serve.waitLocal((s) => s.state === 'watching', 120000);
  const exp = (await serve.local()).experiment_id;

  // the index: three tags per mesh, grouped by MeshPluginData.name
  const idx = JSON.parse((await L.request(`${serve.url}/api/v1/experiments/${exp}/meshes`)).body);
  const ptm = (idx.meshes || []).find((m) => m.run === 'pytorch');
  rep.check(ptm && ptm.name === 'mesh/tetrahedron' && ptm.parts.vertex.tag === 'mesh/tetrahedron_VERTEX' &&
    ptm.parts.face.tag === 'mesh/tetrahedron_FACE' && ptm.parts.color.tag === 'mesh/tetrahedron_COLOR',
    'meshes index: PyTorch\'s tetrahedron with its _VERTEX, _FACE and _COLOR tags', JSON.stringify(ptm));
  const txm = (idx.meshes || []).find((m) => m.run === 'tensorboardx');
  rep.check(txm && txm.parts.vertex.tag === 'mesh/tetra_1' && txm.parts.face.tag === 'mesh/tetra_2' && txm.parts.color.tag === 'mesh/tetra_3' && txm.config === null && !txm.config_error,
    'meshes index: tensorboardX\'s tetrahedron with its _1, _2 and _3 tags (json_config "null": no settings)', JSON.stringify(txm));
  const st = (idx.meshes || []).find((m) => m.name === 'synth/steps');
  rep.check(st && JSON.stringify(st.steps) === '[0,10,20]', 'meshes index: the steps of a mesh', JSON.stringify(st && st.steps));
  const hc = (idx.meshes || []).find((m) => m.name === 'hostile/config');
  rep.check(hc && hc.config === null && /not a JSON object/.test(hc.config_error || ''), 'meshes index: a json_config that is not JSON is null with a reason', JSON.stringify(hc));
  const one = JSON.parse((await L.request(`${serve.url}/api/v1/experiments/${exp}/tensors?tag=synth/steps_VERTEX&run=synth&step=10`)).body);
  const rows = one.series[0].points;
  rep.check(rows.length === 1 && rows[0].step === 10 && rows[0].values.length === 12, 'tensors?step=: only the row at that step', JSON.stringify(rows).slice(0, 200));
  const badStep = await L.request(`${serve.url}/api/v1/experiments/${exp}/tensors?tag=synth/steps_VERTEX&step=1x`);
  rep.check(badStep.status === 400, 'tensors?step=: not an integer is a 400', String(badStep.status));

  // mesh_data: one part at one step as float32
  const md = (q) => L.request(`${serve.url}/api/v1/experiments/${exp}/mesh_data?` + q);
  const r10 = await md('run=synth&tag=synth/steps_VERTEX&step=10');
  const f10 = new Float32Array(r10.body.buffer.slice(r10.body.byteOffset, r10.body.byteOffset + r10.body.length));
  const want10 = JSON.parse((await L.request(`${serve.url}/api/v1/experiments/${exp}/tensors?tag=synth/steps_VERTEX&run=synth&step=10`)).body).series[0].points[0].values;
  rep.check(r10.status === 200 && r10.headers['content-type'] === 'application/octet-stream' && r10.headers['x-values-total'] === '12' &&
    r10.headers['x-shape'] === '[1,4,3]' && f10.length === 12 && [...f10].every((v, i) => Math.abs(v - want10[i]) < 1e-6),
    'mesh_data: the row at the step as float32, its count and shape in headers', `${r10.status} ${JSON.stringify(r10.headers)} ${[...f10]}`);
  const rmax = await md('run=synth&tag=synth/steps_VERTEX&step=10&max=5');
  rep.check(rmax.status === 200 && rmax.body.length === 20 && rmax.headers['x-values-total'] === '12', 'mesh_data: max=N answers the first N values', `${rmax.status} ${rmax.body.length}`);
  const rnone = await md('run=synth&tag=synth/steps_VERTEX&step=5');
  const rnorun = await md('run=nope&tag=synth/steps_VERTEX&step=10');
  const rbad = await md('run=synth&tag=synth/steps_VERTEX&step=ten');
  const tags = JSON.parse((await L.request(`${serve.url}/api/v1/experiments/${exp}/tags`)).body).tags;
  const pr = tags.find((t) => t.run === 'pytorch' && t.plugin === 'pr_curves'); // a tensor, not a mesh
  const rplugin = await md(`run=pytorch&tag=${encodeURIComponent(pr.tag)}&step=${pr.min_step}`);
  rep.check(rnone.status === 404 && rnorun.status === 404 && rbad.status === 400 && rplugin.status === 404,
    'mesh_data: 404 for a step, run or non-mesh tag without data, 400 for a step that is not a number', [rnone.status, rnorun.status, rbad.status, rplugin.status].join(','));

  // the CSP allows exactly index.html's import map
  const pageRes = await L.request(`${serve.url}/experiment/${exp}/`);
  const im = /<script type="importmap">([^<]*)<\/script>/.exec(pageRes.body.toString());
  const csp = pageRes.headers['content-security-policy'] || '';
  const hash = im && crypto.createHash('sha256').update(im[1]).digest('base64');
  rep.check(im && csp.includes(`'sha256-${hash}'`), 'the CSP names the hash of index.html\'s import map', `${hash} vs ${csp}`);

  const browser = await L.launchBrowser({ webgl: true });
  await browser.addInitScript(L.INIT_SCRIPT);
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto(`${serve.url}/experiment/${exp}/`);
  await page.waitForSelector('#nav button[role=tab]', { timeout: 30000 });
  const tabs = await page.$$eval('#nav button[role=tab]', (bs) => bs.map((b) => b.dataset.tab));
  const im2 = tabs.indexOf('mesh');
  rep.check(im2 >= 0 && im2 > tabs.indexOf('pr_curves') && (tabs.indexOf('other') < 0 || im2 < tabs.indexOf('other')),
    'a Mesh tab, after PR Curves and before Other (TensorBoard\'s order)', tabs.join(','));
  await page.click('#nav button[data-tab=mesh]');

  for (const [run, name] of [['pytorch', 'mesh/tetrahedron'], ['tensorboardx', 'mesh/tetra']]) {
    const sel = cardSel(run, name);
    try {
      await L.cardReady(page, sel, 30000);
      const dbg = await L.cardDebug(page, sel);
      const pic = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, `${run}-tetrahedron.png`) });
      rep.check(dbg && dbg.mode === 'mesh' && dbg.vertices === 4 && dbg.faces === 4, `${run}: the tetrahedron is drawn as a mesh of 4 vertices and 4 faces`, JSON.stringify(dbg));
      rep.check(pic && pic.ink > 0.02 * pic.total, `${run}: the WebGL canvas has pixels that are not background`, JSON.stringify(pic));
      rep.check(pic && pic.colored > 0.01 * pic.total, `${run}: drawn in its vertex colours`, JSON.stringify(pic));
    } catch (e) {
      rep.notOk(`${run}: the tetrahedron is drawn`, e.message);
    }
  }

  // orbit: a drag turns the camera; Reset camera brings the first picture back
  {
    const sel = cardSel('pytorch', 'mesh/tetrahedron');
    try {
      await page.locator(sel + ' canvas.mesh-canvas').scrollIntoViewIfNeeded();
      const before = await picture(page, sel);
      const box = await page.locator(sel + ' canvas.mesh-canvas').boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width / 2 + 15 * i, box.y + box.height / 2 + 5 * i);
      await page.mouse.up();
      await L.sleep(100);
      const after = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, 'pytorch-tetrahedron-turned.png') });
      rep.check(before && after && after.hash !== before.hash && after.ink > 0, 'orbit: dragging turns the mesh (the picture changes)', `${before && before.hash} -> ${after && after.hash}`);
      await page.click(sel + ' button.reset-camera');
      await L.sleep(100);
      const reset = await picture(page, sel);
      rep.check(reset && reset.hash === before.hash, 'Reset camera: the first picture again', `${before.hash} vs ${reset && reset.hash}`);
    } catch (e) {
      rep.notOk('orbit and reset', e.message);
    }
  }

  // the step slider
  {
    const sel = cardSel('synth', 'synth/steps');
    try {
      await L.cardReady(page, sel, 30000);
      const d0 = await L.cardDebug(page, sel);
      const p0 = await picture(page, sel);
      rep.check(d0 && d0.step === 20 && d0.steps === 3, 'step slider: opens at the latest step', JSON.stringify(d0));
      await page.$eval(sel + ' input.step-slider', (el) => { el.value = '0'; el.dispatchEvent(new Event('input', { bubbles: true })); });
      await page.waitForFunction((s) => { const el = document.querySelector(s); const c = window.tbdevViewer.cardFor(el); return el.dataset.state === 'drawn' && c.debug().step === 0; }, sel, { timeout: 15000 });
      const p1 = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, 'synth-step0.png') });
      rep.check(p0 && p1 && p1.hash !== p0.hash && p1.ink > 0.01 * p1.total, 'step slider: another step draws other vertices (the picture changes)', `${p0 && p0.hash} -> ${p1 && p1.hash}`);
      const label = await page.$eval(sel + ' .step-label', (e) => e.textContent);
      rep.check(label === 'step 0', 'step slider: says which step', label);
    } catch (e) {
      rep.notOk('step slider', e.message);
    }
  }

  // the sample slider of a batch
  {
    const sel = cardSel('synth', 'synth/batch');
    try {
      await L.cardReady(page, sel, 30000);
      const d0 = await L.cardDebug(page, sel);
      const p0 = await picture(page, sel);
      await page.$eval(sel + ' input.sample-slider', (el) => { el.value = '1'; el.dispatchEvent(new Event('input', { bubbles: true })); });
      const d1 = await L.cardDebug(page, sel);
      const p1 = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, 'synth-batch-sample2.png') });
      rep.check(d0 && d0.samples === 2 && d0.sample === 0 && d1.sample === 1 && d1.vertices === 4 && d1.faces === 4 && p1.hash !== p0.hash,
        'sample slider: a batch of two, the second sample drawn in its place', JSON.stringify([d0, d1, p0 && p0.hash, p1 && p1.hash]));
    } catch (e) {
      rep.notOk('sample slider', e.message);
    }
  }

  // a point cloud
  {
    const sel = cardSel('synth', 'synth/cloud');
    try {
      await L.cardReady(page, sel, 30000);
      const d = await L.cardDebug(page, sel);
      const p = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, 'synth-cloud.png') });
      rep.check(d && d.mode === 'points' && d.vertices === 2000 && d.faces === 0, 'point cloud: a mesh without faces is drawn as points', JSON.stringify(d));
      rep.check(p && p.ink > 0.005 * p.total, 'point cloud: the points are drawn', JSON.stringify(p));
    } catch (e) {
      rep.notOk('point cloud', e.message);
    }
  }

  // hostile meshes: drawn with a message, nothing else breaks
  {
    const sel = cardSel('hostile', 'hostile/faces');
    try {
      await L.cardReady(page, sel, 30000);
      const d = await L.cardDebug(page, sel);
      const notes = await page.$eval(sel + ' .mesh-notes', (e) => e.textContent);
      const p = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, 'hostile-faces.png') });
      rep.check(d && d.mode === 'mesh' && d.faces === 1 && d.vertices === 4, 'hostile: the one good face is drawn, the others skipped', JSON.stringify(d));
      rep.check(/3 of 4 faces skipped/.test(notes) && /do not exist/.test(notes), 'hostile: the card says faces were skipped and why', notes);
      rep.check(/2 colours for 4 vertices/.test(notes), 'hostile: too few colours are ignored with a message', notes);
      rep.check(p && p.ink > 0, 'hostile: still drawn', JSON.stringify(p));
    } catch (e) {
      rep.notOk('hostile faces', e.message);
    }
    const sel2 = cardSel('hostile', 'hostile/config');
    try {
      await L.cardReady(page, sel2, 30000);
      const d = await L.cardDebug(page, sel2);
      rep.check(d && d.mode === 'mesh' && d.faces === 4 && d.notes.some((n) => /not a JSON object/.test(n)), 'hostile: a broken json_config draws with defaults and says so', JSON.stringify(d));
    } catch (e) {
      rep.notOk('hostile config', e.message);
    }
  }
  {
    const sel = `.mesh-card[data-run="hostile"][data-tag='${XSS_NAME}']`;
    try {
      await L.cardReady(page, sel, 30000);
      const r = await page.$eval(sel, (e) => ({ title: e.querySelector('h3').textContent, imgs: e.querySelectorAll('img').length, xss: window.__xss }));
      rep.check(r.title.includes(XSS_NAME) && r.imgs === 0 && r.xss === undefined, 'hostile: a mesh name that is markup is shown as text', JSON.stringify(r));
    } catch (e) {
      rep.notOk('hostile name', e.message);
    }
  }

  // a big mesh arrives whole
  {
    const sel = cardSel('big', 'big/spiral');
    try {
      await L.cardReady(page, sel, 120000);
      const d = await L.cardDebug(page, sel);
      const ms = d && d.loadMs;
      const p = await picture(page, sel);
      await page.locator(sel).screenshot({ path: path.join(shots, 'big-spiral.png') });
      console.log(`# ${BIG_N} vertices drawn in ${ms} ms (fetch, decode, draw)`);
      rep.check(d && d.vertices === BIG_N && d.mode === 'points' && d.notes.length === 0, `big: all ${BIG_N} vertices`, JSON.stringify(d));
      rep.check(p && p.ink > 0.01 * p.total, 'big: the point cloud is drawn', JSON.stringify(p));
    } catch (e) {
      rep.notOk('big mesh', e.message);
    }
  }

  // many cards: each drawn when scrolled to, and still drawn when scrolled back to (no view
  // left blank by a lost WebGL context)
  {
    try {
      const r = await page.evaluate(async (n) => {
        const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
        const cards = [...document.querySelectorAll('.mesh-card[data-tag="many/tetra"]')];
        const ink = (card) => {
          const c = card.querySelector('canvas.mesh-canvas');
          if (!c) return -1;
          const cv = document.createElement('canvas');
          cv.width = c.width; cv.height = c.height;
          const g = cv.getContext('2d');
          g.drawImage(c, 0, 0);
          const d = g.getImageData(0, 0, cv.width, cv.height).data;
          let k = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) k++;
          return k;
        };
        const blank = [];
        const visit = async (card) => {
          card.scrollIntoView({ block: 'center' });
          const t0 = performance.now();
          while (!(card.dataset.state === 'drawn' && ink(card) > 0) && performance.now() - t0 < 10000) await sleep(25);
          if (!(ink(card) > 0)) blank.push(card.dataset.run + ' ' + card.dataset.state);
        };
        for (const c of cards) await visit(c);
        for (const c of cards.slice().reverse()) await visit(c);
        const gl = document.querySelectorAll('canvas.mesh-canvas').length;
        return { n: cards.length, blank, live: gl };
      }, MANY);
      rep.check(r.n === MANY && !r.blank.length, `many cards: all ${MANY} drawn when scrolled to, down and back up`, JSON.stringify(r));
      rep.check(r.live <= 12, 'many cards: at most 12 live WebGL views at once (Chromium keeps 16 contexts)', JSON.stringify(r));
    } catch (e) {
      rep.notOk('many cards', e.message);
    }
  }

  // the caps, in the page's own module: more vertices than MAX_VERTICES are cut with a notice,
  // and a face naming a vertex past the cut is skipped
  {
    const r = await page.evaluate(async () => {
      const m = await import('/static/mesh_data.js');
      const n = m.MAX_VERTICES + 10;
      const vertex = { values: new Float32Array(3 * n), shape: `[1,${n},3]`, cut: false };
      const face = { values: [0, 1, 2, 0, 1, m.MAX_VERTICES + 5], shape: '[1,2,3]', cut: false };
      const out = m.buildMesh(vertex, face, null, 0);
      // stored shapes that claim far more than the values hold
      const v12 = { values: new Float32Array(12).fill(1), cut: false };
      const huge = m.buildMesh(Object.assign({ shape: '[1,1000000000,3]' }, v12), null, null, 0);
      const batch = Object.assign({ shape: '[1000000000,4,3]' }, v12);
      const far = m.buildMesh(batch, null, null, 999999);
      return { max: m.MAX_VERTICES, vertices: out.vertices, faces: out.faces, notes: out.notes,
        huge: [huge.vertices, huge.notes], samples: m.sampleCount(batch), far: far.vertices };
    });
    rep.check(r.huge[0] === 4 && r.huge[1].some((n) => /declares more vertices than are stored: 4 drawn/.test(n)) && r.samples === 1 && r.far === 4,
      'caps: a shape declaring a billion vertices or samples draws the 4 stored, with a notice', JSON.stringify(r));
    rep.check(r.vertices === r.max && r.faces === 1 && r.notes.some((n) => /only the first 5,000,000 vertices/.test(n)) && r.notes.some((n) => /1 of 2 faces skipped/.test(n)),
      'caps: 5,000,000 vertices drawn at most, with a notice; faces past them skipped', JSON.stringify(r));
  }
  await page.screenshot({ path: path.join(shots, 'mesh-tab.png'), fullPage: true });

  const t = await page.evaluate(() => window.__tbdevTest);
  rep.check(t && t.csp.length === 0, 'no CSP violations', JSON.stringify(t && t.csp));
  const errs = errors.concat((t && t.errors) || []).filter((e) => !/favicon/.test(e));
  rep.check(errs.length === 0, 'no page errors', errs.slice(0, 5).join(' | '));
}

main().catch((e) => rep.notOk('mesh test', e.stack)).then(() => L.finish(rep));
