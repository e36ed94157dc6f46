import { describe, expect, it } from 'vitest';
import { restartDelayMs, tunnelCommandTarget, tunnelKind, TUNNEL_POLICY, type TunnelContext } from '../../actors/tunnel/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { fold } from '../../actors/fold.js';
import { SimulatedHost as Sim } from '../support/given.js';

const kind = tunnelKind as unknown as ActorKind;
const URL1 = 'https://buffalo-marco-cardiff-motel.trycloudflare.com';
const URL2 = 'https://second-try-again-now.trycloudflare.com';
const relay = { url: 'http://127.0.0.1:9/', username: 'bruno', tier: 'premium' as const };

function ctx(sim: Sim): TunnelContext {
  return sim.context as unknown as TunnelContext;
}

/** A tunnel that has started and announced its URL. */
function connected(opts: { relay?: boolean } = {}): Sim {
  const sim = new Sim(kind);
  sim.send('START_REQUESTED', { name: 'web', port: 3456, relay: opts.relay ? relay : null });
  sim.send('PROCESS_STARTED', { pid: 100, startTicks: 5 });
  sim.send('URL_ANNOUNCED', { pid: 100, url: URL1 });
  sim.takeEffects();
  return sim;
}

describe('tunnel machine', () => {
  it('starts: spawn → process → URL known → connected, with a 30 s tick armed', () => {
    const sim = new Sim(kind);
    expect(sim.send('START_REQUESTED', { name: 'web', port: 3456 }).takeEffects()).toEqual(['spawnTunnel']);
    expect(sim.state).toBe('starting');
    sim.send('PROCESS_STARTED', { pid: 100, startTicks: 5 });
    expect(sim.state).toBe('starting');
    sim.send('URL_ANNOUNCED', { pid: 100, url: URL1 });
    expect(sim.state).toBe('connected');
    expect(ctx(sim).url).toBe(URL1);
    expect(sim.pendingTimers()).toEqual([expect.objectContaining({ event: expect.stringContaining('healthInterval') as unknown as string, inMs: TUNNEL_POLICY.healthIntervalMs })]);
  });

  it('ignores a URL announced by another (older) process', () => {
    const sim = new Sim(kind);
    sim.send('START_REQUESTED', { name: 'web', port: 3456 });
    sim.send('PROCESS_STARTED', { pid: 100, startTicks: 5 });
    sim.send('URL_ANNOUNCED', { pid: 99, url: URL1 });
    expect(sim.state).toBe('starting');
    expect(ctx(sim).url).toBeNull();
  });

  it('ticks every 30 s: a HEAD check, then back to connected on HEALTH_OK', () => {
    const sim = connected();
    sim.advance(29_999);
    expect(sim.state).toBe('connected');
    sim.advance(1);
    expect(sim.state).toBe('checking');
    expect(sim.takeEffects()).toEqual(['checkHealth']);
    expect(ctx(sim).health.checkId).toBe(1);
    sim.advance(800);
    sim.send('HEALTH_OK', { checkId: 1, status: 200 });
    expect(sim.state).toBe('connected');
    // The next tick is 30 s after the answer, so ticks are 30.8 s apart: not a wake.
    sim.advance(30_000);
    expect(sim.state).toBe('checking');
    expect(ctx(sim).health.checkId).toBe(2);
    expect(ctx(sim).wakes).toBe(0);
    expect(ctx(sim).health.afterWake).toBe(false);
  });

  it('a check without an answer in 5 s counts as a failure; two in a row restart the tunnel', () => {
    const sim = connected();
    sim.advance(30_000);
    sim.advance(4_999);
    expect(sim.state).toBe('checking');
    sim.advance(1);
    expect(sim.state).toBe('connected');
    expect(ctx(sim).health.failures).toBe(1);
    expect(ctx(sim).health.lastError).toMatch(/5000 ms/);
    // A late answer to the timed-out check is stale and changes nothing.
    sim.send('HEALTH_OK', { checkId: 1, status: 200 });
    expect(ctx(sim).health.failures).toBe(1);
    sim.takeEffects();
    sim.advance(30_000);
    sim.send('HEALTH_FAILED', { checkId: 2, error: 'ECONNREFUSED', status: null });
    expect(sim.state).toBe('restarting');
    expect(sim.takeEffects()).toEqual(['checkHealth', 'killTunnel']);
    expect(ctx(sim).restartReason).toMatch(/2 health checks failed: ECONNREFUSED/);
  });

  it('one failed check is a blip: the tunnel keeps its URL', () => {
    const sim = connected();
    sim.advance(30_000);
    sim.send('HEALTH_FAILED', { checkId: 1, error: 'HTTP 530', status: 530 });
    expect(sim.state).toBe('connected');
    expect(ctx(sim).url).toBe(URL1);
    sim.advance(30_000);
    sim.send('HEALTH_OK', { checkId: 2, status: 200 });
    expect(ctx(sim).health.failures).toBe(0);
  });

  it('a tick more than 60 s after the previous one (sleep/wake): immediate check, one failure restarts', () => {
    const sim = connected();
    sim.advance(30_000);
    sim.send('HEALTH_OK', { checkId: 1, status: 200 });
    sim.takeEffects();
    // The laptop sleeps for 10 minutes; the overdue tick fires the moment it wakes.
    sim.sleep(600_000);
    expect(sim.state).toBe('checking');
    expect(sim.takeEffects()).toEqual(['checkHealth']);
    expect(ctx(sim).wakes).toBe(1);
    expect(ctx(sim).lastWakeAt).toBe(sim.now);
    expect(ctx(sim).health.afterWake).toBe(true);
    sim.send('HEALTH_FAILED', { checkId: 2, error: 'ENOTFOUND', status: null });
    expect(sim.state).toBe('restarting');
    expect(ctx(sim).restartReason).toMatch(/sleep\/wake/);
    // The old process goes, a new one comes with a new URL.
    sim.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'exit' });
    expect(sim.state).toBe('backoff');
    expect(sim.pendingTimers()).toEqual([expect.objectContaining({ inMs: 1000 })]);
    sim.advance(1000);
    expect(sim.state).toBe('starting');
    sim.send('PROCESS_STARTED', { pid: 101, startTicks: 9 });
    sim.send('URL_ANNOUNCED', { pid: 101, url: URL2 });
    expect(ctx(sim).url).toBe(URL2);
    expect(ctx(sim).previousUrl).toBe(URL1);
    expect(ctx(sim).urlChanges).toBe(1);
  });

  it('after a wake a healthy tunnel stays up', () => {
    const sim = connected();
    sim.sleep(120_000);
    expect(ctx(sim).health.afterWake).toBe(true);
    sim.send('HEALTH_OK', { checkId: 1, status: 204 });
    expect(sim.state).toBe('connected');
    expect(ctx(sim).health.afterWake).toBe(false);
  });

  it('a dead process restarts with exponential backoff, reset by a healthy check', () => {
    const sim = connected();
    let pid = 100;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      sim.send('PROCESS_EXITED', { pid, code: 1, signal: null, cause: 'exit' });
      expect(sim.state).toBe('backoff');
      const due = sim.pendingTimers()[0]!.inMs;
      delays.push(due);
      sim.advance(due);
      expect(sim.state).toBe('starting');
      pid++;
      sim.send('PROCESS_STARTED', { pid, startTicks: pid });
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    sim.send('URL_ANNOUNCED', { pid, url: URL2 });
    sim.advance(30_000);
    sim.send('HEALTH_OK', { checkId: ctx(sim).health.checkId, status: 200 });
    expect(ctx(sim).restarts).toBe(0);
  });

  it('a rate-limited start (429) backs off for at least a minute', () => {
    const sim = new Sim(kind);
    sim.send('START_REQUESTED', { name: 'web', port: 3456 });
    sim.send('PROCESS_STARTED', { pid: 100, startTicks: 5 });
    sim.send('PROCESS_EXITED', { pid: 100, code: 1, signal: null, cause: 'exit', rateLimited: true, lastStderr: '429 Too Many Requests' });
    expect(sim.pendingTimers()[0]!.inMs).toBe(60_000);
    expect(restartDelayMs(3, true)).toBe(240_000);
    expect(restartDelayMs(30, true)).toBe(TUNNEL_POLICY.rateLimitCapMs);
  });

  it('no URL within 30 s: the start is hung and gets restarted', () => {
    const sim = new Sim(kind);
    sim.send('START_REQUESTED', { name: 'web', port: 3456 });
    sim.send('PROCESS_STARTED', { pid: 100, startTicks: 5 });
    sim.takeEffects();
    sim.advance(30_000);
    expect(sim.state).toBe('restarting');
    expect(sim.takeEffects()).toEqual(['killTunnel']);
    expect(ctx(sim).restartReason).toMatch(/no public URL/);
  });

  it('a permanent spawn failure (program missing, exposure refused) fails without retrying', () => {
    const sim = new Sim(kind);
    sim.send('START_REQUESTED', { name: 'web', port: 3456 });
    sim.send('SPAWN_FAILED', { error: 'cloudflared not found on PATH', permanent: true });
    expect(sim.state).toBe('failed');
    expect(sim.pendingTimers()).toEqual([]);
    expect(ctx(sim).lastError).toBe('cloudflared not found on PATH');
    sim.send('START_REQUESTED', { name: 'web', port: 3456, command: ['node', 'fake.mjs'] });
    expect(sim.state).toBe('starting');
  });

  it('a transient spawn failure backs off and retries', () => {
    const sim = new Sim(kind);
    sim.send('START_REQUESTED', { name: 'web', port: 3456 });
    sim.send('SPAWN_FAILED', { error: 'EAGAIN', permanent: false });
    expect(sim.state).toBe('backoff');
  });

  it('with a relay: announce on URL, heartbeat on every tick, disconnect on stop', () => {
    const sim = new Sim(kind);
    sim.send('START_REQUESTED', { name: 'web', port: 3456, relay });
    expect(ctx(sim).relay.status).toBe('pending');
    sim.send('PROCESS_STARTED', { pid: 100, startTicks: 5 }).takeEffects();
    expect(sim.send('URL_ANNOUNCED', { pid: 100, url: URL1 }).takeEffects()).toEqual(['relayAnnounce']);
    sim.send('RELAY_ONLINE', { handleUrl: 'http://bruno.example.test/', tunnelUrl: URL1 });
    expect(ctx(sim).relay.status).toBe('online');
    sim.takeEffects();
    sim.advance(30_000);
    expect(sim.takeEffects()).toEqual(['relayHeartbeat', 'checkHealth']);
    sim.send('HEALTH_OK', { checkId: 1, status: 200 });
    sim.send('RELAY_FAILED', { stage: 'heartbeat', error: 'ECONNREFUSED' });
    expect(ctx(sim).relay).toMatchObject({ status: 'error', lastError: 'heartbeat: ECONNREFUSED' });
    expect(sim.send('STOP_REQUESTED').takeEffects()).toEqual(['killTunnel', 'relayDisconnect']);
    expect(sim.state).toBe('stopping');
    sim.send('PROCESS_EXITED', { pid: 100, code: 0, signal: 'SIGTERM', cause: 'exit' });
    expect(sim.state).toBe('stopped');
    sim.send('RELAY_DISCONNECTED');
    expect(ctx(sim).relay.status).toBe('disconnected');
    expect(sim.pendingTimers()).toEqual([]);
  });

  it('without a relay there are no relay effects', () => {
    const sim = connected();
    sim.advance(30_000);
    expect(sim.takeEffects()).toEqual(['checkHealth']);
  });

  it('stopping cancels the tick; a host shutdown interrupts and resumes', () => {
    const sim = connected();
    sim.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'host-shutdown' });
    expect(sim.state).toBe('interrupted');
    expect(sim.pendingTimers()).toEqual([]);
    sim.send('HOST_RESUMED');
    expect(sim.state).toBe('starting');
  });

  it('refuses commands that do not apply (start while connected, stop while stopped)', () => {
    const sim = connected();
    expect(sim.snapshot.can({ type: 'START_REQUESTED', name: 'web', port: 1, command: null, relay: null, at: sim.now } as never)).toBe(false);
    sim.send('STOP_REQUESTED');
    sim.send('PROCESS_EXITED', { pid: 100, code: 0, signal: null, cause: 'exit' });
    expect(sim.snapshot.can({ type: 'STOP_REQUESTED', at: sim.now } as never)).toBe(false);
    expect(sim.snapshot.can({ type: 'REMOVE_REQUESTED', at: sim.now } as never)).toBe(true);
  });

  it('replay equals live: folding the recorded log gives the same snapshot', () => {
    const sim = connected({ relay: true });
    sim.advance(30_000);
    sim.send('HEALTH_FAILED', { checkId: 1, error: 'x', status: 530 });
    sim.sleep(200_000);
    sim.send('HEALTH_FAILED', { checkId: 2, error: 'y', status: null });
    sim.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'exit' });
    sim.advance(5_000);
    const replayed = fold(kind, sim.log);
    expect(replayed.value).toEqual(sim.snapshot.value);
    expect(replayed.context).toEqual(sim.snapshot.context);
  });

  it('maps commands to streams, with a default name per port', () => {
    expect(tunnelCommandTarget({ type: 'tunnel.start', port: 3456 })).toMatchObject({ streamId: 'tunnel:port-3456', type: 'START_REQUESTED', data: { name: 'port-3456', port: 3456, command: null, relay: null } });
    expect(tunnelCommandTarget({ type: 'tunnel.stop', name: 'web' })).toMatchObject({ streamId: 'tunnel:web', type: 'STOP_REQUESTED' });
    expect(() => tunnelKind.events.START_REQUESTED!.parse({ name: 'a.b', port: 1 })).toThrow();
    expect(() => tunnelKind.events.START_REQUESTED!.parse({ name: 'a', port: 1, relay: { url: 'http://r', username: 'a/b' } })).toThrow(/no dots, slashes/);
  });
});
