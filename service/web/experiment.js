// SPDX-License-Identifier: MIT
// The experiment page: header, dashboard tabs, the sidebar (settings, tag and run filters,
// the run list) and the dashboard of the selected tab, with live refresh. Dashboards are
// modules listed in DASHBOARDS; each default-exports a class with
//   constructor(ctx, el, def), render(), settings() -> [nodes], changed(keys), refresh(),
//   destroy()
// so a new one (graphs, mesh, ...) is a new module and a line here.

import { api, enc, query } from './api.js';
import { cardFor } from './cards.js';
import { RunColors } from './colors.js';
import { h, safeRegex, setHtml } from './dom.js';
import { fmtTimeUtc, plural } from './format.js';
import { ScalarData } from './scalar_data.js';
import { renderSidebar } from './sidebar.js';
import { ViewState } from './state.js';
import { LocalBar, localInfo } from './local.js';
import { applyTheme, themeButton } from './theme.js';
import { hideTooltip } from './tooltip.js';

// How many experiments /compare shows at once (compare.js says so when a link names more).
export const COMPARE_MAX = 10;

const KNOWN = new Set(['scalars', 'histograms', 'images', 'audio', 'text', 'hparams', 'pr_curves', 'custom_scalars', 'mesh']);

// In TensorBoard's order (tensorboard/default.py's plugin list: "the order in which these lines
// appear determines the ordering of tabs"); a tab is shown only when it has data; data of plugins
// this viewer does not draw stays listed and downloadable under Other, last.
export const DASHBOARDS = [
  { key: 'scalars', label: 'Scalars', count: (c) => c.scalarTags.length, load: () => import('./dash_scalars.js') },
  { key: 'custom_scalars', label: 'Custom Scalars', count: (c) => c.byPlugin('custom_scalars').length, load: () => import('./dash_custom.js') },
  { key: 'images', label: 'Images', count: (c) => c.byPlugin('images').length, load: () => import('./dash_media.js'), kind: 'images' },
  { key: 'audio', label: 'Audio', count: (c) => c.byPlugin('audio').length, load: () => import('./dash_media.js'), kind: 'audio' },
  { key: 'graphs', label: 'Graphs', count: (c) => c.graphTags.length, load: () => import('./graph.js') },
  { key: 'distributions', label: 'Distributions', count: (c) => c.byPlugin('histograms').length, load: () => import('./dash_distributions.js') },
  { key: 'histograms', label: 'Histograms', count: (c) => c.byPlugin('histograms').length, load: () => import('./dash_histograms.js') },
  { key: 'text', label: 'Text', count: (c) => c.byPlugin('text').length, load: () => import('./dash_text.js') },
  { key: 'pr_curves', label: 'PR Curves', count: (c) => c.byPlugin('pr_curves').length, load: () => import('./dash_pr.js') },
  { key: 'hparams', label: 'HParams', count: (c) => c.byPlugin('hparams').length, load: () => import('./dash_hparams.js') },
  { key: 'mesh', label: 'Mesh', count: (c) => c.byPlugin('mesh').length, load: () => import('./dash_mesh.js') },
  { key: 'other', label: 'Other', count: (c) => c.otherTags.length, load: () => import('./dash_blobs.js'), list: 'otherTags',
    note: 'Data from plugins this viewer does not draw; it is kept in full and can be downloaded.' },
];

// What every dashboard gets: the experiment, its tags indexed, run colours, the view state
// and the scalar data shared by the Scalars and Custom Scalars tabs.
export class Experiment {
  // opts (for compare.js): stateKey (where pins and colours are kept), fixed (URL parameters
  // the view state keeps)
  constructor(id, exp, tags, opts) {
    const o = opts || {};
    this.id = id;
    this.base = id ? `/api/v1/experiments/${enc(id)}` : null;
    this.exp = exp;
    this.state = new ViewState(o.stateKey || id, location.search, o.fixed);
    this.colors = new RunColors([], this.state.colors);
    this.scalarData = new ScalarData((tag, runs) => this.requestsFor(runs, [...(this.scalarRuns.get(tag) || new Map()).keys()]));
    this.setTags(tags);
  }

  // The request layer dashboards use, so that a comparison of experiments (compare.js) can
  // send each request to the experiment a run is from.

  // The URL of a read of one run: path is the API's (text, blobs, histograms, ...).
  runUrl(path, run, params) {
    return `${this.base}/${path}?` + query(Object.assign({ tag: params && params.tag, run }, params || {}));
  }

  // The requests that read `runs` (null: all of `every`, the runs with the data asked for)
  // of several runs at once: [{ base, runs, rename }], runs by the names the API knows (null:
  // every run), rename (or null) maps a run of the answer to the page's name.
  requestsFor(runs) {
    return [{ base: this.base, runs, rename: null }];
  }

  // An experiment-wide answer (hparams, custom_scalars).
  wholeJson(path) {
    return api(`${this.base}/${path}`);
  }

  // Download links of a tag for every run: [{ label, url }].
  tagDownloads(path, params) {
    return [{ label: '', url: `${this.base}/${path}?` + query(params) }];
  }

  // For the live refresh: the metadata (its update_time tells of new data), the tags.
  fetchMeta() {
    return api(this.base);
  }

  async fetchTags() {
    return (await api(`${this.base}/tags`)).tags;
  }

  // The sidebar's run groups ([{ label, href, runs }]), or null for one list.
  runGroups() {
    return null;
  }

  setTags(tags) {
    this.tags = tags;
    this.runs = [...new Set(tags.map((t) => t.run))].sort();
    this.colors.setRuns(this.runs);
    this.scalarRuns = new Map(); // tag -> Map run -> tag entry
    for (const t of tags) {
      if (t.kind !== 'scalar') continue;
      if (!this.scalarRuns.has(t.tag)) this.scalarRuns.set(t.tag, new Map());
      this.scalarRuns.get(t.tag).set(t.run, t);
    }
    this.scalarTags = [...this.scalarRuns.keys()].sort();
    const plugins = new Map();
    for (const t of tags) {
      if (!plugins.has(t.plugin)) plugins.set(t.plugin, []);
      plugins.get(t.plugin).push(t);
    }
    this.plugins = plugins;
    this.graphTags = tags.filter((t) => t.kind === 'blob_sequence' && (t.plugin === 'graphs' || t.plugin.startsWith('graph_')));
    const graphs = new Set(this.graphTags);
    this.otherTags = tags.filter((t) => t.kind !== 'scalar' && !KNOWN.has(t.plugin) && !graphs.has(t));
  }

  byPlugin(p) {
    return this.plugins.get(p) || [];
  }

  // Runs shown: not unchecked and matching the run filter.
  visibleRuns() {
    const re = safeRegex(this.state.get('runRe'));
    const hidden = this.state.hidden;
    return this.runs.filter((r) => !hidden.has(r) && (!re || re.test(r)));
  }

  runShown(run) {
    const re = safeRegex(this.state.get('runRe'));
    return !this.state.hidden.has(run) && (!re || re.test(run));
  }

  tagShown(tag) {
    const re = safeRegex(this.state.get('tagRe'));
    return !re || re.test(tag);
  }

  // The first entry of a tag with a display name or description, for card headings.
  tagInfo(tag, run) {
    return this.tags.find((t) => t.tag === tag && (run === undefined || t.run === run) && (t.display_name || t.description)) || null;
  }
}

export async function experimentPage(id, main, nav) {
  let exp, tags, local;
  try {
    [exp, tags, local] = await Promise.all([api(`/api/v1/experiments/${enc(id)}`), api(`/api/v1/experiments/${enc(id)}/tags`), localInfo()]);
  } catch (e) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: e.status === 404
      ? 'No such experiment, or you may not see it. If it is private, sign in first.' : e.message }));
    return;
  }
  document.title = (exp.name || 'Experiment') + ' – tbdev';
  const ctx = new Experiment(id, exp, tags.tags);
  ctx.local = local; // served by tbdev serve (local.js), or null
  applyTheme(ctx.state.get('theme'));
  const page = new Page(ctx, main, nav);
  window.tbdevViewer = { ctx, page, cardFor }; // for people debugging, and for the browser tests
  await page.start();
}

export class Page {
  constructor(ctx, main, nav) {
    this.ctx = ctx;
    this.main = main;
    this.nav = nav;
    this.header = h('section', { class: 'exp-header', 'aria-label': 'Experiment' });
    this.sideToggle = h('button', { type: 'button', class: 'side-toggle', 'aria-expanded': 'false', 'aria-controls': 'sidebar-body', text: 'Runs and settings' });
    this.sideBody = h('div', { class: 'sidebar-body', id: 'sidebar-body' });
    this.sidebar = h('aside', { class: 'sidebar collapsed', 'aria-label': 'Runs and settings' }, this.sideToggle, this.sideBody);
    this.sideToggle.addEventListener('click', () => {
      const open = this.sidebar.classList.toggle('collapsed') === false;
      this.sideToggle.setAttribute('aria-expanded', String(open));
    });
    this.content = h('div', { class: 'content' });
    this.dash = null;
    this.dashSeq = 0;
    // tbdev serve: its progress and Share button under the title; new data fetched as soon as
    // the reader has stored it
    this.localBar = ctx.local ? new LocalBar(ctx.local, () => this.refreshNow && this.refreshNow()) : null;
    main.replaceChildren(this.header, h('div', { class: 'layout' }, this.sidebar, this.content));
    ctx.state.on((keys) => this.changed(keys));
    const who = document.getElementById('who');
    if (who && !document.getElementById('theme-toggle'))
      who.before(themeButton(document, ctx.state.get('theme'), (mode, system) => {
        if (system) { this.changed(new Set(['theme'])); return; }
        ctx.state.set({ theme: mode });
      }));
  }

  async start() {
    this.renderHeader();
    this.renderTabs();
    await this.openTab();
    this.liveRefresh();
    if (this.localBar) this.localBar.start();
  }

  tabs() {
    return DASHBOARDS.map((d) => [d, d.count(this.ctx)]).filter(([, n]) => n > 0).map(([d]) => d);
  }

  renderHeader() {
    if (this.ctx.headerNodes) { this.header.replaceChildren(...this.ctx.headerNodes()); return; }
    const e = this.ctx.exp, u = e.usage || {};
    const desc = h('div', { class: 'desc' });
    setHtml(desc, e.description_html); // rendered by cmark-gfm in safe mode on the server
    this.header.replaceChildren(
      h('h1', { text: e.name || '[No Name]' }),
      h('div', { class: 'meta' },
        this.localBar ? `on this machine · updated ${fmtTimeUtc(e.update_time)} · `
          : `${e.owner} · ${e.visibility} · created ${fmtTimeUtc(e.create_time)} · updated ${fmtTimeUtc(e.update_time)} · `,
        `${u.runs} runs · ${u.tags} tags · ${u.points} points`),
      this.localBar ? this.localBar.el : desc);
    if (!this.localBar) this.header.append(this.comparePicker());
  }

  // "Compare with…": the viewer's own experiments to tick, and a link to /compare with them.
  // The list is asked for on the first click (the API answers 401 when nobody is signed in:
  // then the control says so).
  comparePicker() {
    if (this.picker) return this.picker;
    const panel = h('div', { class: 'compare-panel', hidden: true });
    const btn = h('button', { type: 'button', class: 'compare-with', 'aria-expanded': 'false', text: 'Compare with…' });
    let loaded = false;
    btn.addEventListener('click', async () => {
      const open = panel.hidden;
      panel.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      if (!open || loaded) return;
      loaded = true;
      panel.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
      let list;
      try { list = (await api('/api/v1/experiments')).experiments.filter((e) => e.id !== this.ctx.id); } catch (e) {
        loaded = false;
        panel.replaceChildren(h('p', { class: 'sub', text: e.status === 401 ? 'Sign in to compare this experiment with yours.' : e.message }));
        return;
      }
      if (!list.length) { panel.replaceChildren(h('p', { class: 'sub', text: 'You have no other experiments.' })); return; }
      const go = h('a', { class: 'compare-go button', text: 'Compare' });
      const boxes = list.map((e) => h('input', { type: 'checkbox', class: 'compare-pick', value: e.id }));
      const update = () => {
        const ids = [this.ctx.id, ...boxes.filter((b) => b.checked).map((b) => b.value)];
        go.href = '/compare?e=' + ids.map(enc).join(',');
        go.setAttribute('aria-disabled', String(ids.length < 2));
        for (const b of boxes) b.disabled = !b.checked && ids.length >= COMPARE_MAX;
      };
      for (const b of boxes) b.addEventListener('change', update);
      update();
      panel.replaceChildren(h('p', { class: 'sub', text: `Your experiments (at most ${COMPARE_MAX} in all):` }),
        h('div', { class: 'compare-list' }, ...list.map((e, i) => h('label', {}, boxes[i], ' ', e.name || '[No Name]',
          h('span', { class: 'sub', text: ` · ${e.usage.runs} runs · updated ${fmtTimeUtc(e.update_time)}` })))), go);
    });
    this.picker = h('div', { class: 'compare' }, btn, panel);
    return this.picker;
  }

  renderTabs() {
    const tabs = this.tabs();
    const st = this.ctx.state;
    if (!tabs.find((t) => t.key === st.get('tab'))) st.v.tab = tabs.length ? tabs[0].key : '';
    this.nav.setAttribute('role', 'tablist');
    this.nav.replaceChildren(...tabs.map((d) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': String(d.key === st.get('tab')), 'data-tab': d.key, text: d.label,
      onclick: () => st.set({ tab: d.key }),
    })));
    this.scrollTabIntoView();
  }

  scrollTabIntoView() {
    const sel = this.nav.querySelector('button[aria-selected="true"]');
    if (sel && this.nav.scrollWidth > this.nav.clientWidth) {
      const n = this.nav.getBoundingClientRect(), b = sel.getBoundingClientRect();
      const left = this.nav.scrollLeft + (b.left - n.left) - Math.max(0, (n.width - b.width) / 2);
      this.nav.scrollLeft = Math.max(0, left);
    }
  }

  async openTab() {
    const seq = ++this.dashSeq;
    hideTooltip();
    if (this.dash) { this.dash.destroy(); this.dash = null; }
    const key = this.ctx.state.get('tab');
    const def = DASHBOARDS.find((d) => d.key === key);
    for (const b of this.nav.children) b.setAttribute('aria-selected', String(b.dataset.tab === key));
    this.scrollTabIntoView();
    if (!def) {
      this.content.replaceChildren(h('p', { class: 'empty-state', text: this.ctx.local
        ? 'No data yet: the charts appear here as soon as the logdir has event files.'
        : this.ctx.id ? 'No data yet. Upload some with: tbdev upload --logdir DIR --experiment_id ' + this.ctx.id
          : 'None of these experiments has data yet.' }));
      this.renderSidebar();
      return;
    }
    this.content.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    const mod = await def.load();
    if (seq !== this.dashSeq) return;
    this.dash = new mod.default(this.ctx, this.content, def);
    this.renderSidebar();
    try {
      await this.dash.render();
    } catch (e) {
      this.content.replaceChildren(h('p', { class: 'error', role: 'alert', text: e.message }));
    }
  }

  renderSidebar() {
    renderSidebar(this.sideBody, this.ctx, this.dash ? this.dash.settings() : []);
  }

  changed(keys) {
    if (keys.has('tab')) { this.openTab(); return; }
    if (keys.has('theme')) applyTheme(this.ctx.state.get('theme'));
    if (keys.has('runRe') || keys.has('hidden') || keys.has('colors')) this.renderSidebar();
    if (this.dash) this.dash.changed(keys);
  }

  // New data appears without losing zoom or filters: every 5 s while the experiment is
  // being written to (30 s when it has been quiet for ten minutes), if the page is visible.
  liveRefresh() {
    const ctx = this.ctx;
    let busy = false;
    const tick = async () => {
      if (document.hidden || busy) return;
      busy = true;
      try {
        const e = await ctx.fetchMeta();
        if (e.update_time === ctx.exp.update_time) return;
        ctx.exp = e;
        this.renderHeader();
        const t = await ctx.fetchTags();
        const before = ctx.tags.map((x) => x.run + '\u0000' + x.tag).join('\n');
        ctx.setTags(t);
        ctx.scalarData.clear();
        if (ctx.tags.map((x) => x.run + '\u0000' + x.tag).join('\n') !== before) {
          this.renderTabs();
          this.renderSidebar();
          if (this.dash) await this.dash.render();
          else await this.openTab(); // the first data of an empty experiment: open its first tab
        } else if (this.dash) {
          await this.dash.refresh();
        }
      } catch (err) { /* a missed refresh is retried on the next tick */ } finally { busy = false; }
    };
    this.refreshNow = tick;
    const recent = (Date.now() / 1000 - ctx.exp.update_time) < 600;
    this.timer = setInterval(tick, recent || ctx.local ? 5000 : 30000);
  }
}

export { plural };
