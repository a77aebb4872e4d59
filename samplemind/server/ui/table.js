// A virtualised grid: only the rows in view (plus a margin) exist in the DOM, so 100k rows
// scroll like 100. Rows arrive a page at a time; when the view nears the last loaded row,
// onNeedRows() asks for the next page.

const OVERSCAN = 8;
// An estimate whose calibrated confidence is under this is more likely wrong than right: its
// cell is greyed with a "?" and says so on hover (README: Confidence).
export const LOW_CONFIDENCE = 0.5;
const PREFETCH_SCREENS = 3; // ask for the next page this many screens before the end

export class VirtualTable {
  /**
   * root: the grid element (role=grid). columns: [{field, label, width, className, render(row)}].
   * handlers: onActivate(index, row, how) when the active row changes ("key" | "click" | "play": its play button),
   * onOpen(index, row) on Enter/double-click, onNeedRows() for the next page,
   * onSort(field) when a header is clicked, onSelectionChange(ids).
   */
  constructor(root, columns, handlers, rowHeight = 28) {
    this.root = root;
    this.columns = columns;
    this.handlers = handlers;
    this.rowHeight = rowHeight;
    this.rows = [];
    this.more = false;
    this.active = -1;
    this.selected = new Set(); // sample ids
    this.anchor = -1;
    this.sort = { field: null, descending: false };
    this.rendered = new Map(); // index -> row element
    this.frame = 0;
    this.build();
  }

  build() {
    const template = this.columns.map((c) => c.width).join(' ');
    this.root.style.setProperty('--columns', template);
    // Below 900 px wide only the columns marked narrow show (app.css hides the rest).
    const narrow = this.columns.filter((c) => c.narrow).map((c) => c.width).join(' ');
    this.root.style.setProperty('--columns-narrow', narrow || template);
    this.head = document.createElement('div');
    this.head.className = 'thead';
    this.head.setAttribute('role', 'row');
    this.head.setAttribute('aria-rowindex', '1');
    for (const column of this.columns) {
      const cell = document.createElement('div');
      cell.setAttribute('role', 'columnheader');
      cell.className = [column.className, column.narrow ? '' : 'wide-only'].filter(Boolean).join(' ');
      cell.dataset.field = column.field;
      if (column.sort) {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = column.label;
        button.title = `Sort by ${column.label.toLowerCase()} (adds sort:${column.sort} to the query)`;
        button.addEventListener('click', () => this.handlers.onSort(column.sort));
        cell.append(button);
      } else {
        cell.textContent = column.label;
      }
      this.head.append(cell);
    }
    this.viewport = document.createElement('div');
    this.viewport.className = 'viewport';
    this.viewport.setAttribute('role', 'rowgroup');
    this.spacer = document.createElement('div');
    this.spacer.className = 'spacer';
    this.viewport.append(this.spacer);
    this.root.append(this.head, this.viewport);
    this.viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
    this.viewport.addEventListener('mousedown', (event) => this.onMouse(event));
    this.viewport.addEventListener('dblclick', (event) => {
      const index = this.indexAt(event);
      if (index >= 0 && this.rows[index]) this.handlers.onOpen(index, this.rows[index]);
    });
  }

  /** Show the sort in the header (aria-sort). */
  setSort(field, descending) {
    this.sort = { field, descending };
    for (const cell of this.head.children) {
      const column = this.columns.find((c) => c.field === cell.dataset.field);
      if (column && column.sort && column.sort === field) {
        cell.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      } else {
        cell.removeAttribute('aria-sort');
      }
    }
  }

  /** Start again with the first page of a new query. */
  reset(rows, more) {
    this.rows = rows;
    this.more = more;
    this.active = -1;
    this.anchor = -1;
    this.selected.clear();
    this.handlers.onSelectionChange(this.selected);
    for (const element of this.rendered.values()) element.remove();
    this.rendered.clear();
    this.viewport.scrollTop = 0;
    this.update();
    this.render(); // now, not at the next frame: the rows and the query arrive together
  }

  /** The next page arrived. */
  append(rows, more) {
    this.rows.push(...rows);
    this.more = more;
    this.update();
  }

  /** A loaded row changed (a correction, a tag): redraw it where it is. */
  replace(sample) {
    const index = this.rows.findIndex((row) => row && row.id === sample.id);
    if (index < 0) return;
    this.rows[index] = sample;
    const element = this.rendered.get(index);
    if (element) {
      element.remove();
      this.rendered.delete(index);
    }
    this.schedule();
  }

  update() {
    const placeholders = this.more ? Math.max(20, Math.ceil(this.viewport.clientHeight / this.rowHeight)) : 0;
    this.spacer.style.height = `${(this.rows.length + placeholders) * this.rowHeight}px`;
    this.root.setAttribute('aria-rowcount', this.more ? '-1' : String(this.rows.length + 1));
    for (const [index, element] of this.rendered) { // placeholders that now have data
      if (element.classList.contains('placeholder') && this.rows[index]) {
        element.remove();
        this.rendered.delete(index);
      }
    }
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  render() {
    const height = this.viewport.clientHeight || 600;
    const top = this.viewport.scrollTop;
    const total = this.rows.length + (this.more ? Math.ceil(height / this.rowHeight) : 0);
    const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((top + height) / this.rowHeight) + OVERSCAN);
    for (const [index, element] of this.rendered) {
      if (index < first || index > last) {
        element.remove();
        this.rendered.delete(index);
      }
    }
    const fragment = document.createDocumentFragment();
    for (let index = first; index <= last; index += 1) {
      if (this.rendered.has(index)) {
        this.decorate(index, this.rendered.get(index));
        continue;
      }
      const element = this.makeRow(index);
      this.rendered.set(index, element);
      fragment.append(element);
    }
    this.viewport.append(fragment);
    const rowsLeft = this.rows.length - (top + height) / this.rowHeight;
    if (this.more && rowsLeft < PREFETCH_SCREENS * (height / this.rowHeight)) this.handlers.onNeedRows();
    this.updateActiveDescendant();
  }

  makeRow(index) {
    const row = this.rows[index];
    const element = document.createElement('div');
    element.setAttribute('role', 'row');
    element.setAttribute('aria-rowindex', String(index + 2));
    element.className = 'tr';
    element.style.transform = `translateY(${index * this.rowHeight}px)`;
    element.dataset.index = String(index);
    if (!row) {
      element.classList.add('placeholder');
      const cell = document.createElement('div');
      cell.setAttribute('role', 'gridcell');
      cell.className = 'loading';
      cell.textContent = 'Loading…';
      element.append(cell);
      return element;
    }
    element.id = `row-${row.id}`;
    element.dataset.id = String(row.id);
    element.draggable = true; // drag.js: drops the audio file (or the selection's zip)
    for (const column of this.columns) {
      const cell = document.createElement('div');
      cell.setAttribute('role', 'gridcell');
      cell.className = [column.className, column.narrow ? '' : 'wide-only'].filter(Boolean).join(' ');
      cell.dataset.field = column.field;
      const value = column.render(row);
      if (value instanceof Node) cell.append(value); else cell.textContent = value;
      markUncertain(cell, row, column.field);
      element.append(cell);
    }
    this.decorate(index, element);
    return element;
  }

  decorate(index, element) {
    const row = this.rows[index];
    if (!row) return;
    const selected = this.selected.has(row.id);
    element.classList.toggle('active', index === this.active);
    element.classList.toggle('selected', selected);
    element.setAttribute('aria-selected', String(selected || index === this.active));
  }

  indexAt(event) {
    const element = event.target.closest('.tr');
    return element ? Number(element.dataset.index) : -1;
  }

  onMouse(event) {
    if (event.button !== 0) return;
    const index = this.indexAt(event);
    if (index < 0 || !this.rows[index]) return;
    if (event.target.closest('.row-star')) return; // the star's own click handles it
    // Keep focus on the grid, not the cell text; a draggable row keeps the default, or no drag
    // could start (drag.js; no text selection starts on it either).
    if (!event.target.closest('[draggable="true"]')) event.preventDefault();
    this.root.focus({ preventScroll: true });
    if (event.shiftKey && this.anchor >= 0) this.selectRange(this.anchor, index);
    else if (event.ctrlKey || event.metaKey) this.toggle(index);
    const how = event.target.closest('.row-play') ? 'play' : 'click'; // the row's own play button
    this.moveTo(index, how, { keepSelection: event.shiftKey || event.ctrlKey || event.metaKey });
  }

  toggle(index) {
    // Like a file manager: the row you were on counts as chosen when you start picking more.
    if (!this.selected.size && this.active >= 0 && this.active !== index && this.rows[this.active]) {
      this.selected.add(this.rows[this.active].id);
    }
    const id = this.rows[index].id;
    if (this.selected.has(id)) this.selected.delete(id); else this.selected.add(id);
    this.anchor = index;
    this.handlers.onSelectionChange(this.selected);
  }

  selectRange(from, to) {
    const [low, high] = from < to ? [from, to] : [to, from];
    for (let index = low; index <= high; index += 1) if (this.rows[index]) this.selected.add(this.rows[index].id);
    this.handlers.onSelectionChange(this.selected);
  }

  clearSelection() {
    this.selected.clear();
    this.handlers.onSelectionChange(this.selected);
    this.schedule();
  }

  /** Make a row the active one (scrolling it into view). */
  moveTo(index, how, { keepSelection = false, extend = false } = {}) {
    if (index < 0 || index >= this.rows.length || !this.rows[index]) return;
    if (extend) {
      if (this.anchor < 0) this.anchor = Math.max(0, this.active);
      this.selectRange(this.anchor, index);
    } else if (!keepSelection) {
      this.anchor = index;
      if (this.selected.size) this.clearSelection();
    }
    this.active = index;
    this.scrollIntoView(index);
    for (const [i, element] of this.rendered) this.decorate(i, element);
    this.updateActiveDescendant();
    this.handlers.onActivate(index, this.rows[index], how);
  }

  scrollIntoView(index) {
    const top = index * this.rowHeight;
    const viewTop = this.viewport.scrollTop;
    const viewHeight = this.viewport.clientHeight;
    if (top < viewTop) this.viewport.scrollTop = top;
    else if (top + this.rowHeight > viewTop + viewHeight) this.viewport.scrollTop = top + this.rowHeight - viewHeight;
    this.schedule();
  }

  updateActiveDescendant() {
    const row = this.rows[this.active];
    if (row && this.rendered.has(this.active)) this.root.setAttribute('aria-activedescendant', `row-${row.id}`);
    else this.root.removeAttribute('aria-activedescendant');
  }

  pageRows() {
    return Math.max(1, Math.floor(this.viewport.clientHeight / this.rowHeight) - 1);
  }
}

/** Grey an estimate's cell with a "?" when its confidence is low, with the odds on hover. */
function markUncertain(cell, row, field) {
  const confidence = row[`${field}_confidence`];
  const value = row[field];
  if (typeof confidence !== 'number' || confidence >= LOW_CONFIDENCE || value === null
      || value === undefined || value === '') return;
  const percent = Math.round(confidence * 100);
  cell.classList.add('uncertain');
  cell.title = `Uncertain: confidence ${percent}% (answers like this are right about ${percent} times in 100)`;
}
