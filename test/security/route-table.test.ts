import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { METHODS as METHODS_NODE_PARSES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { setPassword } from '../../services/auth/password.js';
import { buildRelay } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { tempDir } from '../support/tmp.js';
import { request as hostRequest, json } from '../tunnel/helpers.js';
import { callableRoutes, fill } from '../gateway-full/helpers.js';
import { pool, upgradeHeaders, wire } from './wire.js';

/**
 * No route is reachable without a login through any spelling of its path. The gateway is wired
 * as `f up` wires it (every route: core, auth, installs, tasks, tunnels, OpenCode, dashboard),
 * with a password set, and the routes are taken from its route table, never from a list.
 * Fastify's router decodes the path (`/%61pi` is `/api`), so the guard must judge what the
 * router matched: each spelling below is what an attacker would try against a guard that
 * looks at the raw URL.
 */
const PASSWORD = 'correct horse battery staple';
const TUNNEL_HOST = 'eve-tunnel-abc123.trycloudflare.com';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

let flow: Embedded;
let port: number;
let token: string;
let relay: FastifyInstance;
let registry: RelayRegistry;
let cleanup: () => void;
const savedEnv = { ...process.env };

beforeAll(async () => {
  const t = tempDir('flow-route-table-');
  cleanup = t.cleanup;
  const home = join(t.dir, 'home');
  mkdirSync(join(home, 'claude', 'tasks'), { recursive: true });
  process.env.FLOW_HOME = home;
  process.env.FLOW_TASKS_DIR = join(home, 'claude', 'tasks');
  process.env.FLOW_PROJECTS_DIR = join(home, 'claude', 'projects');
  // The features API on, so its routes are in the route table (and documented).
  process.env.FLOW_FEATURES = '1';
  // The name the relay's tunnel gives the gateway (as a real tunnel's public name would be).
  process.env.FLOW_ALLOWED_HOSTS = TUNNEL_HOST;
  await setPassword(home, PASSWORD);
  flow = await startEmbedded({ port: 0, bind: '127.0.0.1', log: () => {} });
  port = Number(new URL(flow.url).port);
  const login = await flow.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: PASSWORD } });
  expect(login.statusCode).toBe(200);
  token = login.json<{ token: string }>().token;

  // A relay in front: eve's handle points at a quick-tunnel name that resolves to the gateway.
  const resolveDir = join(t.dir, 'resolve');
  mkdirSync(resolveDir);
  writeFileSync(join(resolveDir, TUNNEL_HOST), `http://127.0.0.1:${port}\n`);
  registry = new RelayRegistry(join(t.dir, 'relay.db'));
  relay = buildRelay({ domain: 'relay.test', registry, resolve: resolverFromDir(resolveDir), publicScheme: 'http' });
  await relay.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await relay?.close();
  registry?.close();
  await flow?.close();
  process.env = savedEnv;
  cleanup?.();
});

/** The routes a login protects, each with a concrete path (every parameter filled). */
function protectedPaths(): { url: string; path: string; methods: string[] }[] {
  const byUrl = new Map<string, Set<string>>();
  for (const r of callableRoutes(flow.app.routeTable)) {
    if (r.public) continue;
    byUrl.set(r.url, (byUrl.get(r.url) ?? new Set()).add(r.method));
  }
  return [...byUrl].map(([url, methods]) => ({ url, path: fill(url, 'x'), methods: [...methods] }));
}

const hex = (c: string, upper: boolean) => {
  const h = c.charCodeAt(0).toString(16);
  return `%${upper ? h.toUpperCase() : h}`;
};

/** Spellings of `path` that an HTTP client sends as they are (app.inject keeps them byte for byte). */
function encodedVariants(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const tail = rest.length ? `/${rest.join('/')}` : '';
  const out = new Set<string>();
  for (const upper of [false, true]) {
    for (let i = 0; i < first.length; i++) out.add(`/${first.slice(0, i)}${hex(first[i]!, upper)}${first.slice(i + 1)}${tail}`);
    out.add(`/${[...first].map((c) => hex(c, upper)).join('')}${tail}`);
  }
  if (rest.length) {
    out.add(`/${first}%2f${rest.join('/')}`);
    out.add(`/${first}%2F${rest.join('/')}`);
    // The other segments too: each one's first letter, encoded.
    rest.forEach((seg, i) => {
      if (!seg) return;
      const segs = [...rest];
      segs[i] = `${hex(seg[0]!, true)}${seg.slice(1)}`;
      out.add(`/${first}/${segs.join('/')}`);
    });
  }
  out.add(`/${first.toUpperCase()}${tail}`);
  out.add(`/${first[0]?.toUpperCase() ?? ''}${first.slice(1)}${tail}`);
  out.add(`${path}/`);
  out.add(`${path}?x=1`);
  out.add(`/${first};x${tail}`);
  out.add(`/${first}%00${tail}`);
  out.delete(path);
  return [...out];
}

/** Spellings only a raw socket sends unchanged: an HTTP client or URL parser would fold them. */
function wireVariants(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const tail = rest.length ? `/${rest.join('/')}` : '';
  return [
    path,
    `/${hex(first[0] ?? 'a', false)}${first.slice(1)}${tail}`,
    `/${path}`,
    `/${first}/${tail}`,
    `/./${first}${tail}`,
    `/x/../${first}${tail}`,
    `/%2e%2e/${first}${tail}`,
    `/${first}/.${tail}`,
    `/${first}/x/..${tail}`,
    `http://127.0.0.1:${port}${path}`,
    `http://localhost:${port}/${hex(first[0] ?? 'a', false)}${first.slice(1)}${tail}`,
    `HTTP://127.0.0.1:${port}${path}`,
  ];
}

describe('given a password is set and no token is sent', () => {
  it('knows the whole API (a guard against walking an empty table)', () => {
    const paths = protectedPaths();
    expect(paths.length).toBeGreaterThan(30);
    expect(paths.map((p) => p.url)).toEqual(expect.arrayContaining(['/api/backends', '/api/ws', '/app/:backend/api/*', '/api/docs']));
  });

  it('the router really decodes: with a token, /%61pi/backends is /api/backends (so a raw-URL guard would be skipped)', async () => {
    const res = await flow.app.inject({ method: 'GET', url: '/%61pi/backends', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toHaveProperty('backends');
  });

  it('with a token, every route of the table refuses a query parameter it does not take, naming it (400, nothing runs)', async () => {
    const wrong: string[] = [];
    // The /app proxy's query is the backend's own, passed on byte for byte.
    const routes = callableRoutes(flow.app.routeTable).filter((r) => r.zod !== undefined && !r.url.startsWith('/app/'));
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      const url = `${fill(r.url, 'x')}?zz_unknown=1`;
      const res = await flow.app.inject({ method: r.method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: r.method === 'GET' ? undefined : '{}' });
      const error = res.statusCode === 400 ? res.json<{ error: { code: string; message: string } }>().error : undefined;
      if (error?.code !== 'invalid' || !error.message.startsWith('query.zz_unknown: this route takes')) wrong.push(`${r.method} ${url}: ${res.statusCode} ${res.body.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('answers 401 for every protected route × every method × every encoded spelling of its path', async () => {
    const wrong: string[] = [];
    let tried = 0;
    for (const { path } of protectedPaths()) {
      for (const variant of [path, ...encodedVariants(path)]) {
        for (const method of METHODS) {
          tried++;
          const res = await flow.app.inject({ method: method as 'GET', url: variant, headers: { 'content-type': 'application/json' }, payload: method === 'GET' || method === 'HEAD' ? undefined : '{}' });
          if (res.statusCode !== 401) wrong.push(`${method} ${variant}: ${res.statusCode} ${res.body.slice(0, 100)}`);
          else if (method !== 'HEAD' && res.json<{ error: { code: string } }>().error.code !== 'unauthorized') wrong.push(`${method} ${variant}: body ${res.body.slice(0, 100)}`);
        }
      }
    }
    // And every other method Node parses (PROPFIND, SEARCH, ...; CONNECT never reaches a route), on the path and its first-letter spelling.
    const others = METHODS_NODE_PARSES.filter((m) => !METHODS.includes(m) && m !== 'CONNECT');
    expect(others.length).toBeGreaterThan(20);
    for (const { path } of protectedPaths()) {
      for (const variant of [path, encodedVariants(path)[0]!]) {
        for (const method of others) {
          tried++;
          const res = await flow.app.inject({ method: method as 'GET', url: variant });
          if (res.statusCode !== 401) wrong.push(`${method} ${variant}: ${res.statusCode} ${res.body.slice(0, 100)}`);
        }
      }
    }
    expect(tried).toBeGreaterThan(3000);
    expect(wrong).toEqual([]);
  }, 180_000);

  it('answers 401 over a real socket for double slashes, dot segments and absolute-form naming this gateway', async () => {
    const tasks: (() => Promise<string | null>)[] = [];
    for (const { path, methods } of protectedPaths()) {
      for (const target of wireVariants(path)) {
        for (const method of methods) {
          tasks.push(async () => {
            const res = await wire(port, [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Content-Type: application/json'], method === 'GET' || method === 'HEAD' ? '' : '{}');
            return res.status === 401 ? null : `${method} ${target}: ${res.status} ${res.body.slice(0, 100)}`;
          });
        }
      }
    }
    expect(tasks.length).toBeGreaterThan(300);
    const wrong = (await pool(6, tasks)).filter((w) => w !== null);
    expect(wrong).toEqual([]);
  }, 180_000);

  it('refuses an absolute-form target that names another host, whatever the Host header says (421, nothing runs)', async () => {
    for (const [method, path] of [
      ['POST', '/api/backends/x/stop'],
      ['POST', '/api/backends'],
      ['GET', '/api/health'],
    ] as const) {
      const res = await wire(port, [`${method} http://x${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Content-Type: application/json', `Authorization: Bearer ${token}`], method === 'POST' ? '{"name":"abs","command":["true"]}' : '');
      expect(res.status, `${method} http://x${path}`).toBe(421);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'misdirected' } });
    }
    // userinfo is not a way around it.
    const sneaky = await wire(port, [`GET http://127.0.0.1:${port}@evil.example/api/backends HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${token}`]);
    expect(sneaky.status).toBeGreaterThanOrEqual(400);
    expect(sneaky.status).toBeLessThan(500);
    const list = await flow.app.inject({ method: 'GET', url: '/api/backends', headers: { authorization: `Bearer ${token}` } });
    expect(list.json<{ backends: unknown[] }>().backends).toEqual([]);
  });

  it('refuses a WebSocket upgrade to every spelling of /api/ws before the 101', async () => {
    for (const target of ['/api/ws', '/%61pi/ws', '/a%70i/ws', '/api/%77s', '/api/ws/', `http://127.0.0.1:${port}/%61pi/ws`]) {
      const res = await wire(port, [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...upgradeHeaders()]);
      expect(res.status, target).toBe(401);
    }
  });

  it('answers 401 to a path that matches no route, so a 404 tells nothing', async () => {
    for (const url of ['/nothing-here', '/api/nothing', '/%61pi/nothing', '/app']) {
      const res = await flow.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
  });

  it('still serves the public routes: health, login, auth status and the dashboard shell', async () => {
    expect((await flow.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
    expect((await flow.app.inject({ method: 'GET', url: '/api/auth/status' })).statusCode).toBe(200);
    expect((await flow.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    const open = callableRoutes(flow.app.routeTable)
      .filter((r) => r.public && r.url.startsWith('/api'))
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(open).toEqual(['GET /api/auth/login', 'GET /api/auth/status', 'GET /api/health', 'POST /api/auth/login']);
    // Everything else that is public is a static file of the dashboard.
    for (const r of callableRoutes(flow.app.routeTable).filter((x) => x.public && !x.url.startsWith('/api'))) expect(r.method).toMatch(/^(GET|HEAD)$/);
  });
});

describe('given the gateway is exposed through the relay (Host: eve.relay.test)', () => {
  it('answers 401 to /%61pi/backends that crossed the relay, and 200 with a token', async () => {
    const relayPort = (relay.server.address() as AddressInfo).port;
    const api = (method: string, path: string, body?: unknown, bearer?: string) =>
      hostRequest(relayPort, { host: `127.0.0.1:${relayPort}`, method, path, body: body === undefined ? undefined : JSON.stringify(body), headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } });
    const reg = await api('POST', '/api/register', { username: 'eve' });
    expect(reg.status).toBe(201);
    const handleToken = json(reg).token as string;
    expect((await api('PUT', '/api/tunnel', { tunnelUrl: `https://${TUNNEL_HOST}` }, handleToken)).status).toBe(200);

    const body = JSON.stringify({ name: 'x', command: ['true'] });
    for (const path of ['/%61pi/backends', '/a%70i/backends', '/api/backends']) {
      const res = await hostRequest(relayPort, { host: 'eve.relay.test', method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
      expect(res.status, path).toBe(401);
    }
    const listed = await hostRequest(relayPort, { host: 'eve.relay.test', path: '/%61pi/backends', headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(200);
    expect(json(listed)).toEqual({ backends: [] });
  });
});
