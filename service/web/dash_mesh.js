// SPDX-License-Identifier: MIT
// Mesh: one card per run and mesh (TensorBoard's mesh plugin; PyTorch's and tensorboardX's
// add_mesh), drawn with three.js: turn it by dragging, zoom with the wheel, a step slider when
// there are several steps, a sample slider for a batch, and Reset camera.

import { api } from './api.js';
import { Card, CardHost, layoutGroups } from './cards.js';
import { h } from './dom.js';
import { MAX_FACES, MAX_VERTICES, buildMesh, fetchPart, sampleCount, sceneConfig } from './mesh_data.js';
import { MeshView, webglAvailable } from './mesh_view.js';

// Browsers keep few WebGL contexts (Chromium 16 per page) and silently drop the oldest past
// that, leaving its card blank: at most MAX_LIVE views live at once, the one farthest from
// the view released first (it loads again when it comes back into view).
const MAX_LIVE = 12;
const live = new Set();

function makeRoom() {
  while (live.size >= MAX_LIVE) {
    let far = null, d = -1;
    for (const c of live) {
      const x = CardHost.distance(c);
      if (x > d) { d = x; far = c; }
    }
    far.release();
  }
}

class MeshCard extends Card {
  constructor(ctx, m) {
    const sw = h('span', { class: 'swatch' });
    sw.style.background = ctx.colors.get(m.run);
    super({ ctx, key: `mesh:${m.run}\u0000${m.name}`, cls: 'mesh-card', tag: m.name, run: m.run,
      titleNodes: [sw, ' ', m.run, h('span', { class: 'sub', text: ' · ' + m.name })] });
    this.m = m;
    this.steps = Array.isArray(m.steps) ? m.steps : [];
    this.stepIndex = this.steps.length - 1; // the latest step, as TensorBoard opens
    this.sample = 0;
    this.view = null;
    this.stepSeq = 0;
    this.notes = h('div', { class: 'mesh-notes', role: 'status' });
  }

  async load(signal) {
    if (!this.steps.length) {
      this.body.replaceChildren(h('p', { class: 'empty-state', text: 'This mesh has no vertices stored.' }));
      this.setState('empty');
      return;
    }
    if (!webglAvailable()) throw new Error('This browser cannot draw 3D (WebGL is off or not supported).');
    await this.loadStep(signal, false);
  }

  async loadStep(signal, keepCamera) {
    const step = this.steps[this.stepIndex];
    const t0 = performance.now();
    const p = this.m.parts || {};
    const prio = CardHost.distance(this);
    const get = (part, cap) => (part ? fetchPart(this.ctx.base, this.m.run, part.tag, step, cap, prio, signal) : null);
    const [vertex, face, color] = await Promise.all([get(p.vertex, 3 * MAX_VERTICES), get(p.face, 3 * MAX_FACES), get(p.color, 3 * MAX_VERTICES)]);
    if (signal.aborted) return;
    this.data = { vertex, face, color };
    this.samples = sampleCount(vertex);
    if (this.sample >= this.samples) this.sample = 0;
    this.draw(keepCamera);
    this.loadMs = Math.round(performance.now() - t0);
  }

  draw(keepCamera) {
    const { vertex, face, color } = this.data;
    const mesh = buildMesh(vertex, face, color, this.sample);
    const notes = mesh.notes.slice();
    if (this.m.config_error) notes.unshift(this.m.config_error);
    if (!this.view) {
      const cfg = sceneConfig(this.m.config);
      const holder = h('div', { class: 'mesh-holder' });
      this.body.replaceChildren(holder, this.notes);
      makeRoom();
      this.view = new MeshView(holder, cfg, this.ctx.colors.get(this.m.run), () => this.release());
      live.add(this);
      this.renderTools();
      keepCamera = false;
    }
    this.view.setMesh(mesh, keepCamera);
    this.mesh = { vertices: mesh.vertices, faces: mesh.faces, mode: this.view.mode, notes };
    this.notes.replaceChildren(...notes.map((n) => h('div', { class: 'note', text: n })));
    this.el.dataset.mode = this.view.mode;
    const n = (k, one, many) => `${k.toLocaleString('en-US')} ${k === 1 ? one : many}`;
    this.status.textContent = `step ${this.steps[this.stepIndex]} · ${n(mesh.vertices, 'vertex', 'vertices')}` +
      (mesh.faces ? ` · ${n(mesh.faces, 'face', 'faces')}` : ' · point cloud');
  }

  renderTools() {
    const kids = [];
    if (this.steps.length > 1) {
      const label = h('span', { class: 'step-label', text: `step ${this.steps[this.stepIndex]}` });
      const slider = h('input', { type: 'range', class: 'step-slider', min: '0', max: String(this.steps.length - 1), value: String(this.stepIndex), 'aria-label': 'Step' });
      slider.addEventListener('input', () => {
        this.stepIndex = Number(slider.value);
        label.textContent = `step ${this.steps[this.stepIndex]}`;
        this.changeStep();
      });
      kids.push(h('label', { class: 'slider' }, label, slider));
    }
    if (this.samples > 1) {
      const label = h('span', { text: `sample ${this.sample + 1} of ${this.samples}` });
      const slider = h('input', { type: 'range', class: 'sample-slider', min: '0', max: String(this.samples - 1), value: String(this.sample), 'aria-label': 'Sample' });
      slider.addEventListener('input', () => {
        this.sample = Number(slider.value);
        label.textContent = `sample ${this.sample + 1} of ${this.samples}`;
        this.draw(true);
      });
      kids.push(h('label', { class: 'slider' }, label, slider));
    }
    kids.push(h('button', { type: 'button', class: 'reset-camera', text: 'Reset camera', onclick: () => this.view && this.view.resetCamera() }),
      h('span', { class: 'sub hint', text: 'drag to turn, wheel to zoom, right-drag to pan' }));
    this.tools.replaceChildren(...kids);
  }

  // A new step: fetched and drawn with the camera where the reader left it; a newer choice
  // made while it loads wins.
  async changeStep() {
    const seq = ++this.stepSeq;
    this.setState('loading');
    try {
      await this.loadStep(this.ac.signal, true);
      if (seq === this.stepSeq) this.setState('drawn');
    } catch (e) {
      if (seq === this.stepSeq && !(e && e.name === 'AbortError')) this.setState('error', e.message);
    }
  }

  resize() { if (this.view) this.view.resize(); }

  // Released while on screen (a lost context, or room made for another view): load again.
  becameVisible() {
    if (!this.loaded) this.ensureLoaded();
    else super.becameVisible();
  }

  unload() {
    live.delete(this);
    if (this.view) this.view.destroy();
    this.view = null;
    this.data = null;
    this.tools.replaceChildren();
  }

  debug() {
    return Object.assign({ step: this.steps[this.stepIndex], steps: this.steps.length, sample: this.sample, samples: this.samples,
      renders: this.view ? this.view.renders : 0, loadMs: this.loadMs }, this.mesh || {});
  }
}

export default class MeshDashboard {
  constructor(ctx, el) { this.ctx = ctx; this.el = el; this.meshes = null; }
  settings() { return []; }

  async render() {
    const seq = (this.seq = (this.seq || 0) + 1);
    const r = await api(`${this.ctx.base}/meshes`);
    if (seq !== this.seq) return;
    const text = JSON.stringify(r.meshes || []);
    if (this.host && text === this.index) return; // live refresh: nothing new, keep the views
    this.index = text;
    this.meshes = r.meshes || [];
    this.layout();
  }

  layout() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    const ctx = this.ctx;
    const items = this.meshes.filter((m) => ctx.runShown(m.run) && ctx.tagShown(m.name))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.run < b.run ? -1 : a.run > b.run ? 1 : 0))
      .map((m) => ({ key: `mesh:${m.run}\u0000${m.name}`, tag: m.name, make: () => new MeshCard(ctx, m) }));
    layoutGroups(this.el, this.host, items, ctx.state.pins, this.meshes.length ? 'Nothing matches the run and tag filters.'
      : 'No mesh here can be drawn: its tags lack readable mesh plugin data.', (it) => it.tag);
  }

  changed(keys) { if (this.meshes && ['tagRe', 'runRe', 'hidden', 'pins'].some((k) => keys.has(k))) this.layout(); }
  async refresh() { await this.render(); }
  destroy() { this.seq = (this.seq || 0) + 1; if (this.host) this.host.destroy(); }
}

