import { ApiError } from '../errors.js';

/**
 * The request target a backend behind `/app/<backend>/api` receives: the bytes that follow the
 * prefix in the target the client sent, path and query, never decoded and re-encoded. The
 * router matched on a decoded path; this works on the raw one, so `a%3Fadmin=1` stays one path
 * segment, `%2F` stays inside its segment and an encoded prefix (`/%61pp/...`) still ends
 * where the router's did.
 *
 * What cannot be forwarded as received is refused with a reason the client can act on.
 */
export function forwardedTarget(rawUrl: string, backend: string): string {
  // Node's parser already refuses most of these; the check makes the rule ours, and it is the
  // rule node:http applies to an outgoing path (plus DEL and non-ASCII, which it would mangle).
  if (/[^\x21-\x7e]/.test(rawUrl)) throw ApiError.invalid('the request target holds a space, a control character or a non-ASCII byte; percent-encode it');
  // A fragment is not part of a request target (RFC 9112 §3.2); the router stops at "#", a backend might not.
  if (rawUrl.includes('#')) throw ApiError.invalid('the request target holds a "#"; a fragment is never sent to a server, encode it as %23');

  const target = stripAbsoluteForm(rawUrl);
  if (!target.startsWith('/')) throw ApiError.invalid('the request target must be a path starting with "/"');
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q) : '';

  const rest = path.slice(prefixEnd(path, ['app', backend, 'api']));
  if (hasDotDotOrNul(rest)) throw ApiError.invalid('the path must not contain ".." segments or NUL, in any encoding');
  return `${rest || '/'}${query}`;
}

/** `http://host:port/x` → `/x`. Whether another host may be named is the guard's decision, not the proxy's. */
function stripAbsoluteForm(url: string): string {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(url);
  return m ? url.slice(m[0].length) || '/' : url;
}

/**
 * Where the prefix's segments end in the raw path. The router splits on literal "/" only (an
 * encoded %2F stays inside its segment), so the same split, with each segment decoded, finds
 * the segments it matched.
 */
function prefixEnd(path: string, segments: readonly string[]): number {
  let at = 0;
  for (const expected of segments) {
    if (path[at] !== '/') throw unmatched();
    const next = path.indexOf('/', at + 1);
    const end = next < 0 ? path.length : next;
    if (decodeOrNull(path.slice(at + 1, end)) !== expected) throw unmatched();
    at = end;
  }
  return at;
}

function unmatched(): ApiError {
  return ApiError.invalid('cannot tell where /app/<backend>/api ends in this request target');
}

function decodeOrNull(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * Whether a backend that decodes the path once could read a ".." segment or a NUL in it. Each
 * escape is read as the byte it stands for (so %2e, %2F and %5C count, and a malformed or
 * non-UTF-8 escape cannot hide one), and "\" separates segments as some servers treat it.
 */
function hasDotDotOrNul(path: string): boolean {
  const bytes = path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return bytes.includes('\0') || bytes.split(/[/\\]/).some((segment) => segment === '..');
}
