// SPDX-License-Identifier: MIT
// The HParams dashboard's model: the columns (one per hparam and metric, numeric or discrete),
// the filters of the filter panel and the brushes of the parallel coordinates view, the
// sessions that pass them, and the filtered table as CSV and JSON. No DOM here.

import { num } from './format.js';

export const STATUSES = ['unknown', 'success', 'failure', 'running'];

// HParamInfo.type (api.proto's DataType): 1 string, 2 bool, 3 float64.
const INFO_TYPES = { 1: 'string', 2: 'bool', 3: 'number' };

// A discrete value as a key for sets (numbers, strings and booleans kept apart).
export const vkey = (v) => (typeof v === 'number' ? 'n' + v : typeof v === 'boolean' ? 'b' + v : 's' + String(v));

function cmpValue(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}

// A cell value from the API: numbers (NaN and the infinities arrive spelled as strings),
// strings, booleans; lists as their JSON text; null when absent.
function cell(v) {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v) || typeof v === 'object') return JSON.stringify(v);
  return num(v);
}

// Columns of the answer of GET .../hparams for these sessions: hparams first (in the
// experiment config's order, then the others sorted), then metrics.
// A column: { key, kind: 'hparam'|'metric', name, title, numeric, values (discrete, ordered),
//             min, max (numeric, finite values), logOk, get(session) }
export function buildColumns(r, sessions) {
  const infos = new Map();
  for (const i of r.hparam_infos || []) if (i && typeof i.name === 'string' && !infos.has(i.name)) infos.set(i.name, i);
  const seen = new Set(sessions.flatMap((s) => Object.keys(s.hparams || {})));
  const natural = (a, b) => a.localeCompare(b, undefined, { numeric: true });
  const hnames = [...[...infos.keys()].filter((k) => seen.has(k)), ...[...seen].filter((k) => !infos.has(k)).sort(natural)];
  const mnames = [...new Set(sessions.flatMap((s) => Object.keys(s.metrics || {})))].sort(natural);
  const cols = [];
  for (const name of hnames) {
    const info = infos.get(name);
    cols.push(column('hparam', name, (info && info.display_name) || name, (s) => cell((s.hparams || {})[name]), sessions, info));
  }
  for (const name of mnames) cols.push(column('metric', name, name, (s) => {
    const m = (s.metrics || {})[name];
    return m ? cell(m.value) : null;
  }, sessions, null));
  return cols;
}

function column(kind, name, title, get, sessions, info) {
  const vals = sessions.map(get).filter((v) => v !== null);
  const declared = info && INFO_TYPES[info.type];
  const numeric = kind === 'metric' || (declared ? declared === 'number' : vals.length > 0 && vals.every((v) => typeof v === 'number'));
  const c = { key: (kind === 'hparam' ? 'h:' : 'm:') + name, kind, name, title, numeric, get };
  // a discrete domain in the config: value checkboxes and an ordered axis, as TensorBoard
  const domain = info && Array.isArray(info.values) && info.values.length ? info.values.map(cell) : null;
  if (numeric && !domain) {
    const fin = vals.filter((v) => typeof v === 'number' && Number.isFinite(v));
    c.min = fin.length ? fin.reduce((a, b) => Math.min(a, b)) : 0; // no spread: any number of sessions
    c.max = fin.length ? fin.reduce((a, b) => Math.max(a, b)) : 1;
    c.logOk = fin.length > 0 && c.min > 0; // a log scale only for positive data
  } else {
    c.numeric = false;
    const byKey = new Map();
    for (const v of [...(domain || []), ...vals]) if (!byKey.has(vkey(v))) byKey.set(vkey(v), v);
    c.values = [...byKey.values()];
    if (!domain) c.values.sort(cmpValue);
  }
  return c;
}

// What the filter panel and the brushes hold. Intervals: key -> [min or null, max or null];
// allowed: key -> Set of vkeys of the discrete values ticked (absent: all); brushes:
// key -> { lo, hi } in the axis' own units (numeric) or { keys: Set of vkeys } (discrete).
export class Filters {
  constructor() {
    this.hidden = new Set();
    this.intervals = new Map();
    this.allowed = new Map();
    this.status = new Set(STATUSES);
    this.brushes = new Map();
    this.log = new Set(); // numeric columns drawn on a log scale
  }

  // Whether a session passes the filter panel (status, intervals, ticked values).
  passesPanel(s, cols) {
    if (!this.status.has(STATUSES.includes(s.status) ? s.status : 'unknown')) return false;
    for (const c of cols) {
      const iv = this.intervals.get(c.key);
      if (c.numeric && iv && (iv[0] !== null || iv[1] !== null)) {
        const v = c.get(s);
        if (typeof v !== 'number' || Number.isNaN(v)) return false;
        if (iv[0] !== null && v < iv[0]) return false;
        if (iv[1] !== null && v > iv[1]) return false;
      }
      const ok = this.allowed.get(c.key);
      if (!c.numeric && ok) {
        const v = c.get(s);
        if (v === null || !ok.has(vkey(v))) return false;
      }
    }
    return true;
  }

  // Whether a session is inside every brush (of the columns shown).
  passesBrushes(s, cols) {
    for (const c of cols) {
      const b = this.brushes.get(c.key);
      if (!b || this.hidden.has(c.key)) continue;
      const v = c.get(s);
      if (v === null) return false;
      if (b.keys) { if (!b.keys.has(vkey(v))) return false; } else if (!(typeof v === 'number' && v >= b.lo && v <= b.hi)) return false;
    }
    return true;
  }
}

// The text of a value in the table and downloads: numbers in full, '' when absent.
export function plain(v) {
  if (v === null || v === undefined) return '';
  return String(v);
}

// A CSV field: numbers bare; text quoted (RFC 4180), with a quote mark before a leading
// = + - @ tab or CR so that a spreadsheet does not read it as a formula (as the server's
// CSV export, api_scalars.c csv_field).
export function csvField(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return '"' + s.replace(/"/g, '""') + '"';
}

// The rows (sessions, in table order) and columns shown as CSV.
export function toCsv(rows, cols) {
  const head = ['Session', 'Status', ...cols.map((c) => c.title)].map(csvField).join(',');
  const lines = rows.map((s) => [csvField(s.run), csvField(s.status), ...cols.map((c) => csvField(c.get(s)))].join(','));
  return [head, ...lines].join('\r\n') + '\r\n';
}

// The same as JSON: [{ session, group, status, hparams: {name: value}, metrics: {name: value} }];
// non-finite numbers spelled as the API spells them.
export function toJson(rows, cols) {
  const j = (v) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity') : v);
  return JSON.stringify(rows.map((s) => {
    const o = { session: s.run, group: s.group, status: s.status, hparams: {}, metrics: {} };
    for (const c of cols) {
      const v = c.get(s);
      if (v !== null) (c.kind === 'hparam' ? o.hparams : o.metrics)[c.name] = j(v);
    }
    return o;
  }), null, 1) + '\n';
}

// A regex matching exactly this run and the runs under it (its metric runs: run/validation).
export function runRegex(run) {
  return '^' + run.replace(/[.*+?^${}()|[\]\\/]/g, (ch) => (ch === '/' ? '/' : '\\' + ch)) + '(/|$)';
}

// A regex matching exactly these tags.
export function tagRegex(tags) {
  return '^(' + tags.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|') + ')$';
}
