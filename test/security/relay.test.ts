import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildRelay, type RelayOptions } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { startF } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';
import { startOrigin } from '../tunnel/helpers.js';

/** Item 12 of issue 11: the relay handed out handles without limit and pointed them anywhere. */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const TUNNEL = 'https://quiet-river-lamp-abc123.trycloudflare.com';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with a chosen Host, from a chosen loopback source address (another client). */
function send(port: number, opts: { host: string; method?: string; path?: string; body?: unknown; token?: string; from?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: http.OutgoingHttpHeaders = { host: opts.host };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const req = http.request({ hostname: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers, agent: false, localAddress: opts.from }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
const parse = (r: Reply) => JSON.parse(r.body) as Record<string, unknown>;

async function relay(extra: Partial<RelayOptions> = {}, registryAt?: string) {
  const t = tempDir('flow-sec-relay-');
  cleanups.push(t.cleanup);
  const origin = await startOrigin();
  cleanups.push(() => origin.close());
  writeFileSync(join(t.dir, new URL(TUNNEL).hostname), `http://127.0.0.1:${origin.port}\n`);
  const clock = { t: Date.parse('2026-01-01T00:00:00Z'), now() { return this.t; } };
  const registry = new RelayRegistry(registryAt ?? join(t.dir, 'relay.db'));
  const app = buildRelay({ domain: 'example.test', registry, clock, resolve: resolverFromDir(t.dir), publicScheme: 'http', ...extra });
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    await app.close();
    registry.close();
  });
  const port = (app.server.address() as AddressInfo).port;
  const api = (method: string, path: string, body?: unknown, opts: { token?: string; from?: string } = {}) => send(port, { host: 'example.test', method, path, body, ...opts });
  return { port, clock, origin, registry, api, dir: t.dir };
}

describe('registration is limited per client', () => {
  it('given 300 registrations from one client, then it gets 429 with Retry-After past a small burst, while another client still registers; the first again once the window has passed', async () => {
    const r = await relay();
    const replies: Reply[] = [];
    for (let i = 0; i < 300; i++) replies.push(await r.api('POST', '/api/register', { username: `user${i}` }));
    const created = replies.filter((x) => x.status === 201).length;
    expect(created).toBeGreaterThan(0);
    expect(created).toBeLessThanOrEqual(10);
    const limited = replies.slice(created);
    expect(limited.every((x) => x.status === 429)).toBe(true);
    const last = limited.at(-1)!;
    expect(last.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(last.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(parse(last)).toEqual({ error: 'rate_limited', message: expect.stringMatching(/too many registrations.*try again in \d+ s/) as unknown as string });
    expect(r.registry.list()).toHaveLength(created);

    // Someone else is not held up by it.
    expect((await r.api('POST', '/api/register', { username: 'neighbour' }, { from: '127.0.0.2' })).status).toBe(201);

    r.clock.t += Number(last.headers['retry-after']) * 1000;
    expect((await r.api('POST', '/api/register', { username: 'later' })).status).toBe(201);
  });

  it('counts every attempt (taken, invalid, reserved), so the limit cannot be used to probe names for free', async () => {
    const r = await relay();
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await r.api('POST', '/api/register', { username: 'bad.name' })).status);
    expect(statuses).toContain(400);
    expect(statuses.at(-1)).toBe(429);
  });

  it('remembers a bounded number of clients', async () => {
    const { RegisterLimit } = await import('../../services/relay/register-limit.js');
    const limit = new RegisterLimit({ burst: 2, refillMs: 60_000, maxClients: 100 });
    for (let i = 0; i < 5000; i++) limit.take(`198.51.${i >> 8}.${i & 255}`, 0);
    expect(limit.trackedClients).toBeLessThanOrEqual(100);
  });
});

describe('tunnel URLs: a quick tunnel origin and nothing else, unless configured', () => {
  const refused = [
    'http://quiet-river.trycloudflare.com',
    'https://quiet-river.trycloudflare.com:8443',
    'https://quiet-river.trycloudflare.com:80',
    'https://quiet-river.trycloudflare.com:22',
    'https://user:pw@quiet-river.trycloudflare.com',
    'https://user@quiet-river.trycloudflare.com',
    'https://quiet-river.trycloudflare.com/path',
    'https://quiet-river.trycloudflare.com/?q=1',
    'https://quiet-river.trycloudflare.com/#x',
    'https://quiet-river.trycloudflare.com?',
    'https://quiet-river.trycloudflare.com/%2e%2e/',
    'https://quiet%2driver.trycloudflare.com',
    'https://evil.test\\@quiet-river.trycloudflare.com',
    'https://evil.test#@quiet-river.trycloudflare.com',
    'https://quiet-river.trycloudflare.com.',
    'https://quiet-river.trycloudflare.com.evil.test',
    'https://a.b.trycloudflare.com',
    'https://trycloudflare.com',
    'https://-x.trycloudflare.com',
    ' https://quiet-river.trycloudflare.com',
    'https://quiet-river.trycloudflare.com\n',
    'wss://quiet-river.trycloudflare.com',
    'https://127.0.0.1',
    'https://[::1]',
    `https://${'a'.repeat(300)}.trycloudflare.com`,
  ];

  it('refuses, with a message saying what is accepted, every URL that is not https://<name>.trycloudflare.com', async () => {
    const r = await relay();
    const token = parse(await r.api('POST', '/api/register', { username: 'bruno' })).token as string;
    for (const tunnelUrl of refused) {
      const put = await r.api('PUT', '/api/tunnel', { tunnelUrl }, { token });
      expect(put.status, tunnelUrl).toBe(400);
      expect(parse(put).message, tunnelUrl).toMatch(/https:\/\/<name>\.trycloudflare\.com/);
      const hb = await r.api('POST', '/api/heartbeat', { tunnelUrl }, { token });
      expect(hb.status, tunnelUrl).toBe(400);
    }
    for (const ok of [TUNNEL, `${TUNNEL}/`, 'https://QUIET-RIVER-LAMP-ABC123.trycloudflare.com', 'https://quiet-river-lamp-abc123.trycloudflare.com:443']) {
      const put = await r.api('PUT', '/api/tunnel', { tunnelUrl: ok }, { token });
      expect(put.status, ok).toBe(200);
      expect(parse(put).tunnelUrl).toBe(TUNNEL);
    }
    expect((await send(r.port, { host: 'bruno.example.test', path: '/x' })).status).toBe(200);
  });

  it('given a handle stored by an older relay that points elsewhere, then it is not forwarded to', async () => {
    const t = tempDir('flow-sec-relay-old-');
    cleanups.push(t.cleanup);
    const dbPath = join(t.dir, 'relay.db');
    const old = new RelayRegistry(dbPath);
    const target = await startOrigin();
    cleanups.push(() => target.close());
    const { token } = old.register('legacy', 'premium', Date.parse('2026-01-01T00:00:00Z'));
    old.setTunnel(token, `http://127.0.0.1:${target.port}`, Date.parse('2026-01-01T00:00:00Z'));
    old.close();

    const r = await relay({}, dbPath);
    const res = await send(r.port, { host: 'legacy.example.test', path: '/secret' });
    expect(res.status).toBe(503);
    expect(target.seen).toHaveLength(0);
  });

  it('accepts other tunnel origins only when configured (FLOW_RELAY_TUNNEL_HOSTS / f relay --tunnel-hosts), validated', async () => {
    const { parseTunnelOrigins } = await import('../../services/relay/tunnel-origin.js');
    const r = await relay({ tunnelOrigins: parseTunnelOrigins('https://*.tunnels.example.net, http://127.0.0.1:9000') });
    const token = parse(await r.api('POST', '/api/register', { username: 'bruno' })).token as string;
    expect((await r.api('PUT', '/api/tunnel', { tunnelUrl: 'https://mine.tunnels.example.net' }, { token })).status).toBe(200);
    expect((await r.api('PUT', '/api/tunnel', { tunnelUrl: 'http://127.0.0.1:9000' }, { token })).status).toBe(200);
    for (const bad of [TUNNEL, 'http://127.0.0.1:9001', 'http://mine.tunnels.example.net', 'https://a.b.tunnels.example.net', 'https://tunnels.example.net']) {
      const put = await r.api('PUT', '/api/tunnel', { tunnelUrl: bad }, { token });
      expect(put.status, bad).toBe(400);
      expect(parse(put).message).toMatch(/https:\/\/\*\.tunnels\.example\.net, http:\/\/127\.0\.0\.1:9000/);
    }
    for (const bad of ['', 'https://', '*.', 'https://*.*.example.net', 'https://a.example.net/path', 'ftp://x.example.net', 'https://x.example.net:99999', 'https://ex ample.net', '^[a-z]+\\.example\\.net$']) {
      expect(() => parseTunnelOrigins(bad), bad).toThrow(/tunnel hosts/);
    }
  });

  it('f relay refuses a malformed --tunnel-hosts or FLOW_RELAY_TUNNEL_HOSTS before it listens, and uses a valid one', async () => {
    const t = tempDir('flow-sec-relay-cli-');
    cleanups.push(t.cleanup);
    const bad = await runF(['relay', '--port', '0', '--tunnel-hosts', 'https://a.example.net/path'], { FLOW_HOME: t.dir });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--tunnel-hosts: .*not an origin/);
    const badEnv = await runF(['relay', '--port', '0'], { FLOW_HOME: t.dir, FLOW_RELAY_TUNNEL_HOSTS: 'ftp://x' });
    expect(badEnv.code).not.toBe(0);
    expect(badEnv.stderr).toMatch(/FLOW_RELAY_TUNNEL_HOSTS/);

    const running = await startF(['relay', '--port', '0', '--domain', 'example.test', '--tunnel-hosts', 'https://*.tunnels.example.net'], t.dir, {}, /relay on (\S+)/);
    cleanups.push(async () => {
      running.proc.kill('SIGTERM');
      await running.exited;
    });
    const port = Number(new URL(running.url).port);
    const token = parse(await send(port, { host: 'example.test', method: 'POST', path: '/api/register', body: { username: 'bruno' } })).token as string;
    expect((await send(port, { host: 'example.test', method: 'PUT', path: '/api/tunnel', body: { tunnelUrl: 'https://mine.tunnels.example.net' }, token })).status).toBe(200);
    expect((await send(port, { host: 'example.test', method: 'PUT', path: '/api/tunnel', body: { tunnelUrl: TUNNEL }, token })).status).toBe(400);
  });
});
