// SPDX-License-Identifier: MIT
// Scalar series for charts: fetched per (tag, runs) in one request, kept per (tag, run) so a
// setting change or a run toggle redraws without a download, dropped least-recently-used
// past a budget of points. Smoothing is TensorBoard's debiased EMA over every point: here
// when a series arrived whole, else computed by the server for the current weight.

import { enc, query, queuedJson } from './api.js';
import { num } from './format.js';

const CACHE_POINTS = 4000000; // about 90 MB of typed arrays (20-24 bytes a point)

// TensorBoard's classicSmoothing (webapp/widgets/line_chart_v2/data_transformer.ts), the same
// formula as the server's (service/downsample.c): a constant series is left as it is, a
// non-finite value is copied and does not move the average.
export function smoothEma(values, weight) {
  const n = values.length, out = new Float32Array(n); // computed in doubles, kept as drawn
  let constant = true;
  for (let i = 1; i < n && constant; i++) constant = values[i] === values[0];
  let last = 0, k = 0, settled = weight === 1;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (constant || !Number.isFinite(v)) { out[i] = v; continue; }
    last = last * weight + (1 - weight) * v;
    k++;
    let debias = 1;
    if (!settled) {
      const wk = Math.pow(weight, k);
      debias = 1 - wk;
      settled = wk < 2 ** -54;
    }
    out[i] = last / debias;
  }
  return out;
}

// The same over downsampled points, each standing for the points since the previous one
// (from the step spacing): close to smoothing every point, shown while the exact line loads.
function smoothApprox(s, weight) {
  const n = s.values.length, out = new Float32Array(n);
  const spacing = s.total > 1 && n > 1 ? (s.steps[n - 1] - s.steps[0]) / (s.total - 1) : 1;
  let last = 0, k = 0;
  for (let i = 0; i < n; i++) {
    const v = s.values[i];
    if (!Number.isFinite(v)) { out[i] = v; continue; }
    const m = i === 0 ? 1 : Math.max(1, Math.round((s.steps[i] - s.steps[i - 1]) / (spacing || 1)));
    const wm = Math.pow(weight, m);
    last = last * wm + (1 - wm) * v;
    k += m;
    out[i] = weight === 1 ? last : last / (1 - Math.pow(weight, k));
  }
  return out;
}

// One run's series of one tag, as the chart needs it.
export class Series {
  constructor(tag, j, weight) {
    this.tag = tag;
    this.run = j.run;
    this.total = j.total;
    this.downsampled = !!j.downsampled;
    this.firstWall = Number.isFinite(j.first_wall_time) ? j.first_wall_time : (j.wall_time && j.wall_time.length ? j.wall_time[0] : 0);
    // as narrow as the data allows: steps in 32 bits when they fit, float32 values when they
    // are float32 (most are: simple_value and DT_FLOAT), smoothed lines in float32 (drawn)
    const n = j.step.length;
    const small = j.step.every((v) => v >= -2147483648 && v <= 2147483647);
    this.steps = small ? Int32Array.from(j.step) : Float64Array.from(j.step);
    // wall times as seconds from the series' first point, in float32 (to the ms for a day's
    // run, to 0.06 s for ten days: what a chart and a tooltip show); absolute on demand
    const w0 = this.firstWall;
    this.rel = Float32Array.from(j.wall_time, (w) => w - w0);
    this.abs = null;
    const vals = j.value.map(num);
    this.values = vals.every((v) => Math.fround(v) === v || v !== v) ? Float32Array.from(vals) : Float64Array.from(vals);
    this.serverSmoothed = null;
    this.serverWeight = null;
    if (j.smoothed) {
      this.serverSmoothed = Float32Array.from(j.smoothed, num);
      this.serverWeight = weight;
    }
    this.local = null; // { weight, ys }

  }

  get length() { return this.steps.length; }

  // The wall time of point i (seconds since the epoch).
  wall(i) { return this.firstWall + this.rel[i]; }

  // Memory held in typed arrays.
  get bytes() {
    return [this.steps, this.rel, this.abs, this.values, this.serverSmoothed, this.local && this.local.ys]
      .reduce((a, x) => a + (x ? x.byteLength : 0), 0);
  }

  // x values for an axis type.
  xs(xType) {
    if (xType === 'wall') {
      if (!this.abs) this.abs = Float64Array.from(this.rel, (r) => r + this.firstWall);
      return this.abs;
    }
    if (xType === 'relative') return this.rel;
    return this.steps;
  }

  // { ys, exact }: the smoothed line for weight, exact unless it has to wait for the server.
  smoothed(weight, partial) {
    if (!(weight > 0)) return { ys: this.values, exact: true };
    if (this.serverSmoothed && this.serverWeight === weight) return { ys: this.serverSmoothed, exact: true };
    if (!this.downsampled && !partial) {
      if (!this.local || this.local.weight !== weight) this.local = { weight, ys: smoothEma(this.values, weight) };
      return { ys: this.local.ys, exact: true };
    }
    if (!this.local || this.local.weight !== weight) this.local = { weight, ys: smoothApprox(this, weight) };
    return { ys: this.local.ys, exact: false };
  }
}

export class ScalarData {
  // requests(tag, runs): the requests that read `runs` of `tag` (null: every run), as the
  // page's requestsFor (experiment.js) gives them
  constructor(requests) {
    this.requests = requests;
    this.cache = new Map(); // `${tag}\0${run}` -> { s: Series, used }
    this.points = 0;
    this.clock = 0;
    this.inUse = new Map(); // tag -> how many loaded cards draw it (never trimmed)
  }

  // Loaded cards say which tags they draw, so that trimming leaves those alone.
  hold(tags) { for (const t of tags) this.inUse.set(t, (this.inUse.get(t) || 0) + 1); }

  unhold(tags) {
    for (const t of tags) {
      const n = (this.inUse.get(t) || 0) - 1;
      if (n > 0) this.inUse.set(t, n); else this.inUse.delete(t);
    }
  }

  key(tag, run) { return tag + '\u0000' + run; }

  get(tag, run) {
    const e = this.cache.get(this.key(tag, run));
    if (e) e.used = ++this.clock;
    return e ? e.s : null;
  }

  put(s) {
    const k = this.key(s.tag, s.run);
    const old = this.cache.get(k);
    if (old) this.points -= old.s.length;
    this.cache.set(k, { s, used: ++this.clock });
    this.points += s.length;
  }

  // Drops what no card has used lately, down to the budget.
  trim(keep) {
    if (this.points <= CACHE_POINTS) return;
    const list = [...this.cache.entries()].sort((a, b) => a[1].used - b[1].used);
    for (const [k, e] of list) {
      if (this.points <= CACHE_POINTS * 0.8) break;
      if ((keep && keep.has(e.s.tag)) || this.inUse.has(e.s.tag)) continue;
      this.cache.delete(k);
      this.points -= e.s.length;
    }
  }

  // Bytes of typed arrays the cache holds.
  bytes() {
    let b = 0;
    for (const e of this.cache.values()) b += e.s.bytes;
    return b;
  }

  dropTag(tag) {
    for (const [k, e] of this.cache) if (e.s.tag === tag) { this.cache.delete(k); this.points -= e.s.length; }
  }

  clear() {
    this.cache.clear();
    this.points = 0;
  }

  url(base, tag, runs, o) {
    // precision=display: float32 values with float32's digits, wall times to the millisecond
    // (a third of the bytes of exact doubles once compressed)
    return `${base}/scalars?` + query({ tag, run: runs || undefined, points: o.budget, layout: 'columns', precision: 'display',
      smoothing: o.weight > 0 ? String(o.weight) : undefined, start_step: o.start, end_step: o.end });
  }

  async fetch(tag, runs, o) {
    const lists = await Promise.all(this.requests(tag, runs).map(async (q) => {
      const r = await queuedJson(this.url(q.base, tag, q.runs, o), o.priority, o.signal);
      return r.series.map((j) => new Series(tag, q.rename ? Object.assign({}, j, { run: q.rename(j.run) }) : j, o.weight > 0 ? o.weight : null));
    }));
    return lists.flat();
  }

  // The whole-range series of `runs` (Map run -> Series). Runs cached already are not fetched
  // again; of the others, those that will arrive downsampled (more points than the budget)
  // are asked with the server's smoothing, the rest are smoothed here.
  // o: { budget, weight, priority, signal, longRuns: Set of runs known to be longer than the budget, refetch }
  async overview(tag, runs, o) {
    const out = new Map();
    const missing = [];
    for (const r of runs) {
      const s = o.refetch ? null : this.get(tag, r);
      if (s) out.set(r, s); else missing.push(r);
    }
    const long = missing.filter((r) => o.longRuns.has(r)), short = missing.filter((r) => !o.longRuns.has(r));
    const jobs = [];
    for (const [list, weight] of [[short, 0], [long, o.weight]]) {
      if (!list.length) continue;
      // every run of the tag: no run list (the common case, and a short URL); else URLs stay
      // short enough for any proxy, at most 100 runs a request
      if (o.allRuns && list.length === o.allRuns) {
        jobs.push(this.fetch(tag, null, { budget: o.budget, weight, priority: o.priority, signal: o.signal }));
        continue;
      }
      for (let i = 0; i < list.length; i += 100)
        jobs.push(this.fetch(tag, list.slice(i, i + 100), { budget: o.budget, weight, priority: o.priority, signal: o.signal }));
    }
    for (const list of await Promise.all(jobs))
      for (const s of list) { this.put(s); out.set(s.run, s); }
    this.trim(new Set([tag]));
    return out;
  }

  // Downsampled series whose server smoothing is for another weight: fetched again with it.
  async resmooth(tag, runs, o) {
    const stale = runs.filter((r) => {
      const s = this.get(tag, r);
      return s && s.downsampled && o.weight > 0 && s.serverWeight !== o.weight;
    });
    if (!stale.length) return false;
    await this.overview(tag, stale, Object.assign({}, o, { refetch: true, longRuns: new Set(stale) }));
    return true;
  }

  // A step window at full resolution when it holds few enough points (not cached: zooms are
  // brief; the card keeps the last one).
  async window(tag, runs, o) {
    const jobs = [];
    for (let i = 0; i < runs.length; i += 50) jobs.push(this.fetch(tag, runs.slice(i, i + 50), o));
    const out = new Map();
    for (const list of await Promise.all(jobs)) for (const s of list) out.set(s.run, s);
    return out;
  }
}

export { enc };
