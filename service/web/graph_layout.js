// SPDX-License-Identifier: MIT
// The Graphs tab's model: a GraphDef's nodes (GET .../graph) nested by name scope into groups,
// as TensorBoard's graph plugin does, and laid out one group at a time with dagre.
//
// Every group (a name scope, "a/b") is laid out on its own: its children (ops and sub-scopes)
// as dagre nodes, the edges between them aggregated. A collapsed group is a box of fixed size;
// an expanded one is a box holding its own layout. So expanding a scope lays out only that
// scope's children (once; kept) and then its ancestors' levels again (their children are the
// same, one box grew): the work is the size of a few levels, never the whole graph.
// A level with more than LEVEL_MAX children (a flat graph of 50,000 ops) is cut into
// synthetic groups of consecutive names, so no layout is ever given more than LEVEL_MAX nodes.

import dagre from './dagre.esm.js';

export const LEVEL_MAX = 200; // children laid out together, at most
const SCOPE_DEPTH_MAX = 64; // name parts nested; deeper ones stay in the node's name

// "^x" (control input), "x:1" (output 1 of x), "x" -> { name, port, control }
export function parseInput(s) {
  let control = false;
  if (s.startsWith('^')) { control = true; s = s.slice(1); }
  let port = 0;
  const m = /^(.*):(\d+)$/.exec(s);
  if (m) { s = m[1]; port = Number(m[2]); }
  return { name: s, port, control };
}

// The graph nested by scope. Node ids: leaves are their index in nodes; groups are strings
// "g:" + scope. Each item has { id, parent, label, kind: 'op' | 'group', ... }.
export class GraphModel {
  constructor(data) {
    this.data = data;
    const nodes = data.nodes || [];
    this.items = new Map();
    this.byName = new Map();
    const root = this.group('', null, '');
    this.root = root;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (!this.byName.has(n.name)) this.byName.set(n.name, i);
    }
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      const parts = n.name.split('/');
      let head = parts.slice(0, Math.min(parts.length - 1, SCOPE_DEPTH_MAX));
      let parent = root;
      let scope = '';
      for (const p of head) {
        scope = scope ? scope + '/' + p : p;
        parent = this.items.get('g:' + scope) || this.group(scope, parent, p);
      }
      const leaf = { id: i, kind: 'op', node: n, parent, label: n.name.slice(scope ? scope.length + 1 : 0) || n.name, out: [] };
      this.items.set(i, leaf);
      parent.children.push(leaf);
    }
    for (const g of [...this.groups()]) this.split(g);
    for (const g of [...this.groups()]) g.count = this.countLeaves(g);
    this.edges = [];
    for (let i = 0; i < nodes.length; i++)
      for (const s of nodes[i].inputs || []) {
        const inp = parseInput(s);
        const src = this.byName.get(inp.name);
        if (src === undefined) continue; // dangling: listed in the side panel only
        this.items.get(src).out.push(i);
        this.edges.push({ src, dst: i, control: inp.control });
      }
    this.placeEdges();
  }

  group(scope, parent, label) {
    const g = { id: 'g:' + scope, kind: 'group', scope, parent, label, children: [], count: 0, edges: [], layout: null };
    this.items.set(g.id, g);
    if (parent) parent.children.push(g);
    return g;
  }

  *groups() {
    for (const it of this.items.values()) if (it.kind === 'group') yield it;
  }

  // Cuts a level of more than LEVEL_MAX children into synthetic groups of consecutive names.
  split(g) {
    if (g.children.length <= LEVEL_MAX) return;
    const kids = g.children.slice().sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    const size = Math.ceil(kids.length / Math.ceil(kids.length / LEVEL_MAX));
    g.children = [];
    for (let i = 0; i < kids.length; i += size) {
      const part = kids.slice(i, i + size);
      const label = `${part[0].label} … ${part[part.length - 1].label}`;
      const c = { id: `${g.id}\u0000${i}`, kind: 'group', synthetic: true, scope: g.scope, parent: g, label, children: part, count: 0, edges: [], layout: null };
      for (const k of part) k.parent = c;
      this.items.set(c.id, c);
      g.children.push(c);
    }
    this.split(g); // more than LEVEL_MAX parts: cut again
    for (const c of g.children) this.split(c);
  }

  countLeaves(g) {
    let n = 0;
    for (const c of g.children) n += c.kind === 'op' ? 1 : this.countLeaves(c);
    return n;
  }

  ancestors(it) {
    const a = [];
    for (let p = it.parent; p; p = p.parent) a.push(p);
    return a;
  }

  // Each edge goes to the lowest group holding both ends, between that group's two children
  // that hold them; parallel edges are aggregated (count, and control if all are).
  placeEdges() {
    const depth = new Map();
    const d = (it) => {
      if (depth.has(it.id)) return depth.get(it.id);
      const v = it.parent ? d(it.parent) + 1 : 0;
      depth.set(it.id, v);
      return v;
    };
    for (const e of this.edges) {
      let a = this.items.get(e.src), b = this.items.get(e.dst);
      let da = d(a), db = d(b);
      while (da > db) { a = a.parent; da--; }
      while (db > da) { b = b.parent; db--; }
      while (a.parent !== b.parent) { a = a.parent; b = b.parent; }
      if (a === b) continue; // an edge inside one child: drawn at that child's level
      const g = a.parent;
      const key = a.id + '\u0001' + b.id;
      if (!g.edgeMap) g.edgeMap = new Map();
      let x = g.edgeMap.get(key);
      if (!x) { x = { v: a.id, w: b.id, count: 0, control: true }; g.edgeMap.set(key, x); g.edges.push(x); }
      x.count++;
      if (!e.control) x.control = false;
    }
  }

  // Op histogram of a group, most frequent first.
  opsOf(g, out = new Map()) {
    for (const c of g.children)
      if (c.kind === 'op') out.set(c.node.op, (out.get(c.node.op) || 0) + 1);
      else this.opsOf(c, out);
    return out;
  }

  // Devices of a group's ops, most frequent first.
  devicesOf(g, out = new Map()) {
    for (const c of g.children)
      if (c.kind === 'op') { const dv = c.node.device || ''; out.set(dv, (out.get(dv) || 0) + 1); } else this.devicesOf(c, out);
    return out;
  }
}

const CHAR_W = 6.2;
const OP_H = 22;
const GROUP_H = 30;
const PAD = 14;
const HEAD = 24;

export function textWidth(s, max) {
  return Math.min(max, Math.max(36, s.length * CHAR_W + 18));
}

// Sizes and positions: it.w, it.h for every shown item; for an expanded group its children's
// x, y (centres, relative to the group's content box) and its edges' points.
export class Layout {
  constructor(model) {
    this.model = model;
    this.expanded = new Set();
    this.layouts = 0; // dagre runs, for tests and the bench
  }

  isExpanded(g) { return g === this.model.root || this.expanded.has(g.id); }

  size(it) {
    if (it.kind === 'op') return { w: textWidth(it.label, 150), h: OP_H };
    if (!this.isExpanded(it)) return { w: textWidth(`${it.label} (${it.count})`, 200) + 24, h: GROUP_H };
    const l = this.layoutOf(it);
    return { w: Math.max(l.w + 2 * PAD, textWidth(it.label, 240) + 40), h: l.h + 2 * PAD + HEAD };
  }

  // The group's own layout (kept until one of its children changes size).
  layoutOf(g) {
    if (g.layout) return g.layout;
    const dg = new dagre.graphlib.Graph({ multigraph: false });
    dg.setGraph({ rankdir: 'BT', nodesep: 14, ranksep: 26, edgesep: 6, marginx: 0, marginy: 0 });
    dg.setDefaultEdgeLabel(() => ({}));
    for (const c of g.children) {
      const s = this.size(c);
      c.w = s.w; c.h = s.h;
      dg.setNode(String(c.id), { width: s.w, height: s.h });
    }
    for (const e of g.edges) dg.setEdge(String(e.v), String(e.w), { weight: e.control ? 1 : 2 });
    dagre.layout(dg);
    this.layouts++;
    const pos = new Map();
    for (const c of g.children) { const n = dg.node(String(c.id)); pos.set(c.id, { x: n.x, y: n.y }); }
    const edges = g.edges.map((e) => ({ e, points: dg.edge(String(e.v), String(e.w)).points }));
    const gg = dg.graph();
    g.layout = { w: gg.width || 0, h: gg.height || 0, pos, edges };
    return g.layout;
  }

  // Drops the layouts a change of g's size makes stale: g's ancestors'.
  invalidate(g) {
    for (let p = g.parent; p; p = p.parent) p.layout = null;
  }

  toggle(g) {
    if (g === this.model.root) return;
    if (this.expanded.has(g.id)) this.expanded.delete(g.id); else this.expanded.add(g.id);
    this.invalidate(g);
  }

  expand(g) {
    if (g === this.model.root || this.expanded.has(g.id)) return;
    this.expanded.add(g.id);
    this.invalidate(g);
  }

  // Expands every group holding item it, so that it is drawn.
  reveal(it) {
    for (const a of this.model.ancestors(it)) this.expand(a);
  }

  // The item drawn for it: itself, or the outermost collapsed group holding it.
  shownAs(it) {
    let shown = it;
    for (const a of this.model.ancestors(it)) if (a !== this.model.root && !this.expanded.has(a.id)) shown = a;
    return shown;
  }

  // Everything drawn: lays out what is stale, then returns the root's layout.
  run() {
    const l = this.layoutOf(this.model.root);
    return l;
  }
}
