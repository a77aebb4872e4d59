// Drag a sound out of the page onto the desktop or into a DAW: Chromium turns the drag data
// "DownloadURL" ("mime:file name:absolute URL") into the real file where it is dropped.
// One row (a list row, a search result, a similar-sounds hit) drops its audio file; a row of
// a selection of several drops the selection as one zip (GET /api/v1/export, an id: query)
// and lists every file's URL in text/uri-list, for targets that take one file per row.

const MIME = {
  wav: 'audio/wav', wave: 'audio/wav', aif: 'audio/aiff', aiff: 'audio/aiff', flac: 'audio/flac',
  mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', m4a: 'audio/mp4',
  mp4: 'audio/mp4', aac: 'audio/aac', wv: 'audio/x-wavpack',
};
export const DRAGGABLE = '.tr[data-id], .hit[data-id], [data-drag-id]';
const MAX_QUERY = 2000; // as GET /api/v1/export?q= takes

/** The MIME type of a file name (by its extension). */
export function mimeOf(name) {
  const dot = name.lastIndexOf('.');
  return MIME[dot >= 0 ? name.slice(dot + 1).toLowerCase() : ''] || 'application/octet-stream';
}

/** A name fit for DownloadURL: its parts are split at ":", so none may be in the name. */
export function safeName(name) {
  const cleaned = String(name || '').replace(/[:\\/\u0000-\u001f"<>|*?]/g, '_').trim();
  return cleaned || 'sample';
}

/** "id:1..3,7": the selection as a query, runs of ids as ranges. */
export function idQuery(ids) {
  const sorted = [...ids].map(Number).sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < sorted.length; i += 1) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    parts.push(j > i ? `${sorted[i]}..${sorted[j]}` : String(sorted[i]));
    i = j;
  }
  return `id:${parts.join(',')}`;
}

function audioUrl(id) {
  return new URL(`/api/v1/samples/${id}/audio`, window.location.href).href;
}

function nameOf(element) {
  const label = element.dataset.dragName
    // the name's own text: the name cell also holds a star, a score or a "reference" badge
    || (element.querySelector('.name-text') || element.querySelector('.name, .hit-name') || element).textContent;
  return safeName(label.trim());
}

/** What a drag of `element` carries: {downloadUrl, uris, text}; several ids when it is one
 *  of a selection of several. */
export function dragData(element, selectedIds) {
  const id = Number(element.dataset.dragId || element.dataset.id);
  const selection = selectedIds ? [...selectedIds()] : [];
  if (selection.length > 1 && selection.includes(id)) {
    const uris = selection.map(audioUrl);
    const name = `samplemind-${selection.length}-samples`;
    const query = idQuery(selection);
    if (query.length <= MAX_QUERY) {
      const zip = new URL(`/api/v1/export?${new URLSearchParams({ q: query, name })}`, window.location.href).href;
      return { downloadUrl: `application/zip:${name}.zip:${zip}`, uris, text: uris.join('\n') };
    }
    // Too many scattered ids for one query: the dragged file itself, the others as URLs.
  }
  const name = nameOf(element);
  const url = audioUrl(id);
  return { downloadUrl: `${mimeOf(name)}:${name}:${url}`, uris: [url], text: url };
}

/** Listen for drags of sample elements under root. selectedIds(): the ids selected now. */
export function installDrag(root, selectedIds) {
  root.addEventListener('dragstart', (event) => {
    const element = event.target instanceof Element ? event.target.closest(DRAGGABLE) : null;
    if (!element || !event.dataTransfer) return;
    const data = dragData(element, selectedIds);
    event.dataTransfer.effectAllowed = 'copy';
    event.dataTransfer.setData('DownloadURL', data.downloadUrl);
    event.dataTransfer.setData('text/uri-list', data.uris.join('\r\n'));
    event.dataTransfer.setData('text/plain', data.text);
  });
}
