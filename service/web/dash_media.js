// SPDX-License-Identifier: MIT
// Images and audio: one card per run, tag and sample (TensorBoard's "sample 2 of 3"), a step
// slider when there is more than one step, images fitted to the card (small ones scaled up
// with crisp pixels), an actual-size toggle, and TensorBoard's brightness and contrast.

import { queuedJson } from './api.js';
import { Card, CardHost } from './cards.js';
import { runTitle, perRunTagCards } from './dash_common.js';
import { h } from './dom.js';
import { fmtWall } from './format.js';
import { checkSetting } from './sidebar.js';

class MediaCard extends Card {
  // shared: { points, promise } of the (run, tag) series, one fetch for all its samples
  constructor(dash, t, sample, shared) {
    const kind = dash.kind;
    super({ ctx: dash.ctx, key: `${kind}:${t.run}\u0000${t.tag}\u0000${sample}`, cls: `${kind}-card`, tag: t.tag, run: t.run,
      titleNodes: runTitle(dash.ctx, t), descriptionHtml: t.description_html });
    this.dash = dash;
    this.kind = kind;
    this.t = t;
    this.sample = sample;
    this.shared = shared || { points: null, promise: null };
    this.index = null;
    this.el.dataset.sample = String(sample);
    this.sampleLabel = h('div', { class: 'sub sample-of' });
    this.view = h('div', { class: 'media-view' });
    this.stepLabel = h('span', { class: 'sub step-label' });
    this.body.append(this.sampleLabel, this.view);
    this.tools.append(this.stepLabel);
    if (kind === 'images') {
      const b = h('button', { type: 'button', class: 'actual-size', 'aria-pressed': String(!!this.ctx.state.get('actualSize')), text: 'Actual size' });
      b.addEventListener('click', () => this.ctx.state.set({ actualSize: !this.ctx.state.get('actualSize') }));
      this.actualBtn = b;
      this.tools.append(b);
    }
  }

  async load(signal) {
    if (!this.view.isConnected) this.body.append(this.sampleLabel, this.view); // after a release
    if (!this.shared.promise) {
      // not cancelled with this card: the other samples' cards wait for the same answer
      this.shared.promise = queuedJson(this.ctx.runUrl('blobs', this.t.run, { tag: this.t.tag }), CardHost.distance(this))
        .then((r) => { this.shared.points = (r.series[0] || { points: [] }).points; return this.shared.points; });
      this.shared.promise.catch(() => { this.shared.promise = null; });
    }
    const pts = await this.shared.promise;
    if (signal.aborted) return;
    if (this.sample === 0) this.dash.addSamples(this, pts);
    this.pts = pts.filter((p) => p.blobs.length > this.sample);
    if (this.index === null || this.index >= this.pts.length) this.index = this.pts.length - 1;
    this.show();
  }

  show() {
    const pts = this.pts || [];
    const samples = pts.reduce((m, p) => Math.max(m, p.blobs.length), 0);
    this.sampleLabel.textContent = samples > 1 || this.sample > 0 ? `sample ${this.sample + 1} of ${Math.max(samples, this.sample + 1)}` : '';
    if (!this.slider && pts.length > 1) {
      this.slider = h('input', { type: 'range', min: 0, max: pts.length - 1, step: 1, value: this.index, 'aria-label': 'Step' });
      this.slider.addEventListener('input', () => { this.index = +this.slider.value; this.show(); });
      this.body.append(this.slider);
    } else if (this.slider) {
      this.slider.max = String(Math.max(0, pts.length - 1));
    }
    const p = pts[this.index];
    if (!p) {
      this.view.replaceChildren(h('p', { class: 'empty-state', text: 'No data.' }));
      this.setState('empty');
      return;
    }
    this.stepLabel.textContent = `step ${p.step} · ${fmtWall(p.wall_time)}`;
    const b = p.blobs[this.sample];
    if (this.kind === 'images') {
      const img = h('img', { class: 'sample', src: b.url, alt: `${this.t.tag} at step ${p.step}` });
      img.addEventListener('load', () => this.fit(img));
      this.view.replaceChildren(img);
      this.adjust();
    } else {
      const labels = (p.meta && p.meta.labels) || [];
      this.view.replaceChildren(h('audio', { controls: true, preload: 'none', src: b.url }));
      if (labels[this.sample]) this.view.append(h('div', { class: 'sub', text: labels[this.sample] }));
    }
    this.el.dataset.steps = String(pts.length);
    this.setState('drawn');
  }

  // Small images are scaled up with crisp pixels (TensorBoard's image-rendering: pixelated);
  // images larger than the card are scaled down smoothly and shown whole.
  fit(img) {
    const actual = !!this.ctx.state.get('actualSize');
    img.classList.toggle('actual', actual);
    img.classList.toggle('upscaled', !actual && img.naturalWidth > 0 && img.naturalWidth < this.view.clientWidth);
  }

  adjust() {
    const img = this.view.querySelector('img');
    if (!img) return;
    const st = this.ctx.state;
    img.style.filter = `contrast(${st.get('contrast')}%) brightness(${st.get('brightness')})`;
    if (this.actualBtn) this.actualBtn.setAttribute('aria-pressed', String(!!st.get('actualSize')));
    if (img.complete) this.fit(img);
  }

  redraw() {
    if (this.pts) this.adjust();
  }

  unload() {
    this.view.replaceChildren();
    if (this.slider) { this.slider.remove(); this.slider = null; }
  }
}

export default class MediaDashboard {
  constructor(ctx, el, def) {
    this.ctx = ctx;
    this.el = el;
    this.kind = def.kind;
  }

  settings() {
    if (this.kind !== 'images') return [];
    const st = this.ctx.state;
    const slider = (id, key, label, min, max, step, def, fmt) => {
      const input = h('input', { type: 'range', id, min, max, step, value: st.get(key), 'aria-label': label });
      const shown = h('span', { class: 'value', text: fmt(st.get(key)) });
      input.addEventListener('input', () => { shown.textContent = fmt(+input.value); st.set({ [key]: +input.value }); });
      const reset = h('button', { type: 'button', class: 'reset', text: 'Reset', onclick: () => { input.value = def; shown.textContent = fmt(def); st.set({ [key]: def }); } });
      return [h('label', { for: id }, label + ' ', shown, ' ', reset), input];
    };
    return [
      ...checkSetting(this.ctx, { id: 'actual-size', key: 'actualSize', label: 'Show actual image size' }),
      ...slider('brightness', 'brightness', 'Brightness', 0, 2, 0.01, 1, (v) => (+v).toFixed(2)),
      ...slider('contrast', 'contrast', 'Contrast', 0, 500, 1, 100, (v) => `${v}%`),
    ];
  }

  render() {
    if (this.host) this.host.destroy();
    this.host = new CardHost();
    this.shared = new Map();
    perRunTagCards(this.ctx, this.el, this.host, this.ctx.byPlugin(this.kind), this.kind, (t) => new MediaCard(this, t, 0, this.sharedOf(t)));
  }

  sharedOf(t) {
    const k = t.run + '\u0000' + t.tag;
    if (!this.shared.has(k)) this.shared.set(k, { points: null, promise: null });
    return this.shared.get(k);
  }

  // The first sample's card adds the others after itself once it knows how many there are.
  addSamples(first, pts) {
    const n = pts.reduce((m, p) => Math.max(m, p.blobs.length), 0);
    let after = first.el;
    for (let s = 1; s < n; s++) {
      if (first.el.parentNode.querySelector(`[data-key="${CSS.escape(`${this.kind}:${first.t.run}\u0000${first.t.tag}\u0000${s}`)}"]`)) continue;
      const c = new MediaCard(this, first.t, s, first.shared);
      after.after(c.el);
      after = c.el;
      this.host.add(c);
    }
  }

  changed(keys) {
    if (keys.has('tagRe') || keys.has('runRe') || keys.has('hidden') || keys.has('pins')) { this.render(); return; }
    if (keys.has('brightness') || keys.has('contrast') || keys.has('actualSize')) for (const c of this.host.cards) c.redraw();
  }

  async refresh() {
    for (const s of this.shared.values()) s.promise = null;
    for (const c of this.host.cards) if (c.loaded) { c.loaded = false; c.ensureLoaded(); }
  }

  destroy() {
    if (this.host) this.host.destroy();
  }
}
