// SPDX-License-Identifier: MIT
// Distributions, as TensorBoard's vz-distribution-chart draws them: the values at nine basis
// points of each step's histogram (compressed by the server, as TensorBoard's distributions
// plugin does) as eight filled bands between neighbouring basis points, darkest around the
// median, over steps, relative or wall time.

import uPlot from './uPlot.esm.js';
import { cssVar } from './dom.js';
import { fmtRelative, fmtTick } from './format.js';

// TensorBoard's band opacities: the width of each band of its chart's percentiles / 2500.
const CHART_PERCENTS = [0, 228, 1587, 3085, 5000, 6915, 8413, 9772, 10000];
export const BAND_OPACITY = CHART_PERCENTS.slice(1).map((p, i) => (p - CHART_PERCENTS[i]) / 2500);

export class DistributionChart {
  // opts: { color, timeProp, height, onHover(idx|null) }
  constructor(el, opts) {
    this.el = el;
    this.opts = opts;
    this.u = null;
    this.ro = new ResizeObserver(() => this.u && Math.abs(this.u.width - this.width()) > 2 && this.u.setSize({ width: this.width(), height: this.opts.height || 240 }));
    this.ro.observe(el);
  }

  width() { return Math.max(200, Math.floor(this.el.clientWidth || 400)); }

  // xs: times; cols: nine arrays of values (basis points 0 .. 10000)
  setData(xs, cols, opts) {
    Object.assign(this.opts, opts || {});
    let only = null;
    if (xs.length === 1) { // one step: a narrow column instead of nothing
      only = xs[0];
      xs = [xs[0] - 0.5, xs[0] + 0.5];
      cols = cols.map((c) => [c[0], c[0]]);
      this.single = true;
    } else this.single = false;
    this.xs = xs;
    this.cols = cols;
    if (this.u) this.u.destroy();
    const muted = cssVar('--muted', '#555d6b'), grid = cssVar('--grid', '#e3e6eb');
    const font = '11px system-ui, sans-serif';
    const tp = this.opts.timeProp;
    const xAxis = { stroke: muted, grid: { stroke: grid }, ticks: { stroke: grid }, font,
      values: tp === 'relative' ? (u, v) => v.map(fmtRelative) : tp === 'step' ? (u, v) => v.map(fmtTick) : undefined };
    if (only !== null) xAxis.splits = () => [only]; // the one step, not fractions around it
    const self = this;
    this.u = new uPlot({
      width: this.width(), height: this.opts.height || 240, legend: { show: false },
      scales: { x: { time: tp === 'wall' }, y: { auto: true } },
      axes: [xAxis, { stroke: muted, grid: { stroke: grid }, ticks: { stroke: grid }, font, values: (u, v) => v.map(fmtTick),
        size: (u, values) => Math.max(40, (values || []).reduce((m, v) => Math.max(m, String(v).length), 0) * 7 + 16) }],
      series: [{}, ...cols.map(() => ({ stroke: 'transparent', width: 0, points: { show: false } }))],
      cursor: { points: { show: false }, drag: { x: true, y: false } },
      hooks: {
        drawAxes: [(u) => self.drawBands(u)],
        setCursor: [(u) => self.opts.onHover && self.opts.onHover(u.cursor.idx === null || u.cursor.idx === undefined ? null : u.cursor.idx)],
      },
    }, [xs, ...cols], this.el);
  }

  drawBands(u) {
    const ctx = u.ctx, color = this.opts.color, xs = this.xs, cols = this.cols;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    const X = (i) => u.valToPos(xs[i], 'x', true), Y = (v) => u.valToPos(v, 'y', true);
    for (let b = 0; b < 8; b++) {
      const lo = cols[b], hi = cols[b + 1];
      ctx.beginPath();
      for (let i = 0; i < xs.length; i++) (i ? ctx.lineTo : ctx.moveTo).call(ctx, X(i), Y(hi[i]));
      for (let i = xs.length - 1; i >= 0; i--) ctx.lineTo(X(i), Y(lo[i]));
      ctx.closePath();
      ctx.globalAlpha = BAND_OPACITY[b];
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 0.5 * devicePixelRatio;
      ctx.strokeStyle = color;
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.restore();
  }

  destroy() {
    this.ro.disconnect();
    if (this.u) this.u.destroy();
    this.u = null;
  }
}
