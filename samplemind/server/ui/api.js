// The API client: JSON requests to /api/v1, the CSRF header on writes, uploads with
// progress, and one place that notices when the session has ended (401).

export const session = { user: null, role: null, csrf: null, openAccess: true };

const ROLE_ORDER = ['viewer', 'editor', 'admin'];
const unauthorizedListeners = new Set();

/** Whether the logged-in role may do what `needed` may. */
export function allows(needed) {
  return ROLE_ORDER.indexOf(session.role) >= ROLE_ORDER.indexOf(needed);
}

/** Call fn(message) whenever a request answers 401. */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headersFor(method, json) {
  const headers = { Accept: 'application/json' };
  if (json) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  return headers;
}

function unauthorized(message) {
  for (const fn of unauthorizedListeners) fn(message);
}

/** A JSON request; resolves to the parsed answer, rejects with ApiError. */
export async function api(path, { method = 'GET', body, signal, quiet401 = false } = {}) {
  const json = body !== undefined;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, signal, credentials: 'same-origin',
      headers: headersFor(method, json),
      body: json ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'the server cannot be reached (is samplemind serve still running?)');
  }
  const text = await response.text();
  let data = null;
  if (text && (response.headers.get('Content-Type') || '').includes('json')) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (response.status === 401) {
    const message = (data && data.error) || 'log in first';
    if (!quiet401) unauthorized(message);
    throw new ApiError(401, message);
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`);
  }
  return data;
}

/** Encode query parameters, leaving out empty ones. */
export function params(values) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** POST files as multipart/form-data; onProgress(sentBytes, totalBytes) while sending.
 *  Resolves to the job (202). XMLHttpRequest, because fetch cannot report upload progress. */
export function upload(files, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', '/api/v1/uploads');
    request.setRequestHeader('Accept', 'application/json');
    if (session.csrf) request.setRequestHeader('X-CSRF-Token', session.csrf);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    request.onload = () => {
      let data = null;
      try { data = JSON.parse(request.responseText); } catch { data = null; }
      if (request.status === 401) {
        unauthorized((data && data.error) || 'log in first');
        reject(new ApiError(401, (data && data.error) || 'log in first'));
      } else if (request.status >= 200 && request.status < 300) {
        resolve(data);
      } else {
        reject(new ApiError(request.status, (data && data.error) || `upload failed (${request.status})`));
      }
    };
    request.onerror = () => reject(new ApiError(0, 'the upload was cut off (is the server running?)'));
    request.send(form);
  });
}

/** Who we are: {user, role, csrf_token?, open_access}, or null when not logged in. */
export async function whoAmI() {
  try {
    const me = await api('/me', { quiet401: true });
    session.user = me.user;
    session.role = me.role;
    session.csrf = me.csrf_token || null;
    session.openAccess = Boolean(me.open_access);
    return me;
  } catch (error) {
    if (error.status === 401) return null;
    if (error.status === 404) {  // a server without the account layer: everyone is admin
      Object.assign(session, { user: 'local', role: 'admin', csrf: null, openAccess: true });
      return { user: 'local', role: 'admin', open_access: true };
    }
    throw error;
  }
}

export async function login(name, password) {
  const answer = await api('/login', { method: 'POST', body: { name, password }, quiet401: true });
  Object.assign(session, { user: answer.user, role: answer.role, csrf: answer.csrf_token, openAccess: false });
  return answer;
}

export async function logout() {
  await api('/logout', { method: 'POST', body: {}, quiet401: true }).catch(() => null);
  Object.assign(session, { user: null, role: null, csrf: null });
}
