// SPDX-License-Identifier: MIT
// Run colours: one colour per run for the whole page (every tab, every chart), from the
// run's place in the experiment's sorted run list, unless the viewer picked another.

// A categorical palette in the spirit of TensorBoard's (distinct hues, readable on light
// and dark backgrounds).
export const PALETTE = ['#ff7043', '#0077bb', '#cc3311', '#33bbee', '#ee3377', '#009988', '#7f7f7f',
  '#7b1fa2', '#f9a825', '#558b2f', '#5e35b1', '#c62828', '#00838f', '#6d4c41', '#ad1457',
  '#283593', '#2e7d32', '#ef6c00', '#4527a0', '#00695c'];

export class RunColors {
  // runs: every run of the experiment; picked: Map run -> '#rrggbb' chosen by the viewer
  constructor(runs, picked) {
    this.picked = picked;
    this.index = new Map();
    this.setRuns(runs);
  }

  setRuns(runs) {
    // new runs (live uploads) are appended, so existing runs keep their colour
    for (const r of [...runs].sort()) if (!this.index.has(r)) this.index.set(r, this.index.size);
  }

  get(run) {
    const p = this.picked.get(run);
    if (p) return p;
    const i = this.index.has(run) ? this.index.get(run) : this.index.size;
    return PALETTE[i % PALETTE.length];
  }
}

// '#rrggbb' with an alpha from 0 to 1, as '#rrggbbaa'.
export function alpha(color, a) {
  const v = Math.round(Math.max(0, Math.min(1, a)) * 255).toString(16).padStart(2, '0');
  return color.length === 7 ? color + v : color;
}

// Mixes '#rrggbb' with white (t > 0) or black (t < 0) by |t|.
export function shade(color, t) {
  const n = parseInt(color.slice(1, 7), 16);
  const c = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((x) => Math.round(t >= 0 ? x + (255 - x) * t : x * (1 + t)));
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}
