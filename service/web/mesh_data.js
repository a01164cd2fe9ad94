// SPDX-License-Identifier: MIT
// The Mesh tab's data: one step of a mesh's parts (vertices, faces, colours) read from
// GET .../tensors?step=, and turned into bounded typed arrays for three.js. Everything here is
// stored data anyone could have written: shapes are not trusted, counts are capped, and a face
// that names a vertex that does not exist is left out with a message instead of being drawn.

import { ApiError, dataQueue, query } from './api.js';

export const MAX_VERTICES = 5000000; // drawn of one sample; more are cut with a notice
export const MAX_FACES = 10000000;
const MAX_SAMPLES = 1000; // a batch's samples offered by the sample slider

// The values of one part at `step` (GET .../mesh_data: the last row at that step, as float32),
// at most `cap` of them. Returns { values: Float32Array, shape, cut }, or null when the series
// has no row at that step.
export async function fetchPart(base, run, tag, step, cap, priority, signal) {
  return dataQueue.run(async () => {
    const res = await fetch(`${base}/mesh_data?` + query({ run, tag, step, max: cap }), { credentials: 'same-origin', signal });
    if (res.status === 404) return null;
    if (!res.ok) {
      let msg = 'HTTP ' + res.status;
      try { msg = (await res.json()).error.message || msg; } catch (e) { /* not JSON */ }
      throw new ApiError(msg, res.status);
    }
    const buf = await res.arrayBuffer();
    const values = new Float32Array(buf, 0, Math.min(cap, buf.byteLength >> 2)); // little-endian, as every browser's
    const total = Number(res.headers.get('X-Values-Total'));
    return { values, shape: res.headers.get('X-Shape') || '?', cut: Number.isFinite(total) && total > values.length };
  }, priority, signal);
}

// "[1,4,3]" -> [1, 4, 3]; null when it is not a list of non-negative integers.
export function parseShape(s) {
  if (typeof s !== 'string' || !/^\[[0-9, ]*\]$/.test(s)) return null;
  const body = s.slice(1, -1).trim();
  if (!body) return [];
  const dims = body.split(',').map((x) => Number(x.trim()));
  return dims.every((d) => Number.isSafeInteger(d) && d >= 0) ? dims : null;
}

// How many samples a part's values hold, and the length of one: [B, N, 3] gives B samples of
// N*3 values (as many as the values fill); any other shape is one sample of all the values.
function samplesOf(part) {
  const dims = part ? parseShape(part.shape) : null;
  const n = part ? part.values.length : 0;
  if (dims && dims.length === 3 && dims[2] === 3 && dims[0] > 0 && dims[1] > 0) {
    const per = dims[1] * 3;
    return { count: Math.max(1, Math.min(dims[0], Math.ceil(n / per), MAX_SAMPLES)), per, declared: dims[0] };
  }
  return { count: 1, per: n, declared: 1 };
}

export function sampleCount(vertex) {
  return samplesOf(vertex).count;
}

const SRGB = new Float32Array(256); // 0..255 sRGB to linear, as three.js wants vertex colours
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  SRGB[i] = c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

// Typed arrays for sample `sample` of a step: { positions (Float32Array, x y z per vertex),
// index (Uint32Array, 3 per face) or null for a point cloud, colors (Float32Array, linear RGB)
// or null, vertices, faces, notes: [strings a person can act on] }.
export function buildMesh(vertex, face, color, sample) {
  const notes = [];
  if (!vertex) return { positions: new Float32Array(0), index: null, colors: null, vertices: 0, faces: 0, notes: ['this step has no vertices'] };
  const vs = samplesOf(vertex);
  const s = Math.max(0, Math.min(sample | 0, vs.count - 1));
  const start = s * vs.per;
  let nv = Math.floor(Math.max(0, Math.min(vs.per, vertex.values.length - start)) / 3);
  if (vertex.cut) notes.push(`only the first ${MAX_VERTICES.toLocaleString('en-US')} vertices are drawn`);
  if (vs.per && vertex.values.length - start < vs.per && !vertex.cut)
    notes.push(`the shape ${vertex.shape} declares more vertices than are stored: ${nv} drawn`);
  if (nv > MAX_VERTICES) {
    nv = MAX_VERTICES;
    notes.push(`only the first ${MAX_VERTICES.toLocaleString('en-US')} vertices are drawn`);
  }
  const positions = new Float32Array(nv * 3);
  let bad = 0;
  for (let i = 0; i < nv * 3; i++) {
    const x = vertex.values[start + i];
    if (typeof x === 'number' && Number.isFinite(x)) positions[i] = x;
    else bad++;
  }
  if (bad) notes.push(`${bad} vertex coordinates are not finite numbers: drawn as 0`);

  let index = null, nf = 0;
  if (face && face.values.length) {
    const fs = samplesOf(face);
    const fstart = Math.min(face.values.length, Math.max(0, Math.min(s, fs.count - 1)) * fs.per);
    const fend = Math.min(face.values.length, fstart + fs.per);
    let total = Math.floor((fend - fstart) / 3);
    if (total > MAX_FACES) {
      notes.push(`only the first ${MAX_FACES.toLocaleString('en-US')} faces are drawn`);
      total = MAX_FACES;
    }
    const idx = new Uint32Array(total * 3);
    let skipped = 0, firstBad = -1;
    for (let f = 0; f < total; f++) {
      const o = fstart + 3 * f;
      const a = face.values[o], b = face.values[o + 1], c = face.values[o + 2];
      if (!(Number.isInteger(a) && Number.isInteger(b) && Number.isInteger(c) && a >= 0 && b >= 0 && c >= 0 && a < nv && b < nv && c < nv)) {
        if (firstBad < 0) firstBad = f;
        skipped++;
        continue;
      }
      idx[3 * nf] = a; idx[3 * nf + 1] = b; idx[3 * nf + 2] = c;
      nf++;
    }
    if (skipped) notes.push(`${skipped} of ${total} faces skipped: they name vertices that do not exist (the first is face ${firstBad}; there are ${nv} vertices)`);
    if (face.cut) notes.push('only the first faces are drawn (too many to load)');
    index = nf ? idx.subarray(0, nf * 3) : null;
    if (!nf && total) notes.push('no face can be drawn: shown as a point cloud');
  }

  let colors = null;
  if (color && color.values.length) {
    const cs = samplesOf(color);
    const cstart = Math.max(0, Math.min(s, cs.count - 1)) * cs.per;
    const have = Math.floor(Math.max(0, Math.min(cs.per, color.values.length - cstart)) / 3);
    if (have < nv) {
      notes.push(`${have} colours for ${nv} vertices: colours ignored`);
    } else {
      colors = new Float32Array(nv * 3);
      for (let i = 0; i < nv * 3; i++) {
        const x = color.values[cstart + i];
        const k = typeof x === 'number' && Number.isFinite(x) ? Math.max(0, Math.min(255, Math.round(x))) : 0;
        colors[i] = SRGB[k];
      }
    }
  }
  return { positions, index, colors, vertices: nv, faces: nf, notes: [...new Set(notes)] };
}

// The scene settings TensorBoard reads from json_config, kept only where they are of the
// expected type and range (the config is stored data: no class is made from a name in it
// other than those listed here).
const MESH_MATERIALS = new Set(['MeshStandardMaterial', 'MeshBasicMaterial', 'MeshLambertMaterial', 'MeshPhongMaterial', 'MeshNormalMaterial']);
const LIGHTS = new Set(['AmbientLight', 'DirectionalLight', 'PointLight']); // each made as (color, intensity)
const COLOR_RE = /^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)|[a-z]{3,20})$/;

const num = (x, lo, hi) => (typeof x === 'number' && Number.isFinite(x) && x >= lo && x <= hi ? x : undefined);
const vec3 = (x) => (Array.isArray(x) && x.length === 3 && x.every((v) => num(v, -1e12, 1e12) !== undefined) ? x.slice() : undefined);
const colorOf = (x) => (typeof x === 'string' && COLOR_RE.test(x) ? x : undefined);
const obj = (x) => (x && typeof x === 'object' && !Array.isArray(x) ? x : {});

export function sceneConfig(raw) {
  const c = obj(raw), cam = obj(c.camera), mat = obj(c.material);
  const out = {
    camera: { fov: num(cam.fov, 1, 179) ?? 75, near: num(cam.near, 1e-9, 1e12) ?? 0.1, far: num(cam.far, 1e-9, 1e15), position: vec3(cam.position), lookAt: vec3(cam.lookAt) },
    material: {},
    lights: null,
  };
  if (out.camera.far !== undefined && out.camera.far <= out.camera.near) out.camera.far = undefined;
  const m = out.material;
  if (typeof mat.cls === 'string' && (MESH_MATERIALS.has(mat.cls) || mat.cls === 'PointsMaterial')) m.cls = mat.cls;
  if (colorOf(mat.color)) m.color = mat.color;
  for (const [k, lo, hi] of [['size', 0, 1e6], ['roughness', 0, 1], ['metalness', 0, 1], ['opacity', 0, 1], ['shininess', 0, 1e4]])
    if (num(mat[k], lo, hi) !== undefined) m[k] = mat[k];
  for (const k of ['transparent', 'wireframe', 'sizeAttenuation', 'flatShading'])
    if (typeof mat[k] === 'boolean') m[k] = mat[k];
  if (Array.isArray(c.lights)) {
    out.lights = c.lights.slice(0, 8).map(obj).filter((l) => LIGHTS.has(l.cls)).map((l) => ({
      cls: l.cls, color: colorOf(l.color) || '#ffffff', intensity: num(l.intensity, 0, 1e6) ?? 1, position: vec3(l.position),
    }));
  }
  return out;
}

export { MESH_MATERIALS };
