import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { readdirSync } from 'node:fs';
import type { CollectedRoute } from '../../gateway/openapi.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request over plain node:http with no agent (a fresh socket each time). For a streaming
 * response (SSE) it returns once the headers are in and `body` holds what came with them; the
 * socket is destroyed then, so an endless stream never holds a test up.
 */
export function raw(base: string, method: string, path: string, opts: { headers?: OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const streaming = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      const finish = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (streaming) {
        finish();
        req.destroy();
        return;
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export function jsonBody<T = { error: { code: string; message: string } }>(r: RawResponse): T {
  return JSON.parse(r.body) as T;
}

/** The routes a client can call, as registered (HEAD twins of GET routes left out). */
export function callableRoutes(table: readonly CollectedRoute[]): CollectedRoute[] {
  return table.filter((r) => !r.autoHead);
}

/** A concrete path for a route pattern: every `:param` and `*` filled with `value`. */
export function fill(url: string, value: string): string {
  return url.replace(/:[A-Za-z0-9_]+/g, value).replace(/\*$/, value);
}

/** Open file descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
