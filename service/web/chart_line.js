// SPDX-License-Identifier: MIT
// Line charts of many runs. uPlot draws the axes, the grid and the cursor, and handles the
// drag selection; the lines are drawn here, straight from typed arrays, because a hundred
// runs of thousands of points must redraw in well under 200 ms on a machine without a GPU:
// line_raster.js reduces each line to the range of y it covers in every pixel column (M4
// carried down to pixels: the same picture as every point, every extreme kept), blends those
// spans into one layer of pixels, and the layer goes onto uPlot's canvas in one drawImage.
// The column ranges are kept per line while its data and the x scale stay (about 5 KB a
// line), so a run toggled, a smoothing change or a new y scale only turns them into pixels.
// Dashed lines, bands and the dots of short series are drawn with the canvas. Zoom by
// dragging, pan with Shift+drag, Alt/Ctrl+wheel to zoom around the cursor, double-click or
// reset to see everything. The hover readout is the caller's (tooltip.js), fed with the
// point of each series nearest the cursor.

import uPlot from './uPlot.esm.js';
import { cssVar } from './dom.js';
import { fmtRelative, fmtTick, fmtWall } from './format.js';
import { columns, drawColumns, parseColor, unpremultiply } from './line_raster.js';
import { niceStep } from './ticks.js';

const STEP_INCRS = [];
for (let p = 1; p <= 1e15; p *= 10) STEP_INCRS.push(p, 2 * p, 5 * p);
const FEW_POINTS = 40; // series this short get a dot per point, as TensorBoard draws them

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

// The min and max of ys over [a, b] (finite values; positive ones for log scales), cached
// for whole arrays, which is what an unzoomed chart asks.
const extentCache = new WeakMap();
function extentOf(ys, a, b, log) {
  const whole = a === 0 && b === ys.length - 1;
  const key = log ? 'log' : 'lin';
  if (whole) {
    const c = extentCache.get(ys);
    if (c && c[key]) return c[key];
  }
  let lo = Infinity, hi = -Infinity;
  for (let i = a; i <= b; i++) {
    const v = ys[i];
    if (!(v === v) || v === Infinity || v === -Infinity || (log && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const r = [lo, hi];
  if (whole) {
    const c = extentCache.get(ys) || {};
    c[key] = r;
    extentCache.set(ys, c);
  }
  return r;
}

// The lines' layer: premultiplied RGBA pixels the lines are blended into, the ImageData it becomes,
// and a canvas to put that on screen with, all shared by every chart (a chart is drawn in
// one go, so none needs its own: a hundred cards keep no bitmaps).
const layers = new Map(); // 'w x h' -> { buf, u32, img }
function layer(w, h) {
  const k = w + 'x' + h;
  let l = layers.get(k);
  if (l) { l.u32.fill(0); return l; }
  if (layers.size >= 4) layers.clear();
  l = { u32: new Uint32Array(w * h), img: new ImageData(w, h) };
  layers.set(k, l);
  return l;
}

let scratch = null;
function layerCanvas(w, h) {
  if (!scratch) {
    const canvas = document.createElement('canvas');
    scratch = { canvas, ctx: canvas.getContext('2d') };
  }
  if (scratch.canvas.width < w) scratch.canvas.width = w;
  if (scratch.canvas.height < h) scratch.canvas.height = h;
  return scratch;
}

// Column ranges kept per line (line_raster.js columns()): for each (ys, xs) pair the ranges
// of its last x mapping, so that a redraw which keeps the x scale (a run toggled, smoothing
// changed, log or outliers, a colour) only turns them into pixels; a line is about 5 KB.
// Least recently used ones go past a budget; the x axis's three kinds have their own xs, so
// switching back to one finds it.
const COLUMN_BYTES = 24 << 20;
const colCache = new WeakMap(); // ys -> WeakMap xs -> entry
const colLru = new Map(); // entry -> true, oldest first
let colBytes = 0;

function columnsOf(xs, ys, a, b, m, w) {
  let byXs = colCache.get(ys);
  if (!byXs) { byXs = new WeakMap(); colCache.set(ys, byXs); }
  let e = byXs.get(xs);
  if (e && e.cols && e.a === a && e.b === b && e.x0 === m.x0 && e.kx === m.kx && e.ox === m.ox && e.log === m.log && e.w === w) {
    colLru.delete(e);
    colLru.set(e, true);
    return e.cols;
  }
  if (e && e.cols) { colBytes -= e.cols.bytes; colLru.delete(e); }
  const cols = columns(xs, ys, a, b, m.x0, m.kx, m.ox, m.log, w).trimmed();
  e = { cols, a, b, x0: m.x0, kx: m.kx, ox: m.ox, log: m.log, w };
  byXs.set(xs, e);
  colLru.set(e, true);
  colBytes += cols.bytes;
  for (const old of colLru.keys()) {
    if (colBytes <= COLUMN_BYTES) break;
    colLru.delete(old);
    colBytes -= old.cols.bytes;
    old.cols = null;
  }
  return cols;
}

// Drops the kept column ranges (for benchmarks that measure a redraw from nothing).
export function clearColumnCache() {
  for (const e of colLru.keys()) e.cols = null;
  colLru.clear();
  colBytes = 0;
}

// Bytes the charts keep beside the data: the column ranges and the shared layers.
export function chartBytes() {
  let b = colBytes;
  for (const l of layers.values()) b += l.u32.byteLength + l.img.data.byteLength;
  if (scratch) b += scratch.canvas.width * scratch.canvas.height * 4;
  return b;
}

export class LineChart {
  // opts: { height, xType: 'step'|'relative'|'wall', onZoom(min, max), onReset(), onHover(info|null) }
  constructor(el, opts) {
    this.el = el;
    this.opts = opts;
    this.series = []; // lines, drawn on top
    this.under = []; // faint lines and bands, drawn beneath (cached)
    this.all = [];
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

  // series: [{ color, dash, width, xs, ys, band: { lo, hi } | null, hover: bool, under: bool }]
  // Arrays are typed arrays or plain arrays sorted by x; NaN values leave gaps. Series marked
  // `under` are the faint raw lines behind smoothed ones, and bands.
  // o: { xType, log, outliers, rebuild }
  setData(series, o) {
    this.all = series;
    this.under = series.filter((x) => x.under);
    this.series = series.filter((x) => !x.under);
    if (o.xType !== this.opts.xType) this.view = null; // the zoom was in other units
    const rebuild = !this.u || o.xType !== this.opts.xType || !!o.log !== this.log || o.rebuild;
    this.log = !!o.log;
    this.outliers = !!o.outliers;
    this.opts.xType = o.xType;
    if (rebuild) this.build();
    else this.u.batch(() => { this.applyScales(); this.u.redraw(false); });
  }

  extent() {
    let lo = Infinity, hi = -Infinity;
    for (const s of this.all) {
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
    for (const s of this.all) {
      if (!s.xs.length) continue;
      const arrs = s.band ? [s.ys, s.band.lo, s.band.hi] : [s.ys];
      const a = Math.max(0, floorIdx(s.xs, min)), b = Math.min(s.xs.length - 1, floorIdx(s.xs, max) + 1);
      for (const ys of arrs) {
        const [l, h] = extentOf(ys, this.view ? a : 0, this.view ? b : ys.length - 1, this.log);
        if (l < lo) lo = l;
        if (h > hi) hi = h;
        if (this.outliers) for (let i = a; i <= b; i++) if (Number.isFinite(ys[i]) && !(this.log && ys[i] <= 0)) vals.push(ys[i]);
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
    // the width of the chart being replaced: reading the element's would lay out the page
    // again for every chart (the ResizeObserver reports real changes)
    const width = this.u ? this.u.width : this.width();
    if (this.u) this.u.destroy();
    this.u = null;
    const xType = this.opts.xType;
    const axisStroke = cssVar('--muted', '#555d6b'), grid = cssVar('--grid', '#e3e6eb');
    const font = '11px system-ui, sans-serif';
    const self = this;
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
      width,
      height: this.opts.height || 240,
      legend: { show: false },
      scales: { x: { time: xType === 'wall', auto: false }, y: { auto: false, distr: this.log ? 3 : 1 } },
      axes: [xAxis, yAxis],
      // one empty series: uPlot's mode 2 needs one; the lines are drawn in the draw hook
      series: [{}, { facets: [{ scale: 'x', auto: false, sorted: 1 }, { scale: 'y', auto: false }], points: { show: false }, paths: () => null }],
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
        draw: [(u) => self.drawLines(u)],
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          self.zoomTo(Math.min(a, b), Math.max(a, b));
        }],
        setCursor: [(u) => self.hover(u)],
      },
    };
    // initialised inside a batch with the scales set, so that it draws once (a plain
    // constructor queues a draw of its own after the one with the scales)
    new uPlot(opts, [null, [[], []]], (u, init) => {
      this.u = u;
      this.el.appendChild(u.root);
      u.batch(() => { init(); this.applyScales(); });
    });
    this.u.over.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    this.u.over.addEventListener('mouseleave', () => this.opts.onHover && this.opts.onHover(null));
  }

  // Canvas pixels from values, inlined for speed: [x0, kx, y0, ky, log].
  mapping(u) {
    const xs = u.scales.x, ys = u.scales.y, bb = u.bbox;
    const kx = bb.width / (xs.max - xs.min);
    if (this.log) {
      const l0 = Math.log10(ys.min), l1 = Math.log10(ys.max);
      return { xmin: xs.min, kx, left: bb.left, ymin: l0, ky: bb.height / (l1 - l0), bottom: bb.top + bb.height, log: true };
    }
    return { xmin: xs.min, kx, left: bb.left, ymin: ys.min, ky: bb.height / (ys.max - ys.min), bottom: bb.top + bb.height, log: false };
  }

  // The index range of a series' points to draw for an x range: one point either side.
  static span(xs, r) {
    const n = xs.length;
    return [Math.max(0, floorIdx(xs, r.min) - 1), Math.min(n - 1, floorIdx(xs, r.max) + 1)];
  }

  // Strokes one series onto ctx (lines the rasteriser does not draw: dashed ones): M4 per
  // pixel column where it is dense, point to point where it is not; NaN (and, on log
  // scales, values <= 0) leave gaps.
  strokeSeries(u, ctx, s, m, range) {
    const xs = s.xs, ys = s.ys, n = xs.length;
    if (!n) return;
    const [a, b] = LineChart.span(xs, range);
    const { xmin, kx, left, ymin, ky, bottom, log } = m;
    ctx.beginPath();
    let pen = false, col = NaN, yFirst = 0, yMin = 0, yMax = 0, yLast = 0, cx = 0;
    const flush = () => {
      if (col !== col) return;
      if (!pen) { ctx.moveTo(cx, yFirst); pen = true; } else ctx.lineTo(cx, yFirst);
      if (yMin !== yFirst) ctx.lineTo(cx, yMin);
      if (yMax !== yMin) ctx.lineTo(cx, yMax);
      if (yLast !== yMax) ctx.lineTo(cx, yLast);
      col = NaN;
    };
    for (let i = a; i <= b; i++) {
      let y = ys[i];
      // y - y is NaN for NaN and the infinities: one test for what cannot be drawn
      if (y - y !== 0 || (log && y <= 0)) { flush(); pen = false; continue; }
      if (log) y = Math.log10(y);
      const px = left + (xs[i] - xmin) * kx, py = bottom - (y - ymin) * ky;
      const c = ((px < -1e7 ? -1e7 : px > 1e7 ? 1e7 : px) + 0.5) | 0; // the pixel column
      if (c !== col) {
        flush();
        col = c;
        cx = px;
        yFirst = yMin = yMax = yLast = py;
      } else {
        if (py < yMin) yMin = py;
        if (py > yMax) yMax = py;
        yLast = py;
      }
    }
    flush();
    ctx.stroke();
  }

  dots(u, ctx, s, m) {
    const { xmin, kx, left, ymin, ky, bottom, log } = m;
    const r = 2.5 * devicePixelRatio;
    ctx.beginPath();
    for (let i = 0; i < s.xs.length; i++) {
      let y = s.ys[i];
      if (!Number.isFinite(y) || (log && y <= 0)) continue;
      if (log) y = Math.log10(y);
      const px = left + (s.xs[i] - xmin) * kx, py = bottom - (y - ymin) * ky;
      ctx.moveTo(px + r, py);
      ctx.arc(px, py, r, 0, 2 * Math.PI);
    }
    ctx.fill();
  }

  // The lines: the faint ones, then the others, rasterised into one layer (line_raster.js)
  // over the plot area and drawn onto uPlot's canvas (above its grid) in one drawImage;
  // dashed lines are stroked on the canvas after them, and short series get dots.
  drawLines(u) {
    if (!this.all.length) return;
    const ctx = u.ctx, m = this.mapping(u), range = this.xRange(), dpr = devicePixelRatio || 1;
    const bb = u.bbox;
    const L0 = Math.floor(bb.left), T0 = Math.floor(bb.top);
    const W = Math.ceil(bb.left + bb.width) - L0, H = Math.ceil(bb.top + bb.height) - T0;
    const stroked = [];
    if (W > 0 && H > 0) {
      const l = layer(W, H);
      const ox = m.left - L0, oy = m.bottom - T0;
      let drawn = 0;
      for (const list of [this.under, this.series]) {
        for (const s of list) {
          if (s.band || s.width === 0 || !s.xs.length) continue;
          const color = parseColor(s.color);
          if (s.dash || !color) { stroked.push(s); continue; }
          const [a, b] = LineChart.span(s.xs, range);
          const cols = columnsOf(s.xs, s.ys, a, b, { x0: m.xmin, kx: m.kx, ox, log: m.log }, W);
          drawColumns(l.u32, W, H, cols, m.ymin, m.ky, oy, color, (s.width || 1) * dpr);
          drawn++;
        }
      }
      if (drawn) {
        unpremultiply(l.u32, l.img.data);
        const c = layerCanvas(W, H);
        c.ctx.putImageData(l.img, 0, 0);
        ctx.drawImage(c.canvas, 0, 0, W, H, L0, T0, W, H);
      }
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(bb.left, bb.top, bb.width, bb.height);
    ctx.clip();
    ctx.lineJoin = 'round';
    for (const s of stroked) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = (s.width || 1) * dpr;
      ctx.setLineDash(s.dash ? s.dash.map((d) => d * dpr) : []);
      this.strokeSeries(u, ctx, s, m, range);
    }
    ctx.setLineDash([]);
    for (const s of this.series) {
      if (s.width !== 0 && s.hover !== false && s.xs.length && s.xs.length <= FEW_POINTS) {
        ctx.fillStyle = s.color;
        this.dots(u, ctx, s, m);
      }
    }
    ctx.restore();
  }

  // Bands (margin charts) under the lines.
  drawBands(u) {
    if (!this.under.some((s) => s.band)) return;
    const ctx = u.ctx, m = this.mapping(u);
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    for (const s of this.under) if (s.band) this.fillBand(ctx, s, m);
    ctx.restore();
  }

  fillBand(ctx, s, m) {
    const { lo, hi } = s.band;
    const { xmin, kx, left, ymin, ky, bottom, log } = m;
    const Y = (v) => bottom - ((log ? Math.log10(Math.max(v, 1e-300)) : v) - ymin) * ky;
    ctx.beginPath();
    let started = false;
    for (let i = 0; i < s.xs.length; i++) {
      if (!Number.isFinite(hi[i])) continue;
      const x = left + (s.xs[i] - xmin) * kx, y = Y(hi[i]);
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    }
    for (let i = s.xs.length - 1; i >= 0; i--) {
      if (!Number.isFinite(lo[i])) continue;
      ctx.lineTo(left + (s.xs[i] - xmin) * kx, Y(lo[i]));
    }
    if (!started) return;
    ctx.closePath();
    ctx.globalAlpha = s.bandAlpha || 0.3;
    ctx.fillStyle = s.color;
    ctx.fill();
    ctx.globalAlpha = 1;
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
      const px = u.valToPos(s.xs[i], 'x'), py = Number.isFinite(y) && !(this.log && y <= 0) ? u.valToPos(y, 'y') : NaN;
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

export { fmtWall };
