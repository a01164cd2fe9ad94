// SPDX-License-Identifier: MIT
// Histograms over time, drawn as TensorBoard's vz-histogram-timeseries draws them: one curve
// per step through the centres of equal-width bins (rebinned by the server), offset mode
// stacking the steps from the earliest at the back to the latest in front with fills that
// darken with time, overlay mode drawing them on one baseline; axes with ticks, and a hover
// readout of the step, bin and count nearest the cursor.

import { h, svg, cssVar } from './dom.js';
import { fmtNum, fmtRelative, fmtStep, fmtTick, fmtWall } from './format.js';
import { nice, ticks } from './ticks.js';
import { shade } from './colors.js';

function mix(a, b, t) {
  const pa = parseInt(a.slice(1), 16), pb = parseInt(b.slice(1), 16);
  const c = [16, 8, 0].map((s) => Math.round(((pa >> s) & 255) * (1 - t) + ((pb >> s) & 255) * t));
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}

export class HistogramChart {
  // opts: { color, mode: 'offset'|'overlay', timeProp: 'step'|'relative'|'wall', onHover(text) }
  constructor(el, opts) {
    this.el = el;
    this.opts = opts;
    this.data = [];
    this.ro = new ResizeObserver(() => { if (Math.abs((this.el.clientWidth || 0) - (this.lastW || 0)) > 2) this.draw(); });
    this.ro.observe(el);
  }

  // points: [{ step, wall_time, bins: [[left, right, count], ...] }], sorted by step
  setData(points, opts) {
    Object.assign(this.opts, opts || {});
    this.data = points.filter((p) => p.bins && p.bins.length);
    this.draw();
  }

  time(p) {
    if (this.opts.timeProp === 'wall') return p.wall_time;
    if (this.opts.timeProp === 'relative') return p.wall_time - this.data[0].wall_time;
    return p.step;
  }

  fmtTime(v) {
    if (this.opts.timeProp === 'wall') return fmtWall(v);
    if (this.opts.timeProp === 'relative') return fmtRelative(v);
    return fmtStep(v);
  }

  draw() {
    // not laid out yet: the ResizeObserver draws once it has a width
    this.lastW = this.el.clientWidth || 0;
    const W = Math.max(240, this.el.clientWidth || 400), H = this.opts.height || 260;
    const mode = this.opts.mode, data = this.data;
    const root = svg('svg', { class: 'hist-svg', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': `Histograms of ${data.length} steps (${mode})` });
    if (!data.length) {
      this.el.replaceChildren(h('div', { class: 'chart empty', text: 'No values in these histograms.' }));
      return;
    }
    const muted = cssVar('--muted', '#555d6b'), grid = cssVar('--grid', '#e3e6eb'), outline = cssVar('--card', '#fff');
    const m = { top: 8, right: 64, bottom: 24, left: 28 };
    const sliceH = mode === 'offset' ? (H - m.top - m.bottom) / 2.5 : H - m.top - m.bottom;
    if (mode === 'offset') m.top += sliceH;
    const w = W - m.left - m.right, hgt = H - m.top - m.bottom;
    let xlo = Infinity, xhi = -Infinity, ymax = 0;
    for (const p of data) {
      xlo = Math.min(xlo, p.bins[0][0]);
      xhi = Math.max(xhi, p.bins[p.bins.length - 1][1]);
      for (const b of p.bins) ymax = Math.max(ymax, b[2]);
    }
    [xlo, xhi] = nice(xlo, xhi, Math.max(2, Math.floor(w / 60)));
    const t0 = this.time(data[0]), t1 = this.time(data[data.length - 1]);
    const sx = (x) => m.left + (xhi > xlo ? (x - xlo) / (xhi - xlo) * w : w / 2);
    const st = (t) => (mode === 'offset' ? m.top + (t1 > t0 ? (t - t0) / (t1 - t0) * hgt : hgt) : m.top + hgt);
    const sy = (y) => -(ymax > 0 ? y / ymax * sliceH : 0); // up from a baseline
    const color = this.opts.color;
    const early = shade(color, 0.55), late = shade(color, -0.35);
    const fillOf = (t) => mix(early, late, t1 > t0 ? (t - t0) / (t1 - t0) : 1);
    // axes
    const axes = svg('g', { class: 'axes', 'font-size': 11, fill: muted });
    for (const v of ticks(xlo, xhi, Math.max(2, Math.floor(w / 60)))) {
      const x = sx(v);
      axes.append(svg('line', { x1: x, x2: x, y1: m.top - (mode === 'offset' ? sliceH : 0), y2: m.top + hgt, stroke: grid }));
      axes.append(svg('text', { x, y: H - 6, 'text-anchor': 'middle', text: fmtTick(v) }));
    }
    if (mode === 'offset') {
      const tv = this.opts.timeProp === 'step' ? ticks(t0, t1, Math.max(2, Math.floor(hgt / 28))).filter((v) => Number.isInteger(v) || t1 - t0 < 5)
        : ticks(t0, t1, Math.max(2, Math.floor(hgt / 28)));
      for (const v of tv.length ? tv : [t0]) axes.append(svg('text', { x: m.left + w + 6, y: st(v) + 4, text: this.fmtTime(v) }));
      axes.append(svg('text', { x: m.left + w + 6, y: m.top - sliceH + 4, class: 'axis-title', text: this.opts.timeProp === 'step' ? 'step' : this.opts.timeProp === 'relative' ? 'relative' : 'time' }));
    } else {
      for (const v of ticks(0, ymax, Math.max(2, Math.floor(hgt / 30)))) {
        const y = m.top + hgt + sy(v);
        axes.append(svg('line', { x1: m.left, x2: m.left + w, y1: y, y2: y, stroke: grid }));
        axes.append(svg('text', { x: m.left + w + 6, y: y + 4, text: fmtTick(v) }));
      }
      axes.append(svg('text', { x: m.left + w + 6, y: m.top + 4, class: 'axis-title', text: 'count' }));
    }
    root.append(axes);
    // one curve per step: earliest first, so the latest is in front
    const curves = svg('g', { class: 'curves' });
    this.geom = [];
    for (const p of data) {
      const t = this.time(p), base = st(t);
      const pts = p.bins.map((b) => [sx((b[0] + b[1]) / 2), base + sy(b[2])]);
      const d = `M${pts[0][0].toFixed(1)},${base.toFixed(1)}` + pts.map(([x, y]) => `L${x.toFixed(1)},${y.toFixed(1)}`).join('') +
        `L${pts[pts.length - 1][0].toFixed(1)},${base.toFixed(1)}`;
      const fill = fillOf(t);
      curves.append(svg('path', mode === 'offset'
        ? { d, fill, stroke: outline, 'stroke-width': 1, 'stroke-opacity': 0.6, class: 'hist-step', 'data-step': p.step }
        : { d, fill: 'none', stroke: fill, 'stroke-width': 1.2, class: 'hist-step', 'data-step': p.step }));
      this.geom.push({ p, base, pts });
    }
    root.append(curves);
    this.hoverG = svg('g', { class: 'hover', 'pointer-events': 'none' });
    root.append(this.hoverG);
    const stage = svg('rect', { x: m.left, y: m.top - (mode === 'offset' ? sliceH : 0), width: w, height: hgt + (mode === 'offset' ? sliceH : 0), fill: 'transparent', class: 'hist-stage' });
    stage.addEventListener('mousemove', (e) => this.hover(e, root, sx, xlo, xhi, w, m));
    stage.addEventListener('mouseleave', () => { this.hoverG.replaceChildren(); if (this.opts.onHover) this.opts.onHover(null); });
    root.append(stage);
    this.el.replaceChildren(root);
  }

  // TensorBoard's hover: the bin under the cursor's x in every step, the step whose curve is
  // nearest the cursor's y highlighted, with its step, bin and count.
  hover(e, root, sx, xlo, xhi, w, m) {
    const r = root.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const x = xlo + (mx - m.left) / w * (xhi - xlo);
    let best = null;
    for (const g of this.geom) {
      const bins = g.p.bins;
      let k = bins.findIndex((b) => x < b[1]);
      if (k < 0) k = bins.length - 1;
      const [px, py] = g.pts[k];
      const dist = Math.abs(my - py);
      if (!best || dist < best.dist) best = { g, k, px, py, dist };
    }
    if (!best) return;
    const b = best.g.p.bins[best.k];
    const label = `step ${fmtStep(best.g.p.step)} · bin ${fmtTick(b[0])} to ${fmtTick(b[1])} · count ${fmtNum(b[2])}`;
    const muted = cssVar('--fg', '#1d2129');
    this.hoverG.replaceChildren(
      svg('line', { x1: best.px, x2: best.px, y1: m.top - 4, y2: best.g.base, stroke: muted, 'stroke-opacity': 0.4 }),
      svg('circle', { cx: best.px, cy: best.py, r: 3.5, fill: muted, class: 'hover-dot' }));
    if (this.opts.onHover) this.opts.onHover(label, best.g.p);
  }

  destroy() {
    this.ro.disconnect();
    this.el.replaceChildren();
  }
}
