// SPDX-License-Identifier: MIT
// Graphs and other plugins' data: listed per run and tag, each point downloadable.

import { queuedJson } from './api.js';
import { Card, CardHost } from './cards.js';
import { runTitle } from './dash_common.js';
import { h } from './dom.js';

class ListCard extends Card {
  constructor(ctx, t) {
    super({ ctx, key: `list:${t.run}\u0000${t.tag}`, cls: 'list-card', tag: t.tag, run: t.run, titleNodes: runTitle(ctx, t),
      sub: `${t.plugin} · ${t.kind} · ${t.points} point${t.points === 1 ? '' : 's'}` });
    this.t = t;
  }

  async load(signal) {
    const t = this.t;
    const path = t.kind === 'blob_sequence' ? 'blobs' : 'tensors';
    const r = await queuedJson(this.ctx.runUrl(path, t.run, { tag: t.tag }), CardHost.distance(this), signal);
    if (signal.aborted) return;
    const pts = (r.series[0] || { points: [] }).points;
    const links = [];
    if (t.kind === 'blob_sequence')
      for (const p of pts) for (const b of p.blobs) links.push(h('a', { href: b.url, download: '', text: `step ${p.step} (${b.sha256.slice(0, 8)})` }));
    else links.push(h('a', { href: this.ctx.runUrl('tensors', t.run, { tag: t.tag, points: 'all' }), download: '', text: 'JSON' }));
    this.tools.replaceChildren(...links);
  }
}

export default class BlobsDashboard {
  constructor(ctx, el, def) { this.ctx = ctx; this.el = el; this.def = def; }
  settings() { return []; }
  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    const list = this.ctx[this.def.list].filter((t) => this.ctx.runShown(t.run) && this.ctx.tagShown(t.tag));
    const cards = h('div', { class: 'cards' }, ...list.map((t) => this.host.add(new ListCard(this.ctx, t)).el));
    this.el.replaceChildren(h('p', { class: 'sub', text: this.def.note }), cards);
  }
  changed(keys) { if (['tagRe', 'runRe', 'hidden'].some((k) => keys.has(k))) this.render(); }
  async refresh() { this.render(); }
  destroy() { if (this.host) this.host.destroy(); }
}
