// SPDX-License-Identifier: MIT
// A line rasteriser for charts of many long series, written for machines without a GPU.
//
// A canvas stroke of a hundred lines of thousands of points costs a software rasteriser
// tens of milliseconds per chart. A thin line's picture, though, is decided column by column:
// in each pixel column it covers the rows from the lowest to the highest y it takes there
// (the points inside the column and where its segments cross the column's edges), widened by
// half the line width, the rows at the two ends covered in part. That is M4 (the first,
// lowest, highest and last point of every column) carried down to the pixels: every extreme
// stays visible, and a line costs one pass over its points plus one short vertical span per
// column.
//
// It is done in two steps so that the first can be kept:
//   columns(): the points to column ranges { c, lo, hi } (lo and hi in the data's units, log10
//     of them on log scales); it depends only on the data and the x mapping, so a change of
//     the y scale, of colours or of the other lines does not redo it;
//   drawColumns(): the ranges to pixels, blended into premultiplied RGBA with the colour's
//     alpha times the coverage (faint raw lines look as canvas draws them); a line blends once
//     into a pixel, like a canvas stroke.
// unpremultiply() turns the result into an ImageData's straight alpha.
//
// NaN, the infinities and (on log scales) values <= 0 leave gaps; a lone point between gaps
// draws nothing, as a canvas path of one point does. No DOM here: plain typed arrays.

const NONE = -2147483648;

// [r, g, b, a] (0-255) of '#rgb', '#rrggbb', '#rrggbbaa', 'rgb(r, g, b)' or 'rgba(r, g, b, a)';
// null for anything else (the caller strokes such lines on a canvas).
const colorCache = new Map();
export function parseColor(c) {
  if (typeof c !== 'string') return null;
  let v = colorCache.get(c);
  if (v !== undefined) return v;
  v = null;
  let m;
  if ((m = /^#([0-9a-f]{3})$/i.exec(c))) {
    v = [...m[1]].map((d) => parseInt(d + d, 16)).concat(255);
  } else if ((m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(c))) {
    const n = parseInt(m[1], 16);
    v = [(n >> 16) & 255, (n >> 8) & 255, n & 255, m[2] ? parseInt(m[2], 16) : 255];
  } else if ((m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/i.exec(c))) {
    const ch = [m[1], m[2], m[3]].map((x) => Math.min(255, Math.round(+x)));
    v = ch.concat(m[4] === undefined ? 255 : Math.round(Math.min(1, +m[4]) * 255));
  }
  if (colorCache.size > 1000) colorCache.clear();
  colorCache.set(c, v);
  return v;
}

// Column ranges of one line: n entries of (column, lo, hi) in v, three numbers each: the
// column (-1 .. w: the columns just off the layer are kept, they are cheap) and the y range
// the line takes in it. One typed array, float32 when the data is.
export class Columns {
  constructor(cap, wide) {
    this.v = wide ? new Float64Array(cap * 3) : new Float32Array(cap * 3);
    this.n = 0;
  }

  get bytes() { return this.v.byteLength; }

  // A copy holding just the entries (for keeping).
  trimmed() {
    const t = new Columns(0, this.v instanceof Float64Array);
    t.v = this.v.slice(0, this.n * 3);
    t.n = this.n;
    return t;
  }
}

let scratch32 = new Columns(4096, false), scratch64 = new Columns(4096, true);

// The column ranges of the line through (xs[i], ys[i]), i from a to b, with the column of x
// floor(ox + (x - x0) * kx), on a layer w columns wide. The answer is scratch space, valid
// until the next call: trimmed() keeps it. Ranges are float32 when ys is.
export function columns(xs, ys, a, b, x0, kx, ox, log, w) {
  const wide = !(ys instanceof Float32Array);
  let out = wide ? scratch64 : scratch32;
  let V = out.v, cap = V.length, n = 0; // n counts numbers here, three an entry
  const push = (c, lo, hi) => {
    if (n === cap) {
      const o = new Columns(cap * 2 / 3, wide);
      o.v.set(V);
      out = o; V = o.v; cap = V.length;
    }
    V[n] = c; V[n + 1] = lo; V[n + 2] = hi; n += 3;
  };
  let cc = NONE, clo = 0, chi = 0; // the column being gathered and its range
  let pen = false, qx = 0, qy = 0; // the previous point, when the line goes on from it
  for (let i = a; i <= b; i++) {
    let y = ys[i];
    // y - y is NaN for NaN and the infinities: one test for what cannot be drawn
    if (y - y !== 0 || (log && y <= 0)) {
      if (cc !== NONE) push(cc, clo, chi);
      cc = NONE;
      pen = false;
      continue;
    }
    if (log) y = Math.log10(y);
    const px = ox + (xs[i] - x0) * kx;
    if (!pen) { pen = true; qx = px; qy = y; continue; }
    const c0 = Math.floor(qx), c1 = Math.floor(px);
    if (c0 === c1) { // the usual case of a dense line: the segment stays in its column
      if (cc === c0) {
        if (y < clo) clo = y; else if (y > chi) chi = y;
      } else {
        if (cc !== NONE) push(cc, clo, chi);
        cc = c0;
        if (qy < y) { clo = qy; chi = y; } else { clo = y; chi = qy; }
      }
    } else if (c1 > c0) { // the segment crosses into later columns
      const k = (y - qy) / (px - qx), smin = qy < y ? qy : y, smax = qy < y ? y : qy;
      // in its first column, from the previous point to the right edge
      let e = qy + (c0 + 1 - qx) * k;
      if (!(e >= smin)) e = smin; else if (e > smax) e = smax;
      if (cc !== c0) {
        if (cc !== NONE) push(cc, clo, chi);
        clo = chi = qy;
      }
      if (e < clo) clo = e; else if (e > chi) chi = e;
      if (c0 >= -1 && c0 <= w) push(c0, clo, chi);
      // the whole columns it crosses, those on the layer (and one either side)
      const from = c0 + 1 > -1 ? c0 + 1 : -1, to = c1 - 1 < w ? c1 - 1 : w;
      for (let c = from; c <= to; c++) {
        const ya = qy + (c - qx) * k, yb = ya + k;
        push(c, ya < yb ? ya : yb, ya < yb ? yb : ya);
      }
      // its last column, from the left edge to this point, gathers on
      let s = qy + (c1 - qx) * k;
      if (!(s >= smin)) s = smin; else if (s > smax) s = smax;
      cc = c1;
      if (s < y) { clo = s; chi = y; } else { clo = y; chi = s; }
    } else { // x went back (wall times can): the segment on its own
      if (cc !== NONE) push(cc, clo, chi);
      cc = NONE;
      const k = (qy - y) / (qx - px), from = c1 > -1 ? c1 : -1, to = c0 < w ? c0 : w;
      for (let c = from; c <= to; c++) {
        const xa = c > px ? c : px, xb = c + 1 < qx ? c + 1 : qx;
        const ya = y + (xa - px) * k, yb = y + (xb - px) * k;
        push(c, ya < yb ? ya : yb, ya < yb ? yb : ya);
      }
    }
    qx = px;
    qy = y;
  }
  if (cc !== NONE) push(cc, clo, chi);
  out.n = n / 3;
  if (wide) scratch64 = out; else scratch32 = out;
  return out;
}

// Blends a line's column ranges into a layer: u32 holds w x h premultiplied RGBA pixels
// (little-endian: red in the low byte, as ImageData's bytes read on every platform browsers
// run on), row-major. The row of a value y is oy - (y - y0) * ky. color: [r, g, b, a];
// width: the line width in pixels. Blending is in 8-bit fixed point, two channels per
// multiply, as a software canvas does it.
export function drawColumns(u32, w, h, cols, y0, ky, oy, color, width) {
  const A = color[3] / 255;
  if (!(A > 0)) return;
  const hw = (width > 0 ? width : 1) / 2;
  // the colour premultiplied, red and blue in one word, green and alpha in another
  const pr = Math.round(color[0] * A), pg = Math.round(color[1] * A), pb = Math.round(color[2] * A), pa = Math.round(255 * A);
  const srb = pr | (pb << 16), sag = pg | (pa << 16);
  const solid = (pr | (pg << 8) | (pb << 16) | (pa << 24)) >>> 0;
  const opaque = pa === 255;
  // a fully covered row of a faint line: dst * (256 - pa) / 256 + the colour
  const full = 256 - pa, frb = srb & 0xff00ff, fag = (sag << 8) & 0xff00ff00;
  const V = cols.v, end = cols.n * 3;
  for (let k = 0; k < end; k += 3) {
    const c = V[k] | 0;
    if (c < 0 || c >= w) continue;
    // y grows downwards: hi is the top
    let top = oy - (V[k + 2] - y0) * ky - hw, bot = oy - (V[k + 1] - y0) * ky + hw;
    if (!(bot > 0) || !(top < h)) continue; // also NaN
    if (top < 0) top = 0;
    if (bot > h) bot = h;
    const r0 = Math.floor(top), r1 = Math.ceil(bot) - 1; // the rows touched
    let p = (r0 * w + c) | 0;
    if (r0 >= r1) { // one row, covered bot - top
      mix(u32, p, bot - top, srb, sag, pa);
      continue;
    }
    mix(u32, p, r0 + 1 - top, srb, sag, pa);
    p += w;
    if (opaque) {
      for (let r = r0 + 1; r < r1; r++, p += w) u32[p] = solid;
    } else {
      for (let r = r0 + 1; r < r1; r++, p += w) {
        const v = u32[p];
        u32[p] = (((Math.imul(v & 0xff00ff, full) >>> 8) + frb) & 0xff00ff) | ((Math.imul((v >>> 8) & 0xff00ff, full) + fag) & 0xff00ff00);
      }
    }
    mix(u32, p, bot - r1, srb, sag, pa);
  }
}

// Blends the premultiplied colour (srb: red and blue, sag: green and alpha, 16 bits apart;
// pa its alpha) into pixel p with coverage cov: src * s + dst * (256 - t) per channel, s the
// coverage and t the coverage times alpha in 8-bit fixed point, t rounded so that no channel
// leaves its 16 bits.
function mix(u32, p, cov, srb, sag, pa) {
  const s = (cov * 256 + 0.5) | 0, t = ((pa * s + 127) / 255) | 0;
  if (t <= 0) return;
  const v = u32[p], keep = 256 - t;
  const rb = (Math.imul(v & 0xff00ff, keep) + Math.imul(srb, s)) >>> 8;
  const ag = Math.imul((v >>> 8) & 0xff00ff, keep) + Math.imul(sag, s);
  u32[p] = (rb & 0xff00ff) | (ag & 0xff00ff00);
}

// A layer's premultiplied pixels (u32) to straight alpha in out (an ImageData's data).
export function unpremultiply(u32, out) {
  const buf = new Uint8Array(u32.buffer, u32.byteOffset, u32.length * 4);
  const o32 = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
  for (let p = 0, n = u32.length; p < n; p++) {
    const v = u32[p];
    const a = v >>> 24;
    if (a === 0 || a === 255) { o32[p] = v; continue; }
    const i = p << 2, k = 255 / a;
    out[i] = buf[i] * k;
    out[i + 1] = buf[i + 1] * k;
    out[i + 2] = buf[i + 2] * k;
    out[i + 3] = a;
  }
}

// Both steps for one line, nothing kept (tests, and lines drawn once).
export function rasterLine(u32, w, h, xs, ys, a, b, m, color, width) {
  const cols = columns(xs, ys, a, b, m.x0, m.kx, m.ox, m.log, w);
  drawColumns(u32, w, h, cols, m.y0, m.ky, m.oy, color, width);
}
