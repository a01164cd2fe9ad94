// SPDX-License-Identifier: MIT
// Local mode (`tbdev serve`): the page is on the user's own machine when GET /api/v1/local
// says "local": true (a server says false). It then shows how far reading the logdir is, a Share button
// that says how to upload the same logdir to a server, and no sign-in; and it asks for new
// data as soon as the reader has stored some. Text only (textContent), nothing from elsewhere.

import { api } from './api.js';
import { h } from './dom.js';

let first = null;

// The first answer of GET /api/v1/local (one request for the whole page), or null when the
// page is not served by tbdev serve.
export function localInfo() {
  if (!first) first = api('/api/v1/local').then((s) => (s && s.local ? s : null)).catch(() => null);
  return first;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

const count = (n) => Number(n).toLocaleString('en-US');

// What the reader is doing, in a sentence.
export function progressText(s) {
  const where = s.logdirs.map((d) => d.path).join(', ');
  if (s.state === 'waiting') return `Waiting for ${where} to appear: the page fills in once training writes to it.`;
  if (s.state === 'reading' || s.state === 'starting') {
    const pct = s.bytes_total ? Math.min(100, Math.floor((100 * s.bytes_read) / s.bytes_total)) : 0;
    return `Reading the logs: ${pct}% (${bytes(s.bytes_read)} of ${bytes(s.bytes_total)}), ${count(s.values_stored)} values so far; the charts fill in as it reads.`;
  }
  return `Up to date: ${bytes(s.bytes_total)} of event files in ${count(s.runs)} run${s.runs === 1 ? '' : 's'}; watching ${where} for new data.`;
}

// The bar under the experiment's title: progress, problems, and the Share button with its
// panel. onNewData() is called when the reader has stored more (the page then refreshes).
export class LocalBar {
  constructor(state, onNewData) {
    this.s = state;
    this.onNewData = onNewData || (() => {});
    this.text = h('span', { class: 'local-progress' });
    this.meter = h('progress', { class: 'local-meter', max: '1', value: '0', 'aria-label': 'Logs read' });
    this.warn = h('div', { class: 'local-warning', hidden: true });
    this.shareButton = h('button', { type: 'button', class: 'share', 'aria-expanded': 'false', 'aria-controls': 'share-panel', text: 'Share' });
    this.panel = this.sharePanel();
    this.shareButton.addEventListener('click', () => this.toggle());
    this.el = h('div', { class: 'local-bar', 'data-state': state.state },
      h('div', { class: 'local-line' }, h('span', { class: 'local-badge', text: 'Local' }),
        h('span', { role: 'status', 'aria-live': 'polite' }, this.text), this.meter, this.shareButton),
      this.warn, this.panel);
    this.show(state);
  }

  sharePanel() {
    const cmds = this.s.logdirs.map((d) => {
      const code = h('code', { class: 'share-command', text: d.upload_command });
      const copy = h('button', { type: 'button', class: 'copy', text: 'Copy' });
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(d.upload_command);
          copy.textContent = 'Copied';
        } catch (e) {
          // no clipboard: select the command for the person to copy
          const r = document.createRange();
          r.selectNodeContents(code);
          const sel = getSelection();
          sel.removeAllRanges();
          sel.addRange(r);
          copy.textContent = 'Selected: copy it';
        }
        setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
      });
      return h('div', { class: 'share-row' }, d.name ? h('span', { class: 'share-name', text: d.name + ':' }) : null, code, copy);
    });
    return h('div', { class: 'share-panel', id: 'share-panel', role: 'region', 'aria-label': 'Share these logs', hidden: true },
      h('p', { text: 'This page is served by tbdev serve on this machine only: its link does not open anywhere else. To share these logs, upload them to a tbdev server and send the link it prints:' }),
      ...cmds,
      h('p', { class: 'sub', text: 'Log in to the server once first (tbdev auth login --server https://YOUR-SERVER). The upload keeps sending new data while training writes it; the shared page is this page.' }));
  }

  toggle() {
    const open = this.panel.hidden;
    this.panel.hidden = !open;
    this.shareButton.setAttribute('aria-expanded', String(open));
  }

  show(s) {
    this.text.textContent = progressText(s);
    const reading = s.state === 'reading' || s.state === 'starting';
    this.meter.hidden = !reading;
    this.meter.value = s.bytes_total ? s.bytes_read / s.bytes_total : 0;
    this.el.dataset.state = s.state;
    this.warn.hidden = !s.warnings;
    if (s.warnings) this.warn.textContent = `${count(s.warnings)} problem${s.warnings === 1 ? '' : 's'} reading the logs (see the terminal of tbdev serve); the last: ${s.last_warning}`;
  }

  // Polls the reader: every second while it reads or waits, every 5 s once up to date.
  start() {
    const tick = async () => {
      let s = null;
      if (!document.hidden) {
        try { s = await api('/api/v1/local'); } catch (e) { s = null; }
      }
      if (s) {
        const more = s.values_stored !== this.s.values_stored || s.batches !== this.s.batches;
        this.s = s;
        this.show(s);
        if (more) this.onNewData();
      }
      this.timer = setTimeout(tick, this.s.state === 'watching' ? 5000 : 1000);
    };
    this.timer = setTimeout(tick, 1000);
  }

  stop() {
    clearTimeout(this.timer);
  }
}
