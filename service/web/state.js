// SPDX-License-Identifier: MIT
// View state: defaults, then what this browser kept (localStorage), then the URL, which wins
// so that a shared link opens the same view. Changes are written back to both and announced
// to listeners with the names of the keys that changed.

const PREFS_KEY = 'tbdev.prefs';       // settings that follow the viewer from experiment to experiment
const EXP_KEY = (id) => `tbdev.exp.${id}`; // pins and run colours, per experiment

// name: [default, kind, kept in localStorage]
const FIELDS = {
  tab: ['', 'str', false],
  smoothing: [0.6, 'num01', true],
  x: ['step', 'enum:step,relative,wall', true],
  log: [false, 'bool', false],
  outliers: [false, 'bool', true],
  runRe: ['', 'str', false],
  tagRe: ['', 'str', false],
  hidden: [[], 'list', false],
  histMode: ['offset', 'enum:offset,overlay', true],
  tipSort: ['default', 'enum:default,ascending,descending,nearest', true],
  tipRows: [10, 'int', true],
  theme: ['auto', 'enum:auto,light,dark', true],
  brightness: [1, 'num02', true],
  contrast: [100, 'int500', true],
  actualSize: [false, 'bool', true],
};

const URL_NAMES = { runRe: 'runs', tagRe: 'tags', hidden: 'off', histMode: 'hist', outliers: 'outliers', tipSort: 'sort',
  tipRows: 'rows', actualSize: 'actual' };

function parse(kind, raw) {
  if (raw === null || raw === undefined) return undefined;
  if (kind === 'str') return String(raw);
  if (kind === 'bool') return raw === '1' || raw === true || raw === 'true';
  if (kind === 'list') return Array.isArray(raw) ? raw.map(String) : String(raw).split(',').filter(Boolean);
  if (kind.startsWith('enum:')) return kind.slice(5).split(',').includes(String(raw)) ? String(raw) : undefined;
  const v = Number(raw);
  if (!Number.isFinite(v)) return undefined;
  if (kind === 'num01') return Math.min(0.999, Math.max(0, v));
  if (kind === 'num02') return Math.min(2, Math.max(0, v));
  if (kind === 'int500') return Math.round(Math.min(500, Math.max(0, v)));
  if (kind === 'int') return Math.round(Math.min(1000, Math.max(1, v)));
  return v;
}

function encode(kind, v) {
  if (kind === 'bool') return v ? '1' : '0';
  if (kind === 'list') return v.join(',');
  return String(v);
}

function readJson(key) {
  try { return JSON.parse(localStorage.getItem(key) || '{}') || {}; } catch (e) { return {}; }
}

function writeJson(key, v) {
  try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) { /* private mode or full: settings stay for this page */ }
}

export class ViewState {
  // fixed: names of URL parameters that are the page's own (compare's e=): kept as they are
  constructor(expId, search, fixed) {
    this.expId = expId;
    this.fixed = fixed || [];
    this.listeners = new Set();
    const prefs = readJson(PREFS_KEY);
    const params = new URLSearchParams(search || '');
    // as written (e=A,B rather than e=A%2CB): IDs and commas need no escaping
    this.fixedQuery = this.fixed.filter((k) => params.has(k)).map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params.get(k)).replace(/%2C/gi, ',')}`).join('&');
    this.v = {};
    for (const [name, [def, kind, kept]] of Object.entries(FIELDS)) {
      let val = Array.isArray(def) ? def.slice() : def;
      if (kept && prefs[name] !== undefined) { const p = parse(kind, prefs[name]); if (p !== undefined) val = p; }
      const u = params.get(URL_NAMES[name] || name);
      if (u !== null) { const p = parse(kind, u); if (p !== undefined) val = p; }
      this.v[name] = val;
    }
    const per = readJson(EXP_KEY(expId));
    this.pins = new Set(Array.isArray(per.pins) ? per.pins.map(String) : []);
    this.colors = new Map(Object.entries(per.colors && typeof per.colors === 'object' ? per.colors : {})
      .filter(([, c]) => /^#[0-9a-f]{6}$/i.test(c)));
  }

  get(name) { return this.v[name]; }
  get hidden() { return new Set(this.v.hidden); }

  // Changes some keys; writes the URL and the kept settings; tells the listeners.
  set(patch) {
    const changed = [];
    for (const [k, val] of Object.entries(patch)) {
      const kind = FIELDS[k][1];
      const v = kind === 'list' ? [...val] : parse(kind, val);
      if (v === undefined || JSON.stringify(v) === JSON.stringify(this.v[k])) continue;
      this.v[k] = v;
      changed.push(k);
    }
    if (!changed.length) return;
    this.save();
    for (const fn of this.listeners) fn(new Set(changed));
  }

  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  save() {
    const p = new URLSearchParams();
    const prefs = readJson(PREFS_KEY);
    for (const [name, [def, kind, kept]] of Object.entries(FIELDS)) {
      const v = this.v[name];
      const isDef = JSON.stringify(v) === JSON.stringify(def);
      // the URL names everything that differs from the defaults, so a shared link is exact
      if (!isDef) p.set(URL_NAMES[name] || name, encode(kind, v));
      if (kept) prefs[name] = v;
    }
    writeJson(PREFS_KEY, prefs);
    const q = [this.fixedQuery, p.toString()].filter(Boolean).join('&');
    history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
  }

  savePerExperiment() {
    writeJson(EXP_KEY(this.expId), { pins: [...this.pins], colors: Object.fromEntries(this.colors) });
  }

  togglePin(key) {
    if (this.pins.has(key)) this.pins.delete(key); else this.pins.add(key);
    this.savePerExperiment();
    for (const fn of this.listeners) fn(new Set(['pins']));
  }

  setColor(run, color) {
    if (color) this.colors.set(run, color); else this.colors.delete(run);
    this.savePerExperiment();
    for (const fn of this.listeners) fn(new Set(['colors']));
  }
}
