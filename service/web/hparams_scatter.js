// SPDX-License-Identifier: MIT
// The scatter plot matrix view of the HParams dashboard (TensorBoard's
// tf-hparams-scatter-plot-matrix-plot): a column per hparam shown, a row per metric shown,
// one small scatter plot per pair with a point per session (the filtered ones only),
// coloured as in the parallel coordinates. The point under the pointer shows its session,
// ringed in every cell. Canvas: a thousand sessions in a hundred cells stay fast.

import { h } from './dom.js';
import { fmtTick } from './format.js';
import { makeScale, themeVar } from './hparams_scale.js';

const PAD = 10, R = 2.5, HIT = 6;

export class ScatterMatrix {
  // opts: { onHover(session or null, event) }
  constructor(opts) {
    this.opts = opts;
    this.el = h('div', { class: 'hp-smatrix' });
  }

  // hcols, mcols: hparam and metric columns shown; sessions: the filtered sessions.
  draw(hcols, mcols, sessions, filters, colorOf, width) {
    this.sessions = sessions;
    this.colors = sessions.map(colorOf);
    if (!hcols.length || !mcols.length) {
      this.el.replaceChildren(h('p', { class: 'empty-state', text: 'The scatter plot matrix needs at least one hparam and one metric shown.' }));
      this.cells = [];
      return;
    }
    const size = Math.floor(Math.max(90, Math.min(180, (width - 124) / hcols.length - 3)));
    this.el.style.gridTemplateColumns = `120px repeat(${hcols.length}, ${size}px)`;
    const kids = [h('div', { class: 'hp-corner' })];
    for (const c of hcols) kids.push(h('div', { class: 'hp-colhead', title: c.title, text: c.title }));
    const dpr = window.devicePixelRatio || 1;
    this.cells = [];
    const hs = hcols.map((c) => makeScale(c, filters.log.has(c.key)));
    const ms = mcols.map((c) => makeScale(c, filters.log.has(c.key)));
    mcols.forEach((m, r) => {
      kids.push(h('div', { class: 'hp-rowhead', title: m.title, text: m.title }));
      hcols.forEach((c, k) => {
        const canvas = h('canvas', { width: size * dpr, height: size * dpr });
        canvas.style.width = canvas.style.height = size + 'px';
        const ring = h('canvas', { class: 'hp-ring', width: size * dpr, height: size * dpr });
        ring.style.width = ring.style.height = size + 'px';
        const pts = [];
        sessions.forEach((s, i) => {
          const tx = hs[k].t(c.get(s)), ty = ms[r].t(m.get(s));
          if (tx === null || ty === null) return;
          pts.push([i, PAD + tx * (size - 2 * PAD), PAD + (1 - ty) * (size - 2 * PAD)]);
        });
        const cell = h('div', { class: 'hp-scell', 'data-h': c.key, 'data-m': m.key, 'data-points': pts.length }, canvas, ring);
        cell.setAttribute('aria-label', `${m.title} against ${c.title}: ${pts.length} sessions`);
        const info = { cell, canvas, ring, pts, size, dpr, xs: hs[k], ys: ms[r], first: k === 0, last: r === mcols.length - 1 };
        this.cells.push(info);
        cell.addEventListener('pointermove', (e) => this.hover(info, e));
        cell.addEventListener('pointerleave', () => this.setHover(null, null));
        kids.push(cell);
      });
    });
    this.el.replaceChildren(...kids);
    for (const c of this.cells) this.paint(c);
  }

  paint(c) {
    const g = c.canvas.getContext('2d');
    g.setTransform(c.dpr, 0, 0, c.dpr, 0, 0);
    g.clearRect(0, 0, c.size, c.size);
    g.strokeStyle = themeVar('--grid', '#e6e9ee');
    g.lineWidth = 1;
    g.strokeRect(0.5, 0.5, c.size - 1, c.size - 1);
    g.fillStyle = themeVar('--muted', '#555d6b');
    g.font = '10px system-ui, sans-serif';
    // the range of the cell's axes in its corners: x under the bottom row, y by the first column
    if (c.last && c.xs.inv) {
      g.textAlign = 'left'; g.fillText(fmtTick(c.xs.inv(0)), 2, c.size - 2);
      g.textAlign = 'right'; g.fillText(fmtTick(c.xs.inv(1)), c.size - 2, c.size - 2);
    }
    if (c.first && c.ys.inv) {
      g.textAlign = 'left'; g.fillText(fmtTick(c.ys.inv(1)), 2, 10);
    }
    g.globalAlpha = 0.85;
    for (const [i, x, y] of c.pts) {
      g.fillStyle = this.colors[i];
      g.beginPath();
      g.arc(x, y, R, 0, 2 * Math.PI);
      g.fill();
    }
    g.globalAlpha = 1;
  }

  hover(c, e) {
    const r = c.canvas.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    let best = null, bestD = HIT * HIT;
    for (const [i, px, py] of c.pts) {
      const d = (px - x) ** 2 + (py - y) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    this.setHover(best === null ? null : this.sessions[best], e);
  }

  // Rings the session's point in every cell.
  setHover(s, e) {
    const i = s ? this.sessions.indexOf(s) : -1;
    if (i === this.hoverIndex && s) { this.opts.onHover(s, e); return; }
    this.hoverIndex = i;
    for (const c of this.cells || []) {
      const g = c.ring.getContext('2d');
      g.setTransform(c.dpr, 0, 0, c.dpr, 0, 0);
      g.clearRect(0, 0, c.size, c.size);
      const p = i >= 0 && c.pts.find((q) => q[0] === i);
      if (!p) continue;
      g.strokeStyle = themeVar('--fg', '#1d2129');
      g.lineWidth = 2;
      g.beginPath();
      g.arc(p[1], p[2], R + 3, 0, 2 * Math.PI);
      g.stroke();
    }
    this.el.dataset.hover = s ? s.run : '';
    this.opts.onHover(s, e);
  }
}
