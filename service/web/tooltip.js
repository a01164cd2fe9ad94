// SPDX-License-Identifier: MIT
// The hover readout of line charts, as TensorBoard's: a small table by the cursor with one
// row per run (colour, run, smoothed, value, step, time, relative), sorted by name, by value
// or by nearness to the cursor, cut to a row limit. It replaces a legend, which would take
// the whole card with a hundred runs. One element for the whole page.

import { h } from './dom.js';
import { fmtNum, fmtRelative, fmtStep, fmtWall } from './format.js';

let tipEl = null;
let tipOwner = null; // the chart whose readout it shows

function element() {
  if (!tipEl) {
    tipEl = h('div', { class: 'tip', role: 'tooltip', hidden: true });
    document.body.append(tipEl);
  }
  return tipEl;
}

// Hides the table; with an owner, only if that chart put it up (the cursor may already be
// over the next chart when the last one hears that it left).
export function hideTooltip(owner) {
  if (tipEl && (owner === undefined || owner === tipOwner)) tipEl.hidden = true;
}

// rows: [{ color, name, smoothed (or undefined), value, step, wall, relative, dist, outside }]
// opts: { sort: 'default'|'ascending'|'descending'|'nearest', limit, smoothing: bool,
//         columns: extra [title, row => text] pairs, clientX, clientY,
//         fields: [title, row => text] pairs in place of value, step and times (PR curves) }
export function showTooltip(rows, opts) {
  const el = element();
  tipOwner = opts.owner;
  if (!rows.length) { el.hidden = true; return; }
  const key = (r) => (opts.smoothing && Number.isFinite(r.smoothed) ? r.smoothed : r.value);
  const sorted = rows.slice();
  let closest = null;
  for (const r of rows) if (!closest || r.dist < closest.dist) closest = r;
  if (opts.sort === 'ascending') sorted.sort((a, b) => cmpNum(key(a), key(b)));
  else if (opts.sort === 'descending') sorted.sort((a, b) => cmpNum(key(b), key(a)));
  else if (opts.sort === 'nearest') sorted.sort((a, b) => a.dist - b.dist);
  else sorted.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const limit = Math.max(1, opts.limit || 10);
  const shown = sorted.slice(0, limit);
  const cols = [['', null], ['Run', (r) => r.name]];
  if (opts.fields) {
    cols.push(...opts.fields);
  } else {
    if (opts.smoothing) cols.push(['Smoothed', (r) => fmtNum(r.smoothed)]);
    cols.push(['Value', (r) => fmtNum(r.value)]);
    for (const c of opts.columns || []) cols.push(c);
    cols.push(['Step', (r) => fmtStep(r.step)], ['Time', (r) => fmtWall(r.wall)], ['Relative', (r) => fmtRelative(r.relative)]);
  }
  const head = h('tr', {}, ...cols.map(([t]) => h('th', { scope: 'col', text: t })));
  const body = shown.map((r) => {
    const sw = h('span', { class: 'swatch' });
    sw.style.background = r.color;
    const tr = h('tr', { class: (r === closest ? 'closest' : '') + (r.outside ? ' distant' : '') },
      ...cols.map(([, f], i) => (i === 0 ? h('td', {}, sw) : h('td', { text: f(r) }))));
    return tr;
  });
  const more = sorted.length - shown.length;
  el.replaceChildren(h('table', { class: 'tip-table' }, h('thead', {}, head), h('tbody', {}, ...body)));
  if (more > 0) el.append(h('div', { class: 'sub more', text: `and ${more} more` }));
  el.hidden = false;
  // next to the cursor, kept inside the window
  const w = el.offsetWidth, hgt = el.offsetHeight;
  let x = opts.clientX + 16, y = opts.clientY + 16;
  if (x + w > innerWidth - 4) x = Math.max(4, opts.clientX - w - 16);
  if (y + hgt > innerHeight - 4) y = Math.max(4, opts.clientY - hgt - 16);
  el.style.left = (x + scrollX) + 'px';
  el.style.top = (y + scrollY) + 'px';
}

function cmpNum(a, b) {
  const fa = Number.isFinite(a), fb = Number.isFinite(b);
  if (!fa || !fb) return fa === fb ? 0 : fa ? -1 : 1;
  return a - b;
}
