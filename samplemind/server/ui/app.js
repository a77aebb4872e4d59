// samplemind's web UI: browse with the CLI's query language, audition, correct, tag, find
// similar sounds, duplicates, the sound map, uploads and scans with live progress.
// Plain ES modules, no build step: every file here is served as it is by routes_ui.py.

import { api, allows, ApiError, login, logout, onUnauthorized, params, session, upload, whoAmI } from './api.js';
import { VirtualTable } from './table.js';
import { Waveform } from './wave.js';
import { DEFAULT_SETTINGS, Player } from './audio.js';
import { SoundMap, colourOf, CATEGORY_COLOURS } from './map.js';
import { installDrag } from './drag.js';
import { ReviewView } from './review.js';
import { element } from './dom.js';

const FIRST_PAGE = 100; // small, so the first rows paint at once
const NEXT_PAGE = 1000;
const ASPECTS = ['timbre', 'spectral', 'envelope', 'tonal', 'rhythm'];
const SIMILAR_K = 12;
const UNCATEGORISED = '-cat:*';
const SETTINGS_KEY = 'samplemind.transport'; // the transport's settings, kept in this browser
const MAX_ID_QUERY = 1900; // characters of an id: term a list of chosen sounds may become
// The record's estimates and the ones a person may correct: the server's lists (GET /api/v1/schema).
let ESTIMATES = [];
let CORRECTABLE = [];
const CATEGORIES = ['kick', 'snare', 'hihat', 'cymbal', 'tom', 'clap', 'perc', 'bass', 'synth', 'pad',
  'keys', 'guitar', 'vocal', 'fx', 'tonal'];
// chord:QUALITY matches every chord of that quality (query.py)
const CHORD_QUALITIES = [['major', 'major'], ['minor', 'minor'], ['7', '7'], ['maj7', 'maj7'],
  ['m7', 'm7'], ['sus2', 'sus2'], ['sus4', 'sus4'], ['dim', 'dim']];
const ROOTS = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];
const ALIASES = {
  category: ['cat', 'category'], type: ['type'], key: ['key'], chord: ['chord'], bpm: ['bpm', 'tempo'],
  tag: ['tag', 'tags'], sort: ['sort'], id: ['id'],
};

const $ = (selector) => document.querySelector(selector);
const state = {
  query: '', cursor: null, loading: null, generation: 0, current: null, started: false,
  selection: new Set(), selectionFrom: 'table', stats: null, tags: [], view: 'browse',
  mapLoaded: false, dupesLoaded: false, jobs: new Map(), ws: null, wsDelay: 1000,
  role: null, peaks: new Map(), facets: null, similarTimer: 0, changeTimer: 0, hoverTimer: 0, total: null,
  descriptions: new Map(), exporting: false, favourites: new Set(),
  // What the main list shows when it is not the query's matches: {kind: 'similar', anchor}.
  list: null,
  aspects: Object.fromEntries(ASPECTS.map((name) => [name, 1])), // where the sliders are
  settings: loadSettings(),
};

function loadSettings() {
  try {
    return { ...DEFAULT_SETTINGS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

let table; let player; let wave; let soundMap; let review;

// -- small helpers ------------------------------------------------------------------------------

function fmt(value, digits = 2) {
  if (value === null || value === undefined || value === '') return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  return `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, '0')}`;
}

function bytes(size) {
  if (!size && size !== 0) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = size; let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function shortKey(key) {
  if (!key) return '';
  const [root, mode] = key.split(' ');
  return mode === 'minor' ? `${root}m` : root;
}

function banner(message, { kind = 'error', action = null, sticky = false } = {}) {
  const box = $('#banner');
  box.replaceChildren(element('span', { text: message }));
  box.className = `banner ${kind}`;
  if (action) box.append(element('button', { type: 'button', text: action.label, onclick: () => { box.hidden = true; action.run(); } }));
  box.append(element('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', text: '×', onclick: () => { box.hidden = true; } }));
  box.hidden = false;
  clearTimeout(banner.timer);
  if (!sticky) banner.timer = setTimeout(() => { box.hidden = true; }, 9000);
}

function failed(error) {
  if (error && error.name === 'AbortError') return;
  if (error instanceof ApiError && error.status === 401) return; // the login overlay says it
  banner(forPerson(error instanceof Error ? error.message : String(error)));
}

/** A server's message as this person can use it: how to start the local AI is for the admin,
 *  who can do it; everyone else is told plainly that it is not there. */
function forPerson(message) {
  if (session.role === 'admin' || !/ollama/i.test(message || '')) return message;
  return 'AI is not available on this server';
}

const canEdit = () => allows('editor');

// -- the query text: facets and sorting edit it ---------------------------------------------------

function tokenize(query) {
  return query.match(/(?:[^\s"']+|"[^"]*"?|'[^']*'?)+/g) || [];
}

function fieldOf(token) {
  const match = /^([a-z_]+):(.*)$/i.exec(token);
  if (!match) return null;
  const name = match[1].toLowerCase();
  for (const [field, names] of Object.entries(ALIASES)) if (names.includes(name)) return { field, value: match[2] };
  return { field: name, value: match[2] };
}

function unquote(value) {
  return value.replace(/^(["'])(.*)\1$/, '$2');
}

function quoteValue(value) {
  return /[\s,"':]/.test(value) ? `"${value.replace(/"/g, '')}"` : value;
}

/** Values of the (non-negated) terms of one field in a query. */
function termValues(query, field) {
  const values = [];
  for (const token of tokenize(query)) {
    const term = fieldOf(token);
    if (term && term.field === field) values.push(term.value);
  }
  return values;
}

/** The query with every (non-negated) term of `field` replaced by `term` (or removed). */
function withTerm(query, field, term) {
  const kept = tokenize(query).filter((token) => {
    const parsed = fieldOf(token);
    return !(parsed && parsed.field === field);
  });
  if (term) kept.push(term);
  return kept.join(' ');
}

function withoutToken(query, unwanted) {
  return tokenize(query).filter((token) => token !== unwanted).join(' ');
}

function setQuery(query, { run = true } = {}) {
  $('#q').value = query;
  if (run) runQuery(query);
}

// -- the address: each list is a step in the history, so Back and Forward walk the lists --------

function hashFor(query) {
  return query ? `#q=${encodeURIComponent(query)}` : '#';
}

/** Put a list in the address: a new history entry (push) or in place of the current one. */
function remember(hash, push) {
  if ((location.hash || '#') === hash) return;
  if (push) history.pushState(null, '', hash); else history.replaceState(null, '', hash);
}

/** Show the list the address names (on start, and on Back and Forward). */
function fromAddress() {
  const hash = location.hash;
  const similar = /^#similar=(\d+)$/.exec(hash);
  if (similar) { showSimilar(Number(similar[1]), { push: false }); return; }
  const group = /^#(dupes|layers)=([\d,]+)$/.exec(hash);
  if (group) { showGroup(group[1], group[2].split(',').map(Number), { push: false }); return; }
  const query = hash.startsWith('#q=') ? decodeURIComponent(hash.slice(3)) : '';
  $('#q').value = query;
  runQuery(query, { push: false });
}

/** Reload what the list shows (the library changed, or a new login). */
function reloadList() {
  if (state.list && state.list.kind === 'similar') showSimilar(state.list.anchor.id, { push: false, keepActive: true });
  else if (state.list && state.list.kind === 'group') showGroup(state.list.from, state.list.ids, { push: false, keepActive: true });
  else runQuery(state.query, { keepActive: true, push: false });
}

/** The line above the list that says where a list other than the query's matches came from. */
function renderListSource() {
  const box = $('#list-source');
  if (!state.list) { box.hidden = true; box.replaceChildren(); return; }
  if (state.list.kind === 'group') {
    const what = state.list.from === 'layers' ? 'A set of layers' : 'A group of duplicates';
    box.replaceChildren(element('span', {}, element('strong', { text: what }), ` · ${state.list.ids.length} sounds`),
      element('button', {
        type: 'button', id: 'list-back', class: 'link', title: 'Back to the Duplicates view',
        text: 'Back to Duplicates', onclick: () => showView('dupes'),
      }),
      element('button', {
        type: 'button', class: 'link', title: 'Back to the matches of the query',
        text: 'Back to the query', onclick: () => runQuery($('#q').value),
      }));
    box.hidden = false;
    return;
  }
  box.replaceChildren(element('span', {}, 'Similar to ', element('strong', { text: state.list.anchor.name })),
    element('button', {
      type: 'button', id: 'list-back', class: 'link', title: 'Back to the matches of the query',
      text: 'Back to the query', onclick: () => runQuery($('#q').value),
    }));
  box.hidden = false;
}

// -- browse: the table --------------------------------------------------------------------------

// narrow: the columns a phone shows (below 900 px wide), table.js
const COLUMNS = [
  {
    field: 'play', label: '', width: '30px', className: 'play-cell', narrow: true,
    render: (s) => element('button', { type: 'button', class: 'row-play', tabindex: '-1', 'aria-label': `Play ${s.name}`, text: '▶' }),
  },
  { field: 'name', label: 'Name', width: 'minmax(130px, 4fr)', sort: 'name', className: 'name', narrow: true, render: nameCell },
  { field: 'type', label: 'Type', width: '60px', sort: 'type', render: (s) => s.type || '' },
  {
    field: 'category', label: 'Category', width: '88px', sort: 'category', narrow: true,
    render: (s) => (s.category
      ? element('span', { class: 'cat' }, element('i', { class: 'dot', 'data-cat': s.category }), s.category) : ''),
  },
  { field: 'bpm', label: 'BPM', width: '50px', sort: 'bpm', className: 'num', narrow: true, render: (s) => fmt(s.bpm, 1) },
  { field: 'key', label: 'Key', width: '44px', sort: 'key', narrow: true, render: (s) => shortKey(s.key) },
  { field: 'chord', label: 'Chord', width: '50px', sort: 'chord', render: (s) => s.chord || '' },
  { field: 'note', label: 'Note', width: '44px', sort: 'note', render: (s) => s.note || '' },
  { field: 'duration', label: 'Length', width: '56px', sort: 'duration', className: 'num', narrow: true, render: (s) => duration(s.duration) },
  { field: 'loudness_lufs', label: 'LUFS', width: '50px', sort: 'loudness_lufs', className: 'num', render: (s) => fmt(s.loudness_lufs, 1) },
  // the folder the sound lives in (its pack), in place of the format the name's extension shows
  {
    field: 'folder', label: 'Folder', width: 'minmax(56px, 1fr)', sort: 'path', className: 'folder-cell',
    render: (s) => element('span', { title: s.path, text: packOf(s.path) }),
  },
  { field: 'tags', label: 'Tags', width: 'minmax(48px, 1fr)', className: 'tags-cell', render: (s) => (s.tags || []).join(', ') },
];

/** The last two folders of a path ("Drums/Kicks"): the pack a sound came in. */
function packOf(path) {
  const parts = (path || '').split(/[\\/]/).filter(Boolean);
  return parts.slice(-3, -1).join('/');
}

/** The name cell: in a list of similar sounds, the sound they are like and each one's score. */
function nameCell(s) {
  const list = state.list;
  const anchor = list && list.kind === 'similar' && list.anchor.id === s.id;
  return element('span', { class: 'name-box' }, starButton(s, 'row-star'), element('span', { class: 'name-text', text: s.name }),
    anchor ? element('span', { class: 'badge ref', text: 'reference' }) : null,
    !anchor && list && typeof s.score === 'number' ? element('span', { class: 'score', text: s.score.toFixed(2) }) : null);
}

// -- favourites: each account's own stars (GET/PUT/DELETE /api/v1/favourites, fav:NAME) --------

function starButton(sample, className) {
  const on = state.favourites.has(sample.id);
  return element('button', {
    type: 'button', class: `star ${className}`, id: className === 'detail-star' ? 'fav-button' : null, 'aria-pressed': String(on), tabindex: className === 'row-star' ? '-1' : null,
    'aria-label': `${on ? 'Unstar' : 'Star'} ${sample.name}`, title: on ? 'A favourite of yours (f)' : 'Star as a favourite (f)',
    onclick: (event) => { event.stopPropagation(); toggleFavourite(sample); },
  });
}

async function loadFavourites() {
  try {
    state.favourites = new Set((await api('/favourites')).ids);
    table.schedule();
  } catch (error) { failed(error); }
}

async function toggleFavourite(sample) {
  const on = !state.favourites.has(sample.id);
  try {
    await api(`/favourites/${sample.id}`, { method: on ? 'PUT' : 'DELETE' });
    if (on) state.favourites.add(sample.id); else state.favourites.delete(sample.id);
    renderFacets();
    const row = table.rows.find((r) => r && r.id === sample.id);
    if (row) table.replace(row);
    if (state.current && state.current.id === sample.id) {
      const old = document.querySelector('#fav-button');
      if (old) old.replaceWith(starButton(state.current, 'detail-star'));
      document.querySelector('#fav-button')?.focus();
    }
  } catch (error) { failed(error); }
}

/** The query term for my favourites. */
function myFavourites() {
  return `fav:${quoteValue(session.user || 'local')}`;
}

async function runQuery(query, { keepActive = false, push = true } = {}) {
  state.query = query.trim();
  const previous = keepActive && state.current ? state.current.id : null;
  remember(hashFor(state.query), push);
  if (state.list) { state.list = null; renderListSource(); delete $('#grid').dataset.list; }
  syncFacets();
  if (state.view === 'map') loadMap(); // the map follows the query
  if (state.loading) state.loading.abort();
  const controller = new AbortController();
  state.loading = controller;
  $('#result-count').textContent = 'Searching…';
  $('#grid').setAttribute('aria-busy', 'true');
  $('#q').removeAttribute('aria-invalid');
  try {
    const page = await api(`/samples${params({ q: state.query, limit: FIRST_PAGE, total: 'true' })}`, { signal: controller.signal });
    if (state.loading !== controller) return;
    state.loading = null;
    state.cursor = page.next_cursor;
    state.total = page.total ?? null;
    table.reset(page.samples, Boolean(page.next_cursor));
    updateCount();
    $('#grid').dataset.query = state.query; // the query these rows answer
    loadCurrentFacets(state.query);
    $('#grid').removeAttribute('aria-busy');
    if (!performance.getEntriesByName('samplemind:first-rows').length) {
      requestAnimationFrame(() => performance.mark('samplemind:first-rows'));
    }
    if (previous !== null) syncActive(previous);
  } catch (error) {
    if (state.loading === controller) state.loading = null;
    if (error.name === 'AbortError') return;
    $('#grid').removeAttribute('aria-busy');
    if (error instanceof ApiError && error.status === 400) {
      $('#q').setAttribute('aria-invalid', 'true');
      $('#result-count').textContent = error.message;
      table.reset([], false);
      $('#grid').dataset.query = state.query;
      return;
    }
    $('#result-count').textContent = '';
    failed(error);
  }
}

/** Highlight the row of a sample if the list holds it (and none if it does not). */
function syncActive(id) {
  const index = id === null || id === undefined ? -1 : table.rows.findIndex((row) => row && row.id === id);
  if (index === table.active) return;
  table.active = index;
  table.schedule();
}

/** The sounds most like one (its "reference" row first, then the hits, nearest first) as the
 *  main list, so the arrow keys audition them in turn; the aspect sliders weight the search. */
async function showSimilar(anchorId, { push = true, keepActive = false } = {}) {
  if (state.loading) state.loading.abort();
  const controller = new AbortController();
  state.loading = controller;
  $('#result-count').textContent = 'Finding similar sounds…';
  $('#grid').setAttribute('aria-busy', 'true');
  const aspect = ASPECTS.map((name) => `${name}=${state.aspects[name]}`).join(',');
  try {
    const [anchor, answer] = await Promise.all([
      state.current && state.current.id === anchorId ? state.current : api(`/samples/${anchorId}`, { signal: controller.signal }),
      api(`/samples/${anchorId}/similar${params({ k: SIMILAR_K, aspect })}`, { signal: controller.signal }),
    ]);
    if (state.loading !== controller) return;
    state.loading = null;
    state.list = { kind: 'similar', anchor: { id: anchor.id, name: anchor.name } };
    state.cursor = null;
    state.total = null;
    remember(`#similar=${anchor.id}`, push);
    table.reset([anchor, ...answer.hits], false);
    $('#grid').dataset.list = `similar:${anchor.id}`;
    $('#grid').removeAttribute('aria-busy');
    renderListSource();
    updateCount();
    syncActive(keepActive && state.current ? state.current.id : anchor.id);
    if (!state.current) openSample(anchor);
  } catch (error) {
    listFailed(controller, error);
  }
}

/** A list (similar sounds, a group) that could not be loaded: the grid stops being busy and
 *  the error is said; a load a newer one replaced was aborted and says nothing. */
function listFailed(controller, error) {
  if (state.loading === controller) state.loading = null;
  if (error.name === 'AbortError') return;
  $('#grid').removeAttribute('aria-busy');
  $('#result-count').textContent = '';
  failed(error);
}

/** A group of duplicates or a set of layers (from: 'dupes' or 'layers') as the main list, in
 *  the group's own order (keeper first; layers softest first), so the arrow keys audition it.
 *  The address holds the ids, so Back returns to the list before and Forward comes back. */
async function showGroup(from, ids, { push = true, keepActive = false } = {}) {
  const query = idQuery(ids);
  if (!query) { banner('Too many sounds to list at once.'); return; }
  if (state.loading) state.loading.abort();
  const controller = new AbortController();
  state.loading = controller;
  $('#result-count').textContent = 'Listing…';
  $('#grid').setAttribute('aria-busy', 'true');
  try {
    const answer = await api(`/samples${params({ q: query, limit: ids.length })}`, { signal: controller.signal });
    if (state.loading !== controller) return;
    state.loading = null;
    const byId = new Map(answer.samples.map((sample) => [sample.id, sample]));
    const rows = ids.map((id) => byId.get(id)).filter(Boolean); // a file deleted since is left out
    state.list = { kind: 'group', from, ids };
    state.cursor = null;
    state.total = null;
    remember(`#${from}=${ids.join(',')}`, push);
    table.reset(rows, false);
    $('#grid').dataset.list = `${from}:${ids.join(',')}`;
    $('#grid').removeAttribute('aria-busy');
    renderListSource();
    updateCount();
    syncActive(keepActive && state.current ? state.current.id : rows.length ? rows[0].id : null);
  } catch (error) {
    listFailed(controller, error);
  }
}

/** Plain words -> a query (POST /ask: the local model, or the built-in translator). */
async function askWords(words) {
  if (!words.trim()) { $('#q').focus(); return; }
  $('#result-count').textContent = 'Asking…';
  try {
    const answer = await api('/ask', { method: 'POST', body: { words, limit: 1 } });
    const { query, translator, notes } = answer.ask;
    $('#q').value = query;
    const why = notes && notes.length ? ` (${notes.map(forPerson).join('; ')})` : '';
    banner(`“${words}” → ${query || '(every sample)'}  · ${translator === 'model' ? 'by the local model' : 'by the built-in translator'}${why}`, { kind: 'info' });
    await runQuery(query);
  } catch (error) {
    $('#result-count').textContent = '';
    failed(error);
  }
}

async function loadMore() {
  if (state.loading || !state.cursor) return;
  const controller = new AbortController();
  state.loading = controller;
  try {
    const page = await api(`/samples${params({ q: state.query, limit: NEXT_PAGE, cursor: state.cursor })}`,
      { signal: controller.signal });
    if (state.loading !== controller) return;
    state.loading = null;
    state.cursor = page.next_cursor;
    table.append(page.samples, Boolean(page.next_cursor));
    updateCount();
  } catch (error) {
    if (state.loading === controller) state.loading = null;
    failed(error);
  }
}

function updateCount() {
  const loaded = table.rows.length;
  const total = state.total ?? (!state.query && state.stats ? state.stats.samples : null);
  let text;
  if (!table.more) text = `${loaded.toLocaleString()} ${loaded === 1 ? 'sample' : 'samples'}`;
  else if (total !== null) text = `${total.toLocaleString()} samples (${loaded.toLocaleString()} loaded; scroll for more)`;
  else text = `${loaded.toLocaleString()}+ samples (scroll for more)`;
  $('#result-count').textContent = text;
}

function onSort(field) {
  const current = termValues(state.query, 'sort')[0] || '';
  let next = `sort:${field}`;
  if (current === field) next = `sort:${field}-`;
  else if (current === `${field}-`) next = null;
  setQuery(withTerm(state.query, 'sort', next));
}

// -- facets -------------------------------------------------------------------------------------

function chip(label, count, pressed, onclick, extra = {}) {
  return element('button', { type: 'button', class: 'chip', 'aria-pressed': String(pressed), onclick, ...extra },
    label, count !== null && count !== undefined ? element('span', { class: 'count', text: String(count) }) : null);
}

/** Counts beside the filters for what is listed now: categories and types as if their own
 *  term were not there (what a click would add), tags and folders of the results. */
async function loadCurrentFacets(query) {
  const withoutCategory = withoutToken(withTerm(query, 'category', null), UNCATEGORISED);
  const wanted = { all: query, category: withoutCategory, type: withTerm(query, 'type', null) };
  const unique = [...new Set(Object.values(wanted))];
  try {
    const answers = await Promise.all(unique.map((q) => api(`/facets${params({ q })}`)));
    if (state.query !== query) return;
    const of = (q) => answers[unique.indexOf(q)];
    state.facets = {
      category: of(wanted.category).by_category, type: of(wanted.type).by_type,
      tags: Object.fromEntries(of(query).tags.map(({ tag, count }) => [tag, count])), folders: of(query).folders,
    };
    renderFacets();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 400)) failed(error); // a bad query says so already
  }
}

/** Folders and every folder above them up to the root's name, with the sounds under each. */
function folderTree(folders) {
  const nodes = new Map();
  for (const item of folders) {
    const relative = item.folder.split('/');
    const absolute = item.path.split('/');
    for (let depth = 1; depth <= relative.length; depth += 1) {
      const key = relative.slice(0, depth).join('/');
      const node = nodes.get(key) || {
        key, label: relative[depth - 1], depth: depth - 1, count: 0,
        path: absolute.slice(0, absolute.length - (relative.length - depth)).join('/'),
      };
      node.count += item.count;
      nodes.set(key, node);
    }
  }
  return [...nodes.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function renderFolders() {
  const box = $('#facet-folders');
  const folders = state.facets ? folderTree(state.facets.folders) : [];
  const chosen = termValues(state.query, 'path').map(unquote);
  box.replaceChildren(...folders.map((node) => {
    const term = `path:${quoteValue(`${node.path}/`)}`;
    const on = chosen.includes(`${node.path}/`);
    const button = element('button', {
      type: 'button', class: 'folder', 'aria-pressed': String(on), 'data-folder': node.key, title: node.path,
      onclick: () => setQuery(on ? withTerm(state.query, 'path', null) : withTerm(state.query, 'path', term)),
    }, element('span', { class: 'folder-name', text: node.label }), element('span', { class: 'count', text: String(node.count) }));
    button.style.setProperty('--depth', String(node.depth)); // the CSSOM, which the CSP allows
    return button;
  }));
  if (!folders.length) box.append(element('span', { class: 'muted', text: 'No folders' }));
}

function renderFacets() {
  const stats = state.stats || { by_category: {}, by_type: {} };
  const current = state.facets; // counts for the current results, once known
  const currentCategories = () => termValues(state.query, 'category').flatMap((v) => v.split(','))
    .map((v) => unquote(v).toLowerCase());
  const categories = currentCategories();
  const names = Object.keys(stats.by_category || {}).filter((c) => c !== 'unknown');
  $('#facet-category').replaceChildren(...names.map((name) => chip(
    element('span', { class: 'cat' }, element('i', { class: 'dot', 'data-cat': name }), name),
    current ? current.category[name] || 0 : stats.by_category[name], categories.includes(name), () => {
      const chosen = new Set(currentCategories());
      if (chosen.has(name)) chosen.delete(name); else chosen.add(name);
      setQuery(withTerm(state.query, 'category', chosen.size ? `cat:${[...chosen].join(',')}` : null));
    }, { 'data-facet': `category:${name}` })));
  // the sounds no category fits yet: -cat:* (a negated field matches a missing value)
  const unknown = (stats.by_category || {}).unknown;
  if (unknown) {
    $('#facet-category').append(chip('uncategorised', current ? current.category.unknown || 0 : unknown, tokenize(state.query).includes(UNCATEGORISED), () => {
      const on = tokenize(state.query).includes(UNCATEGORISED);
      setQuery(on ? withoutToken(state.query, UNCATEGORISED) : withTerm(state.query, 'category', UNCATEGORISED));
    }, { 'data-facet': 'uncategorised' }));
  }
  const mine = myFavourites();
  $('#facet-fav').replaceChildren(chip('★ favourites', state.favourites.size, tokenize(state.query).includes(mine), () => {
    const on = tokenize(state.query).includes(mine);
    setQuery(on ? withoutToken(state.query, mine) : `${state.query} ${mine}`.trim());
  }, { 'data-facet': 'fav' }));
  const currentTypes = () => termValues(state.query, 'type').map((v) => v.toLowerCase());
  $('#facet-type').replaceChildren(...['loop', 'oneshot'].map((name) => chip(
    name, ((current ? current.type : stats.by_type) || {})[name] || 0, currentTypes().includes(name), () => {
      setQuery(withTerm(state.query, 'type', currentTypes().includes(name) ? null : `type:${name}`));
    }, { 'data-facet': `type:${name}` })));
  const currentTags = () => termValues(state.query, 'tag').map((v) => unquote(v).toLowerCase());
  $('#facet-tags').replaceChildren(...state.tags.slice(0, 40).map(({ tag, count }) => chip(
    tag, current ? current.tags[tag] || 0 : count, currentTags().includes(tag), () => {
      const token = `tag:${quoteValue(tag)}`;
      const on = currentTags().includes(tag);
      setQuery(on ? withoutToken(state.query, token) : `${state.query} ${token}`.trim());
    }, { 'data-facet': `tag:${tag}` })));
  if (!state.tags.length) $('#facet-tags').append(element('span', { class: 'muted', text: 'No tags yet' }));
  renderFolders();
  syncFacets();
}

function syncFacets() {
  const key = termValues(state.query, 'key')[0] || '';
  $('#facet-key-compat').checked = key.endsWith('~');
  const bare = unquote(key.replace(/~$/, ''));
  const select = $('#facet-key');
  select.value = [...select.options].some((o) => o.value === bare) ? bare : '';
  const chord = unquote(termValues(state.query, 'chord')[0] || '');
  const chordSelect = $('#facet-chord');
  chordSelect.value = [...chordSelect.options].some((o) => o.value === chord) ? chord : '';
  const bpm = termValues(state.query, 'bpm')[0] || '';
  const match = /^(\d*\.?\d*)\.\.(\d*\.?\d*)$/.exec(bpm);
  // never under the person's fingers: counts that arrive while one types must not undo it
  const set = (input, value) => { if (document.activeElement !== input) input.value = value; };
  set($('#facet-bpm-min'), match ? match[1] : (/^\d/.test(bpm) ? bpm : ''));
  set($('#facet-bpm-max'), match ? match[2] : '');
  for (const group of ['#facet-category', '#facet-type', '#facet-tags', '#facet-fav']) {
    for (const button of document.querySelectorAll(`${group} .chip`)) {
      if (button.dataset.facet === 'fav') {
        button.setAttribute('aria-pressed', String(tokenize(state.query).includes(myFavourites())));
        continue;
      }
      if (button.dataset.facet === 'uncategorised') {
        button.setAttribute('aria-pressed', String(tokenize(state.query).includes(UNCATEGORISED)));
        continue;
      }
      const [field, value] = button.dataset.facet.split(/:(.*)/s);
      const values = termValues(state.query, field).flatMap((v) => (field === 'category' ? v.split(',') : [v]))
        .map((v) => unquote(v).toLowerCase());
      button.setAttribute('aria-pressed', String(values.includes(value)));
    }
  }
  const sort = termValues(state.query, 'sort')[0] || '';
  const first = sort.split(',')[0];
  table.setSort(first.replace(/-$/, '') || null, first.endsWith('-'));
}

function setupFacets() {
  const select = $('#facet-key');
  select.append(element('option', { value: '', text: 'Any key' }));
  for (const root of ROOTS) {
    select.append(element('option', { value: root, text: `${root} major` }));
    select.append(element('option', { value: `${root}m`, text: `${root} minor` }));
  }
  const keyChanged = () => {
    const value = select.value;
    setQuery(withTerm(state.query, 'key', value ? `key:${value}${$('#facet-key-compat').checked ? '~' : ''}` : null));
  };
  select.addEventListener('change', keyChanged);
  $('#facet-key-compat').addEventListener('change', keyChanged);
  const chords = $('#facet-chord');
  chords.append(element('option', { value: '', text: 'Any' }));
  chords.append(element('option', { value: '*', text: 'Has a chord' }));
  for (const [value, text] of CHORD_QUALITIES) chords.append(element('option', { value, text }));
  chords.addEventListener('change', () => {
    setQuery(withTerm(state.query, 'chord', chords.value ? `chord:${chords.value}` : null));
  });
  const bpmChanged = () => {
    const low = $('#facet-bpm-min').value.trim();
    const high = $('#facet-bpm-max').value.trim();
    setQuery(withTerm(state.query, 'bpm', low || high ? `bpm:${low}..${high}` : null));
  };
  $('#facet-bpm-min').addEventListener('change', bpmChanged);
  $('#facet-bpm-max').addEventListener('change', bpmChanged);
  $('#clear-query').addEventListener('click', () => setQuery(''));
  // below 900 px the filters are a drawer over the list
  const app = $('#app');
  const openFilters = (open) => {
    app.classList.toggle('filters-open', open);
    $('#filters-button').setAttribute('aria-expanded', String(open));
  };
  $('#filters-button').addEventListener('click', () => openFilters(!app.classList.contains('filters-open')));
  $('#filters-close').addEventListener('click', () => openFilters(false));
}

async function loadFacets() {
  try {
    const [stats, tags] = await Promise.all([api('/stats'), api('/tags')]);
    state.stats = stats;
    state.tags = tags.tags;
    renderFacets();
    if (state.started && !state.loading) loadCurrentFacets(state.query);
    if (table.rows.length) updateCount();
  } catch (error) {
    failed(error);
  }
}

// -- the selection (table rows or a map region): tag, export ------------------------------------

function selectedIds() {
  return [...state.selection];
}

function renderSelectionBars() {
  for (const [bar, from] of [[$('#selection-bar'), 'table'], [$('#map-selection-bar'), 'map']]) {
    const count = state.selectionFrom === from ? state.selection.size : 0;
    bar.hidden = count === 0;
    if (!count) { bar.replaceChildren(); continue; }
    const children = [element('strong', { text: `${count} selected` })];
    if (canEdit()) {
      const input = element('input', { type: 'text', placeholder: 'tag', 'aria-label': 'Tag to add to the selection', class: 'tag-input' });
      const add = async () => {
        const tag = input.value.trim();
        if (!tag) { input.focus(); return; }
        try {
          const answer = await api('/tags', { method: 'POST', body: { ids: selectedIds(), tags: [tag] } });
          banner(`Tagged ${answer.samples} sample(s) “${tag}”.`, { kind: 'info' });
          input.value = '';
          loadFacets();
          refreshLoaded(selectedIds());
        } catch (error) { failed(error); }
      };
      input.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); add(); } });
      children.push(input, element('button', { type: 'button', text: 'Add tag', onclick: add }));
    }
    if (from === 'map') {
      children.push(element('button', {
        type: 'button', id: 'map-list-button', text: 'List them', title: 'Show these sounds in the main list (an id: query)',
        onclick: listMapSelection,
      }));
    }
    children.push(
      element('button', { type: 'button', text: 'Export zip', onclick: exportZip }),
      element('button', { type: 'button', class: 'link', text: 'Clear', onclick: clearSelection }),
    );
    bar.replaceChildren(...children);
  }
}

/** The id: query for some sounds (runs of ids as ranges), or null when it would be too long. */
function idQuery(ids) {
  const ordered = [...ids].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < ordered.length;) {
    let j = i;
    while (j + 1 < ordered.length && ordered[j + 1] === ordered[j] + 1) j += 1;
    parts.push(j > i ? `${ordered[i]}..${ordered[j]}` : String(ordered[i]));
    i = j + 1;
  }
  const query = `id:${parts.join(',')}`;
  return query.length <= MAX_ID_QUERY ? query : null;
}

/** A map region into the main list: the arrow keys audition it, Export takes it. */
function listMapSelection() {
  const query = idQuery(selectedIds());
  if (!query) { banner('Too many scattered sounds to list at once: select a smaller region.'); return; }
  showView('browse');
  setQuery(query);
}

function clearSelection() {
  state.selection = new Set();
  table.clearSelection();
  if (soundMap) soundMap.clearSelection();
  renderSelectionBars();
}

/** Let the browser download a URL: it streams the file to disk, nothing is held in the page. */
function download(url, filename) {
  const link = element('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}

/** The selection (any size: its ids go in a POST body, which answers a short-lived download
 *  URL), or every match of the query when nothing is selected. */
async function exportZip() {
  const as = $('#export-as') ? $('#export-as').value : ''; // '' or a sampler instrument format
  if (!state.selection.size && state.list) { // a list of similar sounds or a group: what it shows
    const name = state.list.kind === 'similar' ? `samplemind-similar-${state.list.anchor.id}` : `samplemind-${state.list.from}`;
    await exportBody({ ids: table.rows.map((row) => row.id), name }, as);
    return;
  }
  if (!state.selection.size && !as) {
    download(`/api/v1/export${params({ q: state.query, name: 'samplemind-kit' })}`, 'samplemind-kit.zip');
    banner('Exporting every match of the query as a zip…', { kind: 'info' });
    return;
  }
  if (!state.selection.size) { // an instrument is asked for: the POST carries the query
    await exportBody({ query: state.query, name: 'samplemind-kit' }, as);
    return;
  }
  await exportBody({ ids: selectedIds(), name: `samplemind-${state.selection.size}-samples` }, as);
}

/** POST /exports with {ids|query, name} (and the instrument format), then download the zip. */
async function exportBody(body, as) {
  if (state.exporting) return; // a second click while the first export is being prepared
  state.exporting = true;
  if (as) body.as = as;
  try {
    const answer = await api('/exports', { method: 'POST', body });
    download(answer.url, `${body.name}.zip`);
    const what = state.selection.size ? 'selected sample(s)' : 'matching sample(s)';
    banner(`Exporting ${answer.count} ${what} as a zip${as ? ` with a ${as === 'sfz' ? 'SFZ' : 'Decent Sampler'} instrument` : ''}…`, { kind: 'info' });
  } catch (error) {
    failed(error);
  } finally {
    state.exporting = false;
  }
}

// -- the detail panel ---------------------------------------------------------------------------

function confidenceMeter(value) {
  if (value === null || value === undefined) return null;
  const percent = Math.round(value * 100);
  const meter = element('meter', { min: '0', max: '1', value: String(value), low: '0.5', high: '0.8', optimum: '1', title: `confidence ${percent}%` });
  return element('span', { class: 'confidence' }, meter, element('span', { class: 'pct', text: `${percent}%` }));
}

function sourceBadge(source) {
  return source ? element('span', { class: `source source-${source}`, title: `from ${source}`, text: source }) : null;
}

function openSample(sample, { play = false } = {}) {
  const sameSample = state.current && state.current.id === sample.id;
  state.current = sample;
  renderDetail(sample);
  if (!sameSample) $('#detail').scrollTop = 0; // each sample's details start at their top
  document.querySelector('#app').classList.add('sheet-open'); // the bottom sheet, on a phone
  syncActive(sample.id);
  player.load(sample).then(showPreview).catch(failed);
  showPreview();
  if (play) playCurrent();
}

/** How the open sample is previewed (project tempo, transposition), beside the transport. */
function showPreview() {
  const note = $('#preview-note');
  const preview = player && player.sample && state.current && player.sample.id === state.current.id ? player.preview : null;
  note.textContent = preview && preview.why ? `plays ${preview.why}` : '';
}

function playCurrent(fromFraction = null) {
  if (!state.current) return;
  player.play(state.current, fromFraction).catch((error) => banner(`Cannot play ${state.current.name}: ${error.message}`));
}

function togglePlay() {
  if (!state.current) return;
  if (player.playing && player.sample && player.sample.id === state.current.id) player.stop();
  else playCurrent();
}

async function loadPeaks(sample) {
  let peaks = state.peaks.get(sample.id);
  if (!peaks) {
    try {
      peaks = (await api(`/samples/${sample.id}/peaks`)).peaks || [];
    } catch (error) {
      if (error.status !== 404) failed(error);
      peaks = [];
    }
    state.peaks.set(sample.id, peaks);
    if (state.peaks.size > 300) state.peaks.delete(state.peaks.keys().next().value);
  }
  if (state.current && state.current.id === sample.id) wave.setPeaks(peaks);
}

function renderDetail(sample) {
  const panel = $('#detail');
  const playButton = element('button', {
    type: 'button', id: 'play-button', class: 'play', 'aria-label': 'Play or stop (Space)', title: 'Play / stop (Space)',
    text: player.playing && player.sample && player.sample.id === sample.id ? '■' : '▶', onclick: togglePlay,
  });
  const canvas = element('canvas', {
    id: 'wave', class: 'wave', tabindex: '0', role: 'slider', 'aria-label': 'Waveform: click or use arrow keys to seek',
    'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0',
  });
  const time = element('span', { id: 'play-time', class: 'time', text: duration(sample.duration) });
  const header = element('div', { class: 'detail-head' },
    element('div', { class: 'row spread' },
      element('h2', { id: 'detail-name', text: sample.name, title: sample.name }),
      starButton(sample, 'detail-star'),
      element('button', {
        type: 'button', id: 'detail-close', class: 'close narrow-only', 'aria-label': 'Close the details', text: '×',
        onclick: () => document.querySelector('#app').classList.remove('sheet-open'),
      })),
    element('p', { class: 'path', text: sample.path, title: sample.path }),
    // Damage the analysis saw (a truncated file, ...): said before anything measured from it.
    sample.warnings && sample.warnings.length
      ? element('p', { class: 'damage', role: 'note', text: `⚠ ${sample.warnings.join('; ')}` }) : null);
  const waveBox = element('div', { class: 'wave-box' }, playButton, canvas, time);
  const estimates = renderEstimates(sample);
  const tags = renderTags(sample);
  const similar = renderSimilarSection();
  const fields = renderAllFields(sample);
  // similar sounds right under the sound: a correction form must not push them below the fold
  panel.replaceChildren(header, waveBox, similar, estimates, tags, fields);
  wave = new Waveform(canvas, (fraction) => {
    if (!state.current) return;
    if (player.sample && player.sample.id === state.current.id && player.playing) player.seek(fraction);
    else playCurrent(fraction);
    wave.setProgress(fraction);
  });
  if (player.sample && player.sample.id === sample.id) wave.setProgress(player.fraction);
  loadPeaks(sample);
}

function keyOptions(selected) {
  const select = element('select', { name: 'key', id: 'fix-key' });
  select.append(element('option', { value: '', text: '—' }));
  for (const root of ROOTS) {
    for (const mode of ['major', 'minor']) {
      const value = `${root} ${mode}`;
      select.append(element('option', { value, text: value, selected: selected === value }));
    }
  }
  if (selected && !select.querySelector(`option[value="${CSS.escape(selected)}"]`)) {
    select.append(element('option', { value: selected, text: selected, selected: true }));
  }
  return select;
}

function correctionInput(field, sample) {
  const value = sample[field];
  if (field === 'type') {
    const select = element('select', { name: field, id: `fix-${field}` });
    for (const option of ['', 'loop', 'oneshot']) select.append(element('option', { value: option, text: option || '—', selected: (value || '') === option }));
    return select;
  }
  if (field === 'category') {
    const select = element('select', { name: field, id: `fix-${field}` });
    const names = [...new Set([...CATEGORIES, ...(value ? [value] : [])])];
    select.append(element('option', { value: '', text: '—' }));
    for (const option of names) select.append(element('option', { value: option, text: option, selected: value === option }));
    return select;
  }
  if (field === 'key') return keyOptions(value);
  if (field === 'chord') return element('input', { name: field, id: `fix-${field}`, type: 'text', value: value ?? '', placeholder: 'Am7', size: '5' });
  if (field === 'bpm') return element('input', { name: field, id: `fix-${field}`, type: 'number', min: '1', max: '999', step: '0.01', value: value ?? '' });
  return element('input', { name: field, id: `fix-${field}`, type: 'text', value: value ?? '', placeholder: 'A1', size: '4' });
}

function renderEstimates(sample) {
  const editing = canEdit();
  const rows = ESTIMATES.map((field) => {
    let shown = fmt(sample[field], 1);
    if (field === 'key' && sample.camelot) shown = `${sample.key} (${sample.camelot})`;
    if (field === 'note' && sample.pitch_hz) shown = `${sample.note} (${fmt(sample.pitch_hz, 1)} Hz)`;
    const value = element('td', { class: 'value', 'data-field': field, text: shown || '—' });
    if (field === 'bpm' && sample.bpm_alternatives) value.title = `half ${sample.bpm_alternatives[0]}, double ${sample.bpm_alternatives[1]}`;
    const reset = editing && CORRECTABLE.includes(field) && sample[`${field}_source`] === 'user'
      ? element('button', {
        type: 'button', class: 'link', title: `Remove your correction of ${field}`, 'aria-label': `Reset ${field} to the analysis`,
        text: 'auto', onclick: () => saveCorrections(sample, { [field]: null }),
      }) : null;
    return element('tr', {}, element('th', { scope: 'row', text: field }), value,
      element('td', { class: 'how' }, confidenceMeter(sample[`${field}_confidence`]), sourceBadge(sample[`${field}_source`]), reset));
  });
  const table_ = element('table', { class: 'estimates' },
    element('thead', {}, element('tr', {}, element('th', { text: 'field' }), element('th', { text: 'value' }),
      element('th', { text: 'confidence, source' }))),
    element('tbody', {}, ...rows));
  const section = element('section', { class: 'estimates-box', 'aria-labelledby': 'est-title' },
    element('h3', { id: 'est-title', text: 'Analysis' }), table_);
  if (!editing) return section;
  const inputs = CORRECTABLE.map((field) => element('label', { class: 'fix', for: `fix-${field}` },
    element('span', { text: field }), correctionInput(field, sample)));
  const form = element('form', { id: 'correct-form', 'aria-label': 'Correct the analysis' },
    element('div', { class: 'fix-grid' }, ...inputs),
    element('button', { type: 'submit', class: 'primary', id: 'save-corrections', text: 'Save corrections' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const changes = {};
    for (const field of CORRECTABLE) {
      const input = form.elements[field];
      const raw = input.value.trim();
      const before = sample[field] === null || sample[field] === undefined ? '' : String(sample[field]);
      if (field === 'bpm' ? (raw === '' ? before !== '' : Number(raw) !== sample.bpm) : raw !== before) {
        changes[field] = raw === '' ? null : (field === 'bpm' ? Number(raw) : raw);
      }
    }
    if (!Object.keys(changes).length) { banner('Nothing changed.', { kind: 'info' }); return; }
    saveCorrections(sample, changes);
  });
  section.append(element('h3', { text: 'Correct' }), form);
  return section;
}

async function saveCorrections(sample, changes) {
  try {
    const updated = await api(`/samples/${sample.id}`, { method: 'PATCH', body: changes });
    applyUpdate(updated);
    banner(`Saved: ${Object.entries(changes).map(([k, v]) => `${k} = ${v === null ? 'auto' : v}`).join(', ')}`, { kind: 'info' });
  } catch (error) { failed(error); }
}

function applyUpdate(sample) {
  table.replace(sample);
  if (soundMap) soundMap.forget([sample.id]);
  if (state.current && state.current.id === sample.id) {
    state.current = sample;
    renderDetail(sample, true);
  }
}

async function refreshLoaded(ids) {
  const wanted = ids.filter((id) => (state.current && state.current.id === id) || table.rows.some((row) => row && row.id === id));
  for (const id of wanted.slice(0, 100)) {
    try { applyUpdate(await api(`/samples/${id}`)); } catch (error) { if (error.status !== 404) failed(error); }
  }
}

function renderTags(sample) {
  const editing = canEdit();
  const list = element('ul', { class: 'tag-list', 'aria-label': 'Tags' });
  for (const tag of sample.tags || []) {
    const remove = editing ? element('button', {
      type: 'button', class: 'remove', 'aria-label': `Remove tag ${tag}`, text: '×',
      onclick: () => changeTag(sample, tag, true),
    }) : null;
    list.append(element('li', { class: 'tag' }, element('span', { text: tag }), remove));
  }
  if (!(sample.tags || []).length) list.append(element('li', { class: 'muted', text: 'No tags' }));
  const section = element('section', { class: 'tags-box', 'aria-labelledby': 'tags-title' },
    element('h3', { id: 'tags-title', text: 'Tags' }), list);
  if (editing) {
    const input = element('input', { id: 'tag-input', type: 'text', placeholder: 'add a tag', 'aria-label': 'Add a tag', list: 'tag-suggestions' });
    const datalist = element('datalist', { id: 'tag-suggestions' }, ...state.tags.map(({ tag }) => element('option', { value: tag })));
    const form = element('form', { class: 'row tag-form' }, input, datalist, element('button', { type: 'submit', text: 'Add' }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const tag = input.value.trim();
      if (tag) changeTag(sample, tag, false);
    });
    section.append(form);
    section.append(element('button', {
      type: 'button', id: 'describe-button', class: 'describe',
      title: 'A one-line description, tags, mood and uses from the local model (Ollama)',
      text: 'Describe (AI)', onclick: () => describeSample(sample),
    }));
  }
  const described = state.descriptions.get(sample.id);
  if (described) section.append(describedBox(described));
  return section;
}

function describedBox(item) {
  return element('div', { class: 'ai-description', id: 'ai-description' },
    element('p', { text: item.description }),
    element('p', { class: 'muted', text: [item.mood && `mood: ${item.mood}`, item.uses && item.uses.length && `uses: ${item.uses.join(', ')}`].filter(Boolean).join(' · ') }));
}

async function describeSample(sample) {
  try {
    const job = await api('/describe', { method: 'POST', body: { ids: [sample.id] } });
    const card = jobCard(`job-${job.id}`, `Describe ${sample.name}`);
    card.dataset.status = 'queued';
    updateJob(job, 'http');
    watchJob(job.id);
  } catch (error) { failed(error); }
}

/** A describe job ended: keep what it said, and show it if its sample is open. */
async function describeFinished(job) {
  if (job.status === 'failed') { banner(`Describe failed: ${forPerson(job.error)}`); return; }
  const result = job.result || {};
  for (const item of result.results || []) state.descriptions.set(item.id, item);
  for (const failure of result.failures || []) banner(`Describe failed for ${failure.path.split('/').pop()}: ${forPerson(failure.error)}`);
  const current = state.current;
  if (current && (result.results || []).some((item) => item.id === current.id)) {
    applyUpdate(await api(`/samples/${current.id}`));
  }
}

async function changeTag(sample, tag, remove) {
  try {
    await api('/tags', { method: 'POST', body: { ids: [sample.id], tags: [tag], remove } });
    applyUpdate(await api(`/samples/${sample.id}`));
    loadFacets();
    const input = document.querySelector('#tag-input');
    if (input && !remove) input.focus();
  } catch (error) { failed(error); }
}

function renderSimilarSection() {
  const sliders = ASPECTS.map((aspect) => {
    const value = String(state.aspects[aspect]);
    const input = element('input', {
      type: 'range', min: '0', max: '3', step: '0.5', value, id: `aspect-${aspect}`, 'data-aspect': aspect,
      'aria-label': `Weight of ${aspect}`,
    });
    const out = element('output', { for: `aspect-${aspect}`, text: value });
    input.addEventListener('input', () => {
      out.textContent = input.value;
      state.aspects[aspect] = Number(input.value); // kept for the next search and the next sample
      clearTimeout(state.similarTimer);
      if (state.list && state.list.kind === 'similar') {
        const anchor = state.list.anchor.id;
        state.similarTimer = setTimeout(() => showSimilar(anchor, { push: false, keepActive: true }), 250);
      }
    });
    return element('label', { class: 'aspect', for: `aspect-${aspect}` }, element('span', { text: aspect }), input, out);
  });
  return element('section', { class: 'similar', 'aria-labelledby': 'similar-title' },
    element('div', { class: 'row spread' }, element('h3', { id: 'similar-title', text: 'Similar sounds' }),
      element('button', {
        type: 'button', id: 'similar-button', title: 'List the sounds most like this one; the arrow keys audition them',
        text: 'Find similar (s)', onclick: loadSimilar,
      })),
    element('div', { class: 'aspects' }, ...sliders));
}

/** s, or the button: the open sample's similar sounds into the main list. */
function loadSimilar() {
  if (!state.current) return;
  showSimilar(state.current.id, { push: true });
}

const SKIP_FIELDS = new Set(['schema_version']);

function renderAllFields(sample) {
  const list = element('dl', { class: 'fields' });
  for (const [name, value] of Object.entries(sample)) {
    if (SKIP_FIELDS.has(name) || name.endsWith('_confidence') || name.endsWith('_source')) continue;
    if (['score', 'distance', 'aspect_distances'].includes(name)) continue;
    let shown = fmt(value, 4);
    if (name === 'size') shown = `${bytes(value)} (${value} bytes)`;
    if (name === 'duration') shown = `${duration(value)}`;
    const confidence = sample[`${name}_confidence`];
    const source = sample[`${name}_source`];
    list.append(element('dt', { text: name }), element('dd', { 'data-field': name },
      element('span', { text: shown === '' ? '—' : shown }),
      confidence !== undefined ? confidenceMeter(confidence) : null, sourceBadge(source)));
  }
  return element('details', { class: 'all-fields' }, element('summary', { text: 'Every field' }), list);
}

// -- views: map, duplicates ----------------------------------------------------------------------

function showView(name, { focus = false } = {}) {
  // A selection belongs to the view it was made in: leaving that view clears it, so Export
  // never takes something no longer on screen.
  const from = { table: 'browse', map: 'map' }[state.selectionFrom];
  if (name !== state.view && state.selection.size && from !== name) clearSelection();
  state.view = name;
  for (const view of ['browse', 'map', 'dupes', 'review']) {
    const tab = $(`#tab-${view}`);
    const selected = view === name;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#view-${view}`).hidden = !selected;
  }
  if (focus) $(`#tab-${name}`).focus();
  if (name === 'map') loadMap(); // loads only what changed (the query, the library)
  if (name === 'dupes' && !state.dupesLoaded) loadDupes();
  if (name === 'browse') table.schedule();
  if (name === 'map' && soundMap) soundMap.draw();
  if (name === 'review') review.show(); else review.hide(); // review.js owns that view
}

// The map itself (loading by level of detail, legend, hover, selection) lives in map.js.
function loadMap() {
  const force = !state.mapLoaded;
  state.mapLoaded = true;
  soundMap.show(state.query, { force }).catch(failed);
}

function setupMap() {
  soundMap = new SoundMap({ canvas: $('#map'), tip: $('#map-tip'), legend: $('#map-legend'), status: $('#map-status') }, {
    onPlay(sample) { player.play(sample).catch(() => null); },
    onOpen(sample) { openSample(sample, { play: true }); },
    onSelect(ids) {
      table.clearSelection();
      state.selectionFrom = 'map';
      state.selection = new Set(ids);
      renderSelectionBars();
    },
    onError: failed,
  });
}

async function loadDupes() {
  state.dupesLoaded = true;
  const box = $('#dupes');
  $('#dupes-status').textContent = 'Looking for duplicates…';
  try {
    const answer = await api('/dupes');
    const groups = answer.groups;
    const layerSets = answer.layers || [];
    const redundant = groups.reduce((sum, group) => sum + group.others.length, 0);
    const layered = layerSets.length ? ` ${layerSets.length} set(s) of velocity layers or round robins are parts of a kit, not duplicates: kept as they are.` : '';
    $('#dupes-status').textContent = groups.length || layerSets.length
      ? `${groups.length} group(s), ${redundant} redundant file(s). The keeper is the copy to keep: lossless over lossy, then the higher rate and depth, then the shortest path.${layered}`
      : 'No duplicates found.';
    const lufs = (sample) => (typeof sample.loudness_lufs === 'number' ? `${sample.loudness_lufs.toFixed(1)} LUFS` : '');
    const row = (sample, role) => element('li', { class: role === 'keep' ? 'keeper' : role === 'layer' ? 'layer' : 'other' },
      element('button', { type: 'button', class: 'play small', 'aria-label': `Play ${sample.name}`, text: '▶', onclick: () => openSample(sample, { play: true }) }),
      element('span', { class: `badge ${role}`, text: { keep: 'keep', dupe: 'duplicate', layer: 'layer' }[role] }),
      element('button', { type: 'button', class: 'link name', text: sample.name, 'data-drag-id': String(sample.id), draggable: 'true', onclick: () => openSample(sample) }),
      // The end of a path (kit folder and file) tells files apart: cut from the left (app.css).
      element('span', { class: 'muted path', title: sample.path }, element('bdo', { dir: 'ltr', text: sample.path })),
      element('span', { class: 'muted loudness', text: lufs(sample) }),
      element('span', { class: 'muted', text: [sample.format, sample.sample_rate && `${sample.sample_rate} Hz`, sample.bit_depth && `${sample.bit_depth}-bit`].filter(Boolean).join(' · ') }));
    // "List them": the group into the main list, where the arrow keys walk it (showGroup).
    const listButton = (from, samples) => element('button', {
      type: 'button', class: 'list-them small', text: 'List them', title: 'Show these sounds in the main list, in this order',
      onclick: () => { showView('browse'); $('#grid').focus(); showGroup(from, samples.map((sample) => sample.id)); },
    });
    box.replaceChildren(...groups.map((group, number) => element('article', { class: 'group', 'aria-label': `Group ${number + 1}` },
      element('h3', {}, `Group ${number + 1} · ${group.kind}`, element('span', { class: 'muted', text: ` — ${group.reason}${group.distance ? ` · distance ${group.distance.toFixed(3)}` : ''}` }),
        listButton('dupes', [group.keeper, ...group.others])),
      element('ul', {}, row(group.keeper, 'keep'), ...group.others.map((other) => row(other, 'dupe'))))),
    ...layerSets.map((found, number) => element('article', { class: 'group layers', 'aria-label': `Layers ${number + 1}` },
      element('h3', {}, `Layers · ${found.instrument || found.layers[0].name}`, element('span', { class: 'muted', text: ` — ${found.reason}` }),
        listButton('layers', found.layers)),
      element('ul', {}, ...found.layers.map((layer) => row(layer, 'layer'))))));
  } catch (error) {
    state.dupesLoaded = false;
    failed(error);
  }
}

// -- jobs: uploads and scans, live over the WebSocket -------------------------------------------

function jobCard(key, title) {
  let card = document.querySelector(`.job[data-key="${key}"]`);
  if (!card) {
    card = element('div', { class: 'job', 'data-key': key, 'data-status': 'sending' },
      element('div', { class: 'row spread' }, element('strong', { class: 'job-title', text: title }),
        element('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', text: '×', onclick: () => card.remove() })),
      element('progress', { max: '1', value: '0', 'aria-label': `${title} progress` }),
      element('div', { class: 'job-text muted', text: '' }));
    $('#jobs').append(card);
  }
  return card;
}

const JOB_RANK = { sending: 0, queued: 1, running: 2, done: 3, failed: 3, cancelled: 3 };

function updateJob(job, via) {
  const key = `job-${job.id}`;
  let card = document.querySelector(`.job[data-key="${key}"]`);
  if (!card) card = jobCard(key, { upload: 'Upload', describe: 'Describe' }[job.kind] || 'Scan');
  // Answers can cross: a POST's "queued" may arrive after the WebSocket said "running".
  const before = JOB_RANK[card.dataset.status] ?? 0;
  const now = JOB_RANK[job.status] ?? 0;
  const done = (job.progress && job.progress.done) || 0;
  if (now < before || (now === before && now === 2 && done < Number(card.dataset.done || 0))) return;
  card.dataset.done = String(done);
  card.dataset.status = job.status;
  card.dataset.via = via;
  card.dataset.updates = String(Number(card.dataset.updates || 0) + 1);
  const progress = job.progress || {};
  const bar = card.querySelector('progress');
  if (progress.total) { bar.max = progress.total; bar.value = progress.done || 0; } else if (job.status === 'done') { bar.max = 1; bar.value = 1; } else bar.removeAttribute('value');
  let text = `${job.status}`;
  if (job.status === 'running' || job.status === 'queued') {
    text = `${progress.phase || job.status}${progress.total ? ` ${progress.done}/${progress.total}` : ''}`;
    if (progress.path) text += ` · ${progress.path.split('/').pop()}`;
  } else if (job.status === 'done' && job.result && job.kind === 'describe') {
    const result = job.result;
    text = `done · ${result.described + result.cached + result.kept} described${result.failed ? `, ${result.failed} failed` : ''}`;
  } else if (job.status === 'done' && job.result) {
    const report = job.result.report || job.result;
    text = `done · ${report.added ?? 0} added, ${report.updated ?? 0} updated${report.failed ? `, ${report.failed} failed` : ''}`;
  } else if (job.status === 'failed') {
    text = `failed: ${forPerson(job.error)}`;
  }
  card.querySelector('.job-text').textContent = text;
  if (job.status === 'done') setTimeout(() => card.remove(), 15000);
  if (['done', 'failed', 'cancelled'].includes(job.status)) {
    const finishing = state.jobs.has(job.id) || via === 'http';
    state.jobs.delete(job.id);
    if (job.kind === 'describe' && finishing) describeFinished(job).catch(failed);
    libraryChanged();
  } else {
    state.jobs.set(job.id, job);
  }
}

async function uploadFiles(files) {
  if (!canEdit()) {
    banner(`Uploading needs the editor role; you are ${session.role}.`);
    return;
  }
  const list = [...files];
  if (!list.length) return;
  const key = `upload-${Date.now()}`;
  const card = jobCard(key, `Upload ${list.length} file${list.length > 1 ? 's' : ''}`);
  const bar = card.querySelector('progress');
  const text = card.querySelector('.job-text');
  try {
    const job = await upload(list, (sent, total) => {
      bar.max = total; bar.value = sent;
      card.dataset.uploaded = String(sent);
      text.textContent = `sending ${bytes(sent)} of ${bytes(total)}`;
    });
    const early = document.querySelector(`.job[data-key="job-${job.id}"]`);
    if (early) { // the WebSocket told us about the job before the POST answered
      early.dataset.uploaded = card.dataset.uploaded || '0';
      early.querySelector('.job-title').textContent = card.querySelector('.job-title').textContent;
      card.remove();
    } else {
      card.dataset.key = `job-${job.id}`;
    }
    updateJob(job, 'http');
    watchJob(job.id);
  } catch (error) {
    card.dataset.status = 'failed';
    text.textContent = `failed: ${error.message}`;
    failed(error);
  }
}

/** Follow a job by polling too when the WebSocket is down. */
async function watchJob(id) {
  for (let i = 0; i < 3600; i += 1) {
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
    if (!state.jobs.has(id)) return;
    if (state.ws && state.ws.readyState === WebSocket.OPEN) continue;
    try { updateJob(await api(`/jobs/${id}`), 'http'); } catch { return; }
  }
}

async function startScan(path) {
  try {
    const job = await api('/scans', { method: 'POST', body: { paths: [path] } });
    updateJob(job, 'http');
    watchJob(job.id);
    return null;
  } catch (error) {
    return error.message;
  }
}

function setupUploads() {
  // Files dropped on the page are always caught: left to the browser, a drop opens the file
  // in place of the app. Only an editor's drop uploads; anyone else is told why not.
  const drop = $('#drop');
  let depth = 0;
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (event) => { if (hasFiles(event) && canEdit()) { depth += 1; drop.hidden = false; } });
  window.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) drop.hidden = true; });
  window.addEventListener('dragover', (event) => { if (hasFiles(event)) event.preventDefault(); });
  window.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    drop.hidden = true;
    uploadFiles(event.dataTransfer.files);
  });
  if (!canEdit()) return;
  const input = $('#upload-input');
  $('#upload-button').addEventListener('click', () => input.click());
  input.addEventListener('change', () => { uploadFiles(input.files); input.value = ''; });
  const dialog = $('#scan-dialog');
  $('#scan-button').addEventListener('click', () => {
    $('#scan-error').textContent = '';
    if (!$('#scan-path').value && state.stats && state.stats.roots) $('#scan-path').value = state.stats.roots[0] || '';
    dialog.showModal();
  });
  $('#scan-form').addEventListener('submit', async (event) => {
    if (event.submitter && event.submitter.value === 'cancel') return;
    event.preventDefault();
    const message = await startScan($('#scan-path').value.trim());
    if (message) $('#scan-error').textContent = message; else dialog.close();
  });
}

// -- live events ----------------------------------------------------------------------------------

function connectEvents() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
  state.ws = ws;
  ws.addEventListener('open', () => { state.wsDelay = 1000; });
  ws.addEventListener('message', (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    const { type, data } = message;
    if (type === 'hello') {
      state.generation = data.generation;
      for (const job of data.jobs || []) updateJob(job, 'ws');
    } else if (type === 'job') {
      updateJob(data, 'ws');
    } else if (type === 'samples.updated') {
      if (soundMap) soundMap.forget(data.ids || []);
      refreshLoaded(data.ids || []);
      libraryChanged({ reload: false });
    } else if (type === 'samples.added' || type === 'samples.removed') {
      libraryChanged();
    }
  });
  ws.addEventListener('close', async () => {
    if (state.ws !== ws) return;
    state.ws = null;
    const delay = state.wsDelay;
    state.wsDelay = Math.min(15000, delay * 2);
    setTimeout(async () => {
      if (!session.openAccess && !(await whoAmI())) { onUnauthorized.fire(); return; }
      connectEvents();
    }, delay);
  });
}

/** The catalog changed: refresh the facets and (soon) the list, the map and the duplicates. */
function libraryChanged({ reload = true } = {}) {
  clearTimeout(state.changeTimer);
  state.changeTimer = setTimeout(() => {
    loadFacets();
    state.dupesLoaded = false;
    state.mapLoaded = false;
    if (state.view === 'dupes') loadDupes();
    if (state.view === 'map') loadMap();
    if (!reload) return;
    if (table.viewport.scrollTop < table.rowHeight * 3) reloadList();
    else banner('The library changed.', { kind: 'info', action: { label: 'Reload the list', run: reloadList } });
  }, 400);
}

// -- the transport: click plays, loops loop, volume, project tempo and key -----------------------

function setupTransport() {
  const settings = state.settings;
  // Below 900 px the details' bottom sheet stands on the transport (app.css): keep its height.
  const transport = $('#transport');
  const measure = () => document.documentElement.style.setProperty('--transport-height', `${transport.offsetHeight}px`);
  new ResizeObserver(measure).observe(transport);
  measure();
  const save = () => {
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch { /* private mode: not kept */ }
    player.apply();
    showPreview();
  };
  const autoplay = $('#autoplay');
  autoplay.checked = settings.clickPlays;
  autoplay.addEventListener('change', () => { settings.clickPlays = autoplay.checked; save(); });
  const loop = $('#loop-toggle');
  loop.checked = settings.loop;
  loop.addEventListener('change', () => { settings.loop = loop.checked; save(); });
  const volume = $('#volume');
  volume.value = String(settings.volume);
  volume.addEventListener('input', () => { settings.volume = Number(volume.value); save(); });
  const tempo = $('#tempo');
  tempo.value = settings.tempo ? String(settings.tempo) : '';
  const tempoChanged = () => {
    const value = Number(tempo.value);
    settings.tempo = tempo.value.trim() && value >= 20 && value <= 400 ? value : null;
    save();
  };
  tempo.addEventListener('input', tempoChanged);
  tempo.addEventListener('change', tempoChanged);
  const key = $('#project-key');
  key.append(element('option', { value: '', text: 'Key: as recorded' }));
  for (const root of ROOTS) key.append(element('option', { value: root, text: `Key: ${root}` }));
  key.value = settings.key || '';
  key.addEventListener('change', () => { settings.key = key.value; save(); });
}

// -- keyboard -----------------------------------------------------------------------------------

function typing(target) {
  return target.closest && target.closest('input, textarea, select, [contenteditable="true"]');
}

function onKey(event) {
  if (document.querySelector('dialog[open]') || !$('#login').hidden) return;
  const key = event.key;
  if (typing(event.target)) {
    if (key === 'Escape' && event.target.id === 'q') { event.target.blur(); $('#grid').focus(); }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (state.view === 'review' && /^([1-9]|Enter|[spu ])$/.test(key)) return; // review.js's keys
  const onButton = event.target.closest && event.target.closest('button, a, summary, [role="tab"]');
  const inBrowse = state.view === 'browse';
  switch (key) {
    case '/': event.preventDefault(); $('#q').focus(); $('#q').select(); return;
    case '?': $('#help').showModal(); return;
    case ' ':
      if (onButton) return;
      event.preventDefault(); togglePlay(); return;
    case 'ArrowDown': case 'ArrowUp': case 'PageDown': case 'PageUp': case 'Home': case 'End': {
      if (!inBrowse || (onButton && event.target.getAttribute('role') === 'tab')) return;
      event.preventDefault();
      const page = table.pageRows();
      const last = table.rows.length - 1;
      const step = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page }[key];
      let index = table.active < 0 ? 0 : table.active + (step || 0);
      if (key === 'Home') index = 0;
      if (key === 'End') index = last;
      index = Math.max(0, Math.min(last, index));
      if (document.activeElement !== $('#grid')) $('#grid').focus({ preventScroll: true });
      table.moveTo(index, 'key', { extend: event.shiftKey });
      return;
    }
    case 'ArrowLeft': case 'ArrowRight':
      if (onButton || !state.current) return;
      event.preventDefault();
      player.seek(Math.min(1, Math.max(0, player.fraction + (key === 'ArrowLeft' ? -0.1 : 0.1))));
      return;
    case 'Enter':
      if (event.target.id === 'grid' && state.current) { event.preventDefault(); playCurrent(0); }
      return;
    case 's': event.preventDefault(); loadSimilar(); return;
    case 'f': if (state.current) { event.preventDefault(); toggleFavourite(state.current); } return;
    case 'a':
      $('#autoplay').checked = !$('#autoplay').checked;
      $('#autoplay').dispatchEvent(new Event('change'));
      banner(`Click plays: ${$('#autoplay').checked ? 'on' : 'off'}`, { kind: 'info' });
      return;
    case '1': showView('browse'); return;
    case '2': showView('map'); return;
    case '3': showView('dupes'); return;
    case 'Escape': clearSelection(); return;
    default:
  }
}

function setupTabs() {
  const tabs = ['browse', 'map', 'dupes', 'review'];
  for (const name of tabs) {
    const tab = $(`#tab-${name}`);
    tab.addEventListener('click', () => showView(name));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      event.preventDefault();
      event.stopPropagation();
      const next = tabs[(tabs.indexOf(name) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      showView(next, { focus: true });
    });
  }
}

// -- accounts ------------------------------------------------------------------------------------

function showLogin(reason) {
  const box = $('#login');
  $('#login-why').textContent = reason;
  $('#login-error').textContent = '';
  box.classList.toggle('overlay', state.started);
  box.hidden = false;
  $('#login-password').value = '';
  (session.user && state.started ? $('#login-password') : $('#login-name')).focus();
}

function setupLogin() {
  $('#login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = $('#login-name').value.trim();
    const password = $('#login-password').value;
    const previousRole = state.role;
    $('#login-error').textContent = '';
    try {
      await login(name, password);
    } catch (error) {
      $('#login-error').textContent = error.status === 401 ? 'Wrong name or password.' : error.message;
      $('#login-password').select();
      return;
    }
    $('#login').hidden = true;
    if (!state.started) { await loadSchema(); start(); return; }
    if (previousRole !== session.role) { location.reload(); return; }
    showWho();
    reloadList();
    if (!state.ws) connectEvents();
  });
  onUnauthorized(() => {
    if (!state.started) return;
    showLogin('Your session has expired or was ended (logged out elsewhere, or the password changed). '
      + 'Log in again to carry on: this page keeps your place.');
  });
  onUnauthorized.fire = () => showLogin('Your session has expired. Log in again to carry on.');
}

function showWho() {
  const who = $('#who');
  const logoutButton = $('#logout-button');
  if (session.openAccess) {
    who.textContent = 'no accounts: local admin';
    logoutButton.hidden = true;
  } else {
    who.replaceChildren(element('span', { text: session.user }), element('span', { class: `role role-${session.role}`, text: session.role }));
    logoutButton.hidden = false;
  }
}

function applyRole() {
  state.role = session.role;
  document.body.dataset.role = session.role;
  if (!canEdit()) for (const node of document.querySelectorAll('.edit-only')) node.remove();
  showWho();
}

// -- start ---------------------------------------------------------------------------------------

function start() {
  state.started = true;
  applyRole();
  $('#app').hidden = false;
  player = new Player($('#player'), state.settings);
  table = new VirtualTable($('#grid'), COLUMNS, {
    onActivate(index, row, how) {
      // the row's own play button plays (or stops) it; a click plays when the setting says so
      if (how === 'play' && player.playing && player.sample && player.sample.id === row.id) { player.stop(); return; }
      openSample(row, { play: how === 'key' || how === 'play' || state.settings.clickPlays });
    },
    onOpen(index, row) { openSample(row, { play: true }); },
    onNeedRows: loadMore,
    onSort,
    onSelectionChange(ids) {
      if (!ids.size && state.selectionFrom !== 'table') return;
      state.selectionFrom = 'table';
      state.selection = new Set(ids);
      if (soundMap && ids.size) soundMap.clearSelection();
      renderSelectionBars();
    },
  });
  setupFacets();
  setupTransport();
  review = new ReviewView($('#view-review'), { canEdit: canEdit(), query: () => state.query });
  setupTabs();
  setupMap();
  setupUploads();
  const audio = $('#player');
  let frame = 0;
  const tick = () => {
    frame = 0;
    if (wave && player.sample && state.current && player.sample.id === state.current.id) {
      wave.setProgress(player.fraction);
      const canvas = document.querySelector('#wave');
      if (canvas) canvas.setAttribute('aria-valuenow', String(Math.round(player.fraction * 100)));
      const time = document.querySelector('#play-time');
      if (time) time.textContent = `${duration(audio.currentTime)} / ${duration(state.current.duration)}`;
    }
    if (player.playing) frame = requestAnimationFrame(tick);
  };
  const playingChanged = () => {
    const button = document.querySelector('#play-button');
    const mine = player.sample && state.current && player.sample.id === state.current.id;
    if (button) button.textContent = player.playing && mine ? '■' : '▶';
    if (!frame) frame = requestAnimationFrame(tick);
  };
  for (const name of ['play', 'pause', 'ended', 'seeked', 'timeupdate']) audio.addEventListener(name, playingChanged);
  audio.addEventListener('error', () => {
    if (player.sample && audio.error) banner(`Cannot play ${player.sample.name} in this browser (${audio.error.message || `code ${audio.error.code}`}).`);
  });
  $('#query-form').addEventListener('submit', (event) => { event.preventDefault(); runQuery($('#q').value); });
  $('#ask-button').addEventListener('click', () => askWords($('#q').value));
  $('#export-button').addEventListener('click', exportZip);
  installDrag(document, selectedIds);
  $('#help-button').addEventListener('click', () => $('#help').showModal());
  $('#logout-button').addEventListener('click', async () => { await logout(); location.hash = ''; location.reload(); });
  document.addEventListener('keydown', onKey);
  window.addEventListener('popstate', fromAddress);
  fromAddress();
  loadFacets();
  loadFavourites().then(renderFacets);
  connectEvents();
}

/** Every filter section of the page has one shape of heading: the page gives its title,
 * `<section data-title="Key">`, and this makes the heading (<h2 id="f-key">Key</h2>) that names it. */
function titleFilterSections() {
  for (const section of document.querySelectorAll('#facets section[data-title]')) {
    const heading = element('h2', { id: `f-${section.dataset.title.toLowerCase()}`, text: section.dataset.title });
    section.setAttribute('aria-labelledby', heading.id);
    section.prepend(heading);
  }
}

async function boot() {
  titleFilterSections();
  setupLogin();
  let me;
  try {
    me = await whoAmI();
  } catch (error) {
    document.body.prepend(element('p', { class: 'error', role: 'alert', text: `samplemind: ${error.message}` }));
    return;
  }
  if (!me) { showLogin('Log in to browse the library.'); return; }
  await loadSchema();
  start();
}

/** The record's estimates and correctable fields, from the server (models.py holds the lists). */
async function loadSchema() {
  if (CORRECTABLE.length) return;
  const schema = await api('/schema');
  ESTIMATES = schema.estimated;
  CORRECTABLE = schema.correctable;
}

window.samplemind = { state, colours: CATEGORY_COLOURS, colourOf, rows: () => table.rows };
boot();
