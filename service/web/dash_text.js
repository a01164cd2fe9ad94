// SPDX-License-Identifier: MIT
// Text: one card per run and tag, every step's markdown as the server rendered it
// (cmark-gfm, safe mode), newest first.

import { queuedJson } from './api.js';
import { Card, CardHost } from './cards.js';
import { runTitle, perRunTagCards } from './dash_common.js';
import { h, setHtml } from './dom.js';

class TextCard extends Card {
  constructor(ctx, t) {
    super({ ctx, key: `text:${t.run}\u0000${t.tag}`, cls: 'text-card', tag: t.tag, run: t.run, titleNodes: runTitle(ctx, t), descriptionHtml: t.description_html });
    this.t = t;
  }

  async load(signal) {
    const r = await queuedJson(this.ctx.runUrl('text', this.t.run, { tag: this.t.tag }), CardHost.distance(this), signal);
    if (signal.aborted) return;
    const pts = (r.series[0] || { points: [] }).points;
    const view = h('div', { class: 'scroll' });
    view.append(...pts.slice().reverse().map((p) => {
      const body = h('div', { class: 'md' });
      setHtml(body, p.html); // cmark-gfm safe-mode output from the server
      return h('div', { class: 'textstep' }, h('div', { class: 'step', text: `step ${p.step}` }), body);
    }));
    this.body.replaceChildren(view);
  }
}

export default class TextDashboard {
  constructor(ctx, el) { this.ctx = ctx; this.el = el; }
  settings() { return []; }
  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    perRunTagCards(this.ctx, this.el, this.host, this.ctx.byPlugin('text'), 'text', (t) => new TextCard(this.ctx, t));
  }
  changed(keys) { if (['tagRe', 'runRe', 'hidden', 'pins'].some((k) => keys.has(k))) this.render(); }
  async refresh() { for (const c of this.host.cards) if (c.loaded) { c.loaded = false; c.ensureLoaded(); } }
  destroy() { if (this.host) this.host.destroy(); }
}
