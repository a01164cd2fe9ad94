// SPDX-License-Identifier: MIT
// Line charts of many runs on uPlot (mode 2: each series has its own x values, so runs that
// log at different steps or times do not multiply each other's points). Zoom by dragging,
// pan with Shift+drag, Alt/Ctrl+wheel to zoom around the cursor, double-click or reset to
// see everything. Bands (margin charts) are filled under the lines. The hover readout is
// the caller's (tooltip.js), fed with the point of each series nearest the cursor.

import uPlot from './uPlot.esm.js';
import { cssVar } from './dom.js';
import { fmtRelative, fmtTick, fmtWall } from './format.js';
import { niceStep } from './ticks.js';

const POINTS = uPlot.paths.points();
const STEP_INCRS = [];
for (let p = 1; p <= 1e15; p *= 10) STEP_INCRS.push(p, 2 * p, 5 * p);

// Index of the last x <= v in sorted xs (or 0).
function floorIdx(xs, v) {
  let lo = 0, hi = xs.length - 1;
  if (hi < 0) return -1;
  if (v <= xs[0]) return 0;
  if (v >= xs[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= v) lo = mid; else hi = mid;
  }
  return lo;
}

// Index of the x nearest v.
export function nearestIdx(xs, v) {
  const i = floorIdx(xs, v);
  if (i < 0) return -1;
  if (i + 1 < xs.length && Math.abs(xs[i + 1] - v) < Math.abs(xs[i] - v)) return i + 1;
  return i;
}

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// Relative time ticks in round units of ms, seconds, minutes, hours or days.
function relSplits(u, axisIdx, min, max) {
  const span = max - min;
  if (!(span > 0)) return [min];
  const units = [[0.001, 2], [1, 120], [60, 7200], [3600, 172800], [86400, Infinity]];
  const unit = (units.find(([, lim]) => span < lim) || units[4])[0];
  const step = niceStep(span / unit, Math.max(2, Math.round(u.bbox.width / devicePixelRatio / 90))) * unit;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9 && out.length < 50; v += step) out.push(v);
  return out;
}

export class LineChart {
  // opts: { height, xType: 'step'|'relative'|'wall', onZoom(min, max), onReset(), onHover(info|null) }
  constructor(el, opts) {
    this.el = el;
    this.opts = opts;
    this.series = [];
    this.view = null; // { min, max } of x, or null for everything
    this.u = null;
    this.log = false;
    this.outliers = false;
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(el);
  }

  width() {
    return Math.max(200, Math.floor(this.el.clientWidth || 400));
  }

  // series: [{ key, color, dash, width, alpha, xs, ys, band: { lo, hi } | null, hover: bool }]
  // Arrays are typed arrays or plain arrays sorted by x; NaN values leave gaps.
  setData(series, o) {
    this.series = series;
    this.log = !!o.log;
    this.outliers = !!o.outliers;
    if (o.xType !== this.opts.xType) this.view = null; // the zoom was in other units
    if (o.xType !== this.opts.xType || !this.u || this.u.series.length - 1 !== Math.max(1, series.length) || !series.length || o.rebuild) {
      this.opts.xType = o.xType;
      this.build();
    } else {
      series.forEach((s, i) => {
        const us = this.u.series[i + 1];
        us.stroke = () => s.color;
        us.width = s.width || 1.5;
        us.dash = s.dash;
        us.alpha = s.alpha === undefined ? 1 : s.alpha;
        us.show = true;
      });
      this.u.batch(() => {
        this.u.setData(this.data(), false);
        this.applyScales();
      });
    }
  }

  data() {
    // uPlot's mode 2 needs at least one series: an empty one stands in for none
    if (!this.series.length) return [null, [[], []]];
    return [null, ...this.series.map((s) => [s.xs, this.log ? logSafe(s.ys) : s.ys])];
  }

  extent() {
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series) {
      if (!s.xs.length) continue;
      lo = Math.min(lo, s.xs[0]);
      hi = Math.max(hi, s.xs[s.xs.length - 1]);
    }
    if (!(hi >= lo)) return { min: 0, max: 1 };
    if (hi === lo) return this.opts.xType === 'step' ? { min: lo - 1, max: hi + 1 } : { min: lo - 0.5, max: hi + 0.5 };
    return { min: lo, max: hi };
  }

  xRange() {
    return this.view || this.extent();
  }

  // The y range over the points inside the x range (TensorBoard fits to the data in view);
  // with outliers ignored, the 5th to 95th percentile.
  yRange() {
    const { min, max } = this.xRange();
    const vals = [];
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series) {
      const arrs = s.band ? [s.ys, s.band.lo, s.band.hi] : [s.ys];
      if (s.fitOnly === false) continue;
      const a = Math.max(0, floorIdx(s.xs, min)), b = Math.min(s.xs.length - 1, floorIdx(s.xs, max) + 1);
      for (const ys of arrs) for (let i = a; i <= b; i++) {
        const v = ys[i];
        if (!Number.isFinite(v) || (this.log && v <= 0)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (this.outliers) vals.push(v);
      }
    }
    if (!(hi >= lo)) return this.log ? { min: 0.1, max: 10 } : { min: 0, max: 1 };
    if (this.outliers && vals.length > 10) {
      vals.sort((x, y) => x - y);
      lo = quantile(vals, 0.05);
      hi = quantile(vals, 0.95);
    }
    if (this.log) {
      if (hi === lo) return { min: lo / 2, max: hi * 2 };
      return { min: lo, max: hi };
    }
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.1 || 1;
    return { min: lo - pad, max: hi + pad };
  }

  applyScales() {
    const x = this.xRange(), y = this.yRange();
    this.u.setScale('x', { min: x.min, max: x.max });
    this.u.setScale('y', { min: y.min, max: y.max });
  }

  build() {
    if (this.u) this.u.destroy();
    const xType = this.opts.xType;
    const axisStroke = cssVar('--muted', '#555d6b'), grid = cssVar('--grid', '#e3e6eb');
    const font = '11px system-ui, sans-serif';
    const self = this;
    const useries = [{}];
    if (!this.series.length) useries.push({ facets: [{ scale: 'x', auto: false, sorted: 1 }, { scale: 'y', auto: false }], points: { show: false } });
    for (const s of this.series) {
      useries.push({
        stroke: s.color, width: s.width || 1.5, dash: s.dash, alpha: s.alpha === undefined ? 1 : s.alpha,
        facets: [{ scale: 'x', auto: false, sorted: 1 }, { scale: 'y', auto: false }],
        paths: uPlot.paths.linear(),
        // short series (a few evaluations) get a dot per point, as TensorBoard draws them
        points: { show: (u, si) => { const x = self.series[si - 1]; return !!x && x.hover !== false && x.xs.length <= 40; }, size: 5, width: 1.5, fill: (u, si) => self.series[si - 1] ? self.series[si - 1].color : null,
          // mode 2 gives points no index range: every point of the series
          paths: (u, si, i0, i1, idxs) => POINTS(u, si, 0, u.data[si][0].length - 1, idxs) },
      });
    }
    const xAxis = { stroke: axisStroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font, size: 34 };
    if (xType === 'relative') {
      xAxis.splits = relSplits;
      xAxis.values = (u, vals) => vals.map(fmtRelative);
    } else if (xType === 'step') {
      xAxis.values = (u, vals) => vals.map(fmtTick);
      xAxis.incrs = STEP_INCRS; // steps are whole numbers
    }
    const yAxis = { stroke: axisStroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font,
      values: (u, vals) => vals.map(fmtTick),
      size: (u, values) => Math.max(40, (values || []).reduce((m, v) => Math.max(m, String(v).length), 0) * 7 + 16) };
    const opts = {
      mode: 2,
      width: this.width(),
      height: this.opts.height || 240,
      legend: { show: false },
      scales: { x: { time: xType === 'wall', auto: false }, y: { auto: false, distr: this.log ? 3 : 1 } },
      axes: [xAxis, yAxis],
      series: useries,
      cursor: {
        x: true, y: false,
        points: { show: false },
        dataIdx: () => null,
        drag: { x: true, y: false, setScale: false },
        bind: {
          mousedown: (u, targ, handler) => (e) => {
            if (e.shiftKey) { self.startPan(e); return null; }
            return handler(e);
          },
          dblclick: () => () => { self.reset(); return null; },
        },
      },
      hooks: {
        drawAxes: [(u) => self.drawBands(u)],
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          self.zoomTo(Math.min(a, b), Math.max(a, b));
        }],
        setCursor: [(u) => self.hover(u)],
      },
    };
    this.u = new uPlot(opts, this.data(), this.el);
    this.u.batch(() => this.applyScales());
    this.u.over.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    this.u.over.addEventListener('mouseleave', () => this.opts.onHover && this.opts.onHover(null));
  }

  drawBands(u) {
    const ctx = u.ctx;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    for (const s of this.series) {
      if (!s.band) continue;
      const { lo, hi } = s.band;
      ctx.beginPath();
      let started = false;
      const px = (i, arr) => [u.valToPos(s.xs[i], 'x', true), u.valToPos(this.log ? Math.max(arr[i], 1e-300) : arr[i], 'y', true)];
      for (let i = 0; i < s.xs.length; i++) {
        if (!Number.isFinite(hi[i])) continue;
        const [x, y] = px(i, hi);
        if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
      }
      for (let i = s.xs.length - 1; i >= 0; i--) {
        if (!Number.isFinite(lo[i])) continue;
        const [x, y] = px(i, lo);
        ctx.lineTo(x, y);
      }
      if (!started) continue;
      ctx.closePath();
      ctx.globalAlpha = s.bandAlpha || 0.3;
      ctx.fillStyle = s.color;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    ctx.restore();
  }

  // The point of each series nearest the cursor's x, with its distance in pixels.
  hover(u) {
    if (!this.opts.onHover) return;
    const left = u.cursor.left, top = u.cursor.top;
    if (left === undefined || left < 0 || top === undefined || top < 0) { this.opts.onHover(null); return; }
    const x = u.posToVal(left, 'x');
    const rows = [];
    this.series.forEach((s, k) => {
      if (s.hover === false || !s.xs.length) return;
      const i = nearestIdx(s.xs, x);
      if (i < 0) return;
      const y = s.ys[i];
      const px = u.valToPos(s.xs[i], 'x'), py = Number.isFinite(y) ? u.valToPos(this.log ? Math.max(y, 1e-300) : y, 'y') : NaN;
      const outside = x < s.xs[0] || x > s.xs[s.xs.length - 1];
      rows.push({ series: s, k, i, dist: Number.isFinite(py) ? Math.hypot(px - left, py - top) : Infinity, px, py, outside });
    });
    const r = u.over.getBoundingClientRect();
    this.opts.onHover({ x, rows, clientX: r.left + left, clientY: r.top + top, chart: this });
  }

  zoomTo(min, max) {
    if (!(max > min)) return;
    this.view = { min, max };
    this.u.batch(() => this.applyScales());
    if (this.opts.onZoom) this.opts.onZoom(min, max);
  }

  reset() {
    this.view = null;
    if (this.u) this.u.batch(() => this.applyScales());
    if (this.opts.onReset) this.opts.onReset();
  }

  isZoomed() {
    return !!this.view;
  }

  wheel(e) {
    if (!(e.altKey || e.ctrlKey || e.metaKey)) return; // plain wheel scrolls the page
    e.preventDefault();
    const { min, max } = this.xRange();
    const r = this.u.over.getBoundingClientRect();
    const at = this.u.posToVal(e.clientX - r.left, 'x');
    const f = e.deltaY < 0 ? 0.8 : 1.25;
    const full = this.extent();
    let a = at - (at - min) * f, b = at + (max - at) * f;
    if (b - a >= full.max - full.min) { this.reset(); return; }
    a = Math.max(a, full.min - (full.max - full.min));
    b = Math.min(b, full.max + (full.max - full.min));
    this.zoomTo(a, b);
  }

  startPan(e) {
    const { min, max } = this.xRange();
    const x0 = e.clientX, w = this.u.bbox.width / devicePixelRatio;
    const move = (ev) => {
      const d = (ev.clientX - x0) / w * (max - min);
      this.view = { min: min - d, max: max - d };
      this.u.batch(() => this.applyScales());
    };
    const up = () => {
      removeEventListener('mousemove', move);
      removeEventListener('mouseup', up);
      if (this.view && this.opts.onZoom) this.opts.onZoom(this.view.min, this.view.max);
    };
    addEventListener('mousemove', move);
    addEventListener('mouseup', up);
  }

  resize() {
    if (!this.u) return;
    const w = this.width();
    if (Math.abs(w - this.u.width) > 2 || (this.opts.height && this.opts.height !== this.u.height)) this.u.setSize({ width: w, height: this.opts.height || 240 });
  }

  setHeight(hgt) {
    this.opts.height = hgt;
    this.resize();
  }

  // Pixel width of the plotting area, for choosing how many points to fetch.
  plotWidth() {
    return this.u ? this.u.bbox.width / devicePixelRatio : this.width() - 60;
  }

  destroy() {
    this.ro.disconnect();
    if (this.u) this.u.destroy();
    this.u = null;
  }
}

// A copy for log scales: values that cannot be drawn (<= 0) become gaps.
function logSafe(ys) {
  const out = new Float64Array(ys.length);
  for (let i = 0; i < ys.length; i++) out[i] = ys[i] > 0 ? ys[i] : NaN;
  return out;
}

export { fmtWall };
