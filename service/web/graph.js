// SPDX-License-Identifier: MIT
// The Graphs tab: a run's TensorFlow graph (GET .../graph) drawn as TensorBoard does, name
// scopes collapsed into groups that expand in place (graph_layout.js lays them out with
// dagre, one scope at a time), ops coloured by type or device, zoom, pan and fit, a search box
// that reveals a node, and a side panel with the selected node's op, inputs, outputs,
// attributes and shapes. Run and tag selectors pick which graph.

import { api } from './api.js';
import { h, svg } from './dom.js';
import { GraphModel, Layout, parseInput } from './graph_layout.js';

const CSS_ID = 'tbdev-graph-css';
const SEARCH_MAX = 40;

function ensureCss() {
  if (document.getElementById(CSS_ID)) return;
  document.head.append(h('link', { id: CSS_ID, rel: 'stylesheet', href: '/static/graph.css' }));
}

function hue(s) {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
  return (x >>> 0) % 360;
}

function colourOf(key) {
  if (!key) return { fill: 'hsl(0, 0%, 60%)', stroke: 'hsl(0, 0%, 40%)' };
  const h0 = hue(key);
  return { fill: `hsl(${h0}, 62%, 58%)`, stroke: `hsl(${h0}, 55%, 36%)` };
}

function clip(s, w) {
  const n = Math.max(3, Math.floor((w - 16) / 6.2));
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

function fmtShape(s) {
  return s === null ? 'unknown' : '[' + s.map((d) => (d < 0 ? '?' : d)).join(', ') + ']';
}

function fmtAttr(v) {
  const s = JSON.stringify(v);
  return s.length > 400 ? s.slice(0, 399) + '…' : s;
}

export default class GraphDashboard {
  constructor(ctx, el, def) {
    this.ctx = ctx;
    this.el = el;
    this.def = def;
    this.seq = 0;
    this.view = { x: 0, y: 0, k: 1 };
    this.colourBy = 'op';
    this.selected = null;
    this.model = null;
    this.layout = null;
    this.abs = new Map(); // item id -> { x, y, w, h } of what is drawn, in graph coordinates
    this.timings = {}; // milliseconds of the last load, draw, expand, search (the bench reads them)
    window.tbdevGraph = this;
    ensureCss();
  }

  settings() { return []; }

  runs() {
    return [...new Set(this.ctx.graphTags.filter((t) => this.ctx.runShown(t.run)).map((t) => t.run))].sort();
  }

  tagsOf(run) {
    return this.ctx.graphTags.filter((t) => t.run === run);
  }

  async render() {
    const runs = this.runs();
    if (!runs.length) {
      this.el.replaceChildren(h('p', { class: 'empty-state', text: 'No graphs in the runs shown.' }));
      return;
    }
    if (!runs.includes(this.run)) { this.run = runs[0]; this.tag = ''; }
    this.runSel = h('select', { 'aria-label': 'Run', class: 'graph-run', onchange: () => { this.run = this.runSel.value; this.tag = ''; this.renderTags(); this.load(); } },
      ...runs.map((r) => h('option', { value: r, text: r, selected: r === this.run })));
    this.tagSel = h('select', { 'aria-label': 'Graph', class: 'graph-tag', onchange: () => { this.tag = this.tagSel.value; this.load(); } });
    this.renderTags();
    this.search = h('input', { type: 'search', class: 'graph-search', placeholder: 'Search nodes', 'aria-label': 'Search nodes', autocomplete: 'off' });
    this.results = h('ul', { class: 'graph-results', role: 'listbox', hidden: true });
    this.search.addEventListener('input', () => this.onSearch());
    this.search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') { const first = this.results.querySelector('li'); if (first) first.click(); }
      if (ev.key === 'Escape') this.results.hidden = true;
    });
    const colourSel = h('select', { 'aria-label': 'Colour by', class: 'graph-colour', onchange: () => { this.colourBy = colourSel.value; this.draw(); } },
      h('option', { value: 'op', text: 'Colour: op type' }), h('option', { value: 'device', text: 'Colour: device' }));
    const btn = (text, title, fn) => h('button', { type: 'button', class: 'graph-btn', title, text, onclick: fn });
    this.info = h('span', { class: 'graph-info' });
    const bar = h('div', { class: 'graph-bar' }, this.runSel, this.tagSel,
      h('span', { class: 'graph-searchbox' }, this.search, this.results), colourSel,
      btn('Fit', 'Fit the graph to the view', () => this.fit()),
      btn('+', 'Zoom in', () => this.zoomBy(1.25)), btn('−', 'Zoom out', () => this.zoomBy(0.8)),
      btn('Collapse all', 'Collapse every scope', () => { this.layout.expanded.clear(); this.resetLayouts(); this.draw(); this.fit(); }),
      this.info);
    this.svg = svg('svg', { class: 'graph-svg', role: 'img', 'aria-label': 'Graph' },
      svg('defs', null, svg('marker', { id: 'graph-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'graph-arrowhead' }))));
    this.vp = svg('g', { class: 'graph-viewport' });
    this.svg.append(this.vp);
    this.canvas = h('div', { class: 'graph-canvas' }, this.svg);
    this.panel = h('aside', { class: 'graph-panel', 'aria-label': 'Node' }, h('p', { class: 'sub', text: 'Select a node to see its op, inputs, outputs, attributes and shapes. Double-click a scope (or its ⊕) to expand it.' }));
    this.legend = h('div', { class: 'graph-legend' });
    this.el.replaceChildren(bar, h('div', { class: 'graph-main' }, this.canvas, this.panel), this.legend);
    this.bindPanZoom();
    await this.load();
  }

  renderTags() {
    const tags = this.tagsOf(this.run);
    const label = (t) => t.tag === '__run_graph__' ? 'Op graph' : t.tag === '__meta_graph__' ? 'Meta graph' : `${t.tag} (${t.plugin.replace(/^graph_/, '').replace(/_/g, ' ')})`;
    this.tagSel.replaceChildren(h('option', { value: '', text: 'Default graph' }),
      ...tags.map((t) => h('option', { value: t.tag, text: label(t), selected: t.tag === this.tag })));
    this.tagSel.hidden = tags.length < 2;
  }

  async load() {
    const seq = ++this.seq;
    const t0 = performance.now();
    this.info.textContent = 'Loading…';
    this.search.value = '';
    this.results.hidden = true;
    this.vp.replaceChildren();
    let data;
    try {
      data = await api(this.ctx.runUrl('graph', this.run, { tag: this.tag || undefined }));
    } catch (e) {
      if (seq !== this.seq) return;
      this.model = null;
      this.info.textContent = '';
      this.vp.replaceChildren();
      this.panel.replaceChildren(h('p', { class: 'error', role: 'alert', text: e.message }));
      return;
    }
    if (seq !== this.seq) return;
    const t1 = performance.now();
    this.model = new GraphModel(data);
    this.layout = new Layout(this.model);
    this.selected = null;
    this.draw();
    this.fit();
    this.timings.fetch = t1 - t0;
    this.timings.first = performance.now() - t0;
    this.timings.drawnAt = performance.now(); // since the navigation started
    const d = data;
    this.info.textContent = `${d.nodes.length.toLocaleString()} nodes · ${d.edges.toLocaleString()} edges` +
      (d.truncated ? ` · cut at ${d.nodes.length} of ${d.nodes_total} nodes` : '') +
      (d.dangling_inputs ? ` · ${d.dangling_inputs} inputs name no node` : '') +
      (d.stats ? ` · step stats of ${d.stats.nodes} nodes (${d.stats_tag || d.tag})` : '') +
      (d.stats_error ? ' · ' + d.stats_error : '');
    this.panel.replaceChildren(h('p', { class: 'sub', text: d.nodes.length ? 'Select a node to see its op, inputs, outputs, attributes and shapes. Double-click a scope (or its ⊕) to expand it.'
      : `This graph (${d.tag}, step ${d.step}) holds no nodes.` }));
    this.svg.dataset.ready = String(this.seq);
  }

  resetLayouts() {
    for (const g of this.model.groups()) g.layout = null;
  }

  // Draws every shown item; positions in graph coordinates are kept in this.abs.
  draw() {
    if (!this.model) return;
    const t0 = performance.now();
    const root = this.model.root;
    const l = this.layout.run();
    this.abs.clear();
    const frag = document.createDocumentFragment();
    const edgesLayer = svg('g', { class: 'graph-edges' });
    const nodesLayer = svg('g', { class: 'graph-nodes' });
    this.drawGroup(root, l, 0, 0, edgesLayer, nodesLayer);
    frag.append(nodesLayer, edgesLayer);
    this.vp.replaceChildren(frag);
    this.bounds = { w: l.w, h: l.h };
    this.applyView();
    this.renderLegend();
    if (this.selected) this.markSelected();
    this.timings.draw = performance.now() - t0;
  }

  drawGroup(g, l, ox, oy, edgesLayer, nodesLayer) {
    for (const { e, points } of l.edges) {
      if (!points || !points.length) continue;
      const d = 'M' + points.map((p) => `${(p.x + ox).toFixed(1)},${(p.y + oy).toFixed(1)}`).join('L');
      const w = Math.min(4, 1 + Math.log2(e.count));
      edgesLayer.append(svg('path', { d, class: 'graph-edge' + (e.control ? ' control' : ''), 'stroke-width': w.toFixed(2), 'marker-end': 'url(#graph-arrow)' },
        svg('title', { text: `${e.count} edge${e.count === 1 ? '' : 's'}${e.control ? ' (control)' : ''}` })));
    }
    for (const c of g.children) {
      const p = l.pos.get(c.id);
      const x = ox + p.x - c.w / 2, y = oy + p.y - c.h / 2;
      this.abs.set(c.id, { x, y, w: c.w, h: c.h });
      if (c.kind === 'op') nodesLayer.append(this.opEl(c, x, y));
      else if (this.layout.isExpanded(c)) {
        nodesLayer.append(this.groupEl(c, x, y, true));
        this.drawGroup(c, this.layout.layoutOf(c), x + 14, y + 14 + 24, edgesLayer, nodesLayer);
      } else nodesLayer.append(this.groupEl(c, x, y, false));
    }
  }

  colourKey(it) {
    if (it.kind === 'op') return this.colourBy === 'op' ? it.node.op : it.node.device || '';
    const m = this.colourBy === 'op' ? null : this.model.devicesOf(it);
    if (!m) return null;
    let best = '', n = -1;
    for (const [k, v] of m) if (v > n) { best = k; n = v; }
    return best;
  }

  opEl(c, x, y) {
    const col = colourOf(this.colourKey(c));
    return svg('g', { class: 'gnode op', 'data-id': String(c.id), 'data-name': c.node.name, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, onclick: (ev) => { ev.stopPropagation(); this.select(c); } },
      svg('rect', { width: c.w.toFixed(1), height: c.h, rx: c.h / 2, fill: col.fill, stroke: col.stroke, class: 'gshape' }),
      svg('text', { x: (c.w / 2).toFixed(1), y: c.h / 2 + 4, 'text-anchor': 'middle', text: clip(c.label, c.w) }),
      svg('title', { text: `${c.node.name}\n${c.node.op}${c.node.device ? '\n' + c.node.device : ''}` }));
  }

  groupEl(c, x, y, open) {
    const key = this.colourKey(c);
    const col = key === null ? null : colourOf(key);
    const toggle = (ev) => { ev.stopPropagation(); this.toggle(c); };
    const cls = 'gnode group ' + (open ? 'expanded' : 'collapsed') + (c.synthetic ? ' synthetic' : '');
    const text = open ? c.label : `${c.label} (${c.count})`;
    return svg('g', { class: cls, 'data-id': String(c.id), 'data-scope': c.scope, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
      onclick: (ev) => { ev.stopPropagation(); this.select(c); }, ondblclick: toggle },
      svg('rect', { width: c.w.toFixed(1), height: c.h.toFixed(1), rx: 5, class: 'gshape', fill: col ? col.fill : null, stroke: col ? col.stroke : null }),
      svg('text', { x: 22, y: open ? 16 : c.h / 2 + 4, text: clip(text, c.w - 22) }),
      svg('g', { class: 'gtoggle', role: 'button', 'aria-label': (open ? 'Collapse ' : 'Expand ') + (c.scope || c.label), onclick: toggle },
        svg('circle', { cx: 11, cy: open ? 12 : c.h / 2, r: 6 }),
        svg('path', { d: open ? `M7,12 H15` : `M7,${c.h / 2} H15 M11,${c.h / 2 - 4} V${c.h / 2 + 4}` })),
      svg('title', { text: `${c.synthetic ? c.label : c.scope} · ${c.count} op${c.count === 1 ? '' : 's'}` }));
  }

  renderLegend() {
    if (this.colourBy !== 'op' && this.colourBy !== 'device') return;
    const m = new Map();
    for (const n of this.model.data.nodes) {
      const k = this.colourBy === 'op' ? n.op : n.device || '';
      m.set(k, (m.get(k) || 0) + 1);
    }
    const top = [...m].sort((a, b) => b[1] - a[1]).slice(0, 12);
    this.legend.replaceChildren(...top.map(([k, n]) => {
      const col = colourOf(k);
      const dot = h('i');
      dot.style.background = col.fill; // CSSOM, allowed by the page's CSP (no style attributes)
      dot.style.borderColor = col.stroke;
      return h('span', { class: 'graph-key' }, dot, `${k || '(no device)'} ${n}`);
    }), m.size > top.length ? h('span', { class: 'graph-key', text: `+${m.size - top.length} more` }) : null);
  }

  // Expands or collapses g, keeping its box where it was on screen.
  toggle(g) {
    const t0 = performance.now();
    const before = this.abs.get(g.id);
    this.layout.toggle(g);
    this.draw();
    const after = this.abs.get(g.id);
    if (before && after) {
      this.view.x += (before.x - after.x) * this.view.k;
      this.view.y += (before.y - after.y) * this.view.k;
      this.applyView();
    }
    this.timings.expand = performance.now() - t0;
  }

  // Search: names containing the text (case-insensitive), shortest first.
  matches(q) {
    q = q.trim().toLowerCase();
    if (!q || !this.model) return [];
    const out = [];
    for (const n of this.model.data.nodes) if (n.name.toLowerCase().includes(q)) out.push(n.name);
    out.sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
    return out;
  }

  onSearch() {
    const all = this.matches(this.search.value);
    const shown = all.slice(0, SEARCH_MAX);
    this.results.replaceChildren(...shown.map((name) => h('li', { role: 'option', text: name, onclick: () => { this.results.hidden = true; this.reveal(name); } })),
      all.length > shown.length ? h('li', { class: 'more', text: `${all.length - shown.length} more…` }) : null);
    this.results.hidden = !this.search.value.trim();
    if (!all.length && this.search.value.trim()) this.results.replaceChildren(h('li', { class: 'more', text: 'No node matches' }));
  }

  // Expands the scopes holding node `name`, selects it and centres the view on it.
  reveal(name) {
    const t0 = performance.now();
    const i = this.model.byName.get(name);
    if (i === undefined) return false;
    const it = this.model.items.get(i);
    this.layout.reveal(it);
    this.draw();
    this.select(it);
    const b = this.abs.get(it.id);
    const W = this.svg.clientWidth || 800, H = this.svg.clientHeight || 600;
    this.view.k = Math.max(this.view.k, 1);
    this.view.x = W / 2 - (b.x + b.w / 2) * this.view.k;
    this.view.y = H / 2 - (b.y + b.h / 2) * this.view.k;
    this.applyView();
    this.timings.search = performance.now() - t0;
    return true;
  }

  select(it) {
    this.selected = it;
    this.markSelected();
    this.renderPanel(it);
  }

  markSelected() {
    for (const e of this.vp.querySelectorAll('.gnode.selected')) e.classList.remove('selected');
    const el = this.vp.querySelector(`.gnode[data-id="${CSS.escape(String(this.shownAs(this.selected).id))}"]`);
    if (el) el.classList.add('selected');
  }

  shownAs(it) { return this.layout.shownAs(it); }

  nodeLink(name, extra) {
    const known = this.model.byName.has(name);
    return h('li', null, known ? h('a', { href: '#', text: name, onclick: (ev) => { ev.preventDefault(); this.reveal(name); } })
      : h('span', { class: 'dangling', text: name, title: 'No node of this graph has this name' }), extra ? h('span', { class: 'sub', text: ' ' + extra }) : null);
  }

  renderPanel(it) {
    const rows = [];
    const sec = (title, ...kids) => rows.push(h('h3', { text: title }), ...kids);
    if (it.kind === 'group') {
      rows.push(h('h2', { text: it.synthetic ? it.label : it.scope || '(graph)' }));
      rows.push(h('p', { class: 'sub', text: `${it.synthetic ? 'part of a scope' : 'name scope'} · ${it.count} op${it.count === 1 ? '' : 's'} · ${it.children.length} children` }));
      const ops = [...this.model.opsOf(it)].sort((a, b) => b[1] - a[1]).slice(0, 15);
      sec('Ops', h('ul', null, ...ops.map(([op, n]) => h('li', { text: `${op} × ${n}` }))));
      rows.push(h('button', { type: 'button', class: 'graph-btn', text: this.layout.isExpanded(it) ? 'Collapse' : 'Expand', onclick: () => { this.toggle(it); this.renderPanel(it); } }));
    } else {
      const n = it.node;
      rows.push(h('h2', { class: 'graph-node-name', text: n.name }));
      const dl = h('dl', null, h('dt', { text: 'Op' }), h('dd', { class: 'graph-op', text: n.op }), h('dt', { text: 'Device' }), h('dd', { text: n.device || '(none)' }));
      rows.push(dl);
      const ins = (n.inputs || []).map((s) => { const p = parseInput(s); return this.nodeLink(p.name, (p.control ? 'control' : '') + (p.port ? ` output ${p.port}` : '')); });
      sec(`Inputs (${ins.length})`, h('ul', { class: 'graph-list' }, ...ins));
      const outs = [...new Set(it.out)].map((j) => this.nodeLink(this.model.data.nodes[j].name));
      sec(`Outputs (${outs.length})`, h('ul', { class: 'graph-list' }, ...outs));
      if (n.output_shapes) sec('Output shapes', h('ul', { class: 'graph-list' }, ...n.output_shapes.map((s, k) => h('li', { text: `${k}: ${fmtShape(s)}` }))));
      const attrs = Object.entries(n.attr || {});
      if (attrs.length) sec('Attributes', h('dl', { class: 'graph-attrs' }, ...attrs.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: fmtAttr(v) })])));
      if (n.too_large_attrs) sec('Attributes too large to show', h('ul', { class: 'graph-list' }, ...n.too_large_attrs.map((k) => h('li', { text: k }))));
      if (n.stats) sec('Step stats', h('pre', { text: JSON.stringify(n.stats, null, 1) }));
    }
    this.panel.replaceChildren(...rows);
  }

  // Zoom and pan: wheel zooms around the pointer, dragging the background pans.
  bindPanZoom() {
    this.svg.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const r = this.svg.getBoundingClientRect();
      this.zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    let drag = null;
    this.svg.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y, moved: false };
    });
    window.addEventListener('pointermove', this.onMove = (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      this.view.x = drag.vx + dx;
      this.view.y = drag.vy + dy;
      this.applyView();
    });
    window.addEventListener('pointerup', this.onUp = () => { drag = null; });
  }

  zoomAt(f, px, py) {
    const k = Math.min(8, Math.max(0.02, this.view.k * f));
    f = k / this.view.k;
    this.view.x = px - (px - this.view.x) * f;
    this.view.y = py - (py - this.view.y) * f;
    this.view.k = k;
    this.applyView();
  }

  zoomBy(f) {
    this.zoomAt(f, (this.svg.clientWidth || 800) / 2, (this.svg.clientHeight || 600) / 2);
  }

  fit() {
    if (!this.bounds) return;
    const W = this.svg.clientWidth || 800, H = this.svg.clientHeight || 600;
    const k = Math.min(2, (W - 40) / Math.max(1, this.bounds.w), (H - 40) / Math.max(1, this.bounds.h));
    this.view.k = Math.max(0.02, k);
    this.view.x = (W - this.bounds.w * this.view.k) / 2;
    this.view.y = (H - this.bounds.h * this.view.k) / 2;
    this.applyView();
  }

  applyView() {
    const v = this.view;
    this.vp.setAttribute('transform', `translate(${v.x.toFixed(2)},${v.y.toFixed(2)}) scale(${v.k.toFixed(4)})`);
  }

  changed(keys) {
    if (['runRe', 'hidden'].some((k) => keys.has(k))) this.render();
  }

  async refresh() {
    // new tags: the run list may have grown; the graph drawn stays as it is
    if (this.runSel && this.runs().join('\n') !== [...this.runSel.options].map((o) => o.value).join('\n')) await this.render();
  }

  destroy() {
    this.seq++;
    if (this.onMove) window.removeEventListener('pointermove', this.onMove);
    if (this.onUp) window.removeEventListener('pointerup', this.onUp);
    if (window.tbdevGraph === this) window.tbdevGraph = null;
  }
}
