// The sound map: every sample at its 2D position (GET /api/v1/map), coloured by category.
// Hover finds the nearest point through a grid of buckets (fast at 100k points); a drag
// draws a rectangle and selects the points inside it.

import { fitCanvas } from './wave.js';

export const CATEGORY_COLOURS = {
  kick: '#ef4444', snare: '#f59e0b', hihat: '#eab308', cymbal: '#a3e635', tom: '#fb923c',
  clap: '#f472b6', perc: '#c084fc', bass: '#3b82f6', synth: '#22d3ee', pad: '#14b8a6',
  keys: '#60a5fa', guitar: '#84cc16', vocal: '#e879f9', fx: '#94a3b8', tonal: '#2dd4bf',
};
const UNKNOWN = '#9ca3af';
const BUCKETS = 64;
const HIT_RADIUS = 10; // CSS pixels
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };

export function colourOf(category) {
  return CATEGORY_COLOURS[category] || UNKNOWN;
}

export class SoundMap {
  /** handlers: onHover(point|null), onOpen(point), onSelect(points). */
  constructor(canvas, handlers) {
    this.canvas = canvas;
    this.handlers = handlers;
    this.points = [];
    this.selected = new Set();
    this.highlight = null; // id
    this.drag = null;
    this.hovered = null;
    this.buckets = [];
    canvas.addEventListener('pointerdown', (event) => this.down(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    canvas.addEventListener('pointerup', (event) => this.up(event));
    canvas.addEventListener('pointerleave', () => { if (!this.drag) this.hover(null); });
    canvas.addEventListener('keydown', (event) => this.key(event));
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setPoints(points) {
    this.points = points;
    this.buckets = Array.from({ length: BUCKETS * BUCKETS }, () => []);
    for (const point of points) this.buckets[this.bucketOf(point.x, point.y)].push(point);
    this.draw();
  }

  bucketOf(x, y) {
    const column = Math.min(BUCKETS - 1, Math.max(0, Math.floor(((x + 1) / 2) * BUCKETS)));
    const row = Math.min(BUCKETS - 1, Math.max(0, Math.floor(((y + 1) / 2) * BUCKETS)));
    return row * BUCKETS + column;
  }

  // Map coordinates (-1..1, y up) <-> CSS pixels, with a margin.
  toScreen(x, y) {
    const width = this.canvas.clientWidth; const height = this.canvas.clientHeight;
    const margin = 24;
    return [margin + ((x + 1) / 2) * (width - 2 * margin), margin + ((1 - y) / 2) * (height - 2 * margin)];
  }

  toMap(px, py) {
    const width = this.canvas.clientWidth; const height = this.canvas.clientHeight;
    const margin = 24;
    return [((px - margin) / (width - 2 * margin)) * 2 - 1, 1 - ((py - margin) / (height - 2 * margin)) * 2];
  }

  local(event) {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  /** The point nearest to a screen position, within HIT_RADIUS pixels. */
  nearest(px, py) {
    const [x0, y0] = this.toMap(px - HIT_RADIUS, py + HIT_RADIUS);
    const [x1, y1] = this.toMap(px + HIT_RADIUS, py - HIT_RADIUS);
    const first = this.bucketOf(x0, y0); const last = this.bucketOf(x1, y1);
    const c0 = first % BUCKETS; const r0 = Math.floor(first / BUCKETS);
    const c1 = last % BUCKETS; const r1 = Math.floor(last / BUCKETS);
    let best = null; let bestDistance = HIT_RADIUS * HIT_RADIUS;
    for (let row = r0; row <= r1; row += 1) {
      for (let column = c0; column <= c1; column += 1) {
        for (const point of this.buckets[row * BUCKETS + column] || []) {
          const [sx, sy] = this.toScreen(point.x, point.y);
          const distance = (sx - px) ** 2 + (sy - py) ** 2;
          if (distance <= bestDistance) { best = point; bestDistance = distance; }
        }
      }
    }
    return best;
  }

  down(event) {
    if (event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    const [px, py] = this.local(event);
    this.drag = { x0: px, y0: py, x1: px, y1: py, moved: false };
  }

  move(event) {
    const [px, py] = this.local(event);
    if (this.drag) {
      this.drag.x1 = px; this.drag.y1 = py;
      if (Math.abs(px - this.drag.x0) + Math.abs(py - this.drag.y0) > 4) this.drag.moved = true;
      this.draw();
      return;
    }
    this.hover(this.nearest(px, py), px, py);
  }

  up(event) {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    if (!drag.moved) {
      const [px, py] = this.local(event);
      const point = this.nearest(px, py);
      if (point) this.handlers.onOpen(point);
      this.draw();
      return;
    }
    const [ax, ay] = this.toMap(Math.min(drag.x0, drag.x1), Math.max(drag.y0, drag.y1));
    const [bx, by] = this.toMap(Math.max(drag.x0, drag.x1), Math.min(drag.y0, drag.y1));
    const inside = this.points.filter((p) => p.x >= ax && p.x <= bx && p.y >= ay && p.y <= by);
    this.selected = new Set(inside.map((p) => p.id));
    this.draw();
    this.handlers.onSelect(inside);
  }

  /** Keyboard: an arrow moves to the nearest sound that way (and so plays it), Enter opens. */
  key(event) {
    if (event.key === 'Enter' && this.hovered) {
      event.preventDefault();
      this.handlers.onOpen(this.hovered);
      return;
    }
    const direction = ARROWS[event.key];
    if (!direction || this.points.length === 0) return;
    event.preventDefault();
    const from = this.hovered;
    let best = null; let bestScore = Infinity;
    for (const point of this.points) {
      // From nowhere yet: start at the sound nearest the middle.
      if (!from) {
        const score = point.x ** 2 + point.y ** 2;
        if (score < bestScore) { best = point; bestScore = score; }
        continue;
      }
      const dx = point.x - from.x; const dy = point.y - from.y;
      const along = dx * direction[0] + dy * direction[1];
      if (along <= 1e-9) continue;
      const across = Math.abs(dx * direction[1] - dy * direction[0]);
      const score = along + 2 * across; // ahead, and not far to the side
      if (score < bestScore) { best = point; bestScore = score; }
    }
    if (best) {
      const [px, py] = this.toScreen(best.x, best.y);
      this.hover(best, px, py);
    }
  }

  hover(point, px, py) {
    if ((point && point.id) === (this.hovered && this.hovered.id)) return;
    this.hovered = point;
    this.draw();
    this.handlers.onHover(point, px, py);
  }

  clearSelection() {
    this.selected = new Set();
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const { ratio } = fitCanvas(canvas);
    const context = canvas.getContext('2d');
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
    const size = this.points.length > 20000 ? 2 : this.points.length > 2000 ? 3 : 6;
    const byColour = new Map();
    for (const point of this.points) {
      const colour = colourOf(point.category);
      if (!byColour.has(colour)) byColour.set(colour, []);
      byColour.get(colour).push(point);
    }
    const dim = this.selected.size > 0;
    for (const [colour, points] of byColour) {
      context.fillStyle = colour;
      context.globalAlpha = dim ? 0.35 : 0.9;
      context.beginPath();
      for (const point of points) {
        const [x, y] = this.toScreen(point.x, point.y);
        context.moveTo(x + size / 2, y);
        context.arc(x, y, size / 2, 0, Math.PI * 2);
      }
      context.fill();
    }
    context.globalAlpha = 1;
    context.strokeStyle = '#ffffff';
    context.lineWidth = 1.5;
    for (const point of this.points) {
      if (!this.selected.has(point.id) && point.id !== this.highlight) continue;
      const [x, y] = this.toScreen(point.x, point.y);
      context.fillStyle = colourOf(point.category);
      context.beginPath();
      context.arc(x, y, size / 2 + 1.5, 0, Math.PI * 2);
      context.fill();
      context.stroke();
    }
    if (this.hovered) {
      const [x, y] = this.toScreen(this.hovered.x, this.hovered.y);
      context.beginPath();
      context.arc(x, y, size / 2 + 5, 0, Math.PI * 2);
      context.stroke();
    }
    if (this.drag && this.drag.moved) {
      const { x0, y0, x1, y1 } = this.drag;
      context.fillStyle = 'rgba(76, 201, 240, 0.12)';
      context.strokeStyle = '#4cc9f0';
      context.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      context.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    }
  }
}
