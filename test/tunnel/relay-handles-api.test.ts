import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { setPassword } from '../../services/auth/password.js';
import { freePort } from '../../services/host/ports.js';
import { buildRelay } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { tempDir } from '../support/tmp.js';

/**
 * /api/relay/handles: the dashboard's way to what `f relay handle` does. A real relay on a temp
 * registry, and a real Flow (wired as `f up` wires it, with a password) whose FLOW_RELAY_URL
 * names it; a second Flow without FLOW_RELAY_URL for requests that name no relay.
 */
const PASSWORD = 'relay handles password';
const tmp = tempDir('flow-handles-api-');
const savedEnv = { ...process.env };
let relay: FastifyInstance;
let registry: RelayRegistry;
let relayUrl: string;
let flow: Embedded;
let bare: Embedded;
let home: string;
let token: string;

function homeAt(name: string): string {
  const h = join(tmp.dir, name);
  mkdirSync(join(h, 'claude', 'tasks'), { recursive: true });
  process.env.FLOW_HOME = h;
  process.env.FLOW_TASKS_DIR = join(h, 'claude', 'tasks');
  process.env.FLOW_PROJECTS_DIR = join(h, 'claude', 'projects');
  return h;
}

beforeAll(async () => {
  registry = new RelayRegistry(join(tmp.dir, 'relay.db'));
  relay = buildRelay({ domain: 'example.test', registry, publicScheme: 'http', registerLimit: { burst: 1000 } });
  await relay.listen({ port: 0, host: '127.0.0.1' });
  relayUrl = `http://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;

  homeAt('bare');
  delete process.env.FLOW_RELAY_URL;
  bare = await startEmbedded({ port: 0, bind: '127.0.0.1', log: () => {} });

  home = homeAt('home');
  process.env.FLOW_RELAY_URL = relayUrl;
  await setPassword(home, PASSWORD);
  flow = await startEmbedded({ port: 0, bind: '127.0.0.1', log: () => {} });
  const login = await fetch(`${flow.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(login.status).toBe(200);
  token = ((await login.json()) as { token: string }).token;
}, 60_000);

afterAll(async () => {
  await flow?.close();
  await bare?.close();
  await relay?.close();
  registry?.close();
  process.env = savedEnv;
  tmp.cleanup();
});

interface Answer {
  status: number;
  text: string;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function call(method: string, path: string, body?: unknown, opts: { on?: Embedded; auth?: boolean } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.auth !== false && (opts.on ?? flow) === flow) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${(opts.on ?? flow).url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

const relayToken = (username: string, tier = 'premium'): string | undefined => (JSON.parse(readFileSync(join(home, 'relay-tokens.json'), 'utf8')) as Record<string, string>)[`${relayUrl}|${tier}|${username}`];

describe('given a Flow with FLOW_RELAY_URL and a password', () => {
  it('check → register → list → check taken → rename → list → release → list empty, and no answer carries a token', async () => {
    expect((await call('GET', '/api/relay/handles')).body).toEqual({ handles: [], defaultRelay: relayUrl });

    const free = await call('GET', '/api/relay/handles/check?username=ivy');
    expect(free.status).toBe(200);
    expect(free.body).toEqual({ username: 'ivy', tier: 'premium', available: true });

    const reg = await call('POST', '/api/relay/handles', { username: 'ivy', tier: 'premium' });
    expect(reg.status, reg.text).toBe(200);
    expect(reg.body).toEqual({ username: 'ivy', tier: 'premium', url: 'http://ivy.example.test/', tunnelUrl: null, online: false });
    const secret = relayToken('ivy')!;
    expect(secret).toBeTruthy();
    expect(reg.text).not.toContain(secret);

    const listed = await call('GET', '/api/relay/handles');
    expect(listed.body).toEqual({ handles: [{ relay: relayUrl, tier: 'premium', username: 'ivy' }], defaultRelay: relayUrl });
    expect(listed.text).not.toContain(secret);

    const taken = await call('GET', `/api/relay/handles/check?relay=${encodeURIComponent(relayUrl)}&username=ivy`);
    expect(taken.body).toMatchObject({ available: false, reason: 'taken', message: 'the username "ivy" is already taken on the premium tier' });

    const ren = await call('POST', '/api/relay/handles/rename', { relay: relayUrl, username: 'ivy', tier: 'premium', newUsername: 'ivy-2' });
    expect(ren.status, ren.text).toBe(200);
    expect(ren.body).toEqual({ username: 'ivy-2', tier: 'premium', url: 'http://ivy-2.example.test/', tunnelUrl: null, online: false });
    expect(ren.text).not.toContain(secret);
    expect(relayToken('ivy-2')).toBe(secret);
    expect((await call('GET', '/api/relay/handles')).body.handles).toEqual([{ relay: relayUrl, tier: 'premium', username: 'ivy-2' }]);

    const rel = await call('POST', '/api/relay/handles/release', { username: 'ivy-2', tier: 'premium' });
    expect(rel.status, rel.text).toBe(200);
    expect(rel.body).toEqual({ released: true, username: 'ivy-2', tier: 'premium' });
    expect((await call('GET', '/api/relay/handles')).body.handles).toEqual([]);
    expect((await call('GET', '/api/relay/handles/check?username=ivy-2')).body).toMatchObject({ available: true });
  });

  it('rename can move a handle to the free tier; tier defaults to premium', async () => {
    expect((await call('POST', '/api/relay/handles', { username: 'jo' })).status).toBe(200);
    const moved = await call('POST', '/api/relay/handles/rename', { username: 'jo', newUsername: 'jo', newTier: 'free' });
    expect(moved.body).toMatchObject({ username: 'jo', tier: 'free', url: 'http://jo.my.example.test/' });
    expect((await call('GET', '/api/relay/handles')).body.handles).toEqual([{ relay: relayUrl, tier: 'free', username: 'jo' }]);
    expect((await call('POST', '/api/relay/handles/release', { username: 'jo', tier: 'free' })).status).toBe(200);
  });

  it('a name taken by someone else is 409 with the relay’s words; an invalid one is "not available" on check and 400 on register', async () => {
    await fetch(`${relayUrl}/api/handle/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'kim' }) });
    const taken = await call('POST', '/api/relay/handles', { username: 'kim' });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toEqual({ code: 'conflict', message: 'the username "kim" is already taken on the premium tier' });
    const reserved = await call('POST', '/api/relay/handles', { username: 'admin' });
    expect(reserved.status).toBe(409);
    expect(reserved.body.error?.message).toContain('is reserved');

    expect((await call('GET', '/api/relay/handles/check?username=Bad.Name')).body).toMatchObject({ available: false, reason: 'invalid' });
    const bad = await call('POST', '/api/relay/handles', { username: 'Bad.Name' });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toContain('body.username: a username holds only lower-case letters');
  });

  it('a bad tier, an unknown field or a relay that is not a URL is 400 saying which', async () => {
    const tier = await call('GET', '/api/relay/handles/check?username=x&tier=gold');
    expect(tier.status).toBe(400);
    expect(tier.body.error?.message).toContain('query.tier');
    const bodyTier = await call('POST', '/api/relay/handles', { username: 'x', tier: 'gold' });
    expect(bodyTier.status).toBe(400);
    expect(bodyTier.body.error?.message).toContain('body.tier');
    expect((await call('POST', '/api/relay/handles', { username: 'x', token: 'mine' })).status).toBe(400);
    const notUrl = await call('POST', '/api/relay/handles', { relay: 'relay.example.test', username: 'x' });
    expect(notUrl.status).toBe(400);
    expect(notUrl.body.error?.message).toContain('body.relay: relay must be a URL such as https://relay.example.test');
    expect((await call('POST', '/api/relay/handles', { relay: 'ftp://relay.example.test', username: 'x' })).status).toBe(400);
  });

  it('rename or release of a handle this Flow holds no token for is 403 with why (a 401 would mean "log in to Flow")', async () => {
    const ren = await call('POST', '/api/relay/handles/rename', { username: 'kim', newUsername: 'kim-2' });
    expect(ren.status).toBe(403);
    expect(ren.body.error).toEqual({ code: 'forbidden', message: `this Flow holds no token for kim (premium) on ${relayUrl}: only the Flow that registered a handle can rename or release it` });
    const rel = await call('POST', '/api/relay/handles/release', { username: 'kim' });
    expect(rel.status).toBe(403);
    expect(rel.body.error?.message).toContain('only the Flow that registered a handle');
  });

  it('a relay that is down is 502 naming it, never a 500', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    for (const [method, path, body] of [
      ['GET', `/api/relay/handles/check?relay=${encodeURIComponent(down)}&username=x`, undefined],
      ['POST', '/api/relay/handles', { relay: down, username: 'x' }],
    ] as const) {
      const r = await call(method, path, body);
      expect(r.status, r.text).toBe(502);
      expect(r.body.error?.code).toBe('bad_gateway');
      expect(r.body.error?.message).toContain(`relay ${down} unreachable`);
    }
  });

  it('a server that is not a relay is 502, not what it answered', async () => {
    // The Flow without a password answers /api/handle/check with a 404 of its own.
    const r = await call('GET', `/api/relay/handles/check?relay=${encodeURIComponent(bare.url)}&username=x`);
    expect(r.status, r.text).toBe(502);
    expect(r.body.error?.code).toBe('bad_gateway');
  });

  it('every route needs a login', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/relay/handles', undefined],
      ['GET', '/api/relay/handles/check?username=x', undefined],
      ['POST', '/api/relay/handles', { username: 'x' }],
      ['POST', '/api/relay/handles/rename', { username: 'x', newUsername: 'y' }],
      ['POST', '/api/relay/handles/release', { username: 'x' }],
    ] as const) {
      const r = await call(method, path, body, { auth: false });
      expect(r.status, `${method} ${path}`).toBe(401);
    }
    expect((await call('GET', '/api/relay/handles/check?username=nobody-asked', undefined, { auth: false })).text).not.toContain('available');
  });
});

describe('given a Flow without FLOW_RELAY_URL', () => {
  it('a request that names no relay is 400 saying what to pass; the list says there is no default', async () => {
    const r = await call('GET', '/api/relay/handles/check?username=x', undefined, { on: bare });
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toBe('say which relay: pass "relay" (e.g. https://relay.example.test), or start Flow with FLOW_RELAY_URL set');
    expect((await call('POST', '/api/relay/handles', { username: 'x' }, { on: bare })).status).toBe(400);
    expect((await call('GET', '/api/relay/handles', undefined, { on: bare })).body).toEqual({ handles: [], defaultRelay: null });
    // With one named, it works.
    expect((await call('GET', `/api/relay/handles/check?relay=${encodeURIComponent(relayUrl)}&username=lu`, undefined, { on: bare })).body).toMatchObject({ available: true });
  });
});
