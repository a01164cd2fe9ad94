// SPDX-License-Identifier: MIT
// Numbers and times as text, as TensorBoard writes them.

// A value in a tooltip: as many significant digits as a float32 has (7), exponential for
// the very small and very large, so a learning rate of 1e-5 reads 1e-5, not 0.
export function fmtNum(v) {
  if (v === null || v === undefined) return '–';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e7) return v.toExponential(6).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(7)));
}

// A tick label: short (TensorBoard's formatTick: 4 significant digits, exponential outside
// [0.001, 10000)).
export function fmtTick(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(4)));
}

export function fmtStep(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : String(Math.round(v));
}

// TensorBoard's relative time formatter, from seconds: "0", "250 ms", "1.5 sec", "2 min",
// "3.25 hr", "1 day", "2 yr" (4 significant digits).
export function fmtRelative(sec) {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '–';
  if (sec === 0) return '0';
  const ms = Math.abs(sec) * 1000, sign = sec < 0 ? '-' : '';
  const f = (x) => String(Number(x.toPrecision(4)));
  if (ms < 1000) return `${sign}${f(ms)} ms`;
  if (ms < 60e3) return `${sign}${f(ms / 1e3)} sec`;
  if (ms < 3600e3) return `${sign}${f(ms / 60e3)} min`;
  if (ms < 86400e3) return `${sign}${f(ms / 3600e3)} hr`;
  if (ms < 365 * 86400e3) return `${sign}${f(ms / 86400e3)} day`;
  return `${sign}${f(ms / (365 * 86400e3))} yr`;
}

// Wall time (seconds since the epoch) in the viewer's time zone.
export function fmtWall(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return '–';
  return new Date(t * 1000).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// For page headers: UTC, to the second.
export function fmtTimeUtc(t) {
  return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// JSON numbers the API spells as strings: "NaN", "Infinity", "-Infinity".
export function num(v) {
  return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v;
}

export function plural(n, word) {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}
