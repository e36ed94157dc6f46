import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildRelay, routeRequest } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { tempDir } from '../support/tmp.js';
import { json, request, startOrigin, wsEcho, wsStatus } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const TUNNEL = 'https://quiet-river-lamp-abc123.trycloudflare.com';

/** These tests register many names from one client on purpose; the limit has its own tests (test/security/relay.test.ts). */
const GENEROUS = { burst: 1000 };

class TestClock {
  t = Date.parse('2026-01-01T00:00:00Z');
  now() {
    return this.t;
  }
}

async function setup() {
  const t = tempDir('flow-relay-');
  cleanups.push(t.cleanup);
  const origin = await startOrigin();
  cleanups.push(() => origin.close());
  // The quick-tunnel name resolves to the origin, as the fake cloudflared arranges.
  writeFileSync(join(t.dir, new URL(TUNNEL).hostname), `http://127.0.0.1:${origin.port}\n`);
  const clock = new TestClock();
  const dbPath = join(t.dir, 'relay.db');
  let registry = new RelayRegistry(dbPath);
  let app: FastifyInstance = buildRelay({ domain: 'example.test', registry, clock, resolve: resolverFromDir(t.dir), publicScheme: 'http', registerLimit: GENEROUS });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const s = {
    dir: t.dir,
    origin,
    clock,
    get port() {
      return (app.server.address() as AddressInfo).port;
    },
    api: (method: string, path: string, body?: unknown, token?: string) =>
      request(s.port, { host: '127.0.0.1', method, path, body: body === undefined ? undefined : JSON.stringify(body), headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) } }),
    /** Stops the relay and starts a new one on the same database file. */
    async restart() {
      await app.close();
      registry.close();
      registry = new RelayRegistry(dbPath);
      app = buildRelay({ domain: 'example.test', registry, clock, resolve: resolverFromDir(t.dir), publicScheme: 'http', registerLimit: GENEROUS });
      await app.listen({ port: 0, host: '127.0.0.1' });
    },
  };
  cleanups.push(async () => {
    await app.close();
    registry.close();
  });
  return s;
}

async function registerOnline(s: Awaited<ReturnType<typeof setup>>, username = 'bruno', tier = 'premium') {
  const reg = await s.api('POST', '/api/register', { username, tier });
  expect(reg.status).toBe(201);
  const token = json(reg).token as string;
  const put = await s.api('PUT', '/api/tunnel', { tunnelUrl: TUNNEL }, token);
  expect(put.status).toBe(200);
  return token;
}

describe('relay routing', () => {
  it('maps hosts and paths to handles and tiers', () => {
    expect(routeRequest('example.test', 'bruno.example.test', '/x?y=1')).toEqual({ kind: 'handle', username: 'bruno', tier: 'premium', path: '/x?y=1', prefix: '' });
    expect(routeRequest('example.test', 'bruno.example.test:8080', '/')).toMatchObject({ username: 'bruno', tier: 'premium' });
    expect(routeRequest('example.test', 'bruno.my.example.test', '/')).toMatchObject({ username: 'bruno', tier: 'free' });
    expect(routeRequest('example.test', 'example.test', '/bruno/a/b?c')).toEqual({ kind: 'handle', username: 'bruno', tier: 'premium', path: '/a/b?c', prefix: '/bruno' });
    expect(routeRequest('example.test', 'example.test', '/bruno')).toMatchObject({ path: '/', prefix: '/bruno' });
    expect(routeRequest('example.test', 'my.example.test', '/bruno/x')).toMatchObject({ username: 'bruno', tier: 'free', path: '/x' });
    expect(routeRequest('example.test', 'example.test', '/api/register')).toEqual({ kind: 'api' });
    expect(routeRequest('example.test', '127.0.0.1:9', '/bruno')).toEqual({ kind: 'api' });
    expect(routeRequest('example.test', 'a.b.example.test', '/')).toEqual({ kind: 'api' });
    expect(routeRequest('example.test', 'example.test', '/favicon.ico')).toEqual({ kind: 'api' });
  });
});

describe('relay over real HTTP', () => {
  it('registers, takes a tunnel URL and proxies GET by subdomain and by path', async () => {
    const s = await setup();
    const reg = await s.api('POST', '/api/register', { username: 'bruno' });
    expect(reg.status).toBe(201);
    expect(json(reg)).toMatchObject({ username: 'bruno', tier: 'premium', url: 'http://bruno.example.test/', online: false });
    expect(typeof json(reg).token).toBe('string');
    const token = json(reg).token as string;
    expect((await s.api('PUT', '/api/tunnel', { tunnelUrl: TUNNEL }, token)).status).toBe(200);

    const bySub = await request(s.port, { host: 'bruno.example.test', path: '/hello?x=1' });
    expect(bySub.status).toBe(200);
    expect(json(bySub)).toMatchObject({ method: 'GET', url: '/hello?x=1', host: new URL(TUNNEL).host });
    expect((json(bySub).headers as Record<string, string>)['x-forwarded-host']).toBe('bruno.example.test');

    const byPath = await request(s.port, { host: 'example.test', path: '/bruno/deep/page?q=2' });
    expect(byPath.status).toBe(200);
    expect(json(byPath)).toMatchObject({ url: '/deep/page?q=2' });
    expect((json(byPath).headers as Record<string, string>)['x-forwarded-prefix']).toBe('/bruno');
  });

  it('streams a 1 MiB POST body through untouched (byte-identical), with and without a length', async () => {
    const s = await setup();
    await registerOnline(s);
    const body = randomBytes(1024 * 1024);
    const sha = createHash('sha256').update(body).digest('hex');
    for (const chunked of [false, true]) {
      const r = await request(s.port, { host: 'bruno.example.test', method: 'POST', path: '/upload', body, chunked, headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(200);
      expect(json(r)).toMatchObject({ method: 'POST', bytes: body.length, sha256: sha });
    }
  });

  it('proxies a WebSocket (text and binary echo) by subdomain and by path', async () => {
    const s = await setup();
    await registerOnline(s);
    const bin = randomBytes(70_000);
    const r = await wsEcho(s.port, 'bruno.example.test', '/ws?room=1', ['ping', bin]);
    expect(r.first).toBe('hello /ws?room=1');
    expect(r.echoes[0]).toBe('ping');
    expect(Buffer.compare(r.echoes[1] as Buffer, bin)).toBe(0);
    const p = await wsEcho(s.port, 'example.test', '/bruno/ws', ['pong']);
    expect(p.first).toBe('hello /ws');
    expect(p.echoes).toEqual(['pong']);
  });

  it('a handle without a heartbeat for 120 s gets a 503 page that refreshes every 15 s', async () => {
    const s = await setup();
    const token = await registerOnline(s);
    s.clock.t += 119_000;
    expect((await request(s.port, { host: 'bruno.example.test' })).status).toBe(200);
    s.clock.t += 2_000;
    const stale = await request(s.port, { host: 'bruno.example.test' });
    expect(stale.status).toBe(503);
    expect(stale.headers['retry-after']).toBe('15');
    expect(stale.headers['content-type']).toMatch(/text\/html/);
    expect(stale.body.toString()).toContain('<meta http-equiv="refresh" content="15">');
    expect(stale.body.toString()).toContain('bruno is offline');
    expect(await wsStatus(s.port, 'bruno.example.test')).toBe(503);
    // A heartbeat brings it back.
    const hb = await s.api('POST', '/api/heartbeat', { tunnelUrl: TUNNEL }, token);
    expect(hb.status).toBe(200);
    expect(json(hb)).toMatchObject({ online: true, tunnelUrl: TUNNEL });
    expect((await request(s.port, { host: 'bruno.example.test' })).status).toBe(200);
    // A disconnect takes it offline at once.
    expect((await s.api('POST', '/api/disconnect', {}, token)).status).toBe(200);
    expect((await request(s.port, { host: 'bruno.example.test' })).status).toBe(503);
  });

  it('a registered handle with no tunnel yet is offline, not an error', async () => {
    const s = await setup();
    await s.api('POST', '/api/register', { username: 'early' });
    const r = await request(s.port, { host: 'early.example.test' });
    expect(r.status).toBe(503);
    expect(r.body.toString()).toContain('has not connected yet');
  });

  it('same username on both tiers is two handles; each routes on its own host', async () => {
    const s = await setup();
    await registerOnline(s, 'bruno', 'premium');
    const reg = await s.api('POST', '/api/register', { username: 'bruno', tier: 'free' });
    expect(reg.status).toBe(201);
    expect(json(reg).url).toBe('http://bruno.my.example.test/');
    // Free handle has no tunnel yet: offline, while premium is online.
    expect((await request(s.port, { host: 'bruno.my.example.test' })).status).toBe(503);
    expect((await request(s.port, { host: 'bruno.example.test' })).status).toBe(200);
  });

  it('hostile input: clear errors, nothing overwritten', async () => {
    const s = await setup();
    const token = await registerOnline(s);

    const unknown = await request(s.port, { host: 'nobody.example.test' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.toString()).toContain('No one is registered as nobody');
    expect(await wsStatus(s.port, 'nobody.example.test')).toBe(404);

    const dup = await s.api('POST', '/api/register', { username: 'bruno', tier: 'premium' });
    expect(dup.status).toBe(409);
    expect(json(dup)).toMatchObject({ error: 'taken', message: expect.stringContaining('already taken') as unknown as string });

    for (const bad of ['bru.no', 'a/b', '../x', 'Bruno', 'x y', '', '-x']) {
      const r = await s.api('POST', '/api/register', { username: bad });
      expect(r.status, bad).toBe(400);
      expect(json(r).error).toBe('invalid');
    }
    expect(json(await s.api('POST', '/api/register', { username: 'a.b' })).message).toMatch(/no dots, slashes/);
    expect((await s.api('POST', '/api/register', { username: 'api' })).status).toBe(409);
    expect((await s.api('POST', '/api/register', { username: 'x', tier: 'gold' })).status).toBe(400);

    const wrong = await s.api('PUT', '/api/tunnel', { tunnelUrl: 'https://evil-one.trycloudflare.com' }, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(json(wrong)).toMatchObject({ error: 'unauthorized' });
    expect((await s.api('POST', '/api/heartbeat', {}, 'nope')).status).toBe(401);
    expect((await s.api('POST', '/api/disconnect', {})).status).toBe(401);
    expect((await s.api('DELETE', '/api/handle', undefined, 'nope')).status).toBe(401);

    // Pointing a handle at anything but a quick tunnel would make the relay an open proxy.
    for (const tunnelUrl of ['http://127.0.0.1:22', 'file:///etc/passwd', 'https://x.trycloudflare.com.evil.test', 'not a url', 'http://x.trycloudflare.com', 'https://x.trycloudflare.com:8443']) {
      const r = await s.api('PUT', '/api/tunnel', { tunnelUrl }, token);
      expect(r.status, tunnelUrl).toBe(400);
    }

    // After all that, the original handle is intact and still routes to its tunnel.
    const me = json(await s.api('GET', '/api/me', undefined, token));
    expect(me).toMatchObject({ username: 'bruno', tier: 'premium', tunnelUrl: TUNNEL, online: true });
    expect((await request(s.port, { host: 'bruno.example.test' })).status).toBe(200);
    expect(json(await s.api('GET', '/api/available?username=bruno'))).toEqual({ available: false, reason: 'taken' });
    expect(json(await s.api('GET', '/api/available?username=other'))).toEqual({ available: true });
  });

  it('the API never sees proxied bodies, and the relay API still parses its own JSON', async () => {
    const s = await setup();
    await registerOnline(s);
    // Malformed JSON to a handle is the handle's business: forwarded as is.
    const r = await request(s.port, { host: 'bruno.example.test', method: 'POST', path: '/api/register', body: '{not json', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    expect(json(r)).toMatchObject({ url: '/api/register', bytes: 9 });
    // The same to the relay's own API is a 400.
    const own = await request(s.port, { host: 'example.test', method: 'POST', path: '/api/register', body: '{not json', headers: { 'content-type': 'application/json' } });
    expect(own.status).toBe(400);
  });

  it('keeps every handle across a restart (SQLite), tokens still valid', async () => {
    const s = await setup();
    const token = await registerOnline(s);
    await s.restart();
    expect((await request(s.port, { host: 'bruno.example.test', path: '/after' })).status).toBe(200);
    expect((await s.api('POST', '/api/heartbeat', {}, token)).status).toBe(200);
    expect((await s.api('POST', '/api/register', { username: 'bruno' })).status).toBe(409);
  });

  it('a handle is released only by its own token, and can then be registered again', async () => {
    const s = await setup();
    const token = await registerOnline(s);
    expect((await s.api('DELETE', '/api/handle', undefined, 'wrong')).status).toBe(401);
    expect(json(await s.api('DELETE', '/api/handle', undefined, token))).toEqual({ released: true, username: 'bruno', tier: 'premium' });
    expect((await request(s.port, { host: 'bruno.example.test' })).status).toBe(404);
    expect((await s.api('POST', '/api/heartbeat', {}, token)).status).toBe(401);
    expect((await s.api('POST', '/api/register', { username: 'bruno' })).status).toBe(201);
  });

  it('answers 502 when the tunnel does not answer', async () => {
    const s = await setup();
    await registerOnline(s);
    await s.origin.close();
    const r = await request(s.port, { host: 'bruno.example.test' });
    expect(r.status).toBe(502);
    expect(r.body.toString()).toContain('did not answer');
  });
});
