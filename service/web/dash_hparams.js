// SPDX-License-Identifier: MIT
// HParams: the sessions table (hyperparameters and metrics), sortable and filterable.

import { h, safeRegex } from './dom.js';
import { fmtNum, num } from './format.js';

export default class HParamsDashboard {
  constructor(ctx, el) { this.ctx = ctx; this.el = el; }

  settings() { return []; }

  async render() {
    const ctx = this.ctx;
    this.el.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    const r = await ctx.wholeJson('hparams');
    this.data = r;
    this.draw();
  }

  draw() {
    const ctx = this.ctx, r = this.data;
    const runs = ctx.visibleRuns();
    const sessions = r.sessions.filter((s) => runs.some((run) => run === s.run || run.startsWith(s.run + '/')));
    const hkeys = [...new Set(sessions.flatMap((s) => Object.keys(s.hparams)))].sort();
    const mkeys = [...new Set(sessions.flatMap((s) => Object.keys(s.metrics)))].sort();
    const cols = [['Session', (s) => s.run], ['Status', (s) => s.status],
      ...hkeys.map((k) => [k, (s) => (k in s.hparams ? num(s.hparams[k]) : null)]),
      ...mkeys.map((k) => [k, (s) => (s.metrics[k] ? num(s.metrics[k].value) : null)])];
    const filter = h('input', { type: 'text', placeholder: 'filter rows (regex)', 'aria-label': 'Filter sessions', id: 'hparams-filter' });
    const table = h('table', { class: 'data hparams-table' });
    let sortCol = 0, asc = true;
    const draw = () => {
      const re = safeRegex(filter.value);
      const rows = sessions.filter((s) => !re || re.test(cols.map(([, f]) => String(f(s))).join(' ')));
      rows.sort((a, b) => {
        const x = cols[sortCol][1](a), y = cols[sortCol][1](b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      table.replaceChildren(
        h('thead', {}, h('tr', {}, ...cols.map(([name], i) => h('th', { scope: 'col', tabindex: 0, 'aria-sort': i === sortCol ? (asc ? 'ascending' : 'descending') : 'none', text: name,
          onclick: () => { if (sortCol === i) asc = !asc; else { sortCol = i; asc = true; } draw(); },
          onkeydown: (e) => { if (e.key === 'Enter') e.target.click(); } })))),
        h('tbody', {}, ...rows.map((s) => h('tr', {}, ...cols.map(([, f]) => {
          const v = f(s);
          return h('td', { text: typeof v === 'number' ? fmtNum(v) : v === null || v === undefined ? '–' : String(v) });
        })))));
    };
    filter.addEventListener('input', draw);
    draw();
    this.el.replaceChildren(h('div', { class: 'card' }, h('h3', { text: `${sessions.length} sessions` }), filter, h('div', { class: 'scroll' }, table)));
  }

  changed(keys) { if (this.data && (keys.has('runRe') || keys.has('hidden'))) this.draw(); }
  async refresh() { await this.render(); }
  destroy() {}
}
