import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRelay, RESERVED_USERNAMES } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { checkHandle, HandleError, registerHandle, releaseHandle, renameHandle } from '../../services/tunnel/relay-handles.js';
import { memoryTokenStore } from '../../services/tunnel/tokens.js';
import { tempDir } from '../support/tmp.js';
import { ensureBuilt, f, sandbox, type Sandbox } from '../tool-install/helpers.js';
import { json, request } from './helpers.js';

/**
 * Relay handles as Fluxy's /api/handle/* manages them: check availability, register, change
 * (rename) and release; only the token given at registration may change or release a handle.
 */
let app: FastifyInstance;
let registry: RelayRegistry;
let relayUrl: string;
let port: number;
let sb: Sandbox;
const tmp = tempDir('flow-handles-');

beforeAll(async () => {
  ensureBuilt();
  sb = sandbox();
  registry = new RelayRegistry(join(tmp.dir, 'relay.db'));
  app = buildRelay({ domain: 'example.test', registry, publicScheme: 'http', registerLimit: { burst: 1000 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  relayUrl = `http://127.0.0.1:${port}`;
}, 240_000);
afterAll(async () => {
  await app?.close();
  registry?.close();
  sb?.cleanup();
  tmp.cleanup();
});

const tokenOf = (r: Awaited<ReturnType<typeof request>>): string => String(json(r).token);

const api = (method: string, path: string, body?: unknown, token?: string) =>
  request(port, { host: '127.0.0.1', method, path, body: body === undefined ? undefined : JSON.stringify(body), headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) } });

describe('relay API: /api/handle/check, register, change, release', () => {
  it('check says available, taken, reserved or invalid, with the rule that was broken', async () => {
    expect(json(await api('GET', '/api/handle/check?username=ana'))).toEqual({ username: 'ana', tier: 'premium', available: true });
    await api('POST', '/api/handle/register', { username: 'ana' });
    expect(json(await api('GET', '/api/handle/check?username=ana'))).toMatchObject({ available: false, reason: 'taken', message: 'the username "ana" is already taken on the premium tier' });
    expect(json(await api('GET', '/api/handle/check?username=ana&tier=free'))).toMatchObject({ available: true });
    expect(json(await api('GET', '/api/handle/check?username=admin'))).toMatchObject({ available: false, reason: 'reserved' });
    expect(json(await api('GET', '/api/handle/check?username=Bad.Name'))).toMatchObject({ available: false, reason: 'invalid', message: expect.stringContaining('only lower-case letters, digits and "-"') });
    expect(json(await api('GET', `/api/handle/check?username=${'a'.repeat(33)}`))).toMatchObject({ available: false, reason: 'invalid', message: 'a username is at most 32 characters' });
    expect((await api('GET', '/api/handle/check')).status).toBe(400);
  });

  it('register gives a token once; a taken or reserved name is 409, a bad one 400', async () => {
    const r = await api('POST', '/api/handle/register', { username: 'bea', tier: 'free' });
    expect(r.status).toBe(201);
    expect(json(r)).toMatchObject({ username: 'bea', tier: 'free', url: 'http://bea.my.example.test/', token: expect.any(String) });
    expect(json(await api('POST', '/api/handle/register', { username: 'bea', tier: 'free' }))).toMatchObject({ error: 'taken' });
    const reserved = await api('POST', '/api/handle/register', { username: 'api' });
    expect(reserved.status).toBe(409);
    expect(String(json(reserved).message)).toContain('is reserved');
    expect((await api('POST', '/api/handle/register', { username: '-x' })).status).toBe(400);
    expect((await api('POST', '/api/handle/register', { username: 'ok', extra: 1 })).status).toBe(400);
  });

  it('change renames the handle the token owns, keeping token and tunnel; the old name is free again', async () => {
    const token = tokenOf(await api('POST', '/api/handle/register', { username: 'cid' }));
    const r = await api('POST', '/api/handle/change', { username: 'cid-new' }, token);
    expect(r.status).toBe(200);
    expect(json(r)).toMatchObject({ username: 'cid-new', tier: 'premium', url: 'http://cid-new.example.test/', previous: { username: 'cid', tier: 'premium' } });
    expect(json(await api('GET', '/api/me', undefined, token))).toMatchObject({ username: 'cid-new' });
    expect(json(await api('GET', '/api/handle/check?username=cid'))).toMatchObject({ available: true });
    // To another tier too.
    expect(json(await api('POST', '/api/handle/change', { username: 'cid-new', tier: 'free' }, token))).toMatchObject({ tier: 'free', url: 'http://cid-new.my.example.test/' });
  });

  it('change to a taken, reserved or invalid name is refused and changes nothing', async () => {
    const token = tokenOf(await api('POST', '/api/handle/register', { username: 'dan' }));
    expect(json(await api('POST', '/api/handle/change', { username: 'ana' }, token))).toMatchObject({ error: 'taken' });
    expect((await api('POST', '/api/handle/change', { username: 'www' }, token)).status).toBe(409);
    expect((await api('POST', '/api/handle/change', { username: 'Dan!' }, token)).status).toBe(400);
    expect(json(await api('GET', '/api/me', undefined, token))).toMatchObject({ username: 'dan' });
  });

  it('only the owner may change or release: no token, a wrong token or another handle’s token cannot touch it', async () => {
    const owner = tokenOf(await api('POST', '/api/handle/register', { username: 'eve' }));
    const other = tokenOf(await api('POST', '/api/handle/register', { username: 'fay' }));
    expect((await api('POST', '/api/handle/change', { username: 'eve2' })).status).toBe(401);
    expect((await api('POST', '/api/handle/release', {}, 'nope')).status).toBe(401);
    // fay's token acts on fay, whatever the body names.
    expect(json(await api('POST', '/api/handle/change', { username: 'eve' }, other))).toMatchObject({ error: 'taken' });
    expect(json(await api('POST', '/api/handle/release', { username: 'eve' }, other))).toMatchObject({ released: true, username: 'fay' });
    expect(json(await api('GET', '/api/me', undefined, owner))).toMatchObject({ username: 'eve' });
    expect(json(await api('POST', '/api/handle/release', {}, owner))).toEqual({ released: true, username: 'eve', tier: 'premium' });
    expect((await api('GET', '/api/me', undefined, owner)).status).toBe(401);
    expect(json(await api('GET', '/api/handle/check?username=eve'))).toMatchObject({ available: true });
  });

  it('the reserved words include the relay’s own labels', () => {
    for (const w of ['api', 'www', 'my', 'admin']) expect(RESERVED_USERNAMES.has(w)).toBe(true);
  });
});

describe('the client Flow uses (services/tunnel/relay-handles.ts)', () => {
  it('register keeps the token where tunnels find it; register again is a no-op; rename moves the token; release forgets it', async () => {
    const tokens = memoryTokenStore();
    const v = await registerHandle(relayUrl, 'gus', 'premium', tokens);
    expect(v).toMatchObject({ username: 'gus', url: 'http://gus.example.test/' });
    const token = tokens.get({ url: relayUrl, username: 'gus', tier: 'premium' })!;
    expect(token).toBeTruthy();
    await registerHandle(relayUrl, 'gus', 'premium', tokens);
    expect(tokens.get({ url: relayUrl, username: 'gus', tier: 'premium' })).toBe(token);
    await renameHandle(relayUrl, { username: 'gus', tier: 'premium' }, { username: 'gus2', tier: 'premium' }, tokens);
    expect(tokens.get({ url: relayUrl, username: 'gus', tier: 'premium' })).toBeUndefined();
    expect(tokens.get({ url: relayUrl, username: 'gus2', tier: 'premium' })).toBe(token);
    expect(await checkHandle(relayUrl, 'gus', 'premium')).toMatchObject({ available: true });
    await releaseHandle(relayUrl, 'gus2', 'premium', tokens);
    expect(tokens.get({ url: relayUrl, username: 'gus2', tier: 'premium' })).toBeUndefined();
  });

  it('rename or release of a handle this Flow did not register says so, without asking the relay', async () => {
    await expect(releaseHandle(relayUrl, 'ana', 'premium', memoryTokenStore())).rejects.toThrow('this Flow holds no token for ana (premium)');
    await expect(registerHandle(relayUrl, 'No Spaces', 'premium', memoryTokenStore())).rejects.toThrow('"No Spaces" cannot be a handle');
  });
});

describe('f relay handle check|register|rename|release', () => {
  const env = () => ({ ...sb.env, FLOW_RELAY_URL: relayUrl });

  it('check: available exits 0, taken exits 1 with the reason', async () => {
    const free = await f(['relay', 'handle', 'check', 'hal'], env());
    expect(free.code, free.stderr).toBe(0);
    expect(free.stdout).toBe('hal is available (premium)\n');
    const taken = await f(['relay', 'handle', 'check', 'ana'], env());
    expect(taken.code).toBe(1);
    expect(taken.stdout).toContain('ana is not available (premium): the username "ana" is already taken');
  });

  it('register, rename, release: the token lives in $FLOW_HOME/relay-tokens.json (0600) and follows the handle', async () => {
    const reg = await f(['relay', 'handle', 'register', 'hal', '--relay', relayUrl], sb.env);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toContain('registered hal (premium): http://hal.example.test/');
    expect(reg.stdout).toContain(`f tunnel start --relay ${relayUrl} --handle hal`);
    const file = join(sb.home, 'relay-tokens.json');
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object)).toEqual([`${relayUrl}|premium|hal`]);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const ren = await f(['relay', 'handle', 'rename', 'hal', 'hal-9000', '--json'], env());
    expect(ren.code, ren.stderr).toBe(0);
    expect(JSON.parse(ren.stdout)).toMatchObject({ username: 'hal-9000', url: 'http://hal-9000.example.test/' });
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object)).toEqual([`${relayUrl}|premium|hal-9000`]);

    const taken = await f(['relay', 'handle', 'rename', 'hal-9000', 'ana'], env());
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('the username "ana" is already taken on the premium tier');

    const rel = await f(['relay', 'handle', 'release', 'hal-9000'], env());
    expect(rel.code, rel.stderr).toBe(0);
    expect(rel.stdout).toBe('released hal-9000 (premium)\n');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({});
  });

  it('bad input says what is wrong: a bad name, no relay, a handle this Flow does not own', async () => {
    const bad = await f(['relay', 'handle', 'register', 'Hal.9000'], env());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"Hal.9000" cannot be a handle: a username holds only lower-case letters');
    const noRelay = await f(['relay', 'handle', 'check', 'x'], { ...sb.env, FLOW_RELAY_URL: '' });
    expect(noRelay.stderr).toContain('say which relay: --relay');
    const notOurs = await f(['relay', 'handle', 'release', 'ana'], env());
    expect(notOurs.code).toBe(1);
    expect(notOurs.stderr).toContain('only the Flow that registered a handle can rename or release it');
    const tier = await f(['relay', 'handle', 'check', 'x', '--tier', 'gold'], env());
    expect(tier.stderr).toContain('--tier is premium or free, not "gold"');
  });
});

describe('a relay address that is no http(s) URL', () => {
  it.each([['relay.example.test'], ['ftp://relay.example.test'], ['not a url']])('given %s, then the call is refused as bad input (400), before anything is sent', async (relay) => {
    const err = await checkHandle(relay, 'ana', 'premium').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandleError);
    expect(err).toMatchObject({ status: 400, code: 'invalid', message: expect.stringMatching(/^the relay must be (a URL such as https:\/\/relay\.example\.test, not|http\(s\), not)/) });
  });
});
