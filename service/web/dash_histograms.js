// SPDX-License-Identifier: MIT
// Histograms: one card per run and tag, rebinned by the server to TensorBoard's 30 equal-width
// bins over the series' range, in offset or overlay mode.

import { queuedJson } from './api.js';
import { Card, CardHost } from './cards.js';
import { HistogramChart } from './chart_hist.js';
import { runTitle, perRunTagCards } from './dash_common.js';
import { h } from './dom.js';
import { plural } from './format.js';
import { selectSetting } from './sidebar.js';

const BINS = 30; // TensorBoard's default
const STEPS = 200; // histograms per card at most, evenly spaced, the last always

class HistogramCard extends Card {
  constructor(ctx, t) {
    super({ ctx, key: `histograms:${t.run}\u0000${t.tag}`, cls: 'hist-card', tag: t.tag, run: t.run, titleNodes: runTitle(ctx, t),
      descriptionHtml: t.description_html });
    this.t = t;
    this.readout = h('div', { class: 'sub readout', 'aria-live': 'polite', text: ' ' });
    this.tools.append(this.readout);
    this.points = null;
  }

  async load(signal) {
    const r = await queuedJson(this.ctx.runUrl('histograms', this.t.run, { tag: this.t.tag, bins: BINS, points: STEPS }), CardHost.distance(this), signal);
    if (signal.aborted) return;
    const s = r.series[0] || { points: [], total: 0 };
    this.points = s.points;
    this.total = s.total;
    this.draw();
  }

  draw() {
    if (!this.points) return;
    if (!this.chart) {
      const el = h('div', { class: 'hist' });
      this.body.replaceChildren(el);
      this.chart = new HistogramChart(el, { color: this.ctx.colors.get(this.t.run), mode: this.ctx.state.get('histMode'), timeProp: this.ctx.state.get('x'),
        height: this.enlarged ? 480 : 260, onHover: (text) => { this.readout.textContent = text || ' '; } });
    }
    const withBins = this.points.filter((p) => p.bins && p.bins.length);
    this.chart.setData(this.points, { color: this.ctx.colors.get(this.t.run), mode: this.ctx.state.get('histMode'), timeProp: this.ctx.state.get('x') });
    this.status.textContent = `${plural(withBins.length, 'step')}` + (this.total > this.points.length ? ` of ${this.total}` : '') +
      ` · ${BINS} equal-width bins over the series' range`;
    this.el.dataset.steps = String(withBins.length);
    this.setState(withBins.length ? 'drawn' : 'empty');
  }

  redraw() { this.draw(); }

  resize() {
    if (this.chart) { this.chart.opts.height = this.enlarged ? 480 : 260; this.chart.draw(); }
  }

  unload() {
    if (this.chart) this.chart.destroy();
    this.chart = null;
    this.points = null;
  }
}

export default class HistogramsDashboard {
  constructor(ctx, el) {
    this.ctx = ctx;
    this.el = el;
  }

  settings() {
    return [
      ...selectSetting(this.ctx, { id: 'hist-mode', key: 'histMode', label: 'Histogram mode', options: [['offset', 'Offset'], ['overlay', 'Overlay']] }),
      ...selectSetting(this.ctx, { id: 'x-axis', key: 'x', label: 'Time axis', options: [['step', 'Step'], ['relative', 'Relative'], ['wall', 'Wall time']] }),
    ];
  }

  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    perRunTagCards(this.ctx, this.el, this.host, this.ctx.byPlugin('histograms'), 'histograms', (t) => new HistogramCard(this.ctx, t));
  }

  changed(keys) {
    if (keys.has('tagRe') || keys.has('runRe') || keys.has('hidden') || keys.has('pins')) { this.render(); return; }
    if (keys.has('histMode') || keys.has('x') || keys.has('colors') || keys.has('theme')) this.host.invalidateAll();
  }

  async refresh() {
    for (const c of this.host.cards) if (c.loaded) { c.loaded = false; c.ensureLoaded(); }
  }

  destroy() {
    if (this.host) this.host.destroy();
  }
}
