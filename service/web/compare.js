// SPDX-License-Identifier: MIT
// Comparing experiments: /compare?e=ID1,ID2,... shows the runs of several experiments as one
// experiment page, each run named "EXPERIMENT/run". Every request is the viewer's ordinary read
// of one experiment, so who may see what is exactly the server's rule: an experiment the viewer
// may not read answers 404 like one that does not exist, and is reported with the same words.
// The layer here maps the page's runs back to (experiment, run): requests naming runs go to the
// run's experiment, and experiment-wide answers (hparams, custom scalars) are merged with their
// run names rewritten. Blob URLs in answers name their experiment already.

import { api, enc, query } from './api.js';
import { cardFor } from './cards.js';
import { h } from './dom.js';
import { fmtTimeUtc } from './format.js';
import { COMPARE_MAX, Experiment, Page } from './experiment.js';
import { applyTheme } from './theme.js';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const IDS_READ = 1000; // entries of e= looked at, at most (the count past COMPARE_MAX is only told)

// The one message for an experiment that does not exist and one the viewer may not read.
export const NOT_FOUND = 'not found: there is no experiment with this ID, or you may not see it (if it is private, sign in as a user it is shared with).';

// The IDs a link names, in order, without repeats: { ids (at most COMPARE_MAX), named (how many) }.
export function parseCompareIds(search) {
  const raw = new URLSearchParams(search || '').getAll('e').join(',').split(',', IDS_READ);
  const ids = [...new Set(raw.map((s) => s.trim()).filter(Boolean))];
  return { ids: ids.slice(0, COMPARE_MAX), named: ids.length };
}

export function compareUrl(ids) {
  return '/compare?e=' + ids.map(enc).join(',');
}

// The page's run names and what they stand for. An experiment's prefix is its name, with the
// start of its ID when another compared experiment has the same name; a run name is
// "prefix/run", made unique if two still meet (names may hold '/'). Names once given are kept,
// so that live refresh keeps colours and the URL's hidden runs.
export class RunMap {
  // parts: [{ id, exp }] in the link's order
  constructor(parts) {
    const name = (p) => (p.exp && p.exp.name) || '[No Name]';
    const count = new Map();
    for (const p of parts) count.set(name(p), (count.get(name(p)) || 0) + 1);
    this.parts = parts.map((p, index) => ({ id: p.id, exp: p.exp, index, base: `/api/v1/experiments/${enc(p.id)}`,
      prefix: count.get(name(p)) > 1 ? `${name(p)} (${p.id.slice(0, 6)})` : name(p) }));
    this.byLabel = new Map(); // page run name -> { part, run }
    this.byRun = new Map(); // `${index}\0${run}` -> page run name
  }

  label(part, run) {
    const k = part.index + '\u0000' + run;
    let l = this.byRun.get(k);
    if (l !== undefined) return l;
    l = `${part.prefix}/${run}`;
    if (this.byLabel.has(l)) l = `${part.prefix} (${part.id})/${run}`;
    for (let i = 2; this.byLabel.has(l); i++) l = `${part.prefix}/${run} #${i}`;
    this.byRun.set(k, l);
    this.byLabel.set(l, { part, run });
    return l;
  }

  // { part, run } of a page run name, or null.
  locate(label) {
    return this.byLabel.get(label) || null;
  }

  // Every part's tags as one list, runs renamed; each entry says which part it is from.
  combine(tagLists) {
    return tagLists.flatMap((tags, i) => tags.map((t) => Object.assign({}, t, { run: this.label(this.parts[i], t.run), part: i })));
  }
}

// HParams answers of several experiments as one: sessions with their runs renamed, the
// lists of hparams and metrics joined without repeats.
export function mergeHparams(map, answers) {
  const out = { sessions: [] };
  const seen = new Map();
  for (const [part, r] of answers) {
    for (const [k, v] of Object.entries(r || {})) {
      if (k === 'sessions') {
        for (const s of v) {
          const run = map.label(part, s.run);
          out.sessions.push(Object.assign({}, s, { run, group: s.group === s.run ? run : s.group, experiment: part.id }));
        }
      } else if (Array.isArray(v)) {
        if (!out[k]) { out[k] = []; seen.set(k, new Set()); }
        for (const x of v) {
          const j = JSON.stringify(x);
          if (!seen.get(k).has(j)) { seen.get(k).add(j); out[k].push(x); }
        }
      }
    }
  }
  return out;
}

// Custom scalars layouts as one: each experiment's categories, a category met twice once.
// Layouts name tags (regular expressions), not runs, so they apply to every run as they are.
export function mergeLayouts(answers) {
  const seen = new Set(), categories = [];
  for (const [, r] of answers)
    for (const c of (r && r.categories) || []) {
      const j = JSON.stringify(c);
      if (!seen.has(j)) { seen.add(j); categories.push(c); }
    }
  return { categories };
}

// Requests of several runs split per experiment (experiment.js's requestsFor): runs (null:
// all of every) by experiment, by their own names; an experiment all of whose runs in `every`
// are asked is asked without a run list (a short URL), as on an experiment's page.
export function splitRuns(map, runs, every) {
  const byPart = new Map(); // part -> its runs asked for, by their own names
  for (const l of runs || every) {
    const w = map.locate(l);
    if (!w) continue;
    if (!byPart.has(w.part)) byPart.set(w.part, []);
    byPart.get(w.part).push(w.run);
  }
  return [...byPart].map(([part, list]) => {
    const n = every.filter((l) => { const w = map.locate(l); return w && w.part === part; }).length;
    return { base: part.base, runs: n === list.length ? null : list, rename: (r) => map.label(part, r) };
  });
}

// What the dashboards get (experiment.js's Experiment) for several experiments.
export class Comparison extends Experiment {
  // found: [{ id, exp, tags }] the viewer may read; missing: IDs reported as not found;
  // named: how many experiments the link names
  constructor(ids, found, missing, named) {
    const map = new RunMap(found);
    super(null, Comparison.meta(found.map((f) => f.exp)), map.combine(found.map((f) => f.tags)),
      { stateKey: 'compare:' + ids.join(','), fixed: ['e'] });
    this.map = map;
    this.ids = ids;
    this.missing = missing;
    this.named = named;
  }

  // The page's metadata: the newest update (live refresh asks again when it changes).
  static meta(exps) {
    return { update_time: Math.max(...exps.map((e) => e.update_time || 0)), experiments: exps };
  }

  // Runs in the link's order of experiments, then by name: the sidebar lists them so.
  setTags(tags) {
    super.setTags(tags);
    const part = new Map(tags.map((t) => [t.run, t.part]));
    this.runs.sort((a, b) => part.get(a) - part.get(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  where(run) {
    const w = this.map.locate(run);
    if (!w) throw new Error(`no run named ${run} in these experiments`);
    return w;
  }

  requestsFor(runs, every) {
    return splitRuns(this.map, runs, every);
  }

  runUrl(path, run, params) {
    const w = this.where(run);
    return `${w.part.base}/${path}?` + query(Object.assign({ tag: params && params.tag, run: w.run }, params || {}));
  }

  // Parts with data of a plugin (the others are not asked).
  partsWith(plugin) {
    const idx = new Set(this.byPlugin(plugin).map((t) => t.part));
    return this.map.parts.filter((p) => idx.has(p.index));
  }

  async wholeJson(path) {
    const plugin = { hparams: 'hparams', custom_scalars: 'custom_scalars' }[path];
    if (!plugin) throw new Error(`${path} is not an experiment-wide answer`);
    const answers = await Promise.all(this.partsWith(plugin).map(async (p) => [p, await api(`${p.base}/${path}`)]));
    return plugin === 'hparams' ? mergeHparams(this.map, answers) : mergeLayouts(answers);
  }

  tagDownloads(path, params) {
    const idx = new Set(this.tags.filter((t) => t.tag === params.tag).map((t) => t.part));
    return this.map.parts.filter((p) => idx.has(p.index)).map((p) => ({ label: p.prefix, url: `${p.base}/${path}?` + query(params) }));
  }

  async fetchMeta() {
    const exps = await Promise.all(this.map.parts.map((p) => api(p.base)));
    exps.forEach((e, i) => { this.map.parts[i].exp = e; });
    return Comparison.meta(exps);
  }

  async fetchTags() {
    const lists = await Promise.all(this.map.parts.map(async (p) => (await api(`${p.base}/tags`)).tags));
    return this.map.combine(lists);
  }

  // A run's name in its own experiment.
  runShort(run) {
    return this.where(run).run;
  }

  runGroups() {
    return this.map.parts.map((p) => ({ id: p.id, label: p.prefix, href: `/experiment/${enc(p.id)}/`, runs: this.runs.filter((r) => this.where(r).part === p) }));
  }

  headerNodes() {
    const items = this.map.parts.map((p) => {
      const e = p.exp, u = e.usage || {};
      return h('li', { class: 'compared', 'data-experiment': p.id }, h('a', { href: `/experiment/${enc(p.id)}/`, text: p.prefix }),
        h('span', { class: 'sub', text: ` · ${e.owner} · ${e.visibility} · updated ${fmtTimeUtc(e.update_time)} · ${u.runs} runs · ${u.tags} tags` }));
    });
    return [h('h1', { text: `Comparing ${this.map.parts.length} experiment${this.map.parts.length === 1 ? '' : 's'}` }),
      h('ul', { class: 'compare-list' }, ...items), ...compareNotes(this.missing, this.named)];
  }
}

// What the link named that is not shown: each ID not found, and experiments past the limit.
function compareNotes(missing, named) {
  // an ID is shown as the link has it (text only), cut if it is long
  const shown = (id) => (id.length > 40 ? id.slice(0, 40) + '…' : id);
  const out = missing.map((id) => h('p', { class: 'error compare-missing', role: 'alert' }, h('code', { text: shown(id) }), ': ' + NOT_FOUND));
  if (named > COMPARE_MAX)
    out.push(h('p', { class: 'error compare-over', role: 'alert', text: `This link names ${named} experiments; at most ${COMPARE_MAX} are compared at once, so only the first ${COMPARE_MAX} are shown.` }));
  return out;
}

// One experiment's metadata and tags, or null when the server says 404 (or the ID cannot be
// one: then nothing is asked). Other failures are thrown.
async function readOne(id) {
  if (!ID_RE.test(id)) return null;
  const base = `/api/v1/experiments/${enc(id)}`;
  try {
    const [exp, tags] = await Promise.all([api(base), api(`${base}/tags`)]);
    return { id, exp, tags: tags.tags };
  } catch (e) {
    if (e.status === 404) return null;
    throw new Error(`${id}: ${e.message}`);
  }
}

export async function comparePage(main, nav) {
  const { ids, named } = parseCompareIds(location.search);
  if (!ids.length) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: 'Nothing to compare: name the experiments as /compare?e=ID1,ID2 (or use "Compare with…" on an experiment\'s page).' }));
    return;
  }
  let read;
  try {
    read = await Promise.all(ids.map(readOne));
  } catch (e) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: e.message }));
    return;
  }
  const found = read.filter(Boolean);
  const missing = ids.filter((id, i) => !read[i]);
  if (!found.length) {
    main.replaceChildren(h('h1', { text: 'Nothing to compare' }), ...compareNotes(missing, named));
    return;
  }
  const ctx = new Comparison(ids, found, missing, named);
  document.title = 'Compare ' + ctx.map.parts.map((p) => p.prefix).join(', ') + ' – tbdev';
  applyTheme(ctx.state.get('theme'));
  const page = new Page(ctx, main, nav);
  window.tbdevViewer = { ctx, page, cardFor };
  await page.start();
}
