// SPDX-License-Identifier: MIT
// The parallel coordinates view of the HParams dashboard (TensorBoard's
// tf-hparams-parallel-coords-plot): one vertical axis per column shown, one polyline per
// session coloured by the "colour by" metric. Dragging along an axis brushes a range of it
// (a click without a drag clears it); sessions outside any brush are drawn grey behind the
// others and left out of the table and the scatter matrix. The pointer's nearest line is
// highlighted and its session's values shown. Lines on a canvas, axes and brushes in SVG
// above it.

import { svg } from './dom.js';
import { fmtTick } from './format.js';
import { makeScale, themeVar } from './hparams_scale.js';

const TOP = 58, BOTTOM = 26, HEIGHT = 420, SIDE = 70, HIT = 8;

export class ParallelCoords {
  // opts: { onBrush(final: bool), onHover(session or null, event), onScale(key, log) }
  constructor(opts) {
    this.opts = opts;
    this.el = svg('svg', { class: 'hp-parcoords', role: 'img', 'aria-label': 'Parallel coordinates of the sessions' });
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'hp-lines';
    this.wrap = document.createElement('div');
    this.wrap.className = 'hp-pc-wrap';
    this.wrap.append(this.canvas, this.el);
    this.el.addEventListener('pointermove', (e) => this.hover(e));
    this.el.addEventListener('pointerleave', () => this.setHover(null, null));
  }

  // cols: columns shown; sessions: those passing the filter panel; filters: brushes and
  // scales; colorOf(session) -> '#rrggbb'; width: pixels available.
  draw(cols, sessions, filters, colorOf, width) {
    this.cols = cols;
    this.sessions = sessions;
    this.filters = filters;
    const w = Math.max(width, 2 * SIDE + 90 * Math.max(0, cols.length - 1));
    this.w = w;
    this.el.setAttribute('width', w);
    this.el.setAttribute('height', HEIGHT);
    this.el.setAttribute('viewBox', `0 0 ${w} ${HEIGHT}`);
    const H = HEIGHT - TOP - BOTTOM;
    this.H = H;
    const step = cols.length > 1 ? (w - 2 * SIDE) / (cols.length - 1) : 0;
    this.xs = cols.map((c, i) => (cols.length > 1 ? SIDE + i * step : w / 2));
    this.scales = cols.map((c) => makeScale(c, filters.log.has(c.key)));
    // a brush keeps its place on the axis when the axis' scale changes
    cols.forEach((c, i) => {
      const b = filters.brushes.get(c.key);
      if (b) filters.brushes.set(c.key, Object.assign(this.scales[i].pick(b.t0, b.t1), { t0: b.t0, t1: b.t1 }));
    });
    // each session's y on each axis (null where it has no value)
    this.ys = sessions.map((s) => cols.map((c, i) => {
      const t = this.scales[i].t(c.get(s));
      return t === null ? null : TOP + (1 - t) * H;
    }));
    this.colors = sessions.map(colorOf);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(HEIGHT * dpr);
    this.canvas.style.width = w + 'px';
    this.canvas.style.height = HEIGHT + 'px';
    this.dpr = dpr;
    this.hl = svg('path', { class: 'hp-line hl', d: '' });
    const axes = cols.map((c, i) => this.axis(c, i));
    this.el.replaceChildren(this.hl, ...axes);
    this.restyle();
  }

  axis(c, i) {
    const x = this.xs[i], sc = this.scales[i], H = this.H;
    const g = svg('g', { class: 'hp-axis', 'data-key': c.key, 'data-col': c.title });
    g.append(svg('line', { class: 'hp-axis-line', x1: x, x2: x, y1: TOP, y2: TOP + H }));
    const ticks = sc.ticks();
    const every = Math.max(1, Math.ceil(ticks.length / Math.max(2, Math.floor(H / 16))));
    ticks.forEach(([t, v], k) => {
      if (k % every) return;
      const y = TOP + (1 - t) * H;
      g.append(svg('line', { class: 'hp-tick', x1: x - 4, x2: x, y1: y, y2: y }));
      const label = typeof v === 'number' ? fmtTick(v) : v.length > 12 ? v.slice(0, 11) + '…' : v;
      g.append(svg('text', { class: 'hp-tick-label', x: x - 6, y: y + 4, 'text-anchor': 'end', text: label }));
    });
    const span = this.xs.length > 1 ? this.xs[1] - this.xs[0] : 200;
    const maxChars = Math.max(4, Math.floor(span / 6.5));
    const name = c.title.length > maxChars ? c.title.slice(0, maxChars - 1) + '…' : c.title;
    const title = svg('text', { class: 'hp-axis-title' + (c.kind === 'metric' ? ' metric' : ''), x, y: 18, 'text-anchor': 'middle', text: name });
    title.append(svg('title', { text: c.title }));
    g.append(title);
    if (c.numeric && (c.min > 0 || c.max < 0)) {
      // TensorBoard's scale choice (linear or logarithmic) per numeric axis
      const sw = svg('text', { class: 'hp-scale', x, y: 36, 'text-anchor': 'middle', role: 'button', tabindex: 0, 'data-key': c.key,
        'aria-label': `${c.title}: ${sc.log ? 'logarithmic' : 'linear'} scale, switch`, text: sc.log ? 'log ▾' : 'linear ▾' });
      const flip = () => this.opts.onScale(c.key, !sc.log);
      sw.addEventListener('click', flip);
      sw.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); flip(); } });
      g.append(sw);
    }
    const brush = svg('rect', { class: 'hp-brush', x: x - 9, width: 18, y: 0, height: 0 });
    const zone = svg('rect', { class: 'hp-brush-zone', x: x - 12, width: 24, y: TOP - 4, height: H + 8, 'data-key': c.key });
    g.append(brush, zone);
    const b = this.filters.brushes.get(c.key);
    if (b) this.showBrush(brush, b.t0, b.t1);
    zone.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      zone.setPointerCapture(e.pointerId);
      const y0 = this.localY(e);
      let moved = false;
      const move = (ev) => {
        const y1 = this.localY(ev);
        if (Math.abs(y1 - y0) < 3 && !moved) return;
        moved = true;
        this.setBrush(c, i, brush, y0, y1);
        this.opts.onBrush(false);
      };
      const up = (ev) => {
        zone.removeEventListener('pointermove', move);
        zone.removeEventListener('pointerup', up);
        zone.removeEventListener('pointercancel', up);
        if (!moved) { this.filters.brushes.delete(c.key); this.showBrush(brush, 0, 0); this.restyle(); } else this.setBrush(c, i, brush, y0, this.localY(ev));
        this.opts.onBrush(true);
      };
      zone.addEventListener('pointermove', move);
      zone.addEventListener('pointerup', up);
      zone.addEventListener('pointercancel', up);
    });
    return g;
  }

  localY(e) {
    const r = this.el.getBoundingClientRect();
    return Math.max(TOP, Math.min(TOP + this.H, e.clientY - r.top));
  }

  setBrush(c, i, rect, y0, y1) {
    const t0 = 1 - (Math.max(y0, y1) - TOP) / this.H, t1 = 1 - (Math.min(y0, y1) - TOP) / this.H;
    const pick = this.scales[i].pick(t0, t1);
    this.filters.brushes.set(c.key, Object.assign(pick, { t0, t1 }));
    this.showBrush(rect, t0, t1);
    this.restyle();
  }

  showBrush(rect, t0, t1) {
    rect.setAttribute('y', TOP + (1 - t1) * this.H);
    rect.setAttribute('height', Math.max(0, (t1 - t0) * this.H));
  }

  // Lines inside every brush in front and coloured, the others grey behind. A canvas: a
  // thousand SVG paths repainted on every move of a brush are too slow.
  restyle() {
    this.inside = this.sessions.map((s) => this.filters.passesBrushes(s, this.cols));
    this.el.dataset.inside = String(this.inside.filter(Boolean).length);
    const g = this.canvas.getContext('2d');
    g.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    g.clearRect(0, 0, this.w, HEIGHT);
    // hairlines, a stroke per line: 1,000 lines of width 1.2 (or one path of them all) take
    // Chromium's software rasterizer ten times as long
    g.lineWidth = 1;
    for (const front of [false, true]) {
      g.globalAlpha = front ? 0.85 : 0.5;
      if (!front) g.strokeStyle = themeVar('--line', '#d8dce3');
      this.ys.forEach((ys, k) => {
        if (this.inside[k] !== front) return;
        if (front) g.strokeStyle = this.colors[k];
        g.beginPath();
        let pen = false, n = 0, last = -1;
        ys.forEach((y, i) => {
          if (y === null) { pen = false; return; }
          if (pen) g.lineTo(this.xs[i], y); else g.moveTo(this.xs[i], y);
          pen = true;
          n++;
          last = i;
        });
        if (n === 1) g.lineTo(this.xs[last] + 1, ys[last]); // a single value: a dot
        g.stroke();
      });
    }
    g.globalAlpha = 1;
  }

  // The path of a session's line, for the highlight.
  pathOf(k) {
    let d = '', pen = false;
    this.ys[k].forEach((y, i) => {
      if (y === null) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${this.xs[i].toFixed(1)} ${y.toFixed(1)}`;
      pen = true;
    });
    return d;
  }

  // What is drawn, for tests and debugging: per session its run, the axes its line crosses,
  // whether it is inside the brushes, its colour.
  debug() {
    return (this.sessions || []).map((s, k) => ({ run: s.run, vertices: this.ys[k].filter((y) => y !== null).length, out: !this.inside[k], stroke: this.colors[k] }));
  }

  // The session whose line passes nearest the pointer (within HIT pixels), brushed ones first.
  hover(e) {
    if (!this.sessions || e.buttons) return;
    const r = this.el.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    const xs = this.xs;
    let best = null, bestD = HIT;
    for (let k = 0; k < this.sessions.length; k++) {
      const ys = this.ys[k];
      let yy = null;
      if (xs.length === 1) yy = Math.abs(x - xs[0]) < HIT ? ys[0] : null;
      else for (let i = 0; i + 1 < xs.length; i++) {
        if (x < xs[i] - HIT || x > xs[i + 1] + HIT) continue;
        if (ys[i] !== null && ys[i + 1] !== null) yy = ys[i] + (ys[i + 1] - ys[i]) * Math.max(0, Math.min(1, (x - xs[i]) / (xs[i + 1] - xs[i])));
        else if (ys[i] !== null && Math.abs(x - xs[i]) < HIT) yy = ys[i];
        else if (ys[i + 1] !== null && Math.abs(x - xs[i + 1]) < HIT) yy = ys[i + 1];
        break;
      }
      if (yy === null) continue;
      const d = Math.abs(yy - y) + (this.inside[k] ? 0 : HIT / 2);
      if (d < bestD) { bestD = d; best = k; }
    }
    this.setHover(best === null ? null : this.sessions[best], e);
  }

  setHover(s, e) {
    const k = s ? this.sessions.indexOf(s) : -1;
    if (!this.hl) return;
    this.hl.setAttribute('d', k >= 0 ? this.pathOf(k) : '');
    if (k >= 0) this.hl.setAttribute('stroke', this.colors[k]);
    this.el.dataset.hover = k >= 0 ? s.run : '';
    this.opts.onHover(s, e);
  }

  // Highlights a session from elsewhere (a table row under the pointer).
  highlight(s) {
    const k = s && this.sessions ? this.sessions.indexOf(s) : -1;
    if (!this.hl) return;
    this.hl.setAttribute('d', k >= 0 ? this.pathOf(k) : '');
    if (k >= 0) this.hl.setAttribute('stroke', this.colors[k]);
  }
}
