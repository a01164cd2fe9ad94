// SPDX-License-Identifier: MIT
// Scalars: a card per tag with every shown run, TensorBoard's smoothing, a hover table, zoom
// that fetches the window at full resolution, and downloads.

import { Card, CardHost, layoutGroups } from './cards.js';
import { alpha } from './colors.js';
import { LineChart } from './chart_line.js';
import { h } from './dom.js';
import { plural } from './format.js';
import { checkSetting, rangeSetting, selectSetting } from './sidebar.js';
import { hideTooltip, showTooltip } from './tooltip.js';

// Settings shared by Scalars and Custom Scalars.
export function scalarSettings(ctx) {
  return [
    ...rangeSetting(ctx, { id: 'smoothing', key: 'smoothing', label: 'Smoothing', min: 0, max: 0.99, step: 0.01, format: (v) => (+v).toFixed(2) }),
    ...selectSetting(ctx, { id: 'x-axis', key: 'x', label: 'Horizontal axis', options: [['step', 'Step'], ['relative', 'Relative'], ['wall', 'Wall time']] }),
    ...checkSetting(ctx, { id: 'log-y', key: 'log', label: 'Log scale (y)' }),
    ...checkSetting(ctx, { id: 'ignore-outliers', key: 'outliers', label: 'Ignore outliers in chart scaling' }),
    ...selectSetting(ctx, { id: 'tip-sort', key: 'tipSort', label: 'Tooltip sorting', options: [['default', 'Alphabetical'], ['ascending', 'Ascending'], ['descending', 'Descending'], ['nearest', 'Nearest']] }),
    ...selectSetting(ctx, { id: 'tip-rows', key: 'tipRows', label: 'Tooltip rows', options: [[5, '5'], [10, '10'], [20, '20'], [50, '50'], [1000, 'All']].map(([v, l]) => [v, l]) }),
  ];
}

// Keys whose change only needs a redraw from the data at hand.
const REDRAW = ['smoothing', 'x', 'log', 'outliers', 'hidden', 'runRe', 'colors', 'theme'];

// How many points to ask per run: four per pixel column of the plot (M4: the same line as
// every point), at least 2,000 so that short runs arrive whole.
export function pointBudget(chart) {
  const px = chart ? chart.plotWidth() * (devicePixelRatio || 1) : 500;
  return Math.max(2000, Math.min(8000, Math.ceil(px * 4 / 100) * 100));
}

// A chart of scalar lines from (run, tag) sources; Scalars has one tag per card, Custom
// Scalars several. Subclasses say which lines: lines() -> [{ run, tag, name, dash, band }]
export class LinesCard extends Card {
  constructor(dash, opts) {
    super(Object.assign({ ctx: dash.ctx }, opts));
    this.dash = dash;
    this.chart = null;
    this.win = null; // { min, max, start, end, data: Map `${run}\0${tag}` -> Series }
    this.cardLog = null; // per-card log scale (null: the global setting)
    this.resmoothTimer = null;
    const reset = h('button', { type: 'button', class: 'reset-zoom', text: 'Reset zoom', title: 'Fit the axes to all the data (or double-click the chart)',
      onclick: () => this.chart && this.chart.reset() });
    const logBtn = h('button', { type: 'button', class: 'card-log', 'aria-pressed': 'false', text: 'Log y', title: 'Logarithmic y axis for this card' });
    logBtn.addEventListener('click', () => {
      this.cardLog = !this.logOn();
      logBtn.setAttribute('aria-pressed', String(this.cardLog));
      this.redraw();
    });
    this.logBtn = logBtn;
    this.tools.append(reset, logBtn);
    this.tools.append(h('span', { class: 'sub hint', text: 'drag: zoom · shift+drag: pan · alt+wheel: zoom' }));
  }

  logOn() {
    return this.cardLog === null ? !!this.ctx.state.get('log') : this.cardLog;
  }

  lines() { return []; }

  sources() {
    return this.lines().filter((l) => this.ctx.runShown(l.run));
  }

  async load(signal) {
    if (!this.held) { // the data of a loaded card stays in the cache
      this.held = [...new Set(this.lines().map((l) => l.tag))];
      this.ctx.scalarData.hold(this.held);
    }
    if (!this.chart) {
      const el = h('div', { class: 'chart' });
      this.body.replaceChildren(el);
      this.chart = new LineChart(el, {
        height: this.enlarged ? 480 : 240, xType: this.ctx.state.get('x'),
        onZoom: (a, b) => this.zoomed(a, b), onReset: () => this.unzoomed(), onHover: (info) => this.hover(info),
      });
    }
    await this.fetchOverview(signal);
    if (signal.aborted) return;
    this.draw();
  }

  // The whole-range data of every source, grouped by tag for one request per tag.
  async fetchOverview(signal, refetch) {
    const byTag = new Map();
    for (const l of this.sources()) {
      if (!byTag.has(l.tag)) byTag.set(l.tag, []);
      byTag.get(l.tag).push(l.run);
    }
    const budget = pointBudget(this.chart);
    const weight = this.ctx.state.get('smoothing');
    await Promise.all([...byTag].map(([tag, runs]) => {
      const info = this.ctx.scalarRuns.get(tag) || new Map();
      const longRuns = new Set(runs.filter((r) => (info.get(r)?.points || 0) > budget));
      return this.ctx.scalarData.overview(tag, runs, { budget, weight, priority: CardHost.distance(this), signal, longRuns, refetch, allRuns: info.size });
    }));
  }

  seriesOf(l) {
    const k = l.run + '\u0000' + l.tag;
    if (this.win && this.win.data.has(k)) return { s: this.win.data.get(k), partial: true };
    const s = this.ctx.scalarData.get(l.tag, l.run);
    return s ? { s, partial: false } : null;
  }

  draw() {
    if (!this.chart) return;
    const st = this.ctx.state;
    const weight = st.get('smoothing'), xType = st.get('x');
    const series = [];
    let exact = true, total = 0, shown = 0, down = false, runsDrawn = new Set();
    this.hoverSeries = [];
    for (const l of this.sources()) {
      if (l.aux) continue; // fetched for a band, not drawn as a line
      const got = this.seriesOf(l);
      if (!got || !got.s.length) continue;
      const { s, partial } = got;
      const color = l.color || this.ctx.colors.get(l.run);
      const xs = s.xs(xType);
      const sm = s.smoothed(weight, partial);
      exact = exact && sm.exact;
      total += this.win && partial ? s.total : s.total;
      shown += s.length;
      down = down || s.downsampled;
      runsDrawn.add(l.run);
      if (l.band) {
        const lo = this.seriesOf({ run: l.run, tag: l.band.lower }), hi = this.seriesOf({ run: l.run, tag: l.band.upper });
        if (lo && hi && lo.s.length === s.length && hi.s.length === s.length) series.push({ xs, ys: s.values, band: { lo: lo.s.values, hi: hi.s.values }, color, under: true, hover: false });
      }
      // TensorBoard draws the raw line faintly behind the smoothed one
      if (weight > 0) series.push({ xs, ys: s.values, color: alpha(color, 0.28), under: true, hover: false });
      // width 1: the hairline path of software rasterisers, several times faster than 1.5
      const main = { xs, ys: sm.ys, color, width: 1, dash: l.dash, hover: true, line: l, s };
      series.push(main);
    }
    if (!series.length) {
      this.chart.setData([], { xType, log: this.logOn(), outliers: st.get('outliers') });
      this.body.classList.add('empty');
      this.status.textContent = 'No data for the selected runs.';
      this.setState('empty');
      return;
    }
    this.body.classList.remove('empty');
    this.chart.setData(series, { xType, log: this.logOn(), outliers: st.get('outliers'), rebuild: this.rebuildNext });
    this.rebuildNext = false;
    const what = this.win ? `steps ${this.win.start}–${this.win.end}: ` : '';
    this.status.textContent = what + (down ? `downsampled to ${plural(shown, 'point')} of ${total.toLocaleString('en-US')} (${plural(runsDrawn.size, 'run')})`
      : `${plural(shown, 'point')}, full resolution (${plural(runsDrawn.size, 'run')})`) + (exact ? '' : ' · smoothing approximate, loading the exact line…');
    this.el.dataset.downsampled = String(down);
    this.el.dataset.points = String(shown);
    this.el.dataset.exact = String(exact);
    this.el.dataset.runs = String(runsDrawn.size);
    this.el.dataset.smoothing = String(weight);
    this.el.dataset.x = xType;
    this.setState('drawn');
    if (!exact) this.scheduleResmooth();
  }

  // The server smooths downsampled series; after a change of weight it is asked again, once
  // the slider has settled.
  scheduleResmooth() {
    clearTimeout(this.resmoothTimer);
    this.resmoothTimer = setTimeout(async () => {
      const weight = this.ctx.state.get('smoothing');
      const budget = pointBudget(this.chart);
      try {
        if (this.win) await this.fetchWindow(this.win.min, this.win.max);
        const byTag = new Map();
        for (const l of this.sources()) { if (!byTag.has(l.tag)) byTag.set(l.tag, []); byTag.get(l.tag).push(l.run); }
        await Promise.all([...byTag].map(([tag, runs]) => this.ctx.scalarData.resmooth(tag, runs, { budget, weight, priority: CardHost.distance(this), signal: this.ac && this.ac.signal })));
        if (this.loaded) this.draw();
      } catch (e) { /* shown approximately until the next change */ }
    }, 300);
  }

  redraw() {
    if (!this.chart) return;
    // runs shown now that were not fetched: fetch them, then draw
    const missing = this.sources().some((l) => !this.seriesOf(l));
    if (missing) this.fetchOverview(this.ac && this.ac.signal).then(() => this.loaded && this.draw(), () => {});
    this.draw();
  }

  // Steps covered by an x range in the axis's units, from the whole-range data.
  stepRange(min, max) {
    const xType = this.ctx.state.get('x');
    if (xType === 'step') return [Math.floor(min), Math.ceil(max)];
    let lo = Infinity, hi = -Infinity;
    for (const l of this.sources()) {
      const s = this.ctx.scalarData.get(l.tag, l.run);
      if (!s) continue;
      const xs = s.xs(xType);
      for (let i = 0; i < xs.length; i++) {
        // one point either side, so the window reaches the edges of the view
        if (xs[i] >= min && xs[i] <= max || (i + 1 < xs.length && xs[i] < min && xs[i + 1] >= min) || (i > 0 && xs[i] > max && xs[i - 1] <= max)) {
          lo = Math.min(lo, s.steps[i]);
          hi = Math.max(hi, s.steps[i]);
        }
      }
    }
    return Number.isFinite(lo) ? [lo, hi] : null;
  }

  async zoomed(min, max) {
    hideTooltip();
    const needs = this.sources().some((l) => this.ctx.scalarData.get(l.tag, l.run)?.downsampled);
    if (!needs) { this.win = null; this.draw(); return; } // everything is here at full resolution
    await this.fetchWindow(min, max);
    if (this.loaded && this.chart && this.chart.isZoomed()) this.draw();
  }

  async fetchWindow(min, max) {
    const range = this.stepRange(min, max);
    if (!range) return;
    const [start, end] = range;
    const weight = this.ctx.state.get('smoothing');
    const byTag = new Map();
    for (const l of this.sources()) { if (!byTag.has(l.tag)) byTag.set(l.tag, []); byTag.get(l.tag).push(l.run); }
    const data = new Map();
    this.status.textContent = `loading steps ${start}–${end} at full resolution…`;
    const budget = pointBudget(this.chart);
    await Promise.all([...byTag].map(async ([tag, runs]) => {
      const m = await this.ctx.scalarData.window(tag, runs, { budget, weight, start, end, priority: -1, signal: this.ac && this.ac.signal });
      for (const [run, s] of m) data.set(run + '\u0000' + tag, s);
    }));
    this.win = { min, max, start, end, data };
  }

  unzoomed() {
    hideTooltip();
    this.win = null;
    this.draw();
  }

  hover(info) {
    if (!info) { hideTooltip(this); return; }
    const weight = this.ctx.state.get('smoothing');
    const rows = [];
    for (const r of info.rows) {
      const m = r.series;
      if (!m.s) continue;
      const s = m.s, i = r.i;
      rows.push({ color: m.color, name: m.line.name || m.line.run, smoothed: weight > 0 ? m.ys[i] : undefined, value: s.values[i],
        step: s.steps[i], wall: s.wall(i), relative: s.rel[i], dist: r.dist, outside: r.outside, extra: m.line.extra && m.line.extra(i) });
    }
    showTooltip(rows, { owner: this, sort: this.ctx.state.get('tipSort'), limit: this.ctx.state.get('tipRows'), smoothing: weight > 0,
      clientX: info.clientX, clientY: info.clientY, columns: this.tipColumns ? this.tipColumns() : [] });
  }

  resize() {
    if (this.chart) this.chart.setHeight(this.enlarged ? 480 : 240);
  }

  unload() {
    if (this.held) { this.ctx.scalarData.unhold(this.held); this.held = null; }
    clearTimeout(this.resmoothTimer);
    if (this.chart) this.chart.destroy();
    this.chart = null;
    this.win = null;
  }

  // For live refresh: fetch again, keeping the zoom.
  async reload() {
    if (!this.loaded || !this.chart) return;
    const signal = this.ac && this.ac.signal;
    await this.fetchOverview(signal, true);
    if (this.win) await this.fetchWindow(this.win.min, this.win.max);
    if (this.loaded) this.draw();
  }

  // What a test or a curious person can ask a card.
  debug() {
    const u = this.chart && this.chart.u;
    return u ? { xMin: u.scales.x.min, xMax: u.scales.x.max, yMin: u.scales.y.min, yMax: u.scales.y.max,
      series: (this.chart.all || this.chart.series).map((s) => ({ run: s.line ? s.line.run : null, tag: s.line ? s.line.tag : null, hover: s.hover !== false,
        band: !!s.band, color: s.color, n: s.xs.length, maxX: s.xs.length ? s.xs[s.xs.length - 1] : null, minX: s.xs.length ? s.xs[0] : null,
        head: Array.from(s.ys.slice(0, 50)) })),
      xTicks: (u.axes[0]._values || []).map(String),
      window: this.win ? { start: this.win.start, end: this.win.end } : null } : null;
  }
}

class ScalarCard extends LinesCard {
  constructor(dash, tag) {
    const info = dash.ctx.tagInfo(tag);
    super(dash, { key: 'scalars:' + tag, cls: 'scalar-card', tag, title: (info && info.display_name) || tag,
      sub: info && info.display_name && info.display_name !== tag ? tag : null, descriptionHtml: info && info.description_html });
    // one pair per experiment when several are compared
    for (const d of dash.ctx.tagDownloads('scalars', { tag, points: 'all' }))
      this.tools.append(h('a', { href: `${d.url}&format=csv`, download: '', class: 'dl-csv', text: d.label ? `CSV (${d.label})` : 'CSV' }),
        h('a', { href: d.url, download: '', class: 'dl-json', text: d.label ? `JSON (${d.label})` : 'JSON' }));
  }

  lines() {
    const runs = this.ctx.scalarRuns.get(this.tag) || new Map();
    return [...runs.keys()].sort().map((run) => ({ run, tag: this.tag }));
  }
}

export default class ScalarsDashboard {
  constructor(ctx, el) {
    this.ctx = ctx;
    this.el = el;
    this.host = null;
  }

  settings() {
    return scalarSettings(this.ctx);
  }

  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    const tags = this.ctx.scalarTags.filter((t) => this.ctx.tagShown(t));
    layoutGroups(this.el, this.host, tags.map((tag) => ({ key: 'scalars:' + tag, tag, make: () => new ScalarCard(this, tag) })),
      this.ctx.state.pins, 'No tags match the filter.');
    this.host.loadNearNow();
  }

  changed(keys) {
    if (keys.has('tagRe') || keys.has('pins')) { this.render(); return; }
    if (keys.has('x') || keys.has('theme')) for (const c of this.host.cards) { c.rebuildNext = true; if (keys.has('x')) c.win = null; }
    if (REDRAW.some((k) => keys.has(k))) this.host.invalidateAll();
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
