// SPDX-License-Identifier: MIT
// The sidebar: the dashboard's own settings, then the tag filter, the run filter and the run
// list (tick to show, click the swatch for another colour, double-click a run to show only
// it, double-click again for all); compared experiments' runs under each experiment's name.

import { h, safeRegex } from './dom.js';

export function renderSidebar(el, ctx, settingsNodes) {
  const st = ctx.state;
  const kids = [];
  if (settingsNodes && settingsNodes.length) kids.push(h('h3', { text: 'Settings' }), ...settingsNodes);
  const tagFilter = h('input', { type: 'text', id: 'tag-filter', value: st.get('tagRe'), placeholder: 'regex', 'aria-label': 'Filter tags by regular expression' });
  tagFilter.addEventListener('change', () => st.set({ tagRe: tagFilter.value }));
  const runFilter = h('input', { type: 'text', id: 'run-filter', value: st.get('runRe'), placeholder: 'regex', 'aria-label': 'Filter runs by regular expression' });
  runFilter.addEventListener('change', () => st.set({ runRe: runFilter.value }));
  kids.push(h('h3', { text: 'Tags' }), tagFilter);
  if (safeRegex(st.get('tagRe')) === undefined) kids.push(h('p', { class: 'error', text: 'Invalid regular expression' }));
  kids.push(h('h3', { text: 'Runs' }), runFilter);
  const re = safeRegex(st.get('runRe'));
  if (re === undefined) kids.push(h('p', { class: 'error', text: 'Invalid regular expression' }));
  const hidden = st.hidden;
  const matching = ctx.runs.filter((r) => !re || re.test(r));
  const all = h('input', { type: 'checkbox', id: 'runs-all', checked: matching.every((r) => !hidden.has(r)) });
  all.addEventListener('change', () => {
    const next = new Set(hidden);
    for (const r of matching) if (all.checked) next.delete(r); else next.add(r);
    st.set({ hidden: [...next] });
  });
  kids.push(h('label', { class: 'run-all' }, all, 'All runs'));
  const list = h('div', { class: 'run-list' });
  // compared experiments: each one's runs under its name, with a tick for all of them
  const groups = ctx.runGroups();
  const heads = new Map();
  if (groups)
    for (const g of groups) {
      const runs = g.runs.filter((r) => !re || re.test(r));
      if (!runs.length) continue;
      const cb = h('input', { type: 'checkbox', class: 'group-toggle', checked: runs.every((r) => !hidden.has(r)), 'aria-label': `Every run of ${g.label}` });
      cb.addEventListener('change', () => {
        const next = new Set(st.hidden);
        for (const r of runs) if (cb.checked) next.delete(r); else next.add(r);
        st.set({ hidden: [...next] });
      });
      heads.set(runs[0], h('div', { class: 'run-group', 'data-experiment': g.id }, cb, h('a', { href: g.href, text: g.label, title: 'Open this experiment on its own' })));
    }
  for (const r of matching) {
    if (heads.has(r)) list.append(heads.get(r));
    const cb = h('input', { type: 'checkbox', class: 'run-toggle', 'data-run': r, checked: !hidden.has(r) });
    cb.addEventListener('change', () => {
      const next = new Set(st.hidden);
      if (cb.checked) next.delete(r); else next.add(r);
      st.set({ hidden: [...next] });
    });
    const picker = h('input', { type: 'color', class: 'color-pick', value: ctx.colors.get(r), 'aria-label': `Colour of ${r}`, 'data-run': r });
    picker.addEventListener('change', () => st.setColor(r, picker.value));
    // under its experiment's name, a compared run goes by its own name
    const name = h('span', { class: 'run-name', text: groups ? ctx.runShort(r) : r,
      title: groups ? `${r}: double-click to show only this run` : 'Double-click: show only this run' });
    const label = h('label', { class: 'run' }, cb, picker, name);
    label.addEventListener('dblclick', (e) => {
      e.preventDefault();
      const others = ctx.runs.filter((x) => x !== r);
      const solo = !st.hidden.has(r) && others.every((x) => st.hidden.has(x));
      st.set({ hidden: solo ? [] : others });
    });
    list.append(label);
  }
  kids.push(list);
  el.replaceChildren(...kids);
}

// Settings controls for dashboards.
export function rangeSetting(ctx, { id, key, label, min, max, step, format }) {
  const st = ctx.state;
  const fmt = format || ((v) => String(v));
  const input = h('input', { type: 'range', id, min, max, step, value: st.get(key), 'aria-label': label });
  const shown = h('span', { class: 'value', text: fmt(st.get(key)) });
  input.addEventListener('input', () => { shown.textContent = fmt(+input.value); });
  input.addEventListener('change', () => st.set({ [key]: +input.value }));
  return [h('label', { for: id }, label + ' ', shown), input];
}

export function selectSetting(ctx, { id, key, label, options }) {
  const st = ctx.state;
  const sel = h('select', { id, 'aria-label': label }, ...options.map(([v, l]) => h('option', { value: v, selected: st.get(key) === v, text: l })));
  sel.addEventListener('change', () => st.set({ [key]: sel.value }));
  return [h('label', { for: id, text: label }), sel];
}

export function checkSetting(ctx, { id, key, label }) {
  const st = ctx.state;
  const cb = h('input', { type: 'checkbox', id, checked: !!st.get(key) });
  cb.addEventListener('change', () => st.set({ [key]: cb.checked }));
  return [h('label', {}, cb, label)];
}
