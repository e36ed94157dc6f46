import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { setPassword } from '../../services/auth/password.js';
import { tempDir } from '../support/tmp.js';
import { callableRoutes, fill, jsonBody, openFds, raw } from './helpers.js';

/**
 * The real `f up` wiring (startEmbedded) with a password set: every route it registers, core,
 * auth, task board, tunnels, OpenCode, dashboard, is taken from the route table, not a list.
 */
const PASSWORD = 'correct horse battery staple';

let flow: Embedded;
let home: string;
let cleanup: () => void;
let token: string;

beforeAll(async () => {
  ({ dir: home, cleanup } = tempDir('flow-sec-'));
  process.env.FLOW_HOME = home;
  process.env.FLOW_TASKS_DIR = join(home, 'claude', 'tasks');
  process.env.FLOW_PROJECTS_DIR = join(home, 'claude', 'projects');
  mkdirSync(join(home, 'claude', 'tasks', 'sess-1'), { recursive: true });
  await setPassword(home, PASSWORD);
  flow = await startEmbedded({ port: 0, bind: '127.0.0.1' });
  const login = await raw(flow.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(login.status).toBe(200);
  token = jsonBody<{ token: string }>(login).token;
});

afterAll(async () => {
  await flow?.close();
  cleanup?.();
});

const bearer = () => ({ authorization: `Bearer ${token}` });

describe('auth over the whole route table', () => {
  it('keeps the password as salt:hash (scrypt), readable by its owner only', () => {
    const file = join(home, 'auth', 'password');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{32}:[0-9a-f]{128}$/);
    expect(readFileSync(file, 'utf8')).not.toContain(PASSWORD);
  });

  it('answers 401 on every protected route without a token, and with a made-up one', async () => {
    const routes = callableRoutes(flow.app.routeTable).filter((r) => !r.public);
    // The table holds the whole API (a guard against enumerating an empty list).
    expect(routes.length).toBeGreaterThan(25);
    const failures: string[] = [];
    for (const r of routes) {
      const path = fill(r.url, 'x');
      const bare = await raw(flow.url, r.method, path);
      const forged = await raw(flow.url, r.method, path, { headers: { authorization: 'Bearer flow_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
      for (const [what, res] of [['no token', bare], ['forged token', forged]] as const) {
        if (res.status !== 401 || jsonBody(res).error.code !== 'unauthorized') failures.push(`${r.method} ${path} (${what}): ${res.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('exempts exactly health, login and auth status under /api and /app, and the dashboard\'s static files', () => {
    const open = callableRoutes(flow.app.routeTable)
      .filter((r) => r.public && /^\/(api|app)(\/|$)/.test(r.url))
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(open).toEqual(['GET /api/auth/login', 'GET /api/auth/status', 'GET /api/health', 'POST /api/auth/login']);
    // Whatever else is public is the dashboard's shell: files, read only.
    const shell = callableRoutes(flow.app.routeTable).filter((r) => r.public && !/^\/(api|app)(\/|$)/.test(r.url));
    expect(shell.length).toBeGreaterThan(0);
    for (const r of shell) expect(r.method).toMatch(/^(GET|HEAD)$/);
  });

  it('lets a valid token through to every protected route (nothing answers 401)', async () => {
    const routes = callableRoutes(flow.app.routeTable).filter((r) => !r.public && r.url !== '/api/auth/logout');
    const refused: string[] = [];
    for (const r of routes) {
      const res = await raw(flow.url, r.method, fill(r.url, 'x'), { headers: bearer() });
      if (res.status === 401 || res.status === 403) refused.push(`${r.method} ${r.url}: ${res.status}`);
    }
    expect(refused).toEqual([]);
  });

  it('refuses a wrong password with 401 and gives away nothing: no token, no cookie, no detail', async () => {
    const res = await raw(flow.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'wrong horse' }) });
    expect(res.status).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(jsonBody(res)).toEqual({ error: { code: 'unauthorized', message: 'wrong password' } });
    const stored = readFileSync(join(home, 'auth', 'password'), 'utf8').trim();
    for (const part of stored.split(':')) expect(res.body).not.toContain(part);
  });

  it('logs in with a cookie that is HttpOnly and SameSite=Strict, which alone authenticates; logout ends it', async () => {
    const login = await raw(flow.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^flow_session=flow_[\w-]+;/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Max-Age=604800/);
    const pair = cookie.split(';')[0]!;
    expect((await raw(flow.url, 'GET', '/api/backends', { headers: { cookie: pair } })).status).toBe(200);
    const out = await raw(flow.url, 'POST', '/api/auth/logout', { headers: { cookie: pair } });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    expect((await raw(flow.url, 'GET', '/api/backends', { headers: { cookie: pair } })).status).toBe(401);
  });

  it('refuses unsafe requests from a foreign page (a bodiless POST is a "simple" request browsers send anywhere)', async () => {
    const res = await raw(flow.url, 'POST', '/api/backends/x/stop', { headers: { ...bearer(), origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
    expect(jsonBody(res).error.code).toBe('forbidden');
  });
});

describe('body limits', () => {
  it('answers 413 to a body over the 1 MiB limit, before any handler sees it', async () => {
    const big = JSON.stringify({ name: 'big', command: ['x'], env: { PAD: 'x'.repeat(1024 * 1024) } });
    const res = await raw(flow.url, 'POST', '/api/backends', { headers: { ...bearer(), 'content-type': 'application/json' }, body: big });
    expect(res.status).toBe(413);
    expect(jsonBody(res).error.code).toBe('too_large');
  });

  it('limits a login body to 16 KiB, with or without a token', async () => {
    const res = await raw(flow.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'x'.repeat(20_000) }) });
    expect(res.status).toBe(413);
  });
});

describe('path traversal', () => {
  const PAYLOADS = ['..', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cwindows', 'a%00b'];

  it('answers 400 or 404 for traversal in every path parameter of every route', async () => {
    const routes = callableRoutes(flow.app.routeTable).filter((r) => /:|\*$/.test(r.url) && r.url !== '/api/auth/logout');
    expect(routes.length).toBeGreaterThan(10);
    const wrong: string[] = [];
    for (const r of routes) {
      for (const p of PAYLOADS) {
        const res = await raw(flow.url, r.method, fill(r.url, p), { headers: { ...bearer(), 'content-type': 'application/json' }, body: r.method === 'GET' || r.method === 'HEAD' || r.method === 'DELETE' ? undefined : '{"note":"n","theme":"aurora"}' });
        if (res.status !== 400 && res.status !== 404) wrong.push(`${r.method} ${fill(r.url, p)}: ${res.status} ${res.body.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('WebSocket upgrades', () => {
  const wsUrl = () => `${flow.url.replace(/^http/, 'ws')}/api/ws`;

  function attempt(headers: Record<string, string>, origin?: string): Promise<{ opened: boolean; status: number | null }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(wsUrl(), { headers, ...(origin ? { origin } : {}) });
      ws.on('open', () => {
        ws.close();
        resolve({ opened: true, status: 101 });
      });
      ws.on('unexpected-response', (_req, res) => {
        resolve({ opened: false, status: res.statusCode ?? null });
        res.resume();
        // The server ends the connection itself (the fd test checks it); this side just stops.
        ws.terminate();
      });
      ws.on('error', () => resolve({ opened: false, status: null }));
    });
  }

  it('refuses an upgrade without a token (401) and one from a foreign Origin even with a token (403)', async () => {
    expect(await attempt({})).toEqual({ opened: false, status: 401 });
    expect(await attempt(bearer(), 'http://evil.example')).toEqual({ opened: false, status: 403 });
    expect(await attempt(bearer(), 'null')).toEqual({ opened: false, status: 403 });
  });

  it('accepts an upgrade with a token, from no Origin or from the gateway\'s own', async () => {
    expect((await attempt(bearer())).opened).toBe(true);
    expect((await attempt(bearer(), flow.url)).opened).toBe(true);
  });

  it('leaks no socket after many refused upgrades (fds and server connections come back down)', async () => {
    const settle = async () => {
      for (let i = 0; i < 200; i++) {
        const n = await new Promise<number>((r) => flow.app.server.getConnections((_e, c) => r(c)));
        if (n === 0) return;
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await settle();
    const before = openFds();
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => attempt(i % 3 === 0 ? { authorization: 'Bearer nope' } : i % 3 === 1 ? {} : bearer(), i % 3 === 2 ? 'http://evil.example' : undefined)),
      );
    }
    await settle();
    const connections = await new Promise<number>((r) => flow.app.server.getConnections((_e, c) => r(c)));
    expect(connections).toBe(0);
    // 300 refused upgrades; a leak would keep hundreds of fds. A few may belong to the runtime.
    expect(openFds() - before).toBeLessThan(10);
  });
});
