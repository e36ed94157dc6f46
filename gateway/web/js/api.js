// Every request to Flow's API goes through here, so a 401 anywhere shows the login screen once.

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const unauthorizedListeners = new Set();

/** Called when the API answers 401 (a password is set and we have no valid session cookie). */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export function notifyUnauthorized() {
  for (const fn of unauthorizedListeners) fn();
}

/** JSON in, JSON out; the session cookie goes along by itself (same origin). */
export async function api(path, { method = 'GET', body } = {}) {
  // While the event stream is down (main.js), a change would fail or land unseen: say why instead.
  if (method !== 'GET' && document.documentElement.dataset.conn === 'down') throw new ApiFailure(0, 'unreachable', 'Flow is not reachable right now; try again once the page says it is live.');
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(0, 'unreachable', 'Flow is not reachable: is it still running? The page reconnects by itself.');
  }
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (res.status === 401) {
    notifyUnauthorized();
    throw new ApiFailure(401, 'unauthorized', data?.error?.message ?? 'log in to continue');
  }
  if (!res.ok) throw new ApiFailure(res.status, data?.error?.code ?? 'error', data?.error?.message ?? `${method} ${path} answered ${res.status}`);
  return data;
}

export const enc = encodeURIComponent;
