// The sound map of the current query (GET /api/v1/map), at any library size: the server sends
// the points themselves when few are in view, else bins of a level of detail (each sample
// counted once: count, centroid, main category, a sample to play). The view is fitted to the
// query's samples so they fill the canvas; drag pans, the wheel zooms (finer bins load as you
// go), Shift+drag selects a region. Categories differ by colour and shape, with a legend.
// Hover plays (a bin plays its most central sample), click opens a point or zooms into a bin.
//
// Speed: a full drawing goes to an offscreen layer; while panning or zooming each frame only
// draws that layer moved and scaled (one drawImage, whatever the number of points), and the
// full drawing is redone once the view rests.

import { api, params } from './api.js';
import { fitCanvas } from './wave.js';

export const CATEGORY_COLOURS = {
  kick: '#ef4444', snare: '#f59e0b', hihat: '#eab308', cymbal: '#a3e635', tom: '#fb923c',
  clap: '#f472b6', perc: '#c084fc', bass: '#3b82f6', synth: '#22d3ee', pad: '#14b8a6',
  keys: '#60a5fa', guitar: '#84cc16', vocal: '#e879f9', fx: '#94a3b8', tonal: '#2dd4bf',
};
// Neighbours in colour get different shapes, so no two categories look alike.
const CATEGORY_SHAPES = {
  kick: 'circle', snare: 'square', hihat: 'triangle', cymbal: 'circle', tom: 'diamond',
  clap: 'circle', perc: 'square', bass: 'circle', synth: 'diamond', pad: 'circle',
  keys: 'square', guitar: 'square', vocal: 'triangle', fx: 'diamond', tonal: 'triangle',
};
const EXTRA_COLOURS = ['#f97316', '#a78bfa', '#4ade80', '#fda4af', '#fde047', '#38bdf8', '#d946ef', '#facc15'];
const SHAPES = ['circle', 'square', 'triangle', 'diamond'];
const UNKNOWN = '#9ca3af';
const HIT_RADIUS = 10; // CSS pixels
const CELL_PX = 5; // the level of detail aims at bins about this wide on screen
const MAX_LEVEL = 12;
const SETTLE_MS = 140; // after the last pan or zoom step, draw in full and load finer detail
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };

function hash(text) {
  let h = 0;
  for (const char of text) h = (h * 31 + char.charCodeAt(0)) >>> 0;
  return h;
}

export function colourOf(category) {
  if (!category || category === 'none') return UNKNOWN;
  return CATEGORY_COLOURS[category] || EXTRA_COLOURS[hash(category) % EXTRA_COLOURS.length];
}

export function shapeOf(category) {
  if (!category || category === 'none') return 'diamond';
  return CATEGORY_SHAPES[category] || SHAPES[hash(category) % SHAPES.length];
}

/** Add a shape of size s centred on (x, y) to the current path. */
function shapePath(context, shape, x, y, s) {
  const r = s / 2;
  if (shape === 'square') context.rect(x - r, y - r, s, s);
  else if (shape === 'triangle') {
    context.moveTo(x, y - r * 1.15); context.lineTo(x + r * 1.1, y + r * 0.85); context.lineTo(x - r * 1.1, y + r * 0.85);
    context.closePath();
  } else if (shape === 'diamond') {
    context.moveTo(x, y - r * 1.2); context.lineTo(x + r * 1.2, y); context.lineTo(x, y + r * 1.2); context.lineTo(x - r * 1.2, y);
    context.closePath();
  } else { context.moveTo(x + r, y); context.arc(x, y, r, 0, Math.PI * 2); }
}

function swatch(category) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', '12'); svg.setAttribute('height', '12'); svg.setAttribute('viewBox', '-6 -6 12 12');
  svg.setAttribute('aria-hidden', 'true');
  const shape = shapeOf(category);
  const node = document.createElementNS(ns, shape === 'circle' ? 'circle' : shape === 'square' ? 'rect' : 'polygon');
  if (shape === 'circle') node.setAttribute('r', '5');
  else if (shape === 'square') { node.setAttribute('x', '-4.5'); node.setAttribute('y', '-4.5'); node.setAttribute('width', '9'); node.setAttribute('height', '9'); }
  else if (shape === 'triangle') node.setAttribute('points', '0,-5.5 5.5,4.5 -5.5,4.5');
  else node.setAttribute('points', '0,-6 6,0 0,6 -6,0');
  node.setAttribute('fill', colourOf(category));
  svg.append(node);
  return svg;
}

export class SoundMap {
  /**
   * elements: { canvas, tip, legend, status }.
   * handlers: onPlay(sample) (hover audition), onOpen(sample), onSelect(ids), onError(error).
   */
  constructor({ canvas, tip, legend, status }, handlers) {
    this.canvas = canvas;
    this.tip = tip;
    this.legend = legend;
    this.status = status;
    this.handlers = handlers;
    this.query = null; // the query the data answers; null: nothing loaded
    this.data = null; // the last answer, with derived arrays
    this.view = { x0: -1, y0: -1, x1: 1, y1: 1 };
    this.layer = document.createElement('canvas');
    this.layerView = null;
    this.emphasis = null; // a category picked in the legend: the others fade
    this.selection = null; // { rect, ids }
    this.highlight = null; // an id (the open sample)
    this.hovered = null; // { kind: 'point'|'bin', index, id, x, y }
    this.drag = null;
    this.records = new Map(); // id -> record (names for tips, what the player needs)
    this.budget = undefined; // most points per answer before bins (undefined: the server's)
    this.loading = null;
    this.showing = false; // a show() is loading
    this.next = null; // the show() asked for meanwhile
    this.settleTimer = 0;
    this.hoverTimer = 0;
    this.frameQueued = false;
    canvas.style.touchAction = 'none';
    canvas.soundMap = this; // tests and benchmarks find positions through it
    canvas.addEventListener('pointerdown', (event) => this.down(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    canvas.addEventListener('pointerup', (event) => this.up(event));
    canvas.addEventListener('pointercancel', () => { this.drag = null; this.settle(); });
    canvas.addEventListener('pointerleave', () => { if (!this.drag) this.hover(null); });
    canvas.addEventListener('wheel', (event) => this.wheel(event), { passive: false });
    canvas.addEventListener('dblclick', (event) => { const [px, py] = this.local(event); this.zoomAt(px, py, 0.5); });
    canvas.addEventListener('keydown', (event) => this.key(event));
    new ResizeObserver(() => this.render()).observe(canvas);
  }

  // -- loading ---------------------------------------------------------------------------------

  /** Show the map of a query: load it (fitted to its samples) unless already shown. A call
   * while a load runs waits for it (the last one wins): a library that keeps changing must
   * not restart the load for ever. */
  async show(query, { force = false } = {}) {
    if (this.showing) {
      this.next = { query, force: force || Boolean(this.next && this.next.force) };
      return;
    }
    this.showing = true;
    try {
      await this.load(query, force);
    } finally {
      this.showing = false;
    }
    if (this.next) {
      const { query: again, force: forced } = this.next;
      this.next = null;
      await this.show(again, { force: forced });
    }
  }

  async load(query, force) {
    if (!force && this.query === query && this.data) { this.render(); return; }
    const changed = this.query !== query;
    this.query = query;
    if (changed) this.clearSelection({ quiet: true });
    this.status.textContent = 'Loading the map…';
    const overview = await this.fetch({ q: query || undefined, level: 0, points: 0 });
    if (!overview || this.query !== query) return;
    if (changed || force === 'fit' || !this.data) this.fit(overview.extent);
    this.renderLegend(overview);
    await this.refine({ force: true });
  }

  async fetch(values) {
    if (this.loading) this.loading.abort();
    const controller = new AbortController();
    this.loading = controller;
    try {
      return await api(`/map${params(values)}`, { signal: controller.signal });
    } catch (error) {
      if (error.name !== 'AbortError') this.handlers.onError(error);
      return null;
    } finally {
      if (this.loading === controller) this.loading = null;
    }
  }

  /** The level whose cells are about CELL_PX wide at this zoom. */
  levelFor(view) {
    const perUnit = Math.max(this.width() / (view.x1 - view.x0), this.height() / (view.y1 - view.y0));
    return Math.max(0, Math.min(MAX_LEVEL, Math.ceil(Math.log2(Math.max(1, (2 * perUnit) / CELL_PX)))));
  }

  /** Load the detail the view needs, unless what is loaded already covers it. */
  async refine({ force = false } = {}) {
    const view = { ...this.view };
    const level = this.levelFor(view);
    const data = this.data;
    if (!force && data) {
      const inside = view.x0 >= data.rect.x0 && view.x1 <= data.rect.x1 && view.y0 >= data.rect.y0 && view.y1 <= data.rect.y1;
      const allPoints = data.bins.count.length === 0;
      if (inside && (allPoints || data.requestedLevel === level)) return;
    }
    // Half a view more on every side: small pans need nothing new.
    const w = view.x1 - view.x0; const h = view.y1 - view.y0;
    const rect = {
      x0: Math.max(-1, view.x0 - w / 2), x1: Math.min(1, view.x1 + w / 2),
      y0: Math.max(-1, view.y0 - h / 2), y1: Math.min(1, view.y1 + h / 2),
    };
    const whole = rect.x0 <= -1 && rect.y0 <= -1 && rect.x1 >= 1 && rect.y1 >= 1;
    const query = this.query;
    const answer = await this.fetch({
      q: query || undefined, level, points: this.budget,
      ...(whole ? {} : { x0: rect.x0.toFixed(5), y0: rect.y0.toFixed(5), x1: rect.x1.toFixed(5), y1: rect.y1.toFixed(5) }),
    });
    if (!answer || this.query !== query) return;
    this.setData(answer, whole ? { x0: -1, y0: -1, x1: 1, y1: 1 } : rect, level);
  }

  setData(answer, rect, requestedLevel) {
    const bins = answer.bins;
    let most = 1;
    for (const count of bins.count) most = Math.max(most, count);
    this.data = { ...answer, rect, requestedLevel, most, index: this.indexPoints(answer.points) };
    this.hovered = null;
    this.renderLegend(answer);
    const shown = answer.points.id.length;
    this.status.textContent = `${answer.total.toLocaleString()} samples${answer.total ? '' : ' match this query'}`
      + (bins.count.length ? ` (here ${bins.count.length.toLocaleString()} groups and ${shown.toLocaleString()} single sounds; zoom in for each sound)` : '')
      + '. Hover to listen, click to open, drag to pan, wheel to zoom, Shift+drag to select.';
    this.render();
    if (!performance.getEntriesByName('samplemind:map-drawn').length && answer.total) {
      requestAnimationFrame(() => performance.mark('samplemind:map-drawn'));
    }
  }

  /** Points sorted into a grid of map cells, for hover hits without scanning them all. */
  indexPoints(points) {
    const n = points.id.length; const size = 256;
    const key = new Int32Array(n);
    const counts = new Int32Array(size * size + 1);
    for (let i = 0; i < n; i += 1) {
      const cx = Math.min(size - 1, Math.max(0, Math.floor(((points.x[i] + 1) / 2) * size)));
      const cy = Math.min(size - 1, Math.max(0, Math.floor(((points.y[i] + 1) / 2) * size)));
      key[i] = cy * size + cx;
      counts[key[i] + 1] += 1;
    }
    for (let i = 1; i < counts.length; i += 1) counts[i] += counts[i - 1];
    const order = new Int32Array(n); const fill = counts.slice();
    for (let i = 0; i < n; i += 1) { order[fill[key[i]]] = i; fill[key[i]] += 1; }
    return { size, starts: counts, order };
  }

  fit(extent) {
    const box = extent ? extent.fit : [-1, -1, 1, 1];
    let [x0, y0, x1, y1] = box;
    const minimum = 2 / 2 ** MAX_LEVEL * 16;
    if (x1 - x0 < minimum) { x0 -= minimum / 2; x1 += minimum / 2; }
    if (y1 - y0 < minimum) { y0 -= minimum / 2; y1 += minimum / 2; }
    const padX = (x1 - x0) * 0.04; const padY = (y1 - y0) * 0.04;
    this.view = { x0: x0 - padX, y0: y0 - padY, x1: x1 + padX, y1: y1 + padY };
  }

  renderLegend(answer) {
    if (!this.legend) return;
    this.legend.replaceChildren(...answer.legend.map(({ category, count }) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'legend-item';
      button.dataset.category = category;
      button.setAttribute('aria-pressed', String(this.emphasis === category));
      button.title = `Show ${category} above the rest (click again for all)`;
      const label = document.createElement('span');
      label.className = 'legend-name';
      label.textContent = category;
      const number = document.createElement('span');
      number.className = 'muted legend-count';
      number.textContent = count.toLocaleString();
      button.append(swatch(category), label, number);
      button.addEventListener('click', () => {
        this.emphasis = this.emphasis === category ? null : category;
        for (const other of this.legend.querySelectorAll('button')) {
          other.setAttribute('aria-pressed', String(other.dataset.category === this.emphasis));
        }
        this.render();
      });
      const item = document.createElement('li');
      item.dataset.category = category;
      item.append(button);
      return item;
    }));
  }

  // -- geometry --------------------------------------------------------------------------------

  width() { return Math.max(1, this.canvas.clientWidth); }

  height() { return Math.max(1, this.canvas.clientHeight); }

  toScreen(x, y, view = this.view) {
    return [((x - view.x0) / (view.x1 - view.x0)) * this.width(), ((view.y1 - y) / (view.y1 - view.y0)) * this.height()];
  }

  toMap(px, py, view = this.view) {
    return [view.x0 + (px / this.width()) * (view.x1 - view.x0), view.y1 - (py / this.height()) * (view.y1 - view.y0)];
  }

  local(event) {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  /** Where a loaded point is drawn, in CSS pixels of the canvas (null: not loaded as a point). */
  screenOf(id) {
    if (!this.data) return null;
    const at = this.data.points.id.indexOf(id);
    return at < 0 ? null : this.toScreen(this.data.points.x[at], this.data.points.y[at]);
  }

  /** The point within HIT_RADIUS pixels of a screen position, else the bin under it. */
  hit(px, py) {
    const data = this.data;
    if (!data) return null;
    const points = data.points; const { size, starts, order } = data.index;
    const [x0, y0] = this.toMap(px - HIT_RADIUS, py + HIT_RADIUS);
    const [x1, y1] = this.toMap(px + HIT_RADIUS, py - HIT_RADIUS);
    const cell = (v) => Math.min(size - 1, Math.max(0, Math.floor(((v + 1) / 2) * size)));
    let best = null; let bestDistance = HIT_RADIUS * HIT_RADIUS;
    const [c0, c1, r0, r1] = [cell(x0), cell(x1), cell(y0), cell(y1)];
    if ((c1 - c0 + 1) * (r1 - r0 + 1) <= 4096) {
      for (let row = r0; row <= r1; row += 1) {
        for (let column = c0; column <= c1; column += 1) {
          const key = row * size + column;
          for (let k = starts[key]; k < starts[key + 1]; k += 1) {
            const i = order[k];
            const [sx, sy] = this.toScreen(points.x[i], points.y[i]);
            const distance = (sx - px) ** 2 + (sy - py) ** 2;
            if (distance <= bestDistance) { best = i; bestDistance = distance; }
          }
        }
      }
    }
    if (best !== null) return { kind: 'point', index: best, id: points.id[best], x: points.x[best], y: points.y[best] };
    const bins = data.bins;
    if (!bins.count.length) return null;
    const [mx, my] = this.toMap(px, py);
    const cells = 2 ** data.level;
    const cx = Math.floor(((mx + 1) / 2) * cells); const cy = Math.floor(((my + 1) / 2) * cells);
    for (let i = 0; i < bins.count.length; i += 1) {
      if (bins.cx[i] === cx && bins.cy[i] === cy) {
        return { kind: 'bin', index: i, id: bins.id[i], x: bins.x[i], y: bins.y[i] };
      }
    }
    return null;
  }

  // -- interaction -----------------------------------------------------------------------------

  down(event) {
    if (event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    const [px, py] = this.local(event);
    this.drag = { x0: px, y0: py, x1: px, y1: py, moved: false, view: { ...this.view }, select: event.shiftKey };
  }

  move(event) {
    const [px, py] = this.local(event);
    const drag = this.drag;
    if (!drag) { this.hover(this.hit(px, py), px, py); return; }
    drag.x1 = px; drag.y1 = py;
    if (Math.abs(px - drag.x0) + Math.abs(py - drag.y0) > 4) drag.moved = true;
    if (!drag.moved) return;
    if (!drag.select) {
      const dx = ((px - drag.x0) / this.width()) * (drag.view.x1 - drag.view.x0);
      const dy = ((py - drag.y0) / this.height()) * (drag.view.y1 - drag.view.y0);
      this.view = { x0: drag.view.x0 - dx, x1: drag.view.x1 - dx, y0: drag.view.y0 + dy, y1: drag.view.y1 + dy };
      this.hover(null);
    }
    this.queueFrame();
  }

  up(event) {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    if (!drag.moved) {
      const [px, py] = this.local(event);
      const target = this.hit(px, py);
      if (target && target.kind === 'point') this.open(target.id);
      else if (target) this.zoomAt(px, py, 0.25);
      return;
    }
    if (!drag.select) { this.settle(); return; }
    const [ax, ay] = this.toMap(Math.min(drag.x0, drag.x1), Math.max(drag.y0, drag.y1));
    const [bx, by] = this.toMap(Math.max(drag.x0, drag.x1), Math.min(drag.y0, drag.y1));
    this.selectRegion({ x0: ax, y0: ay, x1: bx, y1: by });
  }

  async selectRegion(rect) {
    this.selection = { rect, ids: null };
    this.queueFrame();
    try {
      const answer = await api(`/map/ids${params({ q: this.query || undefined, x0: rect.x0.toFixed(6), y0: rect.y0.toFixed(6), x1: rect.x1.toFixed(6), y1: rect.y1.toFixed(6) })}`);
      if (!this.selection || this.selection.rect !== rect) return;
      this.selection.ids = new Set(answer.ids);
      this.render();
      this.handlers.onSelect(answer.ids);
    } catch (error) { this.handlers.onError(error); }
  }

  wheel(event) {
    event.preventDefault();
    const [px, py] = this.local(event);
    this.zoomAt(px, py, Math.exp(Math.max(-300, Math.min(300, event.deltaY)) * 0.002));
  }

  /** Zoom by a factor (< 1 zooms in) keeping the map point under (px, py) where it is. */
  zoomAt(px, py, factor) {
    const [mx, my] = this.toMap(px, py);
    const v = this.view;
    const span = Math.min(4, Math.max(2 / 2 ** MAX_LEVEL * 8, (v.x1 - v.x0) * factor));
    const f = span / (v.x1 - v.x0);
    this.view = { x0: mx - (mx - v.x0) * f, x1: mx + (v.x1 - mx) * f, y0: my - (my - v.y0) * f, y1: my + (v.y1 - my) * f };
    this.hover(null);
    this.queueFrame();
  }

  /** The view moved: draw the layer moved now, everything once it rests. */
  queueFrame() {
    if (!this.frameQueued) {
      this.frameQueued = true;
      requestAnimationFrame(() => { this.frameQueued = false; this.frame(); });
    }
    if (!this.drag || !this.drag.select) this.settle();
  }

  settle() {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      if (this.drag && !this.drag.select) { this.settle(); return; }
      this.render();
      this.refine();
    }, SETTLE_MS);
  }

  /** Keyboard: an arrow moves to the nearest sound that way (and so plays it), Enter opens,
   * + and - zoom, 0 fits the query again. */
  key(event) {
    if (event.key === 'Enter' && this.hovered) {
      event.preventDefault();
      if (this.hovered.kind === 'point') this.open(this.hovered.id);
      else { const [px, py] = this.toScreen(this.hovered.x, this.hovered.y); this.zoomAt(px, py, 0.25); }
      return;
    }
    if (event.key === '+' || event.key === '=' || event.key === '-') {
      event.preventDefault();
      this.zoomAt(this.width() / 2, this.height() / 2, event.key === '-' ? 2 : 0.5);
      return;
    }
    if (event.key === '0' && this.data) {
      event.preventDefault();
      this.fit(this.data.extent);
      this.render();
      this.refine();
      return;
    }
    const direction = ARROWS[event.key];
    if (!direction || !this.data) return;
    event.preventDefault();
    const targets = this.targets();
    const from = this.hovered;
    const middle = this.toMap(this.width() / 2, this.height() / 2);
    let best = null; let bestScore = Infinity;
    for (const target of targets) {
      if (!from) { // from nowhere yet: start at the sound nearest the middle of the view
        const score = (target.x - middle[0]) ** 2 + (target.y - middle[1]) ** 2;
        if (score < bestScore) { best = target; bestScore = score; }
        continue;
      }
      const dx = target.x - from.x; const dy = target.y - from.y;
      const along = dx * direction[0] + dy * direction[1];
      if (along <= 1e-9) continue;
      const across = Math.abs(dx * direction[1] - dy * direction[0]);
      const score = along + 2 * across; // ahead, and not far to the side
      if (score < bestScore) { best = target; bestScore = score; }
    }
    if (best) {
      const [px, py] = this.toScreen(best.x, best.y);
      this.hover(best, px, py);
    }
  }

  /** Every loaded point and bin, as hover targets. */
  targets() {
    const { points, bins } = this.data;
    const out = [];
    for (let i = 0; i < points.id.length; i += 1) out.push({ kind: 'point', index: i, id: points.id[i], x: points.x[i], y: points.y[i] });
    for (let i = 0; i < bins.count.length; i += 1) out.push({ kind: 'bin', index: i, id: bins.id[i], x: bins.x[i], y: bins.y[i] });
    return out;
  }

  async record(id) {
    if (this.records.has(id)) return this.records.get(id);
    const sample = await api(`/samples/${id}`);
    if (this.records.size > 2000) this.records.clear();
    this.records.set(id, sample);
    return sample;
  }

  /** Drop the records of sounds that changed (a tag, a correction, a teammate's edit): the next
   *  hover or click fetches the new record, not the one from before the change. */
  forget(ids) {
    for (const id of ids) this.records.delete(id);
  }

  async open(id) {
    try {
      const sample = await this.record(id);
      this.highlight = id;
      this.render();
      this.handlers.onOpen(sample);
    } catch (error) { this.handlers.onError(error); }
  }

  hover(target, px, py) {
    if ((target && `${target.kind}${target.id}`) === (this.hovered && `${this.hovered.kind}${this.hovered.id}`)) return;
    this.hovered = target;
    clearTimeout(this.hoverTimer);
    this.queueOverlay();
    if (!target) { this.tip.hidden = true; return; }
    const data = this.data;
    const category = data.categories[(target.kind === 'point' ? data.points : data.bins).category[target.index]];
    this.tip.style.left = `${px + 14}px`;
    this.tip.style.top = `${py + 10}px`;
    this.tip.hidden = false;
    if (target.kind === 'bin') {
      const count = data.bins.count[target.index];
      const share = Math.round(data.bins.share[target.index] * 100);
      this.tip.textContent = `${count.toLocaleString()} samples · ${share}% ${category} · click to zoom in`;
    } else {
      this.tip.textContent = category === 'none' ? '…' : `… · ${category}`;
    }
    this.hoverTimer = setTimeout(async () => {
      try {
        const sample = await this.record(target.id);
        if (this.hovered !== target) return;
        if (target.kind === 'point') this.tip.textContent = `${sample.name}${sample.category ? ` · ${sample.category}` : ''}`;
        this.handlers.onPlay(sample);
      } catch (error) { this.handlers.onError(error); }
    }, 120);
  }

  clearSelection({ quiet = false } = {}) {
    this.selection = null;
    if (!quiet) this.render();
  }

  // -- drawing ---------------------------------------------------------------------------------

  queueOverlay() {
    if (this.frameQueued) return;
    this.frameQueued = true;
    requestAnimationFrame(() => { this.frameQueued = false; this.frame(); });
  }

  /** Everything, at the current view, onto the layer; then a frame. */
  render() {
    if (this.canvas.clientWidth === 0) return;
    const { ratio, width, height } = fitCanvas(this.canvas);
    const layer = this.layer;
    if (layer.width !== width || layer.height !== height) { layer.width = width; layer.height = height; }
    const context = layer.getContext('2d');
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, this.width(), this.height());
    this.layerView = { ...this.view };
    if (this.data) this.paint(context);
    this.frame();
  }

  paint(context) {
    const data = this.data; const { bins, points, categories } = data;
    const view = this.view; const w = this.width(); const h = this.height();
    const faded = (index) => this.emphasis !== null && categories[index] !== this.emphasis;
    // Bins: their cell, coloured by the main category, more opaque where more samples are.
    if (bins.count.length) {
      const cells = 2 ** data.level; const cell = 2 / cells;
      const cw = (cell / (view.x1 - view.x0)) * w; const ch = (cell / (view.y1 - view.y0)) * h;
      const logMost = Math.log(data.most + 1);
      const groups = new Map();
      for (let i = 0; i < bins.count.length; i += 1) {
        const [sx, sy] = this.toScreen(-1 + bins.cx[i] * cell, -1 + (bins.cy[i] + 1) * cell);
        if (sx > w || sy > h || sx + cw < 0 || sy + ch < 0) continue;
        const shade = Math.min(4, Math.floor((Math.log(bins.count[i] + 1) / logMost) * 5));
        const key = `${bins.category[i]}|${shade}`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(sx, sy);
      }
      for (const [key, corners] of groups) {
        const [category, shade] = key.split('|').map(Number);
        context.fillStyle = colourOf(categories[category]);
        context.globalAlpha = (0.3 + 0.15 * shade) * (faded(category) ? 0.2 : 1);
        context.beginPath();
        for (let k = 0; k < corners.length; k += 2) context.rect(corners[k], corners[k + 1], Math.max(1, cw - 0.5), Math.max(1, ch - 0.5));
        context.fill();
      }
    }
    // Points: a shape per category when there is room to see it, else small squares.
    const n = points.id.length;
    const size = n > 20000 ? 2 : n > 5000 ? 3 : n > 500 ? 5 : 8;
    const byCategory = new Map();
    for (let i = 0; i < n; i += 1) {
      const [sx, sy] = this.toScreen(points.x[i], points.y[i]);
      if (sx < -size || sy < -size || sx > w + size || sy > h + size) continue;
      const c = points.category[i];
      if (!byCategory.has(c)) byCategory.set(c, []);
      byCategory.get(c).push(sx, sy);
    }
    const order = [...byCategory.keys()].sort((a, b) => Number(!faded(a)) - Number(!faded(b)));
    for (const category of order) {
      const xy = byCategory.get(category);
      const name = categories[category];
      context.fillStyle = colourOf(name);
      context.globalAlpha = faded(category) ? 0.15 : 0.9;
      context.beginPath();
      if (size < 5) for (let k = 0; k < xy.length; k += 2) context.rect(xy[k] - size / 2, xy[k + 1] - size / 2, size, size);
      else { const shape = shapeOf(name); for (let k = 0; k < xy.length; k += 2) shapePath(context, shape, xy[k], xy[k + 1], size); }
      context.fill();
    }
    context.globalAlpha = 1;
    // The selected and the open sample, ringed.
    context.strokeStyle = '#ffffff';
    context.lineWidth = 1.5;
    const selected = this.selection && this.selection.ids;
    for (let i = 0; i < n; i += 1) {
      const id = points.id[i];
      if (id !== this.highlight && !(selected && selected.has(id))) continue;
      const [sx, sy] = this.toScreen(points.x[i], points.y[i]);
      context.beginPath();
      shapePath(context, 'circle', sx, sy, size + 4);
      context.stroke();
    }
  }

  /** One frame: the layer, moved and scaled from the view it was drawn at, and the overlays. */
  frame() {
    const canvas = this.canvas;
    if (canvas.clientWidth === 0) return;
    const { ratio } = fitCanvas(canvas);
    const context = canvas.getContext('2d');
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const w = this.width(); const h = this.height();
    context.clearRect(0, 0, w, h);
    const from = this.layerView; const to = this.view;
    if (from && this.layer.width > 1) {
      const [ax, ay] = this.toScreen(from.x0, from.y1);
      const [bx, by] = this.toScreen(from.x1, from.y0);
      context.drawImage(this.layer, ax, ay, bx - ax, by - ay);
    }
    if (this.selection) {
      const { rect } = this.selection;
      const [ax, ay] = this.toScreen(rect.x0, rect.y1, to);
      const [bx, by] = this.toScreen(rect.x1, rect.y0, to);
      context.strokeStyle = '#4cc9f0'; context.lineWidth = 1; context.setLineDash([4, 3]);
      context.strokeRect(ax, ay, bx - ax, by - ay);
      context.setLineDash([]);
    }
    if (this.hovered) {
      const [x, y] = this.toScreen(this.hovered.x, this.hovered.y);
      context.strokeStyle = '#ffffff'; context.lineWidth = 1.5;
      context.beginPath();
      context.arc(x, y, 8, 0, Math.PI * 2);
      context.stroke();
    }
    const drag = this.drag;
    if (drag && drag.moved && drag.select) {
      const { x0, y0, x1, y1 } = drag;
      context.fillStyle = 'rgba(76, 201, 240, 0.12)';
      context.strokeStyle = '#4cc9f0';
      context.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      context.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    }
  }

  /** Redraw after the page changed size or the view came back (tab shown). */
  draw() { this.render(); }
}
