import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { WebSocket } from 'ws';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { AllowedHostsSchema, judgeHost, parseHostName } from '../../services/auth/allowed-hosts.js';
import { buildRelay } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { openTempStore, startGateway, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { tempDir } from '../support/tmp.js';
import { upgradeHeaders, wire } from './wire.js';

/**
 * DNS rebinding: a page on rebind.attacker.example makes its name resolve to 127.0.0.1. The
 * browser then sends the page's requests to Flow as same-origin ones (Origin and Host both say
 * rebind.attacker.example), so only the Host header tells them apart. On the default set-up (no
 * password) nothing else stands between that page and "run this shell command".
 */
const REBIND = 'rebind.attacker.example';

type Error421 = { error: { code: string; message: string } };

describe('the Host predicate (services/auth/allowed-hosts.ts)', () => {
  const policy = { localPort: 3456, allowed: [] };

  it('takes a Host apart: names in any case, IPv6 in brackets, an optional port', () => {
    expect(parseHostName('LocalHost:3456')).toEqual({ name: 'localhost', port: 3456 });
    expect(parseHostName('[::1]:3456')).toEqual({ name: '::1', port: 3456 });
    expect(parseHostName('[::1]')).toEqual({ name: '::1', port: null });
    expect(parseHostName('flow.lan')).toEqual({ name: 'flow.lan', port: null });
    for (const bad of ['', ':3456', 'a b', 'x@127.0.0.1', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:34a', '[::1', '[zz]:1', '::1', 'a/b', 'a%2eb', 'a..b', 'http://x']) {
      expect(parseHostName(bad), bad).toBeNull();
    }
  });

  it('accepts loopback names at the port it listens on, and nothing else unless allowed', () => {
    for (const ok of ['127.0.0.1:3456', 'localhost:3456', 'LOCALHOST:3456', '[::1]:3456', '127.9.8.7:3456', '[::ffff:127.0.0.1]:3456']) expect(judgeHost(ok, policy).ok, ok).toBe(true);
    for (const bad of ['127.0.0.1:3457', 'localhost', 'localhost:80', `${REBIND}:3456`, 'localhost.:3456', '0.0.0.0:3456', '[::]:3456', '10.0.0.1:3456', 'localhost.attacker.example:3456']) {
      expect(judgeHost(bad, policy).ok, bad).toBe(false);
    }
    expect(judgeHost(`${REBIND}:3456`, policy)).toMatchObject({ ok: false, reason: 'not-allowed' });
  });

  it('accepts the IP literal the client dialled (a LAN bind), which no DNS answer can fake', () => {
    const lan = { localPort: 3456, localAddress: '::ffff:192.168.1.5', allowed: [] };
    expect(judgeHost('192.168.1.5:3456', lan).ok).toBe(true);
    expect(judgeHost('192.168.1.6:3456', lan).ok).toBe(false);
    expect(judgeHost('192.168.1.5:3457', lan).ok).toBe(false);
    expect(judgeHost('flow.lan:3456', lan).ok).toBe(false);
  });

  it('refuses a missing or empty Host on HTTP/1.1 (HTTP/1.0 may omit it)', () => {
    expect(judgeHost(undefined, { ...policy, httpVersion: '1.1' })).toMatchObject({ ok: false, reason: 'missing' });
    expect(judgeHost('', { ...policy, httpVersion: '1.1' })).toMatchObject({ ok: false, reason: 'missing' });
    expect(judgeHost(undefined, { ...policy, httpVersion: '1.0' }).ok).toBe(true);
  });

  it('refuses a request line that is not HTTP/1.0 or 1.1: Node reads "GET /\\n…" as HTTP/0.9 and the rest of the target as a header', () => {
    expect(judgeHost('127.0.0.1:3456', { ...policy, httpVersion: '0.9' })).toMatchObject({ ok: false, reason: 'version' });
    expect(judgeHost(undefined, { ...policy, httpVersion: '0.9' })).toMatchObject({ ok: false, reason: 'version' });
    expect(judgeHost('127.0.0.1:3456', { ...policy, httpVersion: '1.1' }).ok).toBe(true);
  });

  it('reads FLOW_ALLOWED_HOSTS as names with an optional port, and says what is wrong with a bad entry', () => {
    expect(AllowedHostsSchema.parse(' flow.lan, Dev.Example.com:8443 ,[fd00::1]:3456,')).toEqual([
      { name: 'flow.lan', port: null },
      { name: 'dev.example.com', port: 8443 },
      { name: 'fd00::1', port: 3456 },
    ]);
    const bad = AllowedHostsSchema.safeParse('flow.lan,https://x.example/');
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.message).toMatch(/"https:\/\/x\.example\/" is not a host name/);
    const allowed = AllowedHostsSchema.parse('flow.lan,dev.example.com:8443');
    expect(judgeHost('FLOW.lan:3456', { ...policy, allowed }).ok).toBe(true);
    expect(judgeHost('dev.example.com:8443', { ...policy, allowed }).ok).toBe(true);
    expect(judgeHost('dev.example.com:3456', { ...policy, allowed }).ok).toBe(false);
  });
});

describe('given the default set-up: f up with no password', () => {
  let flow: Embedded;
  let port: number;
  let cleanup: () => void;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    const t = tempDir('flow-host-header-');
    cleanup = t.cleanup;
    process.env.FLOW_HOME = join(t.dir, 'home');
    process.env.FLOW_TASKS_DIR = join(t.dir, 'tasks');
    process.env.FLOW_PROJECTS_DIR = join(t.dir, 'projects');
    mkdirSync(process.env.FLOW_HOME, { recursive: true });
    flow = await startEmbedded({ port: 0, bind: '127.0.0.1', log: () => {} });
    port = Number(new URL(flow.url).port);
  });

  afterAll(async () => {
    await flow?.close();
    process.env = savedEnv;
    cleanup?.();
  });

  const backends = async () => JSON.parse((await wire(port, ['GET /api/backends HTTP/1.1', `Host: 127.0.0.1:${port}`])).body) as { backends: { name: string }[] };

  it('refuses POST /api/backends from a rebound page with 421 and a way to allow it; no backend is created', async () => {
    const res = await wire(port, ['POST /api/backends HTTP/1.1', `Host: ${REBIND}:${port}`, `Origin: http://${REBIND}:${port}`, 'Content-Type: application/json'], JSON.stringify({ name: 'pwn', command: ['true'] }));
    expect(res.status).toBe(421);
    const body = JSON.parse(res.body) as Error421;
    expect(body.error.code).toBe('misdirected');
    expect(body.error.message).toContain(`FLOW_ALLOWED_HOSTS=${REBIND}:${port}`);
    expect((await backends()).backends).toEqual([]);
  });

  it('refuses every kind of request under that name: reads, the event log, health and the dashboard', async () => {
    for (const path of ['/api/backends', '/api/events/log', '/api/health', '/', '/nothing']) {
      const res = await wire(port, [`GET ${path} HTTP/1.1`, `Host: ${REBIND}:${port}`]);
      expect(res.status, path).toBe(421);
    }
  });

  it('refuses its WebSocket before the 101', async () => {
    const res = await wire(port, ['GET /api/ws HTTP/1.1', `Host: ${REBIND}:${port}`, `Origin: http://${REBIND}:${port}`, ...upgradeHeaders()]);
    expect(res.status).toBe(421);
    // And with a WebSocket client (the way a page's script would try).
    const outcome = await new Promise<number | 'open'>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, { headers: { host: `${REBIND}:${port}` }, origin: `http://${REBIND}:${port}` });
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('unexpected-response', (_req, r) => {
        resolve(r.statusCode ?? 0);
        r.resume();
        ws.terminate();
      });
      ws.on('error', () => resolve(0));
    });
    expect(outcome).toBe(421);
  });

  it('accepts loopback names with the port it listens on', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`, `127.0.0.2:${port}`]) {
      const res = await wire(port, ['GET /api/backends HTTP/1.1', `Host: ${host}`]);
      expect(res.status, host).toBe(200);
    }
    // A WebSocket from the dashboard's own origin opens.
    const res = await wire(port, ['GET /api/ws HTTP/1.1', `Host: localhost:${port}`, `Origin: http://localhost:${port}`, ...upgradeHeaders()]);
    expect(res.status).toBe(101);
  });

  it('refuses loopback names with another port, or none', async () => {
    for (const host of [`127.0.0.1:${port + 1}`, 'localhost', 'localhost:80', '127.0.0.1']) {
      const res = await wire(port, ['GET /api/backends HTTP/1.1', `Host: ${host}`]);
      expect(res.status, host).toBe(421);
    }
  });

  it('answers 400 in Flow\'s shape to an HTTP/1.1 request with no Host, an empty one or a malformed one', async () => {
    for (const lines of [['GET /api/backends HTTP/1.1'], ['GET /api/backends HTTP/1.1', 'Host: '], ['GET /api/backends HTTP/1.1', `Host: 127.0.0.1:${port}@${REBIND}`]]) {
      const res = await wire(port, lines);
      expect(res.status, lines.join(' | ')).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'invalid' } });
    }
    // HTTP/1.0 had no Host: there is no name to rebind.
    expect((await wire(port, ['GET /api/backends HTTP/1.0'])).status).toBe(200);
  });

  it('answers 400 to a target with a raw line break, which Node would parse as an HTTP/0.9 request line and a header (found by the proxy fuzz test)', async () => {
    for (const target of ['/\n%0D%0A:', '/api/backends\nX-Evil:', '/app/web/api\n%0D%0A:']) {
      const res = await wire(port, [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`]);
      expect(res.status, JSON.stringify(target)).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'invalid', message: expect.stringMatching(/HTTP\/1\.1/) } });
    }
  });
});

describe('given FLOW_ALLOWED_HOSTS', () => {
  const savedEnv = { ...process.env };
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
    process.env = { ...savedEnv };
  });

  function home(): void {
    const t = tempDir('flow-allowed-hosts-');
    cleanups.push(t.cleanup);
    process.env.FLOW_HOME = join(t.dir, 'home');
    process.env.FLOW_TASKS_DIR = join(t.dir, 'tasks');
    process.env.FLOW_PROJECTS_DIR = join(t.dir, 'projects');
    mkdirSync(process.env.FLOW_HOME, { recursive: true });
  }

  it('answers to the names it lists (any port, or the one given) and still to nothing else', async () => {
    home();
    process.env.FLOW_ALLOWED_HOSTS = 'flow.lan, dev.example.com:8443';
    const flow = await startEmbedded({ port: 0, log: () => {} });
    cleanups.push(() => flow.close());
    const port = Number(new URL(flow.url).port);
    const status = async (host: string) => (await wire(port, ['GET /api/backends HTTP/1.1', `Host: ${host}`])).status;
    expect(await status(`flow.lan:${port}`)).toBe(200);
    expect(await status('FLOW.LAN')).toBe(200);
    expect(await status('dev.example.com:8443')).toBe(200);
    expect(await status(`dev.example.com:${port}`)).toBe(421);
    expect(await status(`${REBIND}:${port}`)).toBe(421);
    expect(await status(`localhost:${port}`)).toBe(200);
  });

  it('refuses to start with an entry that is not a host name, saying which', async () => {
    home();
    process.env.FLOW_ALLOWED_HOSTS = 'flow.lan,http://flow.lan/';
    await expect(startEmbedded({ port: 0, log: () => {} })).rejects.toThrow(/FLOW_ALLOWED_HOSTS: "http:\/\/flow\.lan\/" is not a host name/);
  });
});

describe('given a tunnel that exposes the gateway', () => {
  let fx: StoreFixture;
  let gw: RunningGateway;

  beforeAll(async () => {
    fx = openTempStore();
    gw = await startGateway({ log: fx.store });
  });
  afterAll(async () => {
    await gw?.close();
    fx?.cleanup();
  });

  /** The events the host writes for a tunnel that came up (and registered with a relay). */
  function tunnelUp(name: string, port: number, url: string, handleUrl?: string): void {
    const at = new Date().toISOString();
    const ev = (type: string, data: Record<string, unknown>) => ({ id: uuidv7(), type, data, at });
    const relay = handleUrl ? { url: 'http://127.0.0.1:1', username: 'ada', tier: 'premium' } : null;
    const events = [ev('START_REQUESTED', { name, port, command: null, relay }), ev('PROCESS_STARTED', { pid: 4242, startTicks: null }), ev('URL_ANNOUNCED', { pid: 4242, url })];
    if (handleUrl) events.push(ev('RELAY_ONLINE', { handleUrl, tunnelUrl: url }));
    fx.store.append('tunnel', `tunnel:${name}`, 'any', events);
  }

  it('answers to the tunnel\'s public name and its relay handle, not to a tunnel of another port', async () => {
    tunnelUp('gw', gw.port, 'https://quiet-river-lamp-abc123.trycloudflare.com', 'https://ada.relay.example/');
    tunnelUp('other', gw.port + 1, 'https://other-name-def456.trycloudflare.com');
    await gw.caughtUp();
    const status = async (host: string) => (await wire(gw.port, ['GET /api/backends HTTP/1.1', `Host: ${host}`])).status;
    expect(await status('quiet-river-lamp-abc123.trycloudflare.com')).toBe(200);
    expect(await status('ada.relay.example')).toBe(200);
    expect(await status('other-name-def456.trycloudflare.com')).toBe(421);
  });

  it('stops answering to it once the tunnel is stopped', async () => {
    tunnelUp('gone', gw.port, 'https://gone-name-aaa111.trycloudflare.com');
    await gw.caughtUp();
    const status = async () => (await wire(gw.port, ['GET /api/backends HTTP/1.1', 'Host: gone-name-aaa111.trycloudflare.com'])).status;
    expect(await status()).toBe(200);
    const at = new Date().toISOString();
    fx.store.append('tunnel', 'tunnel:gone', 'any', [
      { id: uuidv7(), type: 'STOP_REQUESTED', data: {}, at },
      { id: uuidv7(), type: 'PROCESS_EXITED', data: { pid: 4242, code: 0, signal: null, cause: 'exit' }, at },
    ]);
    await gw.caughtUp();
    expect(await status()).toBe(421);
  });
});

describe('the relay\'s own API', () => {
  let relay: ReturnType<typeof buildRelay>;
  let registry: RelayRegistry;
  let port: number;
  let cleanup: () => void;

  beforeAll(async () => {
    const t = tempDir('flow-relay-host-');
    cleanup = t.cleanup;
    registry = new RelayRegistry(join(t.dir, 'relay.db'));
    relay = buildRelay({ domain: 'example.test', registry, publicScheme: 'http' });
    await relay.listen({ port: 0, host: '127.0.0.1' });
    port = (relay.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await relay?.close();
    registry?.close();
    cleanup?.();
  });

  const register = (host: string, username: string) => wire(port, ['POST /api/register HTTP/1.1', `Host: ${host}`, 'Content-Type: application/json'], JSON.stringify({ username }));
  const available = async (username: string) => JSON.parse((await wire(port, [`GET /api/available?username=${username} HTTP/1.1`, `Host: 127.0.0.1:${port}`])).body) as { available: boolean };

  it('refuses a rebound name (421) and registers nothing', async () => {
    const res = await register(`${REBIND}:${port}`, 'mallory');
    expect(res.status).toBe(421);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'misdirected' });
    expect(JSON.parse(res.body).message).toMatch(/example\.test/);
    expect(await available('mallory')).toEqual({ available: true });
  });

  it('answers on its domain (and my.<domain>) and on loopback', async () => {
    expect((await register('example.test', 'alice')).status).toBe(201);
    expect((await register('My.Example.Test:443', 'bob')).status).toBe(201);
    expect((await register(`127.0.0.1:${port}`, 'carol')).status).toBe(201);
    expect((await register(`localhost:${port}`, 'dave')).status).toBe(201);
  });

  it('still forwards handle names as before (an unknown handle is the relay\'s 404 page, not a refusal)', async () => {
    const res = await wire(port, ['GET / HTTP/1.1', 'Host: nobody.example.test']);
    expect(res.status).toBe(404);
    expect(res.head).toMatch(/text\/html/);
  });

  it('refuses a request line that is not HTTP/1.x on its API and on handle names alike (400), forwarding nothing', async () => {
    for (const host of [`127.0.0.1:${port}`, 'nobody.example.test']) {
      const res = await wire(port, ['GET /\nX-Smuggled: HTTP/1.1', `Host: ${host}`]);
      expect(res.status, host).toBe(400);
      expect(res.head, host).toMatch(/application\/json/);
      expect(JSON.parse(res.body), host).toMatchObject({ error: 'invalid', message: expect.stringMatching(/HTTP\/1\.1/) });
    }
  });
});
