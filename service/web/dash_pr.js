// SPDX-License-Identifier: MIT
// PR curves: one card per run and tag, precision against recall at a step chosen with a slider.

import uPlot from './uPlot.esm.js';
import { queuedJson, query } from './api.js';
import { Card, CardHost } from './cards.js';
import { runTitle, perRunTagCards } from './dash_common.js';
import { cssVar, h } from './dom.js';
import { num } from './format.js';

class PrCard extends Card {
  constructor(ctx, t) {
    super({ ctx, key: `pr_curves:${t.run}\u0000${t.tag}`, cls: 'pr-card', tag: t.tag, run: t.run, titleNodes: runTitle(ctx, t), descriptionHtml: t.description_html });
    this.t = t;
  }

  async load(signal) {
    const r = await queuedJson(`${this.ctx.base}/pr_curves?` + query({ tag: this.t.tag, run: this.t.run }), CardHost.distance(this), signal);
    if (signal.aborted) return;
    this.pts = (r.series[0] || { points: [] }).points;
    const chart = h('div', { class: 'chart' });
    const label = h('span', { class: 'sub' });
    const kids = [chart];
    let slider = null;
    if (this.pts.length > 1) {
      slider = h('input', { type: 'range', min: 0, max: this.pts.length - 1, value: this.pts.length - 1, 'aria-label': 'Step' });
      kids.push(slider);
    }
    kids.push(label);
    this.body.replaceChildren(...kids);
    const show = () => {
      const p = this.pts[slider ? +slider.value : this.pts.length - 1];
      if (!p) { chart.replaceChildren('No data.'); return; }
      label.textContent = `step ${p.step}`;
      const pairs = (p.recall || []).map((rc, i) => [num(rc), num(p.precision[i])]).filter((q) => Number.isFinite(q[0])).sort((a, b) => a[0] - b[0]);
      const data = [pairs.map((q) => q[0]), pairs.map((q) => q[1])];
      if (this.u) { this.u.setData(data); return; }
      const muted = cssVar('--muted', '#555d6b'), grid = cssVar('--grid', '#e3e6eb');
      this.u = new uPlot({ width: Math.max(280, chart.clientWidth || 400), height: 240, scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
        legend: { show: false },
        axes: [{ label: 'recall', stroke: muted, grid: { stroke: grid } }, { label: 'precision', stroke: muted, grid: { stroke: grid } }],
        series: [{}, { stroke: this.ctx.colors.get(this.t.run), width: 1.5, points: { show: false } }] }, data, chart);
    };
    if (slider) slider.addEventListener('input', show);
    show();
  }

  unload() {
    if (this.u) this.u.destroy();
    this.u = null;
  }
}

export default class PrDashboard {
  constructor(ctx, el) { this.ctx = ctx; this.el = el; }
  settings() { return []; }
  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    perRunTagCards(this.ctx, this.el, this.host, this.ctx.byPlugin('pr_curves'), 'pr_curves', (t) => new PrCard(this.ctx, t));
  }
  changed(keys) { if (['tagRe', 'runRe', 'hidden', 'pins', 'colors', 'theme'].some((k) => keys.has(k))) this.render(); }
  async refresh() { this.render(); }
  destroy() { if (this.host) this.host.destroy(); }
}
