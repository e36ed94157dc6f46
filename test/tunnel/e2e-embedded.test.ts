import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { isAlive } from '../../services/host/proc.js';
import { buildRelay } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { setPassword } from '../../services/auth/password.js';
import { tempDir } from '../support/tmp.js';
import { FAKE_CLOUDFLARED, json, request, until, wsEcho } from './helpers.js';
import { freePort } from '../../services/host/ports.js';

/**
 * The whole path on loopback, with Flow wired as `f up` wires it: a backend child supervised by
 * the host, a tunnel started through the gateway's REST API, the relay in front:
 * client → relay → fake cloudflared → backend child; and, with a password set, the gateway
 * itself exposed: client → relay → fake cloudflared → gateway → /app/<backend>/api → backend.
 */
const ECHO = join(process.cwd(), 'test/fixtures/echo-server.mjs');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});


async function api<T = Record<string, unknown>>(flow: Embedded, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(flow.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A FLOW_HOME whose tunnels run the fake cloudflared, and a relay for example.test in front. */
async function world(prefix: string) {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  const resolveDir = join(t.dir, 'resolve');
  const home = join(t.dir, 'home');
  const saved = { ...process.env };
  process.env.FLOW_HOME = home;
  mkdirSync(home, { recursive: true });
  process.env.FLOW_TUNNEL_RESOLVE_DIR = resolveDir;
  process.env.FLOW_TUNNEL_COMMAND = JSON.stringify([process.execPath, FAKE_CLOUDFLARED, 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate']);
  cleanups.push(() => {
    process.env = saved;
  });
  const registry = new RelayRegistry(join(t.dir, 'relay.db'));
  const relay = buildRelay({ domain: 'example.test', registry, resolve: resolverFromDir(resolveDir), publicScheme: 'http' });
  await relay.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    await relay.close();
    registry.close();
  });
  return { dir: t.dir, home, relayPort: (relay.server.address() as AddressInfo).port };
}

describe('end to end: client → relay → tunnel → backend child, wired as f up', () => {
  it('GET, a 1 MiB POST and a WebSocket reach the backend through the relay; stop tells the relay', async () => {
    const { dir, relayPort } = await world('flow-e2e-tunnel-');

    const flow = await startEmbedded({ port: 0, log: () => {} });
    cleanups.push(() => flow.close());
    const gatewayPort = Number(new URL(flow.url).port);

    const backendPort = await freePort();
    const created = await api(flow, 'POST', '/api/backends', { name: 'echo', command: [process.execPath, ECHO], cwd: process.cwd(), port: backendPort, stopGraceMs: 1000 });
    expect(created.status).toBe(201);
    await until(async () => (await fetch(`http://127.0.0.1:${backendPort}/`).catch(() => null))?.ok, 'the backend to answer');

    // Exposing the gateway itself without a password is refused.
    const refused = await api<{ error: { code: string; message: string } }>(flow, 'POST', '/api/tunnels', { port: gatewayPort });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/without a password/);

    const started = await api<{ name: string; status: string }>(flow, 'POST', '/api/tunnels', { name: 'echo', port: backendPort, relay: { url: `http://127.0.0.1:${relayPort}`, username: 'bruno' } });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ name: 'echo', status: 'starting' });
    const up = await until(async () => {
      const v = await api<{ url: string | null; relay: { status: string; handleUrl: string | null } }>(flow, 'GET', '/api/tunnels/echo');
      return v.body.relay?.status === 'online' ? v.body : undefined;
    }, 'the relay handle to be online');
    expect(up.url).toMatch(/\.trycloudflare\.com$/);
    expect(up.relay.handleUrl).toBe('http://bruno.example.test/');
    expect(statSync(join(dir, 'home', 'relay-tokens.json')).mode & 0o777).toBe(0o600);

    const get = await request(relayPort, { host: 'bruno.example.test', path: '/hello?x=1' });
    expect(get.status).toBe(200);
    expect(json(get)).toMatchObject({ backend: 'echo', method: 'GET', url: '/hello?x=1' });
    const body = randomBytes(1024 * 1024);
    const post = await request(relayPort, { host: 'example.test', method: 'POST', path: '/bruno/upload', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(json(post)).toMatchObject({ backend: 'echo', url: '/upload', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(await wsEcho(relayPort, 'bruno.example.test', '/socket', ['one', 'two'])).toEqual({ first: 'hello /socket', echoes: ['one', 'two'] });

    const list = await api<{ tunnels: { name: string; status: string }[] }>(flow, 'GET', '/api/tunnels');
    expect(list.body.tunnels).toEqual([expect.objectContaining({ name: 'echo', status: 'connected' })]);
    const dup = await api(flow, 'POST', '/api/tunnels', { name: 'echo', port: backendPort });
    expect(dup.status).toBe(409);
    expect((await api(flow, 'GET', '/api/tunnels/nope')).status).toBe(404);
    expect((await api(flow, 'POST', '/api/tunnels', { port: 'x' })).status).toBe(400);

    const pid = (await api<{ pid: number }>(flow, 'GET', '/api/tunnels/echo')).body.pid;
    expect((await api(flow, 'POST', '/api/tunnels/echo/stop')).status).toBe(200);
    await until(async () => (await api<{ status: string }>(flow, 'GET', '/api/tunnels/echo')).body.status === 'stopped', 'stopped');
    await until(async () => (await request(relayPort, { host: 'bruno.example.test' })).status === 503, 'the relay to mark it offline');
    expect(isAlive(pid)).toBe(false);
  });

  it('with a password set, the gateway itself is exposed: client → relay → tunnel → gateway → /app/<backend>/api → backend child', async () => {
    const { home, relayPort } = await world('flow-e2e-gateway-');
    await setPassword(home, 'correct horse battery staple');

    const flow = await startEmbedded({ port: 0, log: () => {} });
    cleanups.push(() => flow.close());
    const gatewayPort = Number(new URL(flow.url).port);
    const login = await fetch(`${flow.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'correct horse battery staple' }) });
    const { token } = (await login.json()) as { token: string };
    const authed = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
      const res = await fetch(flow.url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as T };
    };

    const backendPort = await freePort();
    expect((await authed('POST', '/api/backends', { name: 'echo', command: [process.execPath, ECHO], cwd: process.cwd(), port: backendPort, stopGraceMs: 1000 })).status).toBe(201);
    await until(async () => (await fetch(`http://127.0.0.1:${backendPort}/`).catch(() => null))?.ok, 'the backend to answer');

    // Now that a password protects it, the gateway may be exposed.
    const started = await authed<{ name: string }>('POST', '/api/tunnels', { name: 'gw', port: gatewayPort, relay: { url: `http://127.0.0.1:${relayPort}`, username: 'ada' } });
    expect(started.status).toBe(201);
    await until(async () => (await authed<{ relay: { status: string } | null }>('GET', '/api/tunnels/gw')).body.relay?.status === 'online', 'the relay handle to be online');

    const bearer = { authorization: `Bearer ${token}` };
    // Without a token the request crosses the relay and the tunnel and is refused by the gateway.
    expect((await request(relayPort, { host: 'ada.example.test', path: '/app/echo/api/hello' })).status).toBe(401);
    const get = await request(relayPort, { host: 'ada.example.test', path: '/app/echo/api/hello?x=1', headers: bearer });
    expect(get.status).toBe(200);
    expect(json(get)).toMatchObject({ backend: 'echo', method: 'GET', url: '/hello?x=1' });
    const body = randomBytes(1024 * 1024);
    const post = await request(relayPort, { host: 'example.test', method: 'POST', path: '/ada/app/echo/api/upload', body, headers: { ...bearer, 'content-type': 'application/octet-stream' } });
    expect(post.status).toBe(200);
    expect(json(post)).toMatchObject({ backend: 'echo', url: '/upload', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(await wsEcho(relayPort, 'ada.example.test', '/app/echo/api/socket', ['one', 'two'], bearer)).toEqual({ first: 'hello /socket', echoes: ['one', 'two'] });
    // The gateway's own API answers through the same public name.
    const health = await request(relayPort, { host: 'ada.example.test', path: '/api/health' });
    expect(json(health)).toMatchObject({ ok: true });
  });
});
