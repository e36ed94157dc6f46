import { describe, expect, it } from 'vitest';
import { opencodeInstanceKind as kind, instanceHealth, type InstanceContext, type InstanceSnapshot } from '../../actors/opencode-instance/index.js';
import { given, type Input } from '../support/given.js';

/**
 * Seed 004's health checks and the self-healing of issue 15 item 9, on the simulated host:
 * a tick every intervalMs asks /global/health (effect checkHealth); `failures` unanswered checks
 * in a row restart the server; a crash or a hung server restarts with the backend-child policy
 * (unit × n, at most maxRestarts in a row, a long healthy run wipes n), then `error`.
 */
const health = { intervalMs: 1000, timeoutMs: 300, failures: 2 };
const restart = { maxRestarts: 2, backoffUnitMs: 500, stableAfterMs: 5000 };
const create: Input = { type: 'opencode.create', id: 'alpha', directory: '/w/alpha', autostart: true, startTimeoutMs: 10_000, health, restart };
const spawned = (pid: number): Input => ({ type: 'SPAWNED', pid, startTicks: pid, spawnId: null, port: 4100, bin: '/bin/opencode' });
const ready: Input = { type: 'READY', url: 'http://127.0.0.1:4100', version: '1.0.0' };
const exited = (pid: number, more: Record<string, unknown> = {}): Input => ({ type: 'PROCESS_EXITED', pid, code: null, signal: 'SIGKILL', cause: 'exit', ...more });
const running = (pid = 100): Input[] => [create, spawned(pid), ready];
const ctx = (c: Record<string, unknown>) => c as unknown as InstanceContext;

describe('opencode-instance: health checks', () => {
  it('given a running instance, when an interval passes, then it checks /global/health; a healthy answer keeps it running and healthy', () => {
    const g = given(kind, running());
    g.host.takeEffects();
    g.host.advance(999);
    expect(g.host.takeEffects()).toEqual([]);
    g.host.advance(1);
    expect(g.host.takeEffects()).toEqual(['checkHealth']);
    const host = g.when({ type: 'HEALTH_OK', checkId: 1, version: '1.0.1' }).then({ state: 'running', context: { version: '1.0.1', health: { checkId: 1, failures: 0 } } });
    expect(instanceHealth(host.snapshot as InstanceSnapshot)).toBe('healthy');
    host.advance(1000);
    expect(host.takeEffects()).toEqual(['checkHealth']);
  });

  it('given one failed check, then it is running but unhealthy, and the next tick checks again', () => {
    const g = given(kind, running()).after(1000);
    const host = g.when({ type: 'HEALTH_FAILED', checkId: 1, error: 'socket hang up' }).then({ state: 'running', effects: [], context: { health: { failures: 1, lastError: 'socket hang up' } } });
    expect(instanceHealth(host.snapshot as InstanceSnapshot)).toBe('unhealthy');
    host.advance(1000);
    expect(host.takeEffects()).toEqual(['checkHealth']);
    // A healthy answer clears it.
    host.send('HEALTH_OK', { checkId: 2, version: null });
    expect(instanceHealth(host.snapshot as InstanceSnapshot)).toBe('healthy');
  });

  it('given a check in flight, when no answer comes within timeoutMs, then that is a failed check', () => {
    const host = given(kind, running()).after(1000).host;
    host.advance(300);
    expect(ctx(host.context).health).toMatchObject({ failures: 1, lastError: 'no answer from /global/health within 300 ms' });
    expect(host.state).toBe('running');
  });

  it('given a check in flight, when the answer to an older check arrives, then it changes nothing', () => {
    const host = given(kind, running()).after(1000).host;
    host.advance(300).advance(1000); // check 1 timed out, check 2 in flight
    host.send('HEALTH_OK', { checkId: 1, version: null });
    expect(ctx(host.context).health.failures).toBe(1);
  });

  it('given two checks in a row without an answer, then the server is hung: it is stopped and restarted, with the reason kept', () => {
    const g = given(kind, running()).after(1000);
    g.host.send('HEALTH_FAILED', { checkId: 1, error: 'timeout' });
    g.host.advance(1000);
    const host = g.when({ type: 'HEALTH_FAILED', checkId: 2, error: 'timeout' }).then({ state: 'restarting', effects: ['stopProcess'] });
    expect(ctx(host.context).restartReason).toBe('opencode stopped answering: 2 health check(s) in a row failed (timeout)');
    // The old process goes; after unit × 1 a new one is spawned.
    host.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGKILL', cause: 'stopped' });
    expect(host.state).toBe('backoff');
    expect(ctx(host.context).restarts).toBe(1);
    host.takeEffects();
    host.advance(500);
    expect(host.state).toBe('starting');
    expect(host.takeEffects()).toEqual(['spawnProcess']);
    host.send('SPAWNED', { pid: 101, startTicks: 101, spawnId: null, port: 4101, bin: '/bin/opencode' }).send('READY', { url: 'http://127.0.0.1:4101', version: '1.0.0' });
    expect(host.state).toBe('running');
    expect(ctx(host.context)).toMatchObject({ run: { pid: 101 }, health: { failures: 0 }, restarts: 1 });
  });

  it('given a hung server being restarted, when it is stopped by hand, then it ends stopped and no restart follows', () => {
    const g = given(kind, running()).after(1000);
    g.host.advance(300).advance(1000).advance(300);
    expect(g.host.state).toBe('restarting');
    const host = g.when({ type: 'opencode.stop', id: 'alpha' }).then({ state: 'stopping' });
    host.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'stopped' });
    expect(host.state).toBe('stopped');
    host.takeEffects();
    host.advance(60_000);
    expect(host.takeEffects()).toEqual([]);
  });
});

describe('opencode-instance: restarts after a crash (the backend-child policy)', () => {
  it('given a running instance, when its process dies, then it waits unit × 1 and starts again; its busy sessions are interrupted', () => {
    const session = { id: 'ses_1', title: 't', directory: '/w/alpha', createdAt: 1, updatedAt: 1, tokens: null, cost: null };
    const host = given(kind, [...running(), { type: 'SESSION_CREATED', session }, { type: 'SESSION_STATUS', sessionId: 'ses_1', status: 'busy' }])
      .when(exited(100))
      .then({ state: 'backoff', effects: [], context: { restarts: 1 } });
    expect(ctx(host.context).sessions.ses_1!.state).toBe('interrupted');
    expect(ctx(host.context).restartReason).toContain('was killed by SIGKILL');
    host.advance(499);
    expect(host.state).toBe('backoff');
    host.advance(1);
    expect(host.state).toBe('starting');
  });

  it('given maxRestarts crashes in a row, when it crashes again, then it is an error until started by hand, and says so', () => {
    const g = given(kind, running());
    let pid = 100;
    for (let n = 1; n <= 2; n++) {
      g.host.send('PROCESS_EXITED', { pid, code: 1, signal: null, cause: 'exit' });
      expect(g.host.state).toBe('backoff');
      g.host.advance(500 * n);
      pid += 1;
      g.host.send('SPAWNED', { pid, startTicks: pid, spawnId: null, port: 4100, bin: '/bin/opencode' }).send('READY', { url: 'http://127.0.0.1:4100', version: null });
    }
    const host = g.when(exited(pid, { code: 1, signal: null })).then({ state: 'error' });
    expect(ctx(host.context).lastError).toMatch(/gave up after 2 automatic restart\(s\); start it again with "f instance start alpha"/);
    // Started by hand: a fresh budget.
    host.command({ type: 'opencode.start', id: 'alpha' });
    expect(host.state).toBe('starting');
    expect(ctx(host.context).restarts).toBe(0);
  });

  it('given a restart whose new process dies before it is ready, then that counts against the budget instead of stopping at error', () => {
    const host = given(kind, [...running(), exited(100)]).after(500).host;
    expect(host.state).toBe('starting');
    host.send('SPAWNED', { pid: 101, startTicks: 101, spawnId: null, port: 4100, bin: '/bin/opencode' }).send('PROCESS_EXITED', { pid: 101, code: 1, signal: null, cause: 'exit' });
    expect(host.state).toBe('backoff');
    expect(ctx(host.context).restarts).toBe(2);
  });

  it('given a first start that fails, then it is an error at once (a broken setup is not retried in a loop)', () => {
    given(kind, [create, spawned(100)])
      .when({ type: 'PROCESS_EXITED', pid: 100, code: 1, signal: null, cause: 'exit' })
      .then({ state: 'error' });
  });

  it('given a run that stayed healthy longer than stableAfterMs, when it crashes, then the count starts again at 1', () => {
    const g = given(kind, [...running(), exited(100)]).after(500);
    const host = g.host;
    host.send('SPAWNED', { pid: 101, startTicks: 101, spawnId: null, port: 4100, bin: '/bin/opencode' }).send('READY', { url: 'http://127.0.0.1:4100', version: null });
    expect(ctx(host.context).restarts).toBe(1);
    for (let i = 1; i <= 6; i++) {
      host.advance(1000);
      host.send('HEALTH_OK', { checkId: ctx(host.context).health.checkId, version: null });
    }
    host.send('PROCESS_EXITED', { pid: 101, code: 1, signal: null, cause: 'exit' });
    expect(host.state).toBe('backoff');
    expect(ctx(host.context).restarts).toBe(1);
  });

  it('given an instance in backoff, when it is stopped or started by hand, then the request applies at once', () => {
    given(kind, [...running(), exited(100)]).when({ type: 'opencode.stop', id: 'alpha' }).then({ state: 'stopped', effects: [] });
    given(kind, [...running(), exited(100)]).when({ type: 'opencode.start', id: 'alpha' }).then({ state: 'starting', effects: ['spawnProcess'], context: { restarts: 0 } });
  });
});

describe('opencode-instance: the host goes away and comes back', () => {
  it('given a running instance, when the host shuts down, then it is interrupted; when the host is back, then it starts again', () => {
    const host = given(kind, running())
      .when({ type: 'PROCESS_EXITED', pid: 100, code: null, signal: 'SIGTERM', cause: 'host-shutdown' })
      .then({ state: 'interrupted', effects: [] });
    host.takeEffects();
    host.send('HOST_RESUMED', {});
    expect(host.state).toBe('starting');
    expect(host.takeEffects()).toEqual(['spawnProcess']);
  });

  it('given an instance a dead Flow left (host-lost), then it is interrupted too, and a stop by hand leaves it stopped', () => {
    given(kind, [...running(), { type: 'PROCESS_EXITED', pid: 100, code: null, signal: 'SIGTERM', cause: 'host-lost' }])
      .when({ type: 'opencode.stop', id: 'alpha' })
      .then({ state: 'stopped', effects: [] });
  });

  it('given an instance stopped by hand, when the host comes back, then it stays stopped', () => {
    given(kind, [...running(), { type: 'opencode.stop', id: 'alpha' }, { type: 'PROCESS_EXITED', pid: 100, code: null, signal: 'SIGTERM', cause: 'stopped' }])
      .when({ type: 'HOST_RESUMED' })
      .then({ state: 'stopped', effects: [] });
  });
});

describe('opencode-instance: logs from before health checks', () => {
  it('given a CREATED without health or restart policy, then the defaults apply (30 s ticks, 3 restarts)', () => {
    const host = given(kind, [{ type: 'CREATED', id: 'old', directory: '/w/old', autostart: true, startTimeoutMs: 10_000 }, spawned(100), ready]).host;
    expect(host.pendingTimers()).toEqual([expect.objectContaining({ inMs: 30_000 })]);
    expect(ctx(host.context)).toMatchObject({ healthPolicy: null, restartPolicy: null });
  });
});
