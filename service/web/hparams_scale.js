// SPDX-License-Identifier: MIT
// Axis scales of the HParams views, as TensorBoard's: numeric columns linear or logarithmic
// (offered when the domain does not include 0), discrete columns as evenly spaced points in
// their order. A scale maps a value to t in [0, 1] (null when it cannot be placed).

import { cssVar } from './dom.js';
import { vkey } from './hparams_model.js';
import { currentTheme } from './theme.js';

const flog = (v) => (v > 0 ? Math.log10(v) : -Math.log10(-v));

export function makeScale(col, log) {
  if (!col.numeric) {
    const idx = new Map(col.values.map((v, i) => [vkey(v), i]));
    const n = col.values.length;
    return {
      log: false,
      t: (v) => (v === null || !idx.has(vkey(v)) ? null : (idx.get(vkey(v)) + 0.5) / n),
      ticks: () => col.values.map((v, i) => [(i + 0.5) / n, String(v)]),
      // the values whose points lie in [t0, t1]
      pick: (t0, t1) => ({ keys: new Set(col.values.filter((v, i) => (i + 0.5) / n >= t0 && (i + 0.5) / n <= t1).map(vkey)) }),
    };
  }
  const useLog = !!log && (col.min > 0 || col.max < 0);
  const f = useLog ? flog : (v) => v;
  let a = f(col.min), b = f(col.max);
  if (!(b > a)) { const d = Math.abs(a) > 0 ? Math.abs(a) * 0.5 : 1; a -= d; b += d; }
  const inv = (t) => {
    const x = a + t * (b - a);
    return !useLog ? x : col.min > 0 ? 10 ** x : -(10 ** -x);
  };
  return {
    log: useLog,
    t: (v) => (typeof v !== 'number' || !Number.isFinite(v) ? null : (f(v) - a) / (b - a)),
    inv,
    ticks: () => (useLog ? logTicks(a, b, col.min > 0) : linTicks(a, b)).map((v) => [(f(v) - a) / (b - a), v]),
    pick: (t0, t1) => ({ lo: inv(Math.max(0, t0)), hi: inv(Math.min(1, t1)) }),
  };
}

function linTicks(a, b) {
  const span = b - a, raw = span / 5, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => span / s <= 6) || 10 * p;
  const out = [];
  for (let v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// Decades between a and b (log10 of the values, or -log10(-v) for a negative domain).
function logTicks(a, b, positive) {
  const out = [];
  const sign = positive ? 1 : -1;
  const lo = Math.min(a, b), hi = Math.max(a, b);
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) out.push(sign > 0 ? 10 ** e : -(10 ** -e));
  if (out.length < 2) return linTicks(sign > 0 ? 10 ** a : -(10 ** -a), sign > 0 ? 10 ** b : -(10 ** -b)).filter((v) => v * sign > 0);
  return out;
}

// Colours for "colour by": a metric's low to high values, readable on light and dark cards.
const STOPS = [[59, 130, 246], [192, 38, 211], [249, 115, 22]];

export function rampColor(t) {
  if (t === null || !Number.isFinite(t)) return '#8a8f99';
  const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1), i = Math.min(STOPS.length - 2, Math.floor(x)), u = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * u));
  return '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
}

// A theme colour for canvases, read once per theme: getComputedStyle after the views changed
// the page would restyle a thousand-row table on every brush move.
const themeCache = new Map();
export function themeVar(name, fallback) {
  const k = currentTheme() + name;
  if (!themeCache.has(k)) themeCache.set(k, cssVar(name, fallback));
  return themeCache.get(k);
}
