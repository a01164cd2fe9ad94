// SPDX-License-Identifier: MIT
// PR curves, as TensorBoard's plugin shows them: one card per tag with every shown run's
// curve (precision against recall) in the run's colour, a step slider per run under the
// chart (each run's own steps, its last by default), and a hover table with each run's
// threshold nearest the cursor: threshold, precision, recall, TP, FP, TN, FN.

import uPlot from './uPlot.esm.js';
import { enc, queuedJson, query } from './api.js';
import { Card, CardHost, layoutGroups } from './cards.js';
import { cssVar, h } from './dom.js';
import { fmtNum, fmtRelative, fmtWall, num, plural } from './format.js';
import { hideTooltip, showTooltip } from './tooltip.js';

const RANGE = [-0.05, 1.05]; // TensorBoard's default domain: a curve at 0 or 1 stays visible
const TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];
const RUNS_PER_REQUEST = 100; // URLs short enough for any proxy
const MAX_PAGES = 32; // of TB_READ_PAGE_BYTES each: what one card will read at most
const FIELDS = ['tp', 'fp', 'tn', 'fn', 'precision', 'recall'];

// A row of the answer as the card keeps it: the six arrays, as numbers, of one length.
function prRow(p) {
  const row = { step: Number(p.step), wall: Number(p.wall_time), T: 0 };
  let n = Infinity;
  for (const f of FIELDS) {
    row[f] = Array.isArray(p[f]) ? p[f].map((v) => Number(num(v))) : [];
    n = Math.min(n, row[f].length);
  }
  for (const f of FIELDS) row[f].length = n; // a short array (bad stored data) cuts the others
  row.T = Number.isFinite(+p.thresholds) && +p.thresholds >= n ? +p.thresholds : n;
  return row;
}

// Every page of /pr_curves for a tag and some runs (null: all), rows cut between pages put
// back together. Returns Map run -> [row] and whether the answer was cut at MAX_PAGES.
// pageBytes: the server's page size to ask for (tests; the server's default otherwise).
export async function fetchCurves(base, tag, runs, priority, signal, pageBytes) {
  const out = new Map();
  const url = `${base}/pr_curves?` + query({ tag, run: runs || undefined, page_bytes: pageBytes });
  let token = null, pages = 0;
  do {
    const r = await queuedJson(url + (token ? '&page_token=' + enc(token) : ''), priority, signal);
    for (const s of r && Array.isArray(r.series) ? r.series : []) {
      if (!s || typeof s.run !== 'string' || !Array.isArray(s.points)) continue;
      if (!out.has(s.run)) out.set(s.run, []);
      const rows = out.get(s.run);
      for (const p of s.points) {
        const last = rows[rows.length - 1];
        if (p.offset) { // the rest of a row the last page cut
          if (!last || !last.open || last.step !== Number(p.step)) continue;
          const more = prRow(p);
          const n = Math.min(...FIELDS.map((f) => more[f].length));
          for (const f of FIELDS) for (let i = 0; i < n; i++) last[f].push(more[f][i]);
          last.open = !!p.partial;
          continue;
        }
        const row = prRow(p);
        row.open = !!p.partial;
        rows.push(row);
      }
    }
    token = r && typeof r.next_page_token === 'string' ? r.next_page_token : null;
  } while (token && ++pages < MAX_PAGES);
  return { byRun: out, cut: !!token };
}

// The threshold of a row nearest the cursor: nearest in recall, then in precision.
export function nearestThreshold(row, rx, py) {
  let best = -1, bx = Infinity, by = Infinity;
  for (let i = 0; i < row.recall.length; i++) {
    const x = row.recall[i], y = row.precision[i];
    if (!Number.isFinite(x)) continue;
    const dx = Math.abs(x - rx), dy = Number.isFinite(y) ? Math.abs(y - py) : Infinity;
    if (dx < bx || (dx === bx && dy < by)) { best = i; bx = dx; by = dy; }
  }
  return best;
}

class PrCard extends Card {
  constructor(dash, tag) {
    const info = dash.ctx.tagInfo(tag);
    super({ ctx: dash.ctx, key: 'pr_curves:' + tag, cls: 'pr-card', tag, title: (info && info.display_name) || tag,
      sub: info && info.display_name && info.display_name !== tag ? tag : null, descriptionHtml: info && info.description_html });
    this.dash = dash;
    this.data = new Map(); // run -> [row], for the runs fetched (an empty list: none stored)
    this.paths = new Map(); // run -> { key, path }: the drawn line, rebuilt when its step changes
    this.builds = new Map(); // run -> how many times its line was built (for tests)
    this.drawn = [];
    this.cut = false;
    this.u = null;
    this.rowsEl = new Map(); // run -> its slider row under the chart
  }

  runs() {
    return this.dash.runsOf(this.tag);
  }

  shownRuns() {
    return this.runs().filter((r) => this.ctx.runShown(r));
  }

  async fetchRuns(runs, signal) {
    if (!runs.length) return;
    const all = runs.length === this.runs().length;
    const jobs = [];
    if (all) jobs.push(fetchCurves(this.ctx.base, this.tag, null, CardHost.distance(this), signal));
    else for (let i = 0; i < runs.length; i += RUNS_PER_REQUEST)
      jobs.push(fetchCurves(this.ctx.base, this.tag, runs.slice(i, i + RUNS_PER_REQUEST), CardHost.distance(this), signal));
    const got = await Promise.all(jobs);
    if (signal && signal.aborted) return;
    for (const r of runs) this.data.set(r, []);
    for (const g of got) {
      this.cut = this.cut || g.cut;
      for (const [run, rows] of g.byRun) this.data.set(run, rows);
    }
    for (const r of runs) this.paths.delete(r);
  }

  async load(signal) {
    await this.fetchRuns(this.shownRuns(), signal);
    if (signal.aborted) return;
    this.build();
    this.draw();
  }

  // The chart and the place of the sliders; rebuilt for a theme change.
  build() {
    if (this.u) this.u.destroy();
    if (this.ro) this.ro.disconnect();
    const chart = h('div', { class: 'chart' });
    this.legend = h('div', { class: 'pr-runs' });
    this.body.replaceChildren(chart, this.legend);
    const muted = cssVar('--muted', '#555d6b'), grid = cssVar('--grid', '#e3e6eb');
    const axis = (label) => ({ label, stroke: muted, grid: { stroke: grid }, ticks: { stroke: grid }, splits: () => TICKS, values: (u, vs) => vs.map(String) });
    this.u = new uPlot({
      width: Math.max(280, chart.clientWidth || 400), height: this.height(),
      scales: { x: { time: false, range: RANGE }, y: { range: RANGE } },
      legend: { show: false }, select: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
      axes: [axis('recall'), axis('precision')],
      series: [{}, { stroke: 'transparent', paths: () => null, points: { show: false } }],
      hooks: { draw: [(u) => this.paint(u)], setCursor: [(u) => this.hover(u)] },
    }, [[0, 1], [null, null]], chart);
    this.u.over.addEventListener('mouseleave', () => hideTooltip(this));
    this.ro = new ResizeObserver(() => {
      const w = Math.max(280, chart.clientWidth || 400);
      if (this.u && w !== this.u.width) this.u.setSize({ width: w, height: this.height() });
    });
    this.ro.observe(chart);
    this.rowsEl = new Map();
  }

  height() {
    return this.enlarged ? 480 : 240;
  }

  // The step each run shows: the viewer's choice (kept across refreshes and re-renders), or
  // the last; a chosen step no longer there snaps to the nearest one at or after it.
  index(run) {
    const rows = this.data.get(run) || [];
    if (!rows.length) return -1;
    const want = this.dash.chosen.get(this.tag + '\u0000' + run);
    if (want === undefined) return rows.length - 1;
    const i = rows.findIndex((r) => r.step >= want);
    return i < 0 ? rows.length - 1 : i;
  }

  row(run) {
    const i = this.index(run);
    return i < 0 ? null : this.data.get(run)[i];
  }

  // The sliders and the chart, for the runs shown now.
  draw() {
    if (!this.u) return;
    const runs = this.shownRuns().filter((r) => (this.data.get(r) || []).length);
    const keep = new Set(runs);
    for (const [r, el] of this.rowsEl) if (!keep.has(r)) { el.remove(); this.rowsEl.delete(r); }
    runs.forEach((r, k) => {
      let el = this.rowsEl.get(r);
      if (!el) { el = this.legendRow(r); this.rowsEl.set(r, el); }
      el.querySelector('.swatch').style.background = this.ctx.colors.get(r);
      this.label(r);
      if (this.legend.children[k] !== el) this.legend.insertBefore(el, this.legend.children[k] || null);
    });
    const T = new Set(runs.map((r) => this.row(r).T));
    this.body.classList.toggle('empty', !runs.length);
    if (!runs.length) {
      this.status.textContent = 'No data for the selected runs.';
      this.setState('empty');
    } else {
      this.status.textContent = `${plural(runs.length, 'run')} · ${[...T].map((t) => plural(t, 'threshold')).join(', ')}` +
        (this.cut ? ' · too much data: the first steps only' : '');
      this.setState('drawn');
    }
    this.el.dataset.runs = String(runs.length);
    this.u.redraw(false, false);
  }

  legendRow(run) {
    const rows = this.data.get(run);
    const sw = h('span', { class: 'swatch' });
    const kids = [h('div', { class: 'pr-run-head' }, sw, h('span', { class: 'pr-run-name', text: run }), h('span', { class: 'pr-step' }), h('span', { class: 'sub pr-time' }))];
    if (rows.length > 1) {
      const slider = h('input', { type: 'range', class: 'pr-slider', min: 0, max: rows.length - 1, value: this.index(run), 'aria-label': `Step of ${run}` });
      slider.addEventListener('input', () => {
        const list = this.data.get(run) || [];
        const p = list[Math.min(+slider.value, list.length - 1)];
        if (!p) return;
        this.dash.chosen.set(this.tag + '\u0000' + run, p.step);
        this.label(run);
        this.paths.delete(run); // only this run's line is built again
        hideTooltip(this);
        this.u.redraw(false, false);
      });
      kids.push(slider);
    }
    return h('div', { class: 'pr-run', 'data-run': run }, ...kids);
  }

  // "step 20" and its times (relative to the run's first PR curve, and wall time).
  label(run) {
    const el = this.rowsEl.get(run);
    const rows = this.data.get(run) || [];
    const i = this.index(run), p = rows[i];
    if (!el || !p) return;
    el.querySelector('.pr-step').textContent = `step ${p.step}`;
    el.querySelector('.pr-time').textContent = `${fmtRelative(p.wall - rows[0].wall)} · ${fmtWall(p.wall)}`;
    const s = el.querySelector('.pr-slider');
    if (s && +s.value !== i) {
      s.max = String(rows.length - 1);
      s.value = String(i);
    }
    el.dataset.step = String(p.step);
  }

  // uPlot's draw hook: each run's line, from its cached path.
  paint(u) {
    const ctx = u.ctx, { left, top, width, height } = u.bbox;
    const dpr = devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.lineWidth = 1.5 * dpr;
    ctx.lineJoin = 'round';
    this.drawn = [];
    const key = `${left},${top},${width},${height}`;
    for (const run of this.shownRuns()) {
      const p = this.row(run);
      if (!p) continue;
      let c = this.paths.get(run);
      if (!c || c.key !== key || c.row !== p) {
        c = { key, row: p, path: this.linePath(u, p) };
        this.paths.set(run, c);
        this.builds.set(run, (this.builds.get(run) || 0) + 1);
      }
      const color = this.ctx.colors.get(run);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.stroke(c.path.line);
      ctx.fill(c.path.dots);
      this.drawn.push(run);
    }
    ctx.restore();
  }

  // The curve in threshold order (as TensorBoard draws it); a point alone is a dot.
  linePath(u, p) {
    const line = new Path2D(), dots = new Path2D();
    const r = 2 * (devicePixelRatio || 1);
    let prev = false;
    const pts = [];
    for (let i = 0; i < p.recall.length; i++) {
      const x = p.recall[i], y = p.precision[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) { prev = false; pts.push(null); continue; }
      const cx = u.valToPos(x, 'x', true), cy = u.valToPos(y, 'y', true);
      if (prev) line.lineTo(cx, cy); else line.moveTo(cx, cy);
      prev = true;
      pts.push([cx, cy]);
    }
    pts.forEach((q, i) => {
      if (q && !pts[i - 1] && !pts[i + 1]) { dots.moveTo(q[0] + r, q[1]); dots.arc(q[0], q[1], r, 0, 2 * Math.PI); }
    });
    return { line, dots };
  }

  hover(u) {
    const { left, top } = u.cursor;
    if (!(left >= 0 && top >= 0)) { hideTooltip(this); return; }
    const rx = u.posToVal(left, 'x'), py = u.posToVal(top, 'y');
    const rows = [];
    for (const run of this.shownRuns()) {
      const p = this.row(run);
      if (!p) continue;
      const i = nearestThreshold(p, rx, py);
      if (i < 0) continue;
      const dx = p.recall[i] - rx, dy = Number.isFinite(p.precision[i]) ? p.precision[i] - py : 0;
      rows.push({ color: this.ctx.colors.get(run), name: run, step: p.step, dist: Math.hypot(dx, dy),
        threshold: p.T > 1 ? i / (p.T - 1) : 0, precision: p.precision[i], recall: p.recall[i], tp: p.tp[i], fp: p.fp[i], tn: p.tn[i], fn: p.fn[i] });
    }
    const b = u.over.getBoundingClientRect();
    const count = (k) => (r) => fmtNum(r[k]);
    showTooltip(rows, { owner: this, sort: this.ctx.state.get('tipSort'), limit: this.ctx.state.get('tipRows'), clientX: b.left + left, clientY: b.top + top,
      fields: [['Threshold', count('threshold')], ['Precision', count('precision')], ['Recall', count('recall')],
        ['TP', count('tp')], ['FP', count('fp')], ['TN', count('tn')], ['FN', count('fn')], ['Step', (r) => String(r.step)]] });
  }

  redraw() {
    if (!this.u) return;
    const missing = this.shownRuns().filter((r) => !this.data.has(r));
    if (missing.length) {
      this.fetchRuns(missing, this.ac && this.ac.signal).then(() => this.loaded && this.draw(), (e) => { if (e.name !== 'AbortError') this.setState('error', e.message); });
    }
    this.draw();
  }

  rebuild() {
    if (!this.u) return;
    this.paths.clear();
    this.build();
    this.draw();
  }

  resize() {
    if (this.u) this.u.setSize({ width: this.u.width, height: this.height() });
  }

  // Live refresh: every shown run fetched again; the chosen steps stay.
  async reload() {
    if (!this.loaded || !this.u) return;
    this.data.clear();
    await this.fetchRuns(this.shownRuns(), this.ac && this.ac.signal);
    for (const [r, el] of this.rowsEl) { el.remove(); this.rowsEl.delete(r); } // slider ranges change
    if (this.loaded) this.draw();
  }

  unload() {
    hideTooltip(this);
    if (this.ro) this.ro.disconnect();
    if (this.u) this.u.destroy();
    this.u = null;
    this.ro = null;
    this.data.clear();
    this.paths.clear();
    this.rowsEl = new Map();
  }

  // What a test or a curious person can ask a card.
  debug() {
    if (!this.u) return null;
    return {
      drawn: this.drawn.slice(),
      runs: this.shownRuns().filter((r) => this.row(r)).map((r) => {
        const p = this.row(r), rows = this.data.get(r);
        return { run: r, color: this.ctx.colors.get(r), step: p.step, steps: rows.map((x) => x.step), thresholds: p.T,
          n: p.recall.length, builds: this.builds.get(r) || 0, recall: p.recall.slice(), precision: p.precision.slice() };
      }),
    };
  }

  // Where (in client pixels) a recall and precision are on the chart.
  clientPos(recall, precision) {
    const b = this.u.over.getBoundingClientRect();
    return { x: b.left + this.u.valToPos(recall, 'x'), y: b.top + this.u.valToPos(precision, 'y') };
  }
}

export default class PrDashboard {
  constructor(ctx, el) {
    this.ctx = ctx;
    this.el = el;
    this.host = null;
    this.chosen = new Map(); // `${tag}\0${run}` -> the step the viewer picked
  }

  settings() { return []; }

  runsOf(tag) {
    return this.byTag.get(tag) || [];
  }

  // The tags with a PR curve in a shown run.
  shownTags() {
    return [...this.byTag].filter(([tag, runs]) => this.ctx.tagShown(tag) && runs.some((r) => this.ctx.runShown(r))).map(([tag]) => tag);
  }

  render() {
    if (this.host) this.host.destroy();
    hideTooltip();
    this.host = new CardHost();
    this.byTag = new Map();
    for (const t of this.ctx.byPlugin('pr_curves')) {
      if (!this.byTag.has(t.tag)) this.byTag.set(t.tag, []);
      this.byTag.get(t.tag).push(t.run);
    }
    for (const runs of this.byTag.values()) runs.sort();
    this.tags = this.shownTags().sort();
    layoutGroups(this.el, this.host, this.tags.map((tag) => ({ key: 'pr_curves:' + tag, tag, make: () => new PrCard(this, tag) })),
      this.ctx.state.pins, 'Nothing matches the run and tag filters.');
    this.host.loadNearNow();
  }

  changed(keys) {
    if (keys.has('tagRe') || keys.has('pins')) { this.render(); return; }
    if (keys.has('hidden') || keys.has('runRe')) {
      if (this.shownTags().sort().join('\u0000') !== this.tags.join('\u0000')) { this.render(); return; }
    }
    if (keys.has('theme')) { for (const c of this.host.cards) c.rebuild(); return; }
    if (['hidden', 'runRe', 'colors'].some((k) => keys.has(k))) this.host.invalidateAll();
  }

  async refresh() {
    await Promise.all([...this.host.cards].map((c) => c.reload().catch(() => {})));
  }

  destroy() {
    hideTooltip();
    if (this.host) this.host.destroy();
    this.host = null;
  }
}
