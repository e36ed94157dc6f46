import type { FastifyRequest } from 'fastify';

/**
 * Browsers do not apply CORS to WebSocket upgrades, nor to "simple" requests (a bodiless POST
 * is one): any page the user visits could otherwise drive Flow on 127.0.0.1. A request that
 * says it comes from a page (it has an Origin) must come from a page served by this gateway.
 * Requests without an Origin (curl, the CLI, other programs) are not from a browser page.
 */
export function isForeignOrigin(request: FastifyRequest, allowed: readonly string[] = []): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  if (allowed.includes(origin)) return false;
  let host: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return true;
    host = url.host;
  } catch {
    // "null" (sandboxed frames, file://) and garbage.
    return true;
  }
  const ours = request.headers.host;
  return ours === undefined || host.toLowerCase() !== ours.toLowerCase();
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/** An HTTP/1.1 upgrade to WebSocket (the route handler would answer it with a 101). */
export function isWebSocketUpgrade(request: FastifyRequest): boolean {
  return (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}
