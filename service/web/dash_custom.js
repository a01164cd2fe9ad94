// SPDX-License-Identifier: MIT
// Custom Scalars: the charts of the experiment's layout (custom_scalars plugin). Multi-line
// charts draw every scalar tag their regular expressions match (anchored at the start, as
// TensorBoard's re.match); margin charts draw each value line with a band between its lower
// and upper tags. Runs keep their Scalars colours; tags of one run are told apart by dashes.
// Categories marked closed start collapsed.

import { CardHost } from './cards.js';
import { LinesCard, scalarSettings } from './dash_scalars.js';
import { h } from './dom.js';
import { fmtNum } from './format.js';

const DASHES = [undefined, [6, 3], [2, 3], [8, 3, 2, 3], [12, 4]];

function tbRegex(s) {
  try { return new RegExp('^(?:' + s + ')'); } catch (e) { return null; }
}

class CustomCard extends LinesCard {
  constructor(dash, chart, key) {
    super(dash, { key, cls: 'custom-card', title: chart.title || (chart.tags || []).join(', ') });
    this.spec = chart;
    if (chart.margin && chart.margin.length) this.el.classList.add('margin-card');
  }

  lines() {
    const ctx = this.ctx, out = [];
    if (this.spec.margin && this.spec.margin.length) {
      for (const m of this.spec.margin) {
        const runs = ctx.scalarRuns.get(m.value) || new Map();
        for (const run of [...runs.keys()].sort()) {
          const has = (t) => (ctx.scalarRuns.get(t) || new Map()).has(run);
          const band = has(m.lower) && has(m.upper) ? { lower: m.lower, upper: m.upper } : null;
          out.push({ run, tag: m.value, name: `${run} · ${m.value}`, band });
          if (band) out.push({ run, tag: m.lower, aux: true }, { run, tag: m.upper, aux: true });
        }
      }
      return out;
    }
    const res = (this.spec.tags || []).map(tbRegex).filter(Boolean);
    const tags = ctx.scalarTags.filter((t) => res.some((re) => re.test(t)));
    tags.forEach((tag, k) => {
      const runs = ctx.scalarRuns.get(tag) || new Map();
      for (const run of [...runs.keys()].sort()) out.push({ run, tag, name: tags.length > 1 ? `${run} · ${tag}` : run, dash: DASHES[k % DASHES.length] });
    });
    return out;
  }

  tipColumns() {
    if (!(this.spec.margin && this.spec.margin.length)) return [];
    const val = (r, which) => {
      const l = r.line;
      if (!l || !l.band) return '–';
      const s = this.seriesOf({ run: l.run, tag: l.band[which] });
      return s ? fmtNum(s.s.values[r.i]) : '–';
    };
    return [['Lower', (r) => val(r, 'lower')], ['Upper', (r) => val(r, 'upper')]];
  }
}

export default class CustomScalarsDashboard {
  constructor(ctx, el) {
    this.ctx = ctx;
    this.el = el;
    this.host = null;
  }

  settings() {
    return scalarSettings(this.ctx);
  }

  async render() {
    if (!this.layout) {
      this.el.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
      this.layout = await this.ctx.wholeJson('custom_scalars');
    }
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    const out = [];
    (this.layout.categories || []).forEach((cat, ci) => {
      const cards = h('div', { class: 'cards' });
      (cat.charts || []).forEach((ch, k) => cards.append(this.host.add(new CustomCard(this, ch, `custom:${ci}:${k}`)).el));
      const d = h('details', { class: 'group', open: !cat.closed }, h('summary', {}, h('h2', { text: cat.title || 'Custom scalars' })), cards);
      out.push(d);
    });
    this.el.replaceChildren(...(out.length ? out : [h('p', { class: 'empty-state', text: 'The layout has no charts.' })]));
  }

  changed(keys) {
    if (keys.has('x') || keys.has('theme')) for (const c of this.host.cards) { c.rebuildNext = true; if (keys.has('x')) c.win = null; }
    if (['smoothing', 'x', 'log', 'outliers', 'hidden', 'runRe', 'colors', 'theme'].some((k) => keys.has(k))) this.host.invalidateAll();
  }

  async refresh() {
    await Promise.all([...this.host.cards].map((c) => c.reload().catch(() => {})));
  }

  destroy() {
    if (this.host) this.host.destroy();
  }
}
