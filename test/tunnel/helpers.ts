import http, { type IncomingMessage, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';

export const FAKE_CLOUDFLARED = join(process.cwd(), 'test/fixtures/fake-cloudflared.mjs');

/** An origin standing in for what a tunnel exposes: echoes requests (hashing bodies) and WebSocket messages. */
export async function startOrigin(): Promise<{ port: number; server: Server; seen: { method: string; url: string; headers: IncomingMessage['headers'] }[]; close(): Promise<void> }> {
  const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, bytes, sha256: hash.digest('hex'), headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.url}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A request with a chosen Host header (fetch does not let one set it). */
export function request(port: number, opts: { host: string; method?: string; path?: string; body?: Buffer | string; headers?: Record<string, string>; chunked?: boolean }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: opts.host, ...(opts.headers ?? {}) };
    if (opts.body !== undefined && !opts.chunked) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = http.request({ hostname: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) {
      if (opts.chunked && Buffer.isBuffer(opts.body)) {
        // Several writes without a length: the body goes out chunked.
        for (let i = 0; i < opts.body.length; i += 64 * 1024) req.write(opts.body.subarray(i, i + 64 * 1024));
      } else req.write(opts.body);
    }
    req.end();
  });
}

export function json(r: Reply): Record<string, unknown> {
  return JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
}

/** Opens a WebSocket through `port` with a chosen Host, returns the first message and an echo. */
export async function wsEcho(port: number, host: string, path: string, payloads: (string | Buffer)[], headers: Record<string, string> = {}): Promise<{ first: string; echoes: (string | Buffer)[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host, ...headers } });
  const messages: { data: Buffer; binary: boolean }[] = [];
  const want = payloads.length + 1;
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer, binary) => {
      messages.push({ data, binary });
      if (messages.length === 1) for (const p of payloads) ws.send(p);
      if (messages.length === want) resolve();
    });
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  ws.close();
  return { first: messages[0]!.data.toString(), echoes: messages.slice(1).map((m) => (m.binary ? m.data : m.data.toString())) };
}

/** Tries an upgrade and returns the HTTP status it was refused with (or 101). */
export function wsStatus(port: number, host: string, path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host } });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('error', (err) => reject(err));
  });
}

export { until } from '../support/flow-process.js';
