import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { kindFor } from '../../actors/index.js';
import { tunnelStreamId, type TunnelContext } from '../../actors/tunnel/index.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorProjector, readActor, readTimers } from '../../services/store/projections.js';
import { ActorHost } from '../../services/host/actor-host.js';
import { isAlive } from '../../services/host/proc.js';
import { EventStore } from '../../services/store/event-store.js';
import { buildRelay } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { gatewayExposureGuard, tunnelServices, type TunnelServicesDeps } from '../../services/tunnel/index.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { memoryTokenStore } from '../../services/tunnel/tokens.js';
import { ShiftableClock } from '../support/host.js';
import { tempDir } from '../support/tmp.js';
import { FAKE_CLOUDFLARED, json, request, startOrigin, until, wsEcho } from './helpers.js';

/**
 * The tunnel actor in the real host with real processes: the fake cloudflared forwards to a
 * local origin, the relay (on loopback) routes a stable handle to whatever URL the tunnel has.
 * Durable timers are fired by hand after moving the host's clock: simulated time, real I/O.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(extra: Partial<TunnelServicesDeps> = {}) {
  const t = tempDir('flow-tunnel-');
  cleanups.push(t.cleanup);
  const resolveDir = join(t.dir, 'resolve');
  const origin = await startOrigin();
  cleanups.push(() => origin.close());

  const relayClock = { t: Date.now(), now() { return this.t; } };
  const registry = new RelayRegistry(join(t.dir, 'relay.db'));
  const relay = buildRelay({ domain: 'example.test', registry, clock: relayClock, resolve: resolverFromDir(resolveDir), publicScheme: 'http' });
  await relay.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    await relay.close();
    registry.close();
  });
  const relayPort = (relay.server.address() as AddressInfo).port;

  const clock = new ShiftableClock();
  const tokens = memoryTokenStore();
  const deps: TunnelServicesDeps = {
    command: [process.execPath, FAKE_CLOUDFLARED, 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate'],
    tokens,
    resolve: resolverFromDir(resolveDir),
    env: { ...process.env, FLOW_TUNNEL_RESOLVE_DIR: resolveDir },
    stopGraceMs: 2000,
    ...extra,
  };
  const lines: string[] = [];
  const open = async () => {
    const store = EventStore.open(join(t.dir, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    const host = await ActorHost.start({ store, live: new InProcessLiveBus(), services: [tunnelServices(deps)], clock, log: (l) => lines.push(l) });
    return { store, host };
  };
  let h = await open();
  cleanups.push(async () => {
    await h.host.stop();
    h.store.close();
  });
  const id = tunnelStreamId('web');
  const s = {
    origin,
    relayPort,
    relayUrl: `http://127.0.0.1:${relayPort}`,
    relayClock,
    clock,
    tokens,
    lines,
    get host() {
      return h.host;
    },
    get store() {
      return h.store;
    },
    events: () => h.store.readStream(id),
    count: (type: string) => h.store.readStream(id).filter((e) => e.type === type).length,
    ctx: () => readActor(h.store.db, id)?.snapshot.context as TunnelContext,
    status: () => readActor(h.store.db, id)?.status,
    waitCount: (type: string, n: number, timeoutMs?: number) => until(() => s.count(type) >= n, `${n} × ${type} (have ${h.store.readStream(id).map((e) => e.type).join(', ')})`, timeoutMs),
    waitStatus: (status: string) => until(() => s.status() === status, `status ${status} (is ${s.status()})`),
    /** Moves the host clock and fires the pending durable timer whose event names `delay`. */
    async fire(delay: string, shiftMs: number) {
      const timer = readTimers(h.store.db).find((x) => x.streamId === id && x.event.type.includes(delay));
      if (!timer) throw new Error(`no ${delay} timer; timers: ${JSON.stringify(readTimers(h.store.db))}`);
      clock.offset += shiftMs;
      await h.host.observe(id, 'TIMER_FIRED', { timerId: timer.timerId, event: timer.event });
    },
    async reopen() {
      await h.host.stop();
      h.store.close();
      h = await open();
    },
    viaRelay: (opts: Parameters<typeof request>[1]) => request(relayPort, opts),
  };
  return s;
}

const relayCfg = (url: string) => ({ url, username: 'bruno', tier: 'premium' as const });

describe('tunnel actor with real processes, relay and fake cloudflared', () => {
  it('end to end through the relay; killed → restarted with a new URL the relay learns; ticks, heartbeats, sleep/wake, stop', async () => {
    const s = await setup();
    const res = await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: s.origin.port, relay: relayCfg(s.relayUrl) });
    expect(res).toMatchObject({ ok: true, streamId: 'tunnel:web', status: 'starting' });
    await s.waitCount('RELAY_ONLINE', 1);
    const url1 = s.ctx().url!;
    expect(url1).toMatch(/^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    expect(s.status()).toBe('connected');
    expect(s.ctx().relay).toMatchObject({ status: 'online', handleUrl: 'http://bruno.example.test/' });
    expect(s.ctx().connection).toMatchObject({ location: 'sjc07', protocol: 'quic', connIndex: 0 });

    // client → relay → tunnel → origin: GET, a 1 MiB POST, a WebSocket.
    const get = await s.viaRelay({ host: 'bruno.example.test', path: '/hello' });
    expect(get.status).toBe(200);
    expect(json(get)).toMatchObject({ url: '/hello', host: new URL(url1).host });
    const body = randomBytes(1024 * 1024);
    const post = await s.viaRelay({ host: 'bruno.example.test', method: 'POST', path: '/upload', body });
    expect(json(post)).toMatchObject({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(await wsEcho(s.relayPort, 'bruno.example.test', '/ws', ['echo me'])).toEqual({ first: 'hello /ws', echoes: ['echo me'] });

    // The tunnel process dies: the watchdog restarts it, the relay gets the new URL.
    const pid1 = s.ctx().run!.pid;
    process.kill(pid1, 'SIGKILL');
    await s.waitCount('RELAY_ONLINE', 2);
    const url2 = s.ctx().url!;
    expect(url2).not.toBe(url1);
    expect(s.ctx()).toMatchObject({ previousUrl: url1, urlChanges: 1 });
    expect(s.events().find((e) => e.type === 'PROCESS_EXITED')!.data).toMatchObject({ pid: pid1, signal: 'SIGKILL', cause: 'exit' });
    expect(json(await s.viaRelay({ host: 'bruno.example.test', path: '/again' }))).toMatchObject({ host: new URL(url2).host });

    // A 30 s tick: HEAD through the public URL, and a heartbeat to the relay.
    await s.fire('healthInterval', 30_000);
    await s.waitCount('HEALTH_OK', 1);
    expect(s.status()).toBe('connected');

    // Heartbeats stop for 121 s (relay's simulated clock) → the 503 page; the next tick's heartbeat revives it.
    s.relayClock.t += 121_000;
    const stale = await s.viaRelay({ host: 'bruno.example.test' });
    expect(stale.status).toBe(503);
    expect(stale.body.toString()).toContain('http-equiv="refresh" content="15"');
    await s.fire('healthInterval', 30_000);
    await s.waitCount('HEALTH_OK', 2);
    // The heartbeat is fire-and-forget; poll the relay until it has it.
    const deadline = Date.now() + 5000;
    let revived = 0;
    while (Date.now() < deadline && revived !== 200) {
      revived = (await s.viaRelay({ host: 'bruno.example.test' })).status;
      if (revived !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(revived).toBe(200);

    // Sleep/wake: the edge connection is gone (the process lives on), the clock jumps 10 min.
    const pid2 = s.ctx().run!.pid;
    process.kill(pid2, 'SIGUSR2');
    await s.fire('healthInterval', 600_000);
    expect(s.ctx().wakes).toBe(1);
    await s.waitCount('HEALTH_FAILED', 1);
    await s.waitCount('RELAY_ONLINE', 3);
    expect(s.ctx().restartReason).toMatch(/sleep\/wake/);
    const url3 = s.ctx().url!;
    expect(url3).not.toBe(url2);
    expect(isAlive(pid2)).toBe(false);
    expect(json(await s.viaRelay({ host: 'bruno.example.test', path: '/woke' }))).toMatchObject({ host: new URL(url3).host });

    // Stop: the process group goes, the relay is told at once.
    const pid3 = s.ctx().run!.pid;
    expect(await s.host.dispatch({ type: 'tunnel.stop', name: 'web' })).toMatchObject({ ok: true, status: 'stopping' });
    await s.waitStatus('stopped');
    await s.waitCount('RELAY_DISCONNECTED', 1);
    expect(isAlive(pid3)).toBe(false);
    expect((await s.viaRelay({ host: 'bruno.example.test' })).status).toBe(503);
    expect(readTimers(s.store.db).filter((x) => x.streamId === 'tunnel:web')).toEqual([]);
  });

  it('refuses to expose an unauthenticated gateway; a missing program fails clearly', async () => {
    const s = await setup({ refuse: gatewayExposureGuard({ gatewayPort: 3456, hasPassword: () => false }) });
    await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: 3456 });
    await s.waitStatus('failed');
    expect(s.ctx().lastError).toMatch(/without a password/);
    expect(s.count('PROCESS_STARTED')).toBe(0);

    await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: 3457, command: ['flow-no-such-cloudflared', 'tunnel'] });
    await until(() => s.status() === 'failed' && s.count('SPAWN_FAILED') === 2, 'second failure');
    expect(s.ctx().lastError).toMatch(/not found on PATH/);
  });

  it('a host shutdown stops the tunnel and tells the relay; the next start resumes with a new URL', async () => {
    const s = await setup();
    await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: s.origin.port, relay: relayCfg(s.relayUrl) });
    await s.waitCount('RELAY_ONLINE', 1);
    const pid = s.ctx().run!.pid;
    const url1 = s.ctx().url;
    await s.reopen();
    expect(isAlive(pid)).toBe(false);
    const exit = s.events().find((e) => e.type === 'PROCESS_EXITED');
    expect(exit?.data).toMatchObject({ pid, cause: 'host-shutdown' });
    expect(s.count('RELAY_DISCONNECTED')).toBe(1);
    expect(s.count('HOST_RESUMED')).toBe(1);
    await s.waitCount('RELAY_ONLINE', 2);
    expect(s.ctx().url).not.toBe(url1);
    expect((await s.viaRelay({ host: 'bruno.example.test' })).status).toBe(200);
  });
});
