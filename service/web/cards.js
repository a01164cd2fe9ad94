// SPDX-License-Identifier: MIT
// Cards: a chart per tag (or per run and tag), loaded when it comes within a screen of the
// viewport and dropped again when it is far away, so scrolling through hundreds of cards
// keeps memory bounded. A card's state lives in its Card object; the element only carries
// data-* attributes that say what it shows (for people, styles and tests).

import { h, setHtml } from './dom.js';

const cardOf = new WeakMap(); // element -> Card (read by CardHost and by tests via viewer.cardFor)

export function cardFor(el) {
  return cardOf.get(el);
}

export class Card {
  // opts: { key, cls, title, sub, tag, run, description, descriptionHtml, ctx }
  constructor(opts) {
    this.key = opts.key;
    this.ctx = opts.ctx;
    this.tag = opts.tag;
    this.run = opts.run;
    this.dirty = false;
    this.visible = false;
    this.loadSeq = 0;
    this.body = h('div', { class: 'card-body' });
    this.status = h('span', { class: 'sub status', 'aria-live': 'polite' });
    this.tools = h('div', { class: 'tools' });
    const pinned = this.ctx.state.pins.has(this.key);
    this.pinBtn = h('button', { type: 'button', class: 'pin', 'aria-pressed': String(pinned), title: 'Pin this card to the top',
      text: pinned ? 'Unpin' : 'Pin', onclick: () => this.ctx.state.togglePin(this.key) });
    this.bigBtn = h('button', { type: 'button', class: 'enlarge', 'aria-pressed': 'false', title: 'Enlarge', text: 'Enlarge',
      onclick: () => this.setEnlarged(!this.enlarged) });
    const head = h('div', { class: 'card-head' }, h('h3', {}, ...(opts.titleNodes || [opts.title])), h('div', { class: 'card-actions' }, this.pinBtn, this.bigBtn));
    const kids = [head];
    if (opts.sub) kids.push(h('div', { class: 'sub', text: opts.sub }));
    if (opts.descriptionHtml || opts.description) {
      const d = h('div', { class: 'card-desc' });
      if (opts.descriptionHtml) setHtml(d, opts.descriptionHtml); // cmark-gfm safe-mode output
      else d.textContent = opts.description;
      kids.push(d);
    }
    kids.push(this.body, this.tools, this.status);
    this.el = h('div', { class: `card ${opts.cls}`, 'data-key': this.key, 'data-state': 'idle' }, ...kids);
    if (opts.tag !== undefined) this.el.dataset.tag = opts.tag;
    if (opts.run !== undefined) this.el.dataset.run = opts.run;
    this.enlarged = false;
    cardOf.set(this.el, this);
  }

  setState(s, why) {
    this.el.dataset.state = s;
    if (s === 'error') this.status.textContent = why || 'failed';
  }

  setEnlarged(on) {
    this.enlarged = on;
    this.el.classList.toggle('wide', on);
    this.bigBtn.setAttribute('aria-pressed', String(on));
    this.bigBtn.textContent = on ? 'Shrink' : 'Enlarge';
    this.resize();
  }

  // Called by the host: load (fetch and draw) when near the viewport.
  async ensureLoaded() {
    if (this.loaded) return;
    this.loaded = true;
    const seq = ++this.loadSeq;
    this.ac = new AbortController();
    this.setState('loading');
    try {
      await this.load(this.ac.signal);
      if (seq === this.loadSeq && this.el.dataset.state === 'loading') this.setState('drawn');
    } catch (e) {
      if (e && e.name === 'AbortError') {
        // someone else's request was cancelled (a shared fetch): try again if still wanted
        if (seq === this.loadSeq && !this.ac.signal.aborted) { this.loaded = false; this.ensureLoaded(); }
        return;
      }
      if (seq === this.loadSeq) this.setState('error', e.message);
    }
  }

  // Called by the host far from the viewport: drop the chart and the data it held.
  release() {
    if (!this.loaded) return;
    this.loaded = false;
    this.loadSeq++;
    if (this.ac) this.ac.abort();
    const hgt = this.el.getBoundingClientRect().height;
    if (hgt) this.el.style.minHeight = hgt + 'px'; // keep the page from jumping
    this.unload();
    this.body.replaceChildren();
    this.setState('idle');
  }

  // Settings changed: redraw now when on screen, else when it next comes into view.
  invalidate() {
    if (!this.loaded) return;
    if (this.visible) this.redraw();
    else this.dirty = true;
  }

  becameVisible() {
    if (this.dirty && this.loaded) {
      this.dirty = false;
      try { this.redraw(); } catch (e) { this.setState('error', e.message); }
    }
  }

  // For subclasses. load(signal): fetch and draw; after each await, give up if signal.aborted.
  async load() {}
  unload() {}
  redraw() {}
  resize() {}
  destroy() { this.unload(); }
}

// Watches cards: loads those within a screen of the viewport, releases those more than two
// and a half screens away, and tells cards when they are on screen.
export class CardHost {
  constructor() {
    this.cards = new Set();
    this.near = new IntersectionObserver((es) => {
      for (const e of es) if (e.isIntersecting) cardOf.get(e.target)?.ensureLoaded();
    }, { rootMargin: '100% 0px 100% 0px' });
    this.far = new IntersectionObserver((es) => {
      for (const e of es) if (!e.isIntersecting) cardOf.get(e.target)?.release();
    }, { rootMargin: '250% 0px 250% 0px' });
    this.view = new IntersectionObserver((es) => {
      for (const e of es) {
        const c = cardOf.get(e.target);
        if (!c) continue;
        c.visible = e.isIntersecting;
        if (c.visible) c.becameVisible();
      }
    });
  }

  add(card) {
    this.cards.add(card);
    this.near.observe(card.el);
    this.far.observe(card.el);
    this.view.observe(card.el);
    return card;
  }

  // Starts loading the cards within a screen of the view now, instead of a frame later when
  // the observer reports them (one layout for all; the observer's calls are no-ops then).
  loadNearNow() {
    const lim = innerHeight * 2;
    const near = [];
    for (const c of this.cards) {
      const r = c.el.getBoundingClientRect();
      if (r.bottom > -innerHeight && r.top < lim && r.width) near.push([r.top, c]);
    }
    near.sort((a, b) => a[0] - b[0]);
    for (const [, c] of near) c.ensureLoaded();
  }

  // Visible cards first, so what the viewer looks at is redrawn first.
  invalidateAll() {
    for (const c of this.cards) {
      try { c.invalidate(); } catch (e) { c.setState('error', e.message); }
    }
  }

  destroy() {
    this.near.disconnect();
    this.far.disconnect();
    this.view.disconnect();
    for (const c of this.cards) c.destroy();
    this.cards.clear();
  }

  // Distance of a card from the viewport in pixels: the request queue's priority.
  static distance(card) {
    const r = card.el.getBoundingClientRect();
    if (r.bottom < 0) return -r.bottom;
    if (r.top > innerHeight) return r.top - innerHeight;
    return r.top / 10000; // on screen: top first
  }
}

function groupOf(tag) {
  const i = tag.indexOf('/');
  return i > 0 ? tag.slice(0, i) : tag;
}

// Lays out cards in groups by the tag's first path component, as TensorBoard does, with the
// pinned cards in their own group on top. items: [{ key, tag, make: () => Card }]
export function layoutGroups(container, host, items, pins, emptyText, groupBy) {
  const by = groupBy || ((it) => groupOf(it.tag));
  const groups = new Map();
  const pinned = [];
  for (const it of items) {
    if (pins.has(it.key)) { pinned.push(it); continue; }
    const g = by(it);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(it);
  }
  const out = [];
  const section = (title, list, cls) => {
    const cards = h('div', { class: 'cards' });
    for (const it of list) cards.append(host.add(it.make()).el);
    return h('section', { class: 'group' + (cls ? ' ' + cls : '') }, h('h2', { text: title }), cards);
  };
  if (pinned.length) out.push(section('Pinned', pinned, 'pinned'));
  for (const [g, list] of groups) out.push(section(g, list));
  container.replaceChildren(...(out.length ? out : [h('p', { class: 'empty-state', text: emptyText || 'No tags match the filter.' })]));
}
