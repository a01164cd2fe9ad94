// SPDX-License-Identifier: MIT
// tbdev viewer: the account pages (sign-in, lists, device approval) and the routing; the
// experiment page is experiment.js and the modules it loads (a module script, no bundler);
// /compare?e=... is compare.js.
// Everything is built with DOM calls and textContent; the only HTML inserted is what the
// server rendered from markdown with cmark-gfm in safe mode. No inline scripts or styles.
'use strict';

import { api } from './api.js';
import { h } from './dom.js';
import { fmtTimeUtc } from './format.js';
import { localInfo } from './local.js';

(function () {
  // ---------- small helpers (dom.js, api.js, format.js) ----------
  const fmtTime = fmtTimeUtc;
  const enc = encodeURIComponent;

  // ---------- top bar ----------
  async function showWho() {
    const who = document.getElementById('who');
    let me = null;
    try { me = await api('/api/v1/me'); } catch (e) { me = null; }
    if (me && me.user) {
      who.replaceChildren('Signed in as ', h('a', { href: '/', text: me.user }));
      return me;
    }
    who.replaceChildren(h('a', { href: '/', text: 'Sign in' }));
    return null;
  }

  const main = document.getElementById('main');
  const nav = document.getElementById('nav');

  function fail(msg) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: msg }));
  }

  // ---------- other pages ----------
  function experimentList(list, emptyText) {
    if (!list.length) return h('p', { class: 'empty-state', text: emptyText });
    return h('div', { class: 'list' }, ...list.map((e) => h('div', { class: 'item' },
      h('a', { href: `/experiment/${enc(e.id)}/`, text: e.name || '[No Name]' }),
      h('div', { class: 'sub', text: `${e.visibility} · updated ${fmtTime(e.update_time)} · ${e.usage.runs} runs · ${e.usage.tags} tags · ${e.usage.points} points · ${(e.usage.bytes / 1048576).toFixed(1)} MiB` }))));
  }

  function signInForm(then) {
    const user = h('input', { type: 'text', name: 'user', autocomplete: 'username', required: true, 'aria-label': 'User name', placeholder: 'user name' });
    const pw = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'aria-label': 'Password', placeholder: 'password' });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'box', id: 'signin' }, h('h2', { text: 'Sign in' }), user, pw, h('button', { type: 'submit', class: 'primary', text: 'Sign in' }), msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: user.value, password: pw.value }) });
        then();
      } catch (e) { msg.textContent = e.message; }
    });
    return form;
  }

  async function homePage() {
    nav.replaceChildren();
    const me = await showWho();
    if (!me) {
      main.replaceChildren(h('h1', { text: 'tbdev' }), h('p', { text: 'Sign in to see your experiments. Shared links work without signing in.' }), signInForm(() => location.reload()));
      return;
    }
    const r = await api('/api/v1/experiments');
    const out = h('button', { type: 'button', text: 'Sign out', onclick: async () => { await api('/api/v1/logout', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token || '', 'Content-Type': 'application/json' } }); location.reload(); } });
    main.replaceChildren(h('h1', { text: 'My experiments' }),
      h('p', { class: 'sub' }, 'Upload with ', h('code', { text: 'tbdev upload --logdir DIR' }), '. ', h('a', { href: `/user/${enc(me.user)}`, text: 'My public page' }), ' · ', out),
      experimentList(r.experiments, 'No experiments yet.'));
  }

  async function userPage(name) {
    nav.replaceChildren();
    await showWho();
    try {
      const r = await api(`/api/v1/users/${enc(name)}/experiments`);
      main.replaceChildren(h('h1', { text: `${name}'s experiments` }), experimentList(r.experiments, 'No public experiments.'));
    } catch (e) { fail(e.status === 404 ? 'No such user.' : e.message); }
  }

  // The device page: the person types the code the terminal shows (a link never carries
  // it: one click on an attacker's link must not approve their login), sees who asked for it,
  // and approves. Everything shown about the asking client is text it sent: textContent only.
  function deviceAsker(d) {
    const ago = Math.max(0, Math.round(Date.now() / 1000 - d.requested));
    const agoText = ago < 90 ? `${ago} s ago` : `${Math.round(ago / 60)} min ago`;
    const sameIp = d.client_ip === d.your_ip;
    return h('dl', { class: 'device-asker' },
      h('dt', { text: 'Asked from' }), h('dd', { class: 'device-ip', text: `${d.client_ip}${sameIp ? ' (the address this browser uses)' : ' (not the address this browser uses)'}` }),
      h('dt', { text: 'Asked at' }), h('dd', { class: 'device-time', text: `${fmtTime(d.requested)} (${agoText})` }),
      h('dt', { text: 'Client' }), h('dd', { class: 'device-version', text: d.client_version || 'unknown' }),
      h('dt', { text: 'Machine' }), h('dd', { class: 'device-host', text: d.client_host || 'unknown' }));
  }

  async function devicePage() {
    nav.replaceChildren();
    const me = await showWho();
    if (!me) {
      main.replaceChildren(h('p', { text: 'Sign in to approve the login of a tbdev command line.' }), signInForm(() => location.reload()));
      return;
    }
    const post = (path, code) => api(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token || '' }, body: JSON.stringify({ user_code: code }) });
    const code = h('input', { type: 'text', name: 'user_code', required: true, 'aria-label': 'Code shown by tbdev', placeholder: 'XXXX-XXXX', autocomplete: 'off', spellcheck: 'false' });
    const msg = h('p', { role: 'status' });
    const details = h('div', { class: 'device-details' });
    const form = h('form', { class: 'box', id: 'device' }, h('h2', { text: 'Approve a command-line login' }),
      h('p', { text: 'Type the code your terminal shows after "tbdev auth login". Only approve a login you started yourself: the command will act as ' }, h('strong', { text: me.user }), '.'),
      code, h('button', { type: 'submit', class: 'primary', text: 'Continue' }), details, msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      details.replaceChildren();
      msg.textContent = '';
      msg.className = '';
      const typed = code.value;
      try {
        const d = await post('/api/v1/device/pending', typed);
        const approve = h('button', { type: 'button', class: 'primary', id: 'device-approve', text: `Approve: let it act as ${me.user}` });
        const deny = h('button', { type: 'button', id: 'device-deny', text: 'Not me' });
        approve.addEventListener('click', async () => {
          try {
            await post('/api/v1/device/approve', typed);
            details.replaceChildren();
            msg.textContent = 'Approved. You can close this page and go back to the terminal.';
            msg.className = '';
          } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
        });
        deny.addEventListener('click', () => {
          details.replaceChildren();
          code.value = '';
          msg.textContent = 'Not approved. If you did not run tbdev auth login, someone sent you this code: ignore it; it expires in ten minutes.';
          msg.className = '';
        });
        details.replaceChildren(h('p', { text: `A login with code ${d.user_code} is waiting:` }), deviceAsker(d), approve, ' ', deny);
      } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
    });
    main.replaceChildren(form);
  }

  // ---------- routing ----------
  const path = location.pathname;
  let m;
  let page;
  // tbdev serve has no accounts: no sign-in link there (local.js)
  if ((m = path.match(/^\/experiment\/([A-Za-z0-9_-]{22})\/$/))) page = (async () => { localInfo().then((l) => { if (!l) showWho(); }); await (await import('./experiment.js')).experimentPage(m[1], main, nav); })();
  else if (path === '/compare') page = (async () => { showWho(); await (await import('./compare.js')).comparePage(main, nav); })();
  else if ((m = path.match(/^\/user\/([^/]+)$/))) page = userPage(decodeURIComponent(m[1]));
  else if (path === '/device') page = devicePage();
  else page = homePage();
  page.catch((e) => fail(e.message));
})();
