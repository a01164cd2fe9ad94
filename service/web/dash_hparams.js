// SPDX-License-Identifier: MIT
// HParams, as TensorBoard's plugin: a filter panel (columns shown, an interval or the values
// allowed per hparam and metric, session status, colour by, downloads) beside three views of
// the sessions that pass it: the table, parallel coordinates (brushing an axis filters the
// sessions further) and the scatter plot matrix. The table under each plot lists the sessions
// left; a session's "Scalars" link opens the Scalars tab on its runs and metrics.

import { h, safeRegex } from './dom.js';
import { fmtNum } from './format.js';
import { Filters, STATUSES, buildColumns, plain, runRegex, tagRegex, toCsv, toJson, vkey } from './hparams_model.js';
import { ParallelCoords } from './hparams_parcoords.js';
import { rampColor, makeScale } from './hparams_scale.js';
import { ScatterMatrix } from './hparams_scatter.js';

const VIEWS = [['table', 'Table view'], ['parallel', 'Parallel coordinates view'], ['scatter', 'Scatter plot matrix view']];
const MAX_VALUES = 50; // value checkboxes shown per discrete column
const PAGE_ROWS = 200; // table rows drawn before "Show all" (the downloads hold every row)
const CSS_ID = 'tbdev-hparams-css';

function ensureCss() {
  if (document.getElementById(CSS_ID)) return;
  document.head.append(h('link', { id: CSS_ID, rel: 'stylesheet', href: '/static/hparams.css' }));
}

export default class HParamsDashboard {
  constructor(ctx, el) {
    this.ctx = ctx;
    this.el = el;
    this.filters = new Filters();
    this.view = 'table';
    this.colorBy = null;
    this.sort = { key: 'run', asc: true };
    this.rowRe = '';
  }

  settings() { return []; }

  async render() {
    ensureCss();
    if (!this.data) this.el.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    this.data = await this.ctx.wholeJson('hparams');
    this.build();
  }

  // The sessions of the runs shown in the sidebar, the columns, the panel and the views.
  build() {
    const ctx = this.ctx, r = this.data;
    const runs = ctx.visibleRuns(), shown = new Set(runs);
    this.sessions = (r.sessions || []).filter((s) => shown.has(s.run) || runs.some((run) => run.startsWith(s.run + '/')));
    this.cols = buildColumns(r, this.sessions);
    const metrics = this.cols.filter((c) => c.kind === 'metric');
    if (!this.cols.some((c) => c.key === this.colorBy)) {
      // TensorBoard's default: the first metric, else the first numeric hparam
      const c = metrics[0] || this.cols.find((x) => x.numeric);
      this.colorBy = c ? c.key : null;
    }
    this.tip = this.tip || h('div', { class: 'tip hp-tip', role: 'tooltip', hidden: true });
    if (!this.tip.isConnected) document.body.append(this.tip);
    this.pc = new ParallelCoords({ onBrush: (final) => this.brushed(final), onHover: (s, e) => this.showTip(s, e),
      onScale: (key, log) => { if (log) this.filters.log.add(key); else this.filters.log.delete(key); this.update(); } });
    this.sm = new ScatterMatrix({ onHover: (s, e) => this.showTip(s, e) });
    this.count = h('h3', { class: 'hp-count' });
    this.tabs = h('div', { class: 'hp-views', role: 'tablist', 'aria-label': 'HParams views' }, ...VIEWS.map(([k, label]) => h('button', {
      type: 'button', role: 'tab', 'data-view': k, 'aria-selected': String(k === this.view), text: label,
      onclick: () => { this.view = k; this.update(); } })));
    this.rowFilter = h('input', { type: 'text', placeholder: 'filter rows (regex)', 'aria-label': 'Filter sessions', id: 'hparams-filter', value: this.rowRe });
    this.rowFilter.addEventListener('input', () => { this.rowRe = this.rowFilter.value; this.drawTable(); });
    this.plot = h('div', { class: 'hp-plot' });
    this.table = h('table', { class: 'data hparams-table' });
    this.more = h('div', { class: 'hp-more-box' });
    this.table.addEventListener('mouseleave', () => { if (this.view === 'parallel') this.pc.highlight(null); });
    this.main = h('div', { class: 'hp-main' }, this.tabs, this.count, this.plot, this.rowFilter, h('div', { class: 'scroll hp-table-scroll' }, this.table), this.more);
    this.panel = h('aside', { class: 'hp-panel', 'aria-label': 'HParams filters' });
    this.buildPanel();
    this.el.replaceChildren(h('div', { class: 'hp-layout' }, this.panel, this.main));
    this.update();
    if (!this.resize) {
      // the plots take the width there is: drawn again when it changes
      let timer = null, last = this.main.clientWidth;
      this.resize = new ResizeObserver(() => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const w = this.main && this.main.clientWidth;
          if (w && w !== last && this.view !== 'table') { last = w; this.update(); }
        }, 150);
      });
      this.resize.observe(this.el);
    }
  }

  // The filter panel: TensorBoard's left pane.
  buildPanel() {
    const f = this.filters;
    const kids = [];
    const section = (title, cols) => {
      if (!cols.length) return;
      kids.push(h('h4', { text: title }));
      for (const c of cols) {
        const show = h('input', { type: 'checkbox', class: 'hp-show', 'data-key': c.key, checked: !f.hidden.has(c.key) });
        show.addEventListener('change', () => { if (show.checked) f.hidden.delete(c.key); else f.hidden.add(c.key); this.update(); });
        const box = h('div', { class: 'hp-filter', 'data-key': c.key }, h('label', { class: 'hp-col', title: c.title }, show, c.title));
        if (c.numeric) {
          const iv = f.intervals.get(c.key) || [null, null];
          const inp = (i, ph) => {
            const e = h('input', { type: 'text', inputmode: 'decimal', class: i ? 'hp-max' : 'hp-min', placeholder: ph,
              'aria-label': `${c.title} ${i ? 'maximum' : 'minimum'}`, value: iv[i] === null ? '' : String(iv[i]) });
            e.addEventListener('change', () => {
              const cur = (f.intervals.get(c.key) || [null, null]).slice();
              const v = e.value.trim() === '' ? null : Number(e.value);
              e.classList.toggle('invalid', v !== null && Number.isNaN(v));
              cur[i] = v === null || Number.isNaN(v) ? null : v;
              f.intervals.set(c.key, cur);
              this.update();
            });
            return e;
          };
          box.append(h('div', { class: 'hp-interval' }, inp(0, 'min ' + fmtNum(c.min)), '–', inp(1, 'max ' + fmtNum(c.max))));
        } else {
          const vals = h('div', { class: 'hp-values' });
          for (const v of c.values.slice(0, MAX_VALUES)) {
            const ok = f.allowed.get(c.key);
            const cb = h('input', { type: 'checkbox', class: 'hp-value', 'data-value': vkey(v), checked: !ok || ok.has(vkey(v)) });
            cb.addEventListener('change', () => {
              const set = new Set(f.allowed.get(c.key) || c.values.map(vkey));
              if (cb.checked) set.add(vkey(v)); else set.delete(vkey(v));
              if (set.size === c.values.length) f.allowed.delete(c.key); else f.allowed.set(c.key, set);
              this.update();
            });
            vals.append(h('label', {}, cb, String(v)));
          }
          if (c.values.length > MAX_VALUES) vals.append(h('p', { class: 'sub', text: `and ${c.values.length - MAX_VALUES} more values` }));
          box.append(vals);
        }
        kids.push(box);
      }
    };
    section('Hyperparameters', this.cols.filter((c) => c.kind === 'hparam'));
    section('Metrics', this.cols.filter((c) => c.kind === 'metric'));
    kids.push(h('h4', { text: 'Status' }));
    const statuses = h('div', { class: 'hp-status' });
    for (const st of STATUSES) {
      const cb = h('input', { type: 'checkbox', class: 'hp-status-cb', 'data-status': st, checked: f.status.has(st) });
      cb.addEventListener('change', () => { if (cb.checked) f.status.add(st); else f.status.delete(st); this.update(); });
      statuses.append(h('label', {}, cb, st[0].toUpperCase() + st.slice(1)));
    }
    kids.push(statuses);
    const numeric = this.cols.filter((c) => c.numeric);
    if (numeric.length) {
      const sel = h('select', { id: 'hp-color-by', 'aria-label': 'Colour by' }, ...numeric.map((c) => h('option', { value: c.key, selected: c.key === this.colorBy, text: c.title })));
      sel.addEventListener('change', () => { this.colorBy = sel.value; this.update(); });
      kids.push(h('h4', { text: 'Colour by' }), sel);
    }
    const dl = (kind) => h('button', { type: 'button', class: 'hp-download', 'data-kind': kind, text: kind.toUpperCase(), onclick: () => this.download(kind) });
    kids.push(h('h4', { text: 'Download' }), h('div', { class: 'hp-downloads' }, dl('csv'), dl('json')));
    this.panel.replaceChildren(...kids);
  }

  shownCols() { return this.cols.filter((c) => !this.filters.hidden.has(c.key)); }

  // Everything after a filter change: the sessions that pass, the view, the table.
  update() {
    const f = this.filters, shown = this.shownCols();
    this.passing = this.sessions.filter((s) => f.passesPanel(s, this.cols));
    this.rows = this.passing.filter((s) => f.passesBrushes(s, shown));
    const cb = this.cols.find((c) => c.key === this.colorBy);
    const sc = cb && makeScale(cb, f.log.has(cb.key));
    const colors = new Map(this.sessions.map((s) => [s, sc ? rampColor(sc.t(cb.get(s))) : '#8a8f99']));
    this.colorOf = (s) => colors.get(s);
    for (const b of this.tabs.children) b.setAttribute('aria-selected', String(b.dataset.view === this.view));
    this.el.dataset.view = this.view;
    const width = Math.max(320, (this.main.clientWidth || 800) - 24); // less the padding
    if (this.view !== 'table' && !this.passing.length) {
      this.plot.replaceChildren(h('p', { class: 'empty-state', text: this.sessions.length ? 'No session passes the filters.' : 'No sessions in the runs shown.' }));
    } else if (this.view === 'parallel') {
      this.pc.draw(shown, this.passing, f, this.colorOf, width);
      this.plot.replaceChildren(h('div', { class: 'hp-plot-scroll' }, this.pc.wrap),
        h('p', { class: 'sub', text: 'Drag along an axis to select a range of it; click the axis to clear the selection.' }));
    } else if (this.view === 'scatter') {
      this.sm.draw(shown.filter((c) => c.kind === 'hparam'), shown.filter((c) => c.kind === 'metric'), this.rows, f, this.colorOf, width);
      this.plot.replaceChildren(h('div', { class: 'hp-plot-scroll' }, this.sm.el));
    } else {
      this.plot.replaceChildren();
    }
    this.drawTable();
  }

  brushed(final) {
    if (!final) return; // the lines follow the drag; the table when it ends
    this.rows = this.passing.filter((s) => this.filters.passesBrushes(s, this.shownCols()));
    this.drawTable();
  }

  // The rows left after the row regex, in the table's order.
  tableRows() {
    const shown = this.shownCols();
    const re = safeRegex(this.rowRe);
    const text = (s) => [s.run, s.status, ...shown.map((c) => plain(c.get(s)))].join(' ');
    const rows = this.rows.filter((s) => !re || re.test(text(s)));
    const col = shown.find((c) => c.key === this.sort.key);
    const get = col ? col.get : this.sort.key === 'status' ? (s) => s.status : (s) => s.run;
    rows.sort((a, b) => {
      const x = get(a), y = get(b);
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1; // missing values last
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return this.sort.asc ? c : -c;
    });
    return rows;
  }

  drawTable() {
    const shown = this.shownCols();
    const rows = this.tableRows();
    this.shownRows = rows;
    this.count.textContent = rows.length === this.sessions.length ? `${this.sessions.length} sessions` : `${rows.length} of ${this.sessions.length} sessions`;
    const heads = [['run', 'Session'], ['status', 'Status'], ...shown.map((c) => [c.key, c.title])];
    const th = ([key, title]) => h('th', { scope: 'col', tabindex: 0, 'data-key': key, text: title,
      'aria-sort': key === this.sort.key ? (this.sort.asc ? 'ascending' : 'descending') : 'none',
      onclick: () => { if (this.sort.key === key) this.sort.asc = !this.sort.asc; else this.sort = { key, asc: true }; this.drawTable(); },
      onkeydown: (e) => { if (e.key === 'Enter') e.target.click(); } });
    const metricTags = this.metricTags();
    const drawnRows = this.allRows || rows.length <= PAGE_ROWS ? rows : rows.slice(0, PAGE_ROWS);
    const body = drawnRows.map((s) => {
      const link = h('a', { class: 'hp-scalars', href: '#', 'data-run': s.run, text: 'Scalars', title: `Open the Scalars tab on ${s.run}'s runs`,
        onclick: (e) => { e.preventDefault(); this.openScalars(s, metricTags); } });
      const tr = h('tr', { 'data-run': s.run }, h('td', { text: s.run }), h('td', { text: s.status }),
        ...shown.map((c) => {
          const v = c.get(s);
          return h('td', { text: typeof v === 'number' ? fmtNum(v) : v === null ? '–' : String(v) });
        }), h('td', {}, link));
      tr.addEventListener('mouseenter', () => { if (this.view === 'parallel') this.pc.highlight(s); });
      return tr;
    });
    this.table.replaceChildren(h('thead', {}, h('tr', {}, ...heads.map(th), h('th', { scope: 'col', class: 'hp-link-col', text: '' }))), h('tbody', {}, ...body));
    this.more.replaceChildren();
    if (drawnRows.length < rows.length)
      this.more.append(h('button', { type: 'button', class: 'hp-more', text: `Show all ${rows.length} rows (${rows.length - drawnRows.length} more)`,
        onclick: () => { this.allRows = true; this.drawTable(); } }));
  }

  // The scalar tags of the metric columns (a metric named group/tag is the tag in run/group).
  metricTags() {
    const infos = (this.data.metric_infos || []).map((m) => m.tag).filter((t) => typeof t === 'string' && t);
    const tags = new Set();
    for (const c of this.shownCols()) {
      if (c.kind !== 'metric') continue;
      const named = infos.filter((t) => c.name === t || c.name.endsWith('/' + t)).sort((a, b) => b.length - a.length)[0];
      tags.add(named || c.name.split('/').pop());
    }
    return [...tags];
  }

  // The Scalars tab with only this session's runs (itself and its sub-runs) and its metrics.
  openScalars(s, tags) {
    this.hideTip();
    this.ctx.state.set({ tab: 'scalars', runRe: runRegex(s.run), hidden: [], tagRe: tags.length ? tagRegex(tags) : '' });
  }

  download(kind) {
    const rows = this.tableRows(), cols = this.shownCols();
    const text = kind === 'csv' ? toCsv(rows, cols) : toJson(rows, cols);
    const blob = new Blob([text], { type: kind === 'csv' ? 'text/csv' : 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `hparams_table.${kind}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  showTip(s, e) {
    if (!s || !e) { this.hideTip(); return; }
    const rows = [['Session', s.run], ['Status', s.status], ...this.shownCols().map((c) => {
      const v = c.get(s);
      return [c.title, typeof v === 'number' ? fmtNum(v) : v === null ? '–' : String(v)];
    })];
    this.tip.replaceChildren(h('table', { class: 'tip-table' }, h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: v }))))));
    this.tip.hidden = false;
    const w = this.tip.offsetWidth, hh = this.tip.offsetHeight;
    let x = e.clientX + 16, y = e.clientY + 16;
    if (x + w > innerWidth - 4) x = Math.max(4, e.clientX - w - 16);
    if (y + hh > innerHeight - 4) y = Math.max(4, e.clientY - hh - 16);
    this.tip.style.left = (x + scrollX) + 'px';
    this.tip.style.top = (y + scrollY) + 'px';
  }

  hideTip() { if (this.tip) this.tip.hidden = true; }

  // What the views show, for tests and debugging (window.tbdevViewer.page.dash.debug()).
  debug() {
    return { view: this.view, rows: (this.shownRows || []).map((s) => s.run), lines: this.view === 'parallel' ? this.pc.debug() : [] };
  }

  changed(keys) {
    if (!this.data) return;
    if (keys.has('runRe') || keys.has('hidden')) this.build();
    else if (keys.has('theme')) this.update(); // canvases take the new theme's colours
  }
  async refresh() { await this.render(); }
  destroy() { this.hideTip(); if (this.tip) this.tip.remove(); if (this.resize) this.resize.disconnect(); }
}
