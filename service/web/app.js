// SPDX-License-Identifier: MIT
// tbdev viewer: experiment dashboards like TensorBoard's, sign-in, lists, device approval.
// Everything is built with DOM calls and textContent; the only HTML inserted is what the
// server rendered from markdown with cmark-gfm in safe mode. No inline scripts or styles.
'use strict';

(function () {
  // ---------- small helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  async function api(path, opts) {
    const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
    o.headers = Object.assign({ Accept: 'application/json' }, o.headers);
    const res = await fetch(path, o);
    if (res.status === 204) return null;
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const err = new Error((body && body.error && body.error.message) || ('HTTP ' + res.status));
      err.status = res.status;
      throw err;
    }
    return body;
  }

  const num = (v) => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v);
  const fmtTime = (t) => new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const enc = encodeURIComponent;

  function fmtNum(v) {
    if (v === null || v === undefined) return '–';
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(4).replace(/\.?0+e/, 'e');
    return Number(v.toPrecision(6)).toString();
  }

  // Width of a y axis that fits its longest label (uPlot's default is a fixed 50 px).
  function axisSize(u, values) {
    const longest = (values || []).reduce((m, v) => Math.max(m, String(v).length), 0);
    return Math.max(40, longest * 7 + 18);
  }

  function safeRegex(s) {
    if (!s) return null;
    try { return new RegExp(s, 'i'); } catch (e) { return undefined; }
  }

  // TensorBoard's categorical palette, so colours feel familiar; stable per run name order.
  const PALETTE = ['#ff7043', '#0077bb', '#cc3311', '#33bbee', '#ee3377', '#009988', '#7f7f7f',
    '#7b1fa2', '#f9a825', '#558b2f', '#5e35b1', '#c62828', '#00838f', '#6d4c41', '#ad1457',
    '#283593', '#2e7d32', '#ef6c00', '#4527a0', '#00695c'];

  // ---------- view state in the URL ----------
  const params = new URLSearchParams(location.search);
  const state = {
    tab: params.get('tab') || '',
    smoothing: params.has('smoothing') ? Math.min(0.999, Math.max(0, +params.get('smoothing'))) : 0.6,
    x: params.get('x') || 'step',
    log: params.get('log') === '1',
    outliers: params.get('outliers') === '1',
    runRe: params.get('runs') || '',
    tagRe: params.get('tags') || '',
    hidden: new Set((params.get('off') || '').split(',').filter(Boolean)),
    histMode: params.get('hist') || 'offset',
  };

  function saveState() {
    const p = new URLSearchParams();
    if (state.tab) p.set('tab', state.tab);
    if (state.smoothing !== 0.6) p.set('smoothing', String(state.smoothing));
    if (state.x !== 'step') p.set('x', state.x);
    if (state.log) p.set('log', '1');
    if (state.outliers) p.set('outliers', '1');
    if (state.runRe) p.set('runs', state.runRe);
    if (state.tagRe) p.set('tags', state.tagRe);
    if (state.hidden.size) p.set('off', [...state.hidden].join(','));
    if (state.histMode !== 'offset') p.set('hist', state.histMode);
    const q = p.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
  }

  // ---------- top bar ----------
  async function showWho() {
    const who = document.getElementById('who');
    let me = null;
    try { me = await api('/api/v1/me'); } catch (e) { me = null; }
    if (me && me.user) {
      who.replaceChildren('Signed in as ', h('a', { href: '/', text: me.user }));
      return me;
    }
    who.replaceChildren(h('a', { href: '/', text: 'Sign in' }));
    return null;
  }

  const main = document.getElementById('main');
  const nav = document.getElementById('nav');

  function fail(msg) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: msg }));
  }

  // ---------- smoothing (TensorBoard's debiased exponential moving average) ----------
  function smooth(ys, weight) {
    const out = new Array(ys.length);
    let last = 0, n = 0;
    for (let i = 0; i < ys.length; i++) {
      const v = ys[i];
      if (v === null || !Number.isFinite(v)) { out[i] = v; continue; }
      last = last * weight + (1 - weight) * v;
      n++;
      const debias = weight === 1 ? 1 : 1 - Math.pow(weight, n);
      out[i] = last / debias;
    }
    return out;
  }

  function quantile(sorted, q) {
    if (!sorted.length) return NaN;
    const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  // ---------- the experiment page ----------
  async function experimentPage(id) {
    let exp, tags;
    try {
      [exp, tags] = await Promise.all([api(`/api/v1/experiments/${enc(id)}`),
        api(`/api/v1/experiments/${enc(id)}/tags`)]);
    } catch (e) {
      fail(e.status === 404 ? 'No such experiment, or you may not see it. If it is private, sign in first.' : e.message);
      return;
    }
    document.title = (exp.name || 'Experiment') + ' – tbdev';
    const base = `/api/v1/experiments/${enc(id)}`;
    const ctx = { id, base, exp, tags: tags.tags, runs: [], colors: new Map(), charts: new Set(),
      updated: exp.update_time };
    indexTags(ctx);

    const header = h('section', { class: 'exp-header', 'aria-label': 'Experiment' });
    const sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Runs and settings' });
    const content = h('div', { class: 'content' });
    main.replaceChildren(header, h('div', { class: 'layout' }, sidebar, content));
    renderHeader(header, ctx);

    const tabs = [
      ['scalars', 'Scalars', ctx.scalarTags.length],
      ['histograms', 'Histograms', ctx.byPlugin('histograms').length],
      ['distributions', 'Distributions', ctx.byPlugin('histograms').length],
      ['images', 'Images', ctx.byPlugin('images').length],
      ['audio', 'Audio', ctx.byPlugin('audio').length],
      ['text', 'Text', ctx.byPlugin('text').length],
      ['hparams', 'HParams', ctx.byPlugin('hparams').length],
      ['pr_curves', 'PR Curves', ctx.byPlugin('pr_curves').length],
      ['custom_scalars', 'Custom Scalars', ctx.byPlugin('custom_scalars').length],
      ['graphs', 'Graphs', ctx.graphTags.length],
      ['other', 'Other', ctx.otherTags.length],
    ].filter((t) => t[2] > 0);
    if (!tabs.length) {
      content.replaceChildren(h('p', { class: 'empty-state', text: 'No data yet. Upload some with: tbdev upload --logdir DIR --experiment_id ' + id }));
    }
    if (!tabs.find((t) => t[0] === state.tab)) state.tab = tabs.length ? tabs[0][0] : '';
    nav.replaceChildren(...tabs.map(([key, label]) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': String(key === state.tab), 'data-tab': key, text: label,
      onclick: () => { state.tab = key; saveState(); for (const b of nav.children) b.setAttribute('aria-selected', String(b.dataset.tab === key)); render(); },
    })));
    nav.setAttribute('role', 'tablist');

    const render = () => {
      for (const c of ctx.charts) c.destroy();
      ctx.charts.clear();
      renderSidebar(sidebar, ctx, render);
      const fn = DASHBOARDS[state.tab];
      if (fn) fn(content, ctx);
    };
    render();
    startLiveRefresh(ctx, render);
  }

  function indexTags(ctx) {
    const runs = [...new Set(ctx.tags.map((t) => t.run))].sort();
    ctx.runs = runs;
    runs.forEach((r, i) => ctx.colors.set(r, PALETTE[i % PALETTE.length]));
    const uniq = (list) => [...new Set(list.map((t) => t.tag))].sort();
    ctx.scalarTags = uniq(ctx.tags.filter((t) => t.kind === 'scalar'));
    ctx.byPlugin = (p) => ctx.tags.filter((t) => t.plugin === p);
    ctx.graphTags = ctx.tags.filter((t) => t.kind === 'blob_sequence' && (t.plugin === 'graphs' || t.plugin.startsWith('graph_')));
    const known = new Set(['scalars', 'histograms', 'images', 'audio', 'text', 'hparams', 'pr_curves', 'custom_scalars']);
    ctx.otherTags = ctx.tags.filter((t) => t.kind !== 'scalar' && !known.has(t.plugin) && !ctx.graphTags.includes(t));
  }

  function renderHeader(el, ctx) {
    const e = ctx.exp;
    const u = e.usage || {};
    const desc = h('div', { class: 'desc' });
    desc.innerHTML = e.description_html || ''; // rendered by cmark-gfm in safe mode on the server
    el.replaceChildren(
      h('h1', { text: e.name || '[No Name]' }),
      h('div', { class: 'meta' },
        `${e.owner} · ${e.visibility} · created ${fmtTime(e.create_time)} · updated ${fmtTime(e.update_time)} · `,
        `${u.runs} runs · ${u.tags} tags · ${u.points} points`),
      desc);
  }

  function visibleRuns(ctx) {
    const re = safeRegex(state.runRe);
    return ctx.runs.filter((r) => !state.hidden.has(r) && (!re || re.test(r)));
  }

  function tagShown(tag) {
    const re = safeRegex(state.tagRe);
    return !re || re.test(tag);
  }

  function renderSidebar(el, ctx, rerender) {
    const kids = [];
    const runFilter = h('input', { type: 'text', id: 'run-filter', value: state.runRe, placeholder: 'regex', 'aria-label': 'Filter runs by regular expression' });
    runFilter.addEventListener('change', () => { state.runRe = runFilter.value; saveState(); rerender(); });
    const tagFilter = h('input', { type: 'text', id: 'tag-filter', value: state.tagRe, placeholder: 'regex', 'aria-label': 'Filter tags by regular expression' });
    tagFilter.addEventListener('change', () => { state.tagRe = tagFilter.value; saveState(); rerender(); });
    if (state.tab === 'scalars' || state.tab === 'custom_scalars') {
      const sm = h('input', { type: 'range', id: 'smoothing', min: 0, max: 0.99, step: 0.01, value: state.smoothing, 'aria-label': 'Smoothing' });
      const smv = h('span', { text: state.smoothing.toFixed(2) });
      sm.addEventListener('input', () => { smv.textContent = (+sm.value).toFixed(2); });
      sm.addEventListener('change', () => { state.smoothing = +sm.value; saveState(); rerender(); });
      const xsel = h('select', { id: 'x-axis', 'aria-label': 'Horizontal axis' },
        ...[['step', 'Step'], ['relative', 'Relative (hours)'], ['wall', 'Wall time']].map(([v, l]) => h('option', { value: v, selected: state.x === v, text: l })));
      xsel.addEventListener('change', () => { state.x = xsel.value; saveState(); rerender(); });
      const logy = h('input', { type: 'checkbox', id: 'log-y', checked: state.log });
      logy.addEventListener('change', () => { state.log = logy.checked; saveState(); rerender(); });
      const outl = h('input', { type: 'checkbox', id: 'ignore-outliers', checked: state.outliers });
      outl.addEventListener('change', () => { state.outliers = outl.checked; saveState(); rerender(); });
      kids.push(h('h3', { text: 'Settings' }),
        h('label', { for: 'smoothing' }, 'Smoothing ', smv), sm,
        h('label', { for: 'x-axis', text: 'Horizontal axis' }), xsel,
        h('label', {}, logy, 'Log scale (y)'),
        h('label', {}, outl, 'Ignore outliers in chart scaling'));
    }
    if (state.tab === 'histograms') {
      const sel = h('select', { id: 'hist-mode', 'aria-label': 'Histogram mode' },
        h('option', { value: 'offset', selected: state.histMode === 'offset', text: 'Offset' }),
        h('option', { value: 'overlay', selected: state.histMode === 'overlay', text: 'Overlay' }));
      sel.addEventListener('change', () => { state.histMode = sel.value; saveState(); rerender(); });
      kids.push(h('h3', { text: 'Histogram mode' }), sel);
    }
    kids.push(h('h3', { text: 'Tags' }), tagFilter, h('h3', { text: 'Runs' }), runFilter);
    const re = safeRegex(state.runRe);
    if (re === undefined) kids.push(h('p', { class: 'error', text: 'Invalid regular expression' }));
    const all = h('input', { type: 'checkbox', id: 'runs-all', checked: state.hidden.size === 0 });
    all.addEventListener('change', () => { if (all.checked) state.hidden.clear(); else ctx.runs.forEach((r) => state.hidden.add(r)); saveState(); rerender(); });
    kids.push(h('label', {}, all, 'All runs'));
    for (const r of ctx.runs) {
      if (re && !re.test(r)) continue;
      const cb = h('input', { type: 'checkbox', class: 'run-toggle', 'data-run': r, checked: !state.hidden.has(r) });
      cb.addEventListener('change', () => { if (cb.checked) state.hidden.delete(r); else state.hidden.add(r); saveState(); rerender(); });
      const sw = h('span', { class: 'swatch' });
      sw.style.background = ctx.colors.get(r);
      kids.push(h('label', {}, cb, sw, r));
    }
    el.replaceChildren(...kids);
  }

  // Renders cards lazily: the loader runs when the card scrolls into view.
  function lazy(card, loader) {
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting) { io.disconnect(); card.dataset.loaded = '1'; loader().catch((err) => card.append(h('p', { class: 'error', text: err.message }))); }
      }
    }, { rootMargin: '200px' });
    io.observe(card);
    card._reload = loader;
  }

  function groupOf(tag) {
    const i = tag.indexOf('/');
    return i > 0 ? tag.slice(0, i) : tag;
  }

  function grouped(content, tags, makeCard) {
    const groups = new Map();
    for (const t of tags) {
      if (!tagShown(t)) continue;
      const g = groupOf(t);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(t);
    }
    const out = [];
    for (const [g, list] of groups) {
      const cards = h('div', { class: 'cards' }, ...list.map(makeCard));
      out.push(h('section', { class: 'group' }, h('h2', { text: g }), cards));
    }
    content.replaceChildren(...(out.length ? out : [h('p', { class: 'empty-state', text: 'No tags match the filter.' })]));
  }

  // ---------- scalars ----------
  function xOf(p, first) {
    if (state.x === 'wall') return p[0];
    if (state.x === 'relative') return (p[0] - first) / 3600;
    return p[1];
  }

  function scalarCard(ctx, tag, seriesFor) {
    const chart = h('div', { class: 'chart' });
    const card = h('div', { class: 'card scalar-card', 'data-tag': tag },
      h('h3', { text: tag }), chart,
      h('div', { class: 'tools' },
        h('button', { type: 'button', class: 'reset-zoom', text: 'Reset zoom', onclick: () => card._chart && card._chart.setScale('x', { min: null, max: null }) && false }),
        h('a', { href: `${ctx.base}/scalars?tag=${enc(tag)}&points=all&format=csv`, download: '', class: 'dl-csv', text: 'CSV' }),
        h('a', { href: `${ctx.base}/scalars?tag=${enc(tag)}&points=all`, download: '', class: 'dl-json', text: 'JSON' })));
    lazy(card, async () => {
      const runs = visibleRuns(ctx);
      const data = await seriesFor(tag);
      drawScalars(ctx, card, chart, data.filter((s) => runs.includes(s.run)));
    });
    return card;
  }

  function drawScalars(ctx, card, el, series) {
    if (card._chart) { card._chart.destroy(); ctx.charts.delete(card._chart); card._chart = null; }
    if (!series.length || !series.some((s) => s.points.length)) {
      el.className = 'chart empty';
      el.replaceChildren('No data for the selected runs.');
      return;
    }
    el.className = 'chart';
    el.replaceChildren();
    let first = Infinity;
    for (const s of series) for (const p of s.points) first = Math.min(first, p[0]);
    const tables = [];
    const opts = [];
    const allY = [];
    for (const s of series) {
      const xs = s.points.map((p) => xOf(p, first));
      let ys = s.points.map((p) => num(p[2]));
      if (state.log) ys = ys.map((v) => (v > 0 ? v : null));
      const sm = state.smoothing > 0 ? smooth(ys, state.smoothing) : ys;
      for (const v of sm) if (Number.isFinite(v)) allY.push(v);
      const color = s.color || ctx.colors.get(s.run);
      const dots = { show: s.points.length < 30, size: 5 };
      if (state.smoothing > 0) {
        tables.push([xs, ys]);
        opts.push({ label: (s.label || s.run) + ' (raw)', stroke: color + '40', width: 1, spanGaps: true, points: { show: false } });
      }
      tables.push([xs, sm]);
      opts.push({ label: s.label || s.run, stroke: color, width: 1.5, spanGaps: true, points: dots,
        value: (u, v) => fmtNum(v) });
    }
    const data = uPlot.join(tables);
    let yrange;
    if (state.outliers && allY.length > 10) {
      allY.sort((a, b) => a - b);
      const lo = quantile(allY, 0.05), hi = quantile(allY, 0.95), pad = (hi - lo) * 0.1 || 1;
      yrange = [lo - pad, hi + pad];
    }
    const width = Math.max(280, el.clientWidth || 400);
    const u = new uPlot({
      width, height: 240,
      scales: {
        x: { time: state.x === 'wall' },
        y: state.log ? { distr: 3 } : (yrange ? { range: yrange } : {}),
      },
      axes: [{ label: state.x === 'step' ? 'step' : state.x === 'relative' ? 'hours' : '' }, { size: axisSize, values: (u2, vals) => vals.map(fmtNum) }],
      series: [{ label: state.x, value: (u2, v) => (v === null ? '–' : state.x === 'wall' ? fmtTime(v) : fmtNum(v)) }, ...opts],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
    }, data, el);
    card._chart = u;
    ctx.charts.add(u);
  }

  function scalarsDashboard(content, ctx) {
    const cache = new Map();
    const fetchTag = async (tag) => {
      if (!cache.has(tag)) cache.set(tag, api(`${ctx.base}/scalars?tag=${enc(tag)}`).then((r) => r.series));
      return cache.get(tag);
    };
    ctx.refreshData = () => cache.clear();
    grouped(content, ctx.scalarTags, (tag) => scalarCard(ctx, tag, fetchTag));
  }

  // ---------- histograms and distributions ----------
  function perRunTagCards(content, ctx, plugin, makeCard) {
    const runs = visibleRuns(ctx);
    const list = ctx.byPlugin(plugin).filter((t) => runs.includes(t.run) && tagShown(t.tag));
    const groups = new Map();
    for (const t of list) {
      if (!groups.has(t.tag)) groups.set(t.tag, []);
      groups.get(t.tag).push(t);
    }
    const out = [];
    for (const [tag, items] of groups)
      out.push(h('section', { class: 'group' }, h('h2', { text: tag }), h('div', { class: 'cards' }, ...items.map((t) => makeCard(t)))));
    content.replaceChildren(...(out.length ? out : [h('p', { class: 'empty-state', text: 'Nothing matches the run and tag filters.' })]));
  }

  function runTitle(ctx, t) {
    const sw = h('span', { class: 'swatch' });
    sw.style.background = ctx.colors.get(t.run);
    return h('h3', {}, sw, ' ', t.run, h('span', { class: 'sub', text: ' · ' + t.tag }));
  }

  const SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  function drawHistogram(el, points, color, mode) {
    // Each step's buckets become a density curve; offset mode stacks them back to front.
    const W = 500, H = 260, pad = 30;
    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Histogram over steps' });
    let xmin = Infinity, xmax = -Infinity, cmax = 0;
    for (const p of points) for (const b of p.buckets) {
      const l = num(b[0]), r = num(b[1]);
      if (Number.isFinite(l)) xmin = Math.min(xmin, l);
      if (Number.isFinite(r)) xmax = Math.max(xmax, r);
      cmax = Math.max(cmax, num(b[2]) / Math.max(1e-12, r > l ? r - l : 1));
    }
    if (!points.length || !Number.isFinite(xmin) || !Number.isFinite(xmax)) {
      el.replaceChildren(h('div', { class: 'chart empty', text: 'Empty histograms.' }));
      return;
    }
    if (xmax <= xmin) { // every value the same: draw a spike at it, as TensorBoard does
      const pad = Math.abs(xmin) * 0.1 || 0.5;
      xmin -= pad;
      xmax += pad;
    }
    const n = points.length;
    const offset = mode === 'offset' ? Math.min(12, (H - 2 * pad) / Math.max(1, n)) : 0;
    const plotH = H - 2 * pad - offset * (n - 1);
    const sx = (x) => pad + (x - xmin) / (xmax - xmin) * (W - 2 * pad);
    points.forEach((p, i) => {
      const base = H - pad - (mode === 'offset' ? offset * (n - 1 - i) : 0);
      let d = `M${sx(xmin)},${base}`;
      for (const b of p.buckets) {
        let l = num(b[0]), r = num(b[1]);
        const c = num(b[2]);
        if (r <= l) { const w = (xmax - xmin) / 100; l -= w / 2; r += w / 2; }
        const dens = c / Math.max(1e-12, r - l);
        const y = base - (cmax ? dens / cmax : 0) * plotH;
        d += ` L${sx(Math.max(l, xmin))},${y} L${sx(Math.min(r, xmax))},${y}`;
      }
      d += ` L${sx(xmax)},${base}`;
      const shade = n > 1 ? 0.25 + 0.75 * (i / (n - 1)) : 1;
      s.append(svg('path', { d, fill: mode === 'offset' ? '#ffffff' : 'none', 'fill-opacity': 0.8, stroke: color, 'stroke-opacity': shade, 'stroke-width': 1 }));
    });
    const axis = svg('text', { x: pad, y: H - 8, 'font-size': 11, fill: '#555d6b' });
    axis.textContent = `${fmtNum(xmin)} … ${fmtNum(xmax)}   steps ${points[0].step}–${points[n - 1].step}`;
    s.append(axis);
    el.replaceChildren(s);
  }

  function histogramsDashboard(content, ctx) {
    perRunTagCards(content, ctx, 'histograms', (t) => {
      const chart = h('div', { class: 'hist' });
      const card = h('div', { class: 'card hist-card', 'data-run': t.run, 'data-tag': t.tag }, runTitle(ctx, t), chart);
      lazy(card, async () => {
        const r = await api(`${ctx.base}/histograms?tag=${enc(t.tag)}&run=${enc(t.run)}&points=50`);
        drawHistogram(chart, (r.series[0] || { points: [] }).points, ctx.colors.get(t.run), state.histMode);
      });
      return card;
    });
  }

  // Percentiles of a histogram at TensorBoard's basis points, by linear interpolation.
  const BPS = [0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000];
  function percentiles(buckets) {
    const total = buckets.reduce((a, b) => a + num(b[2]), 0);
    if (!total) return BPS.map(() => null);
    return BPS.map((bp) => {
      const target = total * bp / 10000;
      let acc = 0;
      for (const b of buckets) {
        const c = num(b[2]);
        if (acc + c >= target && c > 0) {
          const f = (target - acc) / c;
          return num(b[0]) + f * (num(b[1]) - num(b[0]));
        }
        acc += c;
      }
      return num(buckets[buckets.length - 1][1]);
    });
  }

  function distributionsDashboard(content, ctx) {
    perRunTagCards(content, ctx, 'histograms', (t) => {
      const chart = h('div', { class: 'chart' });
      const card = h('div', { class: 'card dist-card', 'data-run': t.run, 'data-tag': t.tag }, runTitle(ctx, t), chart);
      lazy(card, async () => {
        const r = await api(`${ctx.base}/histograms?tag=${enc(t.tag)}&run=${enc(t.run)}&points=500`);
        const pts = (r.series[0] || { points: [] }).points;
        if (!pts.length) { chart.replaceChildren('No data.'); return; }
        const xs = pts.map((p) => p.step);
        const cols = BPS.map(() => []);
        for (const p of pts) percentiles(p.buckets).forEach((v, i) => cols[i].push(v));
        const color = ctx.colors.get(t.run);
        const series = [{ label: 'step' }, ...BPS.map((bp) => ({ label: `p${bp / 100}`, stroke: color, width: bp === 5000 ? 2 : 0.5, points: { show: false }, value: (u, v) => fmtNum(v) }))];
        const bands = [[0, 8, '22'], [1, 7, '33'], [2, 6, '44'], [3, 5, '55']].map(([a, b, alpha]) => ({ series: [a + 1, b + 1], fill: color + alpha }));
        const u = new uPlot({ width: Math.max(280, chart.clientWidth || 400), height: 240, scales: { x: { time: false } }, axes: [{ label: 'step' }, { size: axisSize, values: (u2, vals) => vals.map(fmtNum) }], series, bands, legend: { live: true } }, [xs, ...cols], chart);
        ctx.charts.add(u);
      });
      return card;
    });
  }

  // ---------- images and audio ----------
  function stepperCard(ctx, t, kind) {
    const view = h('div', { class: 'scroll' });
    const slider = h('input', { type: 'range', min: 0, max: 0, value: 0, 'aria-label': 'Step' });
    const label = h('span', { class: 'sub' });
    const tools = h('div', { class: 'tools' }, label);
    let actual = false;
    if (kind === 'images') {
      const b = h('button', { type: 'button', class: 'actual-size', text: 'Actual size', 'aria-pressed': 'false' });
      b.addEventListener('click', () => { actual = !actual; b.setAttribute('aria-pressed', String(actual)); for (const img of view.querySelectorAll('img')) img.classList.toggle('actual', actual); });
      tools.append(b);
    }
    const card = h('div', { class: `card ${kind}-card`, 'data-run': t.run, 'data-tag': t.tag }, runTitle(ctx, t), view, slider, tools);
    lazy(card, async () => {
      const r = await api(`${ctx.base}/blobs?tag=${enc(t.tag)}&run=${enc(t.run)}`);
      const pts = (r.series[0] || { points: [] }).points;
      slider.max = String(Math.max(0, pts.length - 1));
      slider.value = slider.max;
      const show = () => {
        const p = pts[+slider.value];
        if (!p) { view.replaceChildren(h('p', { class: 'empty-state', text: 'No data.' })); return; }
        label.textContent = `step ${p.step} · ${fmtTime(p.wall_time)}`;
        const labels = (p.meta && p.meta.labels) || [];
        view.replaceChildren(...p.blobs.map((b, i) => kind === 'images'
          ? h('img', { class: 'sample' + (actual ? ' actual' : ''), src: b.url, alt: `${t.tag} at step ${p.step}` })
          : h('div', {}, h('audio', { controls: true, preload: 'none', src: b.url }), labels[i] ? h('div', { class: 'sub', text: labels[i] }) : null)));
      };
      slider.addEventListener('input', show);
      show();
    });
    return card;
  }

  // ---------- text ----------
  function textDashboard(content, ctx) {
    perRunTagCards(content, ctx, 'text', (t) => {
      const view = h('div', { class: 'scroll' });
      const card = h('div', { class: 'card text-card', 'data-run': t.run, 'data-tag': t.tag }, runTitle(ctx, t), view);
      lazy(card, async () => {
        const r = await api(`${ctx.base}/text?tag=${enc(t.tag)}&run=${enc(t.run)}`);
        const pts = (r.series[0] || { points: [] }).points;
        view.replaceChildren(...pts.slice().reverse().map((p) => {
          const body = h('div', { class: 'md' });
          body.innerHTML = p.html; // cmark-gfm safe-mode output from the server
          return h('div', { class: 'textstep' }, h('div', { class: 'step', text: `step ${p.step}` }), body);
        }));
      });
      return card;
    });
  }

  // ---------- hparams ----------
  async function hparamsDashboard(content, ctx) {
    content.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    const r = await api(`${ctx.base}/hparams`);
    const runs = visibleRuns(ctx);
    const sessions = r.sessions.filter((s) => runs.some((run) => run === s.run || run.startsWith(s.run + '/')));
    const hkeys = [...new Set(sessions.flatMap((s) => Object.keys(s.hparams)))].sort();
    const mkeys = [...new Set(sessions.flatMap((s) => Object.keys(s.metrics)))].sort();
    const cols = [['Session', (s) => s.run], ['Status', (s) => s.status],
      ...hkeys.map((k) => [k, (s) => (k in s.hparams ? num(s.hparams[k]) : null)]), ...mkeys.map((k) => [k, (s) => (s.metrics[k] ? num(s.metrics[k].value) : null)])];
    const filter = h('input', { type: 'text', placeholder: 'filter rows (regex)', 'aria-label': 'Filter sessions', id: 'hparams-filter' });
    const table = h('table', { class: 'data hparams-table' });
    let sortCol = 0, asc = true;
    const draw = () => {
      const re = safeRegex(filter.value);
      const rows = sessions.filter((s) => !re || re.test(cols.map(([, f]) => String(f(s))).join(' ')));
      rows.sort((a, b) => {
        const x = cols[sortCol][1](a), y = cols[sortCol][1](b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      table.replaceChildren(
        h('thead', {}, h('tr', {}, ...cols.map(([name], i) => h('th', { scope: 'col', tabindex: 0, 'aria-sort': i === sortCol ? (asc ? 'ascending' : 'descending') : 'none', text: name,
          onclick: () => { if (sortCol === i) asc = !asc; else { sortCol = i; asc = true; } draw(); },
          onkeydown: (e) => { if (e.key === 'Enter') e.target.click(); } })))),
        h('tbody', {}, ...rows.map((s) => h('tr', {}, ...cols.map(([, f]) => {
          const v = f(s);
          return h('td', { text: typeof v === 'number' ? fmtNum(v) : v === null ? '–' : String(v) });
        })))));
    };
    filter.addEventListener('input', draw);
    draw();
    content.replaceChildren(h('div', { class: 'card' }, h('h3', { text: `${sessions.length} sessions` }), filter, h('div', { class: 'scroll' }, table)));
  }

  // ---------- PR curves ----------
  function prDashboard(content, ctx) {
    perRunTagCards(content, ctx, 'pr_curves', (t) => {
      const chart = h('div', { class: 'chart' });
      const slider = h('input', { type: 'range', min: 0, max: 0, value: 0, 'aria-label': 'Step' });
      const label = h('span', { class: 'sub' });
      const card = h('div', { class: 'card pr-card', 'data-run': t.run, 'data-tag': t.tag }, runTitle(ctx, t), chart, slider, label);
      lazy(card, async () => {
        const r = await api(`${ctx.base}/pr_curves?tag=${enc(t.tag)}&run=${enc(t.run)}`);
        const pts = (r.series[0] || { points: [] }).points;
        slider.max = String(Math.max(0, pts.length - 1));
        slider.value = slider.max;
        let u = null;
        const show = () => {
          const p = pts[+slider.value];
          if (!p) return;
          label.textContent = `step ${p.step}`;
          const pairs = p.recall.map((rc, i) => [num(rc), num(p.precision[i])]).filter((q) => Number.isFinite(q[0])).sort((a, b) => a[0] - b[0]);
          const data = [pairs.map((q) => q[0]), pairs.map((q) => q[1])];
          if (u) { u.setData(data); return; }
          u = new uPlot({ width: Math.max(280, chart.clientWidth || 400), height: 240, scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
            axes: [{ label: 'recall' }, { label: 'precision' }],
            series: [{ label: 'recall' }, { label: 'precision', stroke: ctx.colors.get(t.run), width: 1.5, points: { show: false } }] }, data, chart);
          ctx.charts.add(u);
        };
        slider.addEventListener('input', show);
        show();
      });
      return card;
    });
  }

  // ---------- custom scalars ----------
  async function customScalarsDashboard(content, ctx) {
    // The layout lives in a string tensor as a serialized Layout proto; the server decodes it.
    let layout;
    try { layout = await api(`${ctx.base}/custom_scalars`); } catch (e) { content.replaceChildren(h('p', { class: 'error', text: e.message })); return; }
    const cache = new Map();
    const all = ctx.scalarTags;
    const out = [];
    for (const cat of layout.categories || []) {
      const cards = [];
      for (const ch of cat.charts || []) {
        const res = (ch.tags || []).map((re) => safeRegex(re) || null);
        const tags = all.filter((tag) => res.some((re) => re && re.test(tag)));
        const chart = h('div', { class: 'chart' });
        const card = h('div', { class: 'card custom-card' }, h('h3', { text: ch.title || (ch.tags || []).join(', ') }), chart);
        lazy(card, async () => {
          const runs = visibleRuns(ctx);
          const series = [];
          for (const tag of tags) {
            if (!cache.has(tag)) cache.set(tag, api(`${ctx.base}/scalars?tag=${enc(tag)}`).then((r) => r.series));
            for (const s of await cache.get(tag)) if (runs.includes(s.run)) series.push({ run: s.run, points: s.points, label: `${s.run}/${tag}`, color: PALETTE[series.length % PALETTE.length] });
          }
          drawScalars(ctx, card, chart, series);
        });
        cards.push(card);
      }
      out.push(h('section', { class: 'group' }, h('h2', { text: cat.title || 'Custom scalars' }), h('div', { class: 'cards' }, ...cards)));
    }
    content.replaceChildren(...(out.length ? out : [h('p', { class: 'empty-state', text: 'The layout has no charts.' })]));
  }

  // ---------- graphs and other data: listed, downloadable ----------
  function listBlobs(content, ctx, tags, note) {
    const items = tags.filter((t) => visibleRuns(ctx).includes(t.run) && tagShown(t.tag)).map((t) => {
      const links = h('div', { class: 'tools' });
      const card = h('div', { class: 'card list-card' }, runTitle(ctx, t), h('p', { class: 'sub', text: `${t.plugin} · ${t.kind} · ${t.points} point${t.points === 1 ? '' : 's'}` }), links);
      lazy(card, async () => {
        const path = t.kind === 'blob_sequence' ? 'blobs' : 'tensors';
        const r = await api(`${ctx.base}/${path}?tag=${enc(t.tag)}&run=${enc(t.run)}`);
        const pts = (r.series[0] || { points: [] }).points;
        if (t.kind === 'blob_sequence')
          for (const p of pts) for (const b of p.blobs) links.append(h('a', { href: b.url, download: '', text: `step ${p.step} (${b.sha256.slice(0, 8)})` }));
        else links.append(h('a', { href: `${ctx.base}/tensors?tag=${enc(t.tag)}&run=${enc(t.run)}&points=all`, download: '', text: 'JSON' }));
      });
      return card;
    });
    content.replaceChildren(h('p', { class: 'sub', text: note }), h('div', { class: 'cards' }, ...items));
  }

  const DASHBOARDS = {
    scalars: scalarsDashboard,
    histograms: histogramsDashboard,
    distributions: distributionsDashboard,
    images: (c, ctx) => perRunTagCards(c, ctx, 'images', (t) => stepperCard(ctx, t, 'images')),
    audio: (c, ctx) => perRunTagCards(c, ctx, 'audio', (t) => stepperCard(ctx, t, 'audio')),
    text: textDashboard,
    hparams: (c, ctx) => hparamsDashboard(c, ctx).catch((e) => c.replaceChildren(h('p', { class: 'error', text: e.message }))),
    pr_curves: prDashboard,
    custom_scalars: customScalarsDashboard,
    graphs: (c, ctx) => listBlobs(c, ctx, ctx.graphTags, 'Graph drawing is not available yet; each graph can be downloaded as the GraphDef or RunMetadata protobuf.'),
    other: (c, ctx) => listBlobs(c, ctx, ctx.otherTags, 'Data from plugins this viewer does not draw; it is kept in full and can be downloaded.'),
  };

  // ---------- live refresh: new data appears without losing zoom or filters ----------
  function startLiveRefresh(ctx, rerender) {
    const tick = async () => {
      if (document.hidden) return;
      try {
        const e = await api(`${ctx.base}`);
        if (e.update_time === ctx.updated) return;
        ctx.updated = e.update_time;
        ctx.exp = e;
        renderHeader(document.querySelector('.exp-header'), ctx);
        const t = await api(`${ctx.base}/tags`);
        const before = ctx.tags.length;
        ctx.tags = t.tags;
        indexTags(ctx);
        if (ctx.tags.length !== before) { rerender(); return; }
        if (ctx.refreshData) ctx.refreshData();
        for (const card of document.querySelectorAll('.card[data-loaded="1"]')) {
          if (!card._reload) continue;
          const chart = card._chart;
          const scale = chart ? { min: chart.scales.x.min, max: chart.scales.x.max } : null;
          await card._reload();
          if (scale && card._chart && scale.min !== null) card._chart.setScale('x', scale);
        }
      } catch (err) { /* a missed refresh is retried on the next tick */ }
    };
    const recent = (Date.now() / 1000 - ctx.updated) < 600;
    setInterval(tick, recent ? 5000 : 30000);
  }

  // ---------- other pages ----------
  function experimentList(list, emptyText) {
    if (!list.length) return h('p', { class: 'empty-state', text: emptyText });
    return h('div', { class: 'list' }, ...list.map((e) => h('div', { class: 'item' },
      h('a', { href: `/experiment/${enc(e.id)}/`, text: e.name || '[No Name]' }),
      h('div', { class: 'sub', text: `${e.visibility} · updated ${fmtTime(e.update_time)} · ${e.usage.runs} runs · ${e.usage.tags} tags · ${e.usage.points} points · ${(e.usage.bytes / 1048576).toFixed(1)} MiB` }))));
  }

  function signInForm(then) {
    const user = h('input', { type: 'text', name: 'user', autocomplete: 'username', required: true, 'aria-label': 'User name', placeholder: 'user name' });
    const pw = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'aria-label': 'Password', placeholder: 'password' });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'box', id: 'signin' }, h('h2', { text: 'Sign in' }), user, pw, h('button', { type: 'submit', class: 'primary', text: 'Sign in' }), msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: user.value, password: pw.value }) });
        then();
      } catch (e) { msg.textContent = e.message; }
    });
    return form;
  }

  async function homePage() {
    nav.replaceChildren();
    const me = await showWho();
    if (!me) {
      main.replaceChildren(h('h1', { text: 'tbdev' }), h('p', { text: 'Sign in to see your experiments. Shared links work without signing in.' }), signInForm(() => location.reload()));
      return;
    }
    const r = await api('/api/v1/experiments');
    const out = h('button', { type: 'button', text: 'Sign out', onclick: async () => { await api('/api/v1/logout', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token || '', 'Content-Type': 'application/json' } }); location.reload(); } });
    main.replaceChildren(h('h1', { text: 'My experiments' }),
      h('p', { class: 'sub' }, 'Upload with ', h('code', { text: 'tbdev upload --logdir DIR' }), '. ', h('a', { href: `/user/${enc(me.user)}`, text: 'My public page' }), ' · ', out),
      experimentList(r.experiments, 'No experiments yet.'));
  }

  async function userPage(name) {
    nav.replaceChildren();
    await showWho();
    try {
      const r = await api(`/api/v1/users/${enc(name)}/experiments`);
      main.replaceChildren(h('h1', { text: `${name}'s experiments` }), experimentList(r.experiments, 'No public experiments.'));
    } catch (e) { fail(e.status === 404 ? 'No such user.' : e.message); }
  }

  // The device page: the person types the code the terminal shows (a link never carries
  // it: one click on an attacker's link must not approve their login), sees who asked for it,
  // and approves. Everything shown about the asking client is text it sent: textContent only.
  function deviceAsker(d) {
    const ago = Math.max(0, Math.round(Date.now() / 1000 - d.requested));
    const agoText = ago < 90 ? `${ago} s ago` : `${Math.round(ago / 60)} min ago`;
    const sameIp = d.client_ip === d.your_ip;
    return h('dl', { class: 'device-asker' },
      h('dt', { text: 'Asked from' }), h('dd', { class: 'device-ip', text: `${d.client_ip}${sameIp ? ' (the address this browser uses)' : ' (not the address this browser uses)'}` }),
      h('dt', { text: 'Asked at' }), h('dd', { class: 'device-time', text: `${fmtTime(d.requested)} (${agoText})` }),
      h('dt', { text: 'Client' }), h('dd', { class: 'device-version', text: d.client_version || 'unknown' }),
      h('dt', { text: 'Machine' }), h('dd', { class: 'device-host', text: d.client_host || 'unknown' }));
  }

  async function devicePage() {
    nav.replaceChildren();
    const me = await showWho();
    if (!me) {
      main.replaceChildren(h('p', { text: 'Sign in to approve the login of a tbdev command line.' }), signInForm(() => location.reload()));
      return;
    }
    const post = (path, code) => api(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token || '' }, body: JSON.stringify({ user_code: code }) });
    const code = h('input', { type: 'text', name: 'user_code', required: true, 'aria-label': 'Code shown by tbdev', placeholder: 'XXXX-XXXX', autocomplete: 'off', spellcheck: 'false' });
    const msg = h('p', { role: 'status' });
    const details = h('div', { class: 'device-details' });
    const form = h('form', { class: 'box', id: 'device' }, h('h2', { text: 'Approve a command-line login' }),
      h('p', { text: 'Type the code your terminal shows after "tbdev auth login". Only approve a login you started yourself: the command will act as ' }, h('strong', { text: me.user }), '.'),
      code, h('button', { type: 'submit', class: 'primary', text: 'Continue' }), details, msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      details.replaceChildren();
      msg.textContent = '';
      msg.className = '';
      const typed = code.value;
      try {
        const d = await post('/api/v1/device/pending', typed);
        const approve = h('button', { type: 'button', class: 'primary', id: 'device-approve', text: `Approve: let it act as ${me.user}` });
        const deny = h('button', { type: 'button', id: 'device-deny', text: 'Not me' });
        approve.addEventListener('click', async () => {
          try {
            await post('/api/v1/device/approve', typed);
            details.replaceChildren();
            msg.textContent = 'Approved. You can close this page and go back to the terminal.';
            msg.className = '';
          } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
        });
        deny.addEventListener('click', () => {
          details.replaceChildren();
          code.value = '';
          msg.textContent = 'Not approved. If you did not run tbdev auth login, someone sent you this code: ignore it; it expires in ten minutes.';
          msg.className = '';
        });
        details.replaceChildren(h('p', { text: `A login with code ${d.user_code} is waiting:` }), deviceAsker(d), approve, ' ', deny);
      } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
    });
    main.replaceChildren(form);
  }

  // ---------- routing ----------
  const path = location.pathname;
  let m;
  let page;
  if ((m = path.match(/^\/experiment\/([A-Za-z0-9_-]{22})\/$/))) page = (async () => { showWho(); await experimentPage(m[1]); })();
  else if ((m = path.match(/^\/user\/([^/]+)$/))) page = userPage(decodeURIComponent(m[1]));
  else if (path === '/device') page = devicePage();
  else page = homePage();
  page.catch((e) => fail(e.message));
})();
