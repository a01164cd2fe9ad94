// SPDX-License-Identifier: MIT
// What the per-(run, tag) dashboards share: one card per run and tag, grouped by tag, with
// the run's colour in the heading.

import { layoutGroups } from './cards.js';
import { h } from './dom.js';

export function runTitle(ctx, t) {
  const sw = h('span', { class: 'swatch' });
  sw.style.background = ctx.colors.get(t.run);
  const name = t.display_name && t.display_name !== t.tag ? t.display_name : t.tag;
  return [sw, ' ', t.run, h('span', { class: 'sub', text: ' · ' + name })];
}

// Lays out cards for the (run, tag) entries of `list` that the filters let through.
export function perRunTagCards(ctx, el, host, list, keyPrefix, make) {
  const items = list.filter((t) => ctx.runShown(t.run) && ctx.tagShown(t.tag))
    .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.run < b.run ? -1 : a.run > b.run ? 1 : 0))
    .map((t) => ({ key: `${keyPrefix}:${t.run}\u0000${t.tag}`, tag: t.tag, t, make: () => make(t) }));
  layoutGroups(el, host, items, ctx.state.pins, 'Nothing matches the run and tag filters.', (it) => it.tag);
}
