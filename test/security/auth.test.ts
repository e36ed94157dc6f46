import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnforcedPassword } from '../../gateway/auth/exposure.js';
import { createGatewayAuth } from '../../gateway/auth/index.js';
import { setPassword } from '../../services/auth/password.js';
import { procInfo } from '../../services/host/proc.js';
import { clientAddress, clientKey, trustedProxies, trustedProxiesFromEnv } from '../../services/net/client-address.js';
import { freePort } from '../../services/host/ports.js';
import { openTempStore, startGateway } from '../gateway/harness.js';
import { startFlow, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';
import { FAKE_CLOUDFLARED, until } from '../tunnel/helpers.js';

/**
 * Item 8 and 9 of issue 11: a login that can be guessed at (or flooded) without limit, and a
 * password that can be taken off a gateway while the world can reach it.
 */
const PASSWORD = 'correct horse battery staple';
/** Failures a client may make before it has to wait (the documented default). */
const FREE_FAILURES = 5;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request from a chosen loopback source address (another "client"), optionally as a proxy forwarding for someone. */
function send(base: string, method: string, path: string, opts: { body?: unknown; from?: string; forwardedFor?: string; token?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: http.OutgoingHttpHeaders = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.forwardedFor) headers['x-forwarded-for'] = opts.forwardedFor;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.host) headers.host = opts.host;
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false, localAddress: opts.from }, (res) => {
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

const login = (base: string, password: string, opts: { from?: string; forwardedFor?: string } = {}) => send(base, 'POST', '/api/auth/login', { ...opts, body: { password } });
const parse = <T = { error: { code: string; message: string } }>(r: Reply): T => JSON.parse(r.body) as T;

/** A gateway with a password set, on a clock the test moves. */
async function passwordGateway() {
  const fx = openTempStore();
  await setPassword(fx.dir, PASSWORD);
  const clock = { now: Date.now() };
  const auth = createGatewayAuth({ home: fx.dir, db: fx.store.db, now: () => clock.now });
  const gw = await startGateway({ log: fx.store, auth });
  cleanups.push(async () => {
    await gw.close();
    fx.cleanup();
  });
  return { url: gw.url, clock };
}

describe('login throttling (item 8)', () => {
  it('given 100 wrong passwords from one client, when they are sent one after another, then the first 5 are 401 and the rest 429 with Retry-After', async () => {
    const { url } = await passwordGateway();
    const replies: Reply[] = [];
    for (let i = 0; i < 100; i++) replies.push(await login(url, `wrong guess ${i}`));

    expect(replies.slice(0, FREE_FAILURES).map((r) => r.status)).toEqual(Array(FREE_FAILURES).fill(401));
    const limited = replies.slice(FREE_FAILURES);
    expect(limited.map((r) => r.status)).toEqual(Array(100 - FREE_FAILURES).fill(429));
    for (const r of limited) {
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
      expect(parse(r)).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/too many wrong passwords.*try again in \d+ s/) as unknown as string } });
    }
  });

  it('given a flood of 200 wrong passwords from one client, then the flood is answered 429 and the real password from another client still logs in', async () => {
    const { url } = await passwordGateway();
    const flood = Array.from({ length: 200 }, (_, i) => login(url, `flood ${i}`, { from: '127.0.0.2' }));
    const real = login(url, PASSWORD, { from: '127.0.0.3' });

    const realReply = await real;
    expect(realReply.status).toBe(200);
    expect(parse<{ token: string }>(realReply).token).toMatch(/^flow_/);
    const statuses = (await Promise.all(flood)).map((r) => r.status);
    expect(statuses).not.toContain(200);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(FREE_FAILURES);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(200 - FREE_FAILURES);
  });

  it('given clients behind a trusted proxy (loopback: cloudflared, the relay), then each forwarded address is its own client and the left of X-Forwarded-For cannot be forged', async () => {
    const { url } = await passwordGateway();
    // The attacker writes a fresh address on the left each time; the proxy appended the real one.
    const flood = Array.from({ length: 200 }, (_, i) => login(url, `flood ${i}`, { forwardedFor: `10.9.${i % 250}.1, 203.0.113.7` }));
    const real = await login(url, PASSWORD, { forwardedFor: '198.51.100.20' });
    expect(real.status).toBe(200);
    const statuses = (await Promise.all(flood)).map((r) => r.status);
    expect(statuses).not.toContain(200);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(FREE_FAILURES);
    // The proxy's own address (loopback, no forwarding) is another client, not locked out.
    expect((await login(url, PASSWORD)).status).toBe(200);
  });

  it('given a client that has been locked out, when the backoff has passed, then the same client logs in; the wait doubles with each further failure', async () => {
    const { url, clock } = await passwordGateway();
    for (let i = 0; i < FREE_FAILURES; i++) expect((await login(url, 'wrong password')).status).toBe(401);
    // While it waits, even the right password is not checked: a guess would tell nothing either way.
    const locked = await login(url, PASSWORD);
    expect(locked.status).toBe(429);
    const wait = Number(locked.headers['retry-after']);
    expect(wait).toBeGreaterThanOrEqual(1);

    clock.now += wait * 1000;
    const again = await login(url, 'still wrong');
    expect(again.status).toBe(401);
    const longer = await login(url, PASSWORD);
    expect(longer.status).toBe(429);
    expect(Number(longer.headers['retry-after'])).toBeGreaterThan(wait);

    clock.now += Number(longer.headers['retry-after']) * 1000;
    const ok = await login(url, PASSWORD);
    expect(ok.status).toBe(200);
    // A success starts the client afresh.
    for (let i = 0; i < FREE_FAILURES; i++) expect((await login(url, 'wrong again')).status).toBe(401);
  });

  it('remembers a bounded number of clients, whatever the number of addresses', async () => {
    const { LoginThrottle } = await import('../../gateway/auth/login-throttle.js');
    const throttle = new LoginThrottle({ maxClients: 100, now: () => 0 });
    for (let i = 0; i < 5000; i++) await throttle.attempt(`198.51.${i >> 8}.${i & 255}`, async () => false);
    expect(throttle.trackedClients).toBeLessThanOrEqual(100);
  });
});

describe('which client a request comes from', () => {
  const loopbackOnly = trustedProxies();
  it('is the peer, unless the peer is a trusted proxy; then the nearest forwarded address that is not one', () => {
    expect(clientAddress('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' }, loopbackOnly)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', {}, loopbackOnly)).toBe('127.0.0.1');
    expect(clientAddress('::ffff:127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' }, loopbackOnly)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': ['6.6.6.6', '127.0.0.5'] }, loopbackOnly)).toBe('6.6.6.6');
    // Garbage where an address belongs stops the walk at the last proxy that wrote one.
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': 'unknown' }, loopbackOnly)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, not-an-ip, 127.0.0.1' }, loopbackOnly)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '[2001:db8::1]:443' }, loopbackOnly)).toBe('2001:db8::1');
    // A relay's address, once trusted, is looked through as well.
    const withRelay = trustedProxies(['198.51.100.0/24']);
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.9, 198.51.100.4' }, withRelay)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.9, 198.51.100.4' }, loopbackOnly)).toBe('198.51.100.4');
  });

  it('counts an IPv6 /64 as one client (one host holds a whole /64)', () => {
    expect(clientKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('fe80::1')).toBe('fe80::1');
    expect(clientKey('::1')).toBe('::1');
  });

  it('FLOW_TRUSTED_PROXIES takes addresses and CIDR blocks, and says what is wrong with anything else', () => {
    expect(trustedProxiesFromEnv({ FLOW_TRUSTED_PROXIES: '10.0.0.5, 192.168.0.0/16, 2001:db8::/32' }).trusts('192.168.7.7')).toBe(true);
    for (const bad of ['10.0.0.0/33', 'relay.example.com', '10.0.0.1/8/2', '*']) {
      expect(() => trustedProxiesFromEnv({ FLOW_TRUSTED_PROXIES: bad }), bad).toThrow(/FLOW_TRUSTED_PROXIES: each entry is an IP address or a CIDR block/);
    }
  });
});

/** `f up` as a real process with a password, its tunnels running the fake cloudflared. */
async function flowWithPassword(args: string[] = []) {
  const t = tempDir('flow-sec-auth-');
  cleanups.push(t.cleanup);
  const home = join(t.dir, 'home');
  const resolveDir = join(t.dir, 'resolve');
  mkdirSync(home, { recursive: true });
  await setPassword(home, PASSWORD);
  const flow: FlowProcess = await startFlow(
    home,
    {
      FLOW_TASKS_DIR: join(t.dir, 'tasks'),
      FLOW_PROJECTS_DIR: join(t.dir, 'projects'),
      FLOW_TUNNEL_RESOLVE_DIR: resolveDir,
      FLOW_TUNNEL_COMMAND: JSON.stringify([process.execPath, FAKE_CLOUDFLARED, 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate']),
    },
    args,
  );
  cleanups.push(async () => {
    if (flow.proc.exitCode === null && flow.proc.signalCode === null) {
      flow.proc.kill('SIGTERM');
      await flow.exited;
    }
  });
  const port = Number(new URL(flow.url).port);
  const base = `http://127.0.0.1:${port}`;
  const status = async () => parse<{ passwordSet: boolean; exposure: string | null; failClosed: boolean }>(await send(base, 'GET', '/api/auth/status'));
  const token = parse<{ token: string }>(await login(base, PASSWORD)).token;
  return { home, resolveDir, flow, port, base, status, token, passwordFile: join(home, 'auth', 'password') };
}

describe('an exposed gateway keeps its password (item 9)', () => {
  it('given f up --host 0.0.0.0 with a password, then remove-password is refused, and a password file deleted by hand does not open the gateway', async () => {
    const f = await flowWithPassword(['--host', '0.0.0.0']);

    const refused = await runF(['auth', 'remove-password'], { FLOW_HOME: f.home });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/refusing to remove the password/);
    expect(refused.stderr).toMatch(/0\.0\.0\.0/);
    expect(refused.stderr).toMatch(/127\.0\.0\.1/);
    expect(existsSync(f.passwordFile)).toBe(true);
    // --force is for a Flow that cannot be asked; this one answered that it is exposed.
    expect((await runF(['auth', 'remove-password', '--force'], { FLOW_HOME: f.home })).code).not.toBe(0);
    expect(existsSync(f.passwordFile)).toBe(true);

    rmSync(f.passwordFile);
    // The gateway notices the file is gone (it re-reads it every second) and says why it keeps the login.
    const seen = await until(async () => ((await f.status()).failClosed ? f.status() : null), 'the gateway to see the password file gone');
    expect(seen).toMatchObject({ passwordSet: true, exposure: expect.stringContaining('0.0.0.0') as unknown as string });
    const anonymous = await send(f.base, 'GET', '/api/backends');
    expect(anonymous.status).toBe(401);
    expect(f.flow.output()).toMatch(/password file .* is gone but this gateway is exposed/);
    // The user is not locked out: the token still works, and the password it was started with still logs in.
    expect((await send(f.base, 'GET', '/api/backends', { token: f.token })).status).toBe(200);
    expect((await login(f.base, PASSWORD)).status).toBe(200);
  });

  it('given a live tunnel to the gateway, then remove-password is refused, the gateway stays closed without the file, and opens only once the tunnel is stopped', async () => {
    const f = await flowWithPassword();
    const started = await send(f.base, 'POST', '/api/tunnels', { token: f.token, body: { name: 'gw', port: f.port } });
    expect(started.status).toBe(201);
    const tunnel = await until(async () => {
      const t = parse<{ status: string; url: string | null }>(await send(f.base, 'GET', '/api/tunnels/gw', { token: f.token }));
      return t.status === 'connected' && t.url ? t : null;
    }, 'the tunnel to connect');
    // Where the fake cloudflared listens for its public name.
    const publicBase = readFileSync(join(f.resolveDir, new URL(tunnel.url!).hostname), 'utf8').trim();
    expect((await f.status()).exposure).toMatch(/tunnel "gw"/);

    const refused = await runF(['auth', 'remove-password'], { FLOW_HOME: f.home });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/refusing to remove the password.*tunnel "gw"/);
    expect(refused.stderr).toMatch(/f tunnel stop gw/);
    expect(existsSync(f.passwordFile)).toBe(true);

    rmSync(f.passwordFile);
    await until(async () => (await f.status()).failClosed, 'the gateway to see the password file gone');
    // As Cloudflare delivers it: the public name in Host.
    expect((await send(publicBase, 'GET', '/api/backends', { host: new URL(tunnel.url!).host })).status).toBe(401);
    expect((await send(f.base, 'GET', '/api/backends')).status).toBe(401);

    // Once nothing exposes it, the gateway does what the missing file says: no password, loopback only.
    expect((await send(f.base, 'POST', '/api/tunnels/gw/stop', { token: f.token })).status).toBe(200);
    await until(async () => (await f.status()).passwordSet === false, 'auth to turn off once the tunnel is stopped');
    expect((await send(f.base, 'GET', '/api/backends')).status).toBe(200);
    expect((await runF(['auth', 'remove-password'], { FLOW_HOME: f.home })).code).toBe(0);
  });
});

describe('the gateway fails closed (item 9, the mechanism)', () => {
  it('given an exposure that comes and goes, then a missing password file turns the login off only while nothing exposes the gateway', async () => {
    const fx = openTempStore();
    await setPassword(fx.dir, PASSWORD);
    let exposure: string | null = 'tunnel "t" exposes its port 1 (connected)';
    const auth = createGatewayAuth({ home: fx.dir, db: fx.store.db, exposure: () => exposure, configuredCacheMs: 0 });
    const gw = await startGateway({ log: fx.store, auth });
    cleanups.push(async () => {
      await gw.close();
      fx.cleanup();
    });
    const token = parse<{ token: string }>(await login(gw.url, PASSWORD)).token;

    rmSync(join(fx.dir, 'auth', 'password'));
    expect((await send(gw.url, 'GET', '/api/backends')).status).toBe(401);
    expect(parse(await send(gw.url, 'GET', '/api/auth/status'))).toMatchObject({ passwordSet: true, failClosed: true, exposure });
    expect((await send(gw.url, 'GET', '/api/backends', { token })).status).toBe(200);
    expect((await login(gw.url, PASSWORD)).status).toBe(200);
    expect((await login(gw.url, 'not the password')).status).toBe(401);

    exposure = null;
    expect((await send(gw.url, 'GET', '/api/backends')).status).toBe(200);
    expect(parse(await send(gw.url, 'GET', '/api/auth/status'))).toMatchObject({ passwordSet: false, failClosed: false, exposure: null });
    // The kept password is forgotten with the exposure: a new exposure does not bring it back.
    exposure = 'it listens on 0.0.0.0, which other machines can reach';
    expect((await send(gw.url, 'GET', '/api/backends')).status).toBe(401);
    expect((await login(gw.url, PASSWORD)).status).toBe(401);
  });
});

describe('the gateway fails closed with no password at all', () => {
  it('given no password ever and an exposure (a tunnel\'s port became the gateway\'s), then a login is required, none succeeds, the log says so in those words, and setting a password lets one in', async () => {
    const t = tempDir('flow-sec-nopw-');
    cleanups.push(t.cleanup);
    const lines: string[] = [];
    const password = new EnforcedPassword({ home: t.dir, exposure: () => 'tunnel "t" exposes its port 3456 (backoff)', cacheMs: 0, log: (l) => lines.push(l) });
    expect(password.isRequired()).toBe(true);
    expect(password.record()).toBeNull();
    expect(password.isRequired()).toBe(true);
    expect(lines).toEqual(['no password is set but this gateway is exposed (tunnel "t" exposes its port 3456 (backoff)): every route but /api/health is refused until a password is set ("f auth set-password", then "f auth login") or nothing exposes the gateway']);
    await setPassword(t.dir, PASSWORD);
    expect(password.record()).toMatch(/^[0-9a-f]{32}:[0-9a-f]{128}$/);
    expect(password.failClosed()).toBe(false);
  });
});

describe('f auth remove-password and the running Flow (item 9)', () => {
  it('given no Flow running, then it removes the password', async () => {
    const t = tempDir('flow-sec-rm-');
    cleanups.push(t.cleanup);
    await setPassword(t.dir, PASSWORD);
    const r = await runF(['auth', 'remove-password'], { FLOW_HOME: t.dir });
    expect(r.code).toBe(0);
    expect(existsSync(join(t.dir, 'auth', 'password'))).toBe(false);
  });

  it('given a running Flow that cannot be asked whether it is exposed, then it refuses unless --force', async () => {
    const t = tempDir('flow-sec-rm-');
    cleanups.push(t.cleanup);
    await setPassword(t.dir, PASSWORD);
    // A live holder of the lock (this test process) whose URL answers nothing.
    const deadPort = await freePort();
    writeFileSync(join(t.dir, 'host.lock'), JSON.stringify({ pid: process.pid, startTicks: procInfo(process.pid)?.startTicks ?? null, url: `http://127.0.0.1:${deadPort}` }));
    const refused = await runF(['auth', 'remove-password'], { FLOW_HOME: t.dir });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/could not ask the running Flow/);
    expect(refused.stderr).toMatch(/--force/);
    expect(existsSync(join(t.dir, 'auth', 'password'))).toBe(true);
    const forced = await runF(['auth', 'remove-password', '--force'], { FLOW_HOME: t.dir });
    expect(forced.code).toBe(0);
    expect(existsSync(join(t.dir, 'auth', 'password'))).toBe(false);
  });
});
