// SPDX-License-Identifier: MIT
// Distributions: one card per run and tag, from the server's compressed histograms (the
// values at TensorBoard's basis points of every step).

import { queuedJson } from './api.js';
import { Card, CardHost } from './cards.js';
import { DistributionChart } from './chart_dist.js';
import { runTitle, perRunTagCards } from './dash_common.js';
import { h } from './dom.js';
import { fmtNum, fmtStep, plural } from './format.js';
import { selectSetting } from './sidebar.js';

const STEPS = 500; // steps per card at most, evenly spaced, the last always
const NAMES = ['min', '7%', '16%', '31%', 'median', '69%', '84%', '93%', 'max'];

class DistributionCard extends Card {
  constructor(ctx, t) {
    super({ ctx, key: `distributions:${t.run}\u0000${t.tag}`, cls: 'dist-card', tag: t.tag, run: t.run, titleNodes: runTitle(ctx, t),
      descriptionHtml: t.description_html });
    this.t = t;
    this.readout = h('div', { class: 'sub readout', 'aria-live': 'polite', text: ' ' });
    this.tools.append(this.readout);
  }

  async load(signal) {
    const r = await queuedJson(this.ctx.runUrl('histograms', this.t.run, { tag: this.t.tag, distribution: 1, points: STEPS }), CardHost.distance(this), signal);
    if (signal.aborted) return;
    this.points = (r.series[0] || { points: [] }).points.filter((p) => Array.isArray(p.distribution));
    this.draw();
  }

  draw() {
    if (!this.points) return;
    if (!this.points.length) {
      this.body.replaceChildren(h('div', { class: 'chart empty', text: 'No data.' }));
      this.setState('empty');
      return;
    }
    const tp = this.ctx.state.get('x');
    const w0 = this.points[0].wall_time;
    const xs = this.points.map((p) => (tp === 'wall' ? p.wall_time : tp === 'relative' ? p.wall_time - w0 : p.step));
    const cols = NAMES.map((n, i) => this.points.map((p) => Number(p.distribution[i])));
    if (!this.chart) {
      const el = h('div', { class: 'chart' });
      this.body.replaceChildren(el);
      this.chart = new DistributionChart(el, { height: this.enlarged ? 480 : 240, onHover: (i) => this.hover(i) });
    }
    this.chart.setData(xs, cols, { color: this.ctx.colors.get(this.t.run), timeProp: tp });
    this.status.textContent = plural(this.points.length, 'step') + (this.points.length === 1 ? ' (drawn as a column)' : '');
    this.el.dataset.steps = String(this.points.length);
    this.setState('drawn');
  }

  hover(i) {
    if (i === null || !this.points) { this.readout.textContent = ' '; return; }
    const p = this.points[this.chart.single ? 0 : i];
    if (!p) return;
    this.readout.textContent = `step ${fmtStep(p.step)}: ` + NAMES.map((n, k) => `${n} ${fmtNum(Number(p.distribution[k]))}`).join(' · ');
  }

  redraw() { this.draw(); }

  resize() {
    if (this.chart) { this.chart.opts.height = this.enlarged ? 480 : 240; this.chart.destroy(); this.chart = null; this.draw(); }
  }

  unload() {
    if (this.chart) this.chart.destroy();
    this.chart = null;
    this.points = null;
  }
}

export default class DistributionsDashboard {
  constructor(ctx, el) {
    this.ctx = ctx;
    this.el = el;
  }

  settings() {
    return selectSetting(this.ctx, { id: 'x-axis', key: 'x', label: 'Horizontal axis', options: [['step', 'Step'], ['relative', 'Relative'], ['wall', 'Wall time']] });
  }

  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    perRunTagCards(this.ctx, this.el, this.host, this.ctx.byPlugin('histograms'), 'distributions', (t) => new DistributionCard(this.ctx, t));
  }

  changed(keys) {
    if (keys.has('tagRe') || keys.has('runRe') || keys.has('hidden') || keys.has('pins')) { this.render(); return; }
    if (keys.has('x') || keys.has('colors') || keys.has('theme')) this.host.invalidateAll();
  }

  async refresh() {
    for (const c of this.host.cards) if (c.loaded) { c.loaded = false; c.ensureLoaded(); }
  }

  destroy() {
    if (this.host) this.host.destroy();
  }
}
