// SPDX-License-Identifier: MIT
// Tick values for hand-drawn (SVG) axes: round numbers, 1, 2 or 5 times a power of ten.

export function niceStep(span, count) {
  if (!(span > 0) || !(count > 0)) return 1;
  const raw = span / count;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
}

// About `count` ticks inside [lo, hi].
export function ticks(lo, hi, count) {
  if (!(hi > lo)) return Number.isFinite(lo) ? [lo] : [];
  const step = niceStep(hi - lo, count);
  const out = [];
  const first = Math.ceil(lo / step - 1e-9) * step;
  for (let v = first, i = 0; v <= hi + step * 1e-9 && i < 1000; v = first + ++i * step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

// [lo, hi] widened to tick boundaries (d3's nice()).
export function nice(lo, hi, count) {
  if (!(hi > lo)) return [lo, hi];
  const step = niceStep(hi - lo, count);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}
