import { describe, expect, it } from 'vitest';
import { backendChildKind, BACKEND_POLICY } from '../../actors/backend-child/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { SimulatedHost } from '../support/given.js';

const kind = backendChildKind as unknown as ActorKind;
const config = { command: ['node', 'server.js'], cwd: '/srv/api', env: {}, port: null, watch: ['src'], watchExtensions: ['.ts', '.js', '.json'], stopGraceMs: 5000 };

function createdAndRunning(pid = 100): SimulatedHost {
  const a = new SimulatedHost(kind);
  a.send('CREATED', { name: 'api', config, autostart: true });
  a.send('PROCESS_STARTED', { pid, startTicks: 1 });
  a.takeEffects();
  return a;
}

function crash(a: SimulatedHost, pid: number, code = 1) {
  a.send('PROCESS_EXITED', { pid, code, signal: null, cause: 'exit' });
}

describe('backend-child machine', () => {
  it('given a create with autostart, asks for a spawn and is starting; then running once started', () => {
    const a = new SimulatedHost(kind).send('CREATED', { name: 'api', config, autostart: true });
    expect(a.state).toBe('starting');
    expect(a.takeEffects()).toEqual(['spawnProcess']);
    a.send('PROCESS_STARTED', { pid: 100, startTicks: 7 });
    expect(a.state).toBe('running');
    expect(a.context.run).toMatchObject({ pid: 100, startTicks: 7 });
  });

  it('given a create without autostart, is stopped and spawns nothing', () => {
    const a = new SimulatedHost(kind).send('CREATED', { name: 'api', config, autostart: false });
    expect(a.state).toBe('stopped');
    expect(a.takeEffects()).toEqual([]);
  });

  it('restarts crashes after 1000 ms × n: 1 s, 2 s, 3 s, then fails', () => {
    const a = createdAndRunning(100);
    let pid = 100;
    for (let n = 1; n <= BACKEND_POLICY.maxRestarts; n++) {
      a.advance(200);
      crash(a, pid);
      expect(a.state).toBe('backoff');
      expect(a.context.restarts).toBe(n);
      expect(a.pendingTimers()).toEqual([expect.objectContaining({ timerId: expect.stringContaining('restartDelay'), inMs: 1000 * n })]);
      a.advance(1000 * n - 1);
      expect(a.state).toBe('backoff');
      a.advance(1);
      expect(a.state).toBe('starting');
      expect(a.takeEffects()).toContain('spawnProcess');
      pid += 1;
      a.send('PROCESS_STARTED', { pid, startTicks: pid });
    }
    a.advance(200);
    crash(a, pid);
    expect(a.state).toBe('failed');
    expect(a.pendingTimers()).toEqual([]);
    expect(a.context.lastExit).toMatchObject({ pid, code: 1, cause: 'exit' });
  });

  it('a run of over 30 s resets the count before judging its crash', () => {
    const a = createdAndRunning(100);
    crash(a, 100);
    a.advance(1000);
    a.send('PROCESS_STARTED', { pid: 101, startTicks: 2 });
    crash(a, 101);
    expect(a.context.restarts).toBe(2);
    a.advance(2000);
    a.send('PROCESS_STARTED', { pid: 102, startTicks: 3 });
    a.advance(BACKEND_POLICY.stableAfterMs + 1);
    crash(a, 102);
    expect(a.state).toBe('backoff');
    expect(a.context.restarts).toBe(1);
    expect(a.pendingTimers()[0]!.inMs).toBe(1000);
  });

  it('a run of exactly 30 s does not reset the count', () => {
    const a = createdAndRunning(100);
    crash(a, 100);
    a.advance(1000).send('PROCESS_STARTED', { pid: 101, startTicks: 2 });
    a.advance(BACKEND_POLICY.stableAfterMs);
    crash(a, 101);
    expect(a.context.restarts).toBe(2);
  });

  it('a death by a signal Flow did not send is a crash', () => {
    const a = createdAndRunning(100);
    a.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGKILL', cause: 'exit' });
    expect(a.state).toBe('backoff');
    expect(a.context.lastExit).toMatchObject({ signal: 'SIGKILL', code: null });
  });

  it('a clean exit (code 0) stays down and is not restarted', () => {
    const a = createdAndRunning(100);
    crash(a, 100, 0);
    expect(a.state).toBe('exited');
    expect(a.pendingTimers()).toEqual([]);
  });

  it('ignores the exit of a process that is no longer the current run', () => {
    const a = createdAndRunning(100);
    crash(a, 99);
    expect(a.state).toBe('running');
  });

  it('a file change settles for 500 ms, then restarts the running process with the count reset', () => {
    const a = createdAndRunning(100);
    crash(a, 100);
    a.advance(1000).send('PROCESS_STARTED', { pid: 101, startTicks: 2 });
    expect(a.context.restarts).toBe(1);
    a.send('FILES_CHANGED', { paths: ['/srv/api/src/a.ts'] });
    a.advance(300).send('FILES_CHANGED', { paths: ['/srv/api/src/b.ts'] });
    a.advance(499);
    expect(a.state).toBe('running');
    a.takeEffects();
    a.advance(1);
    expect(a.state).toBe('restarting');
    expect(a.takeEffects()).toEqual(['killProcess']);
    expect(a.context.restarts).toBe(0);
    a.send('PROCESS_EXITED', { pid: 101, code: null, signal: 'SIGTERM', cause: 'exit' });
    expect(a.state).toBe('starting');
    expect(a.takeEffects()).toEqual(['spawnProcess']);
  });

  it('a file change brings a failed backend back', () => {
    const a = createdAndRunning(100);
    let pid = 100;
    for (let n = 1; n <= 3; n++) {
      crash(a, pid);
      a.advance(1000 * n);
      a.send('PROCESS_STARTED', { pid: ++pid, startTicks: pid });
    }
    crash(a, pid);
    expect(a.state).toBe('failed');
    a.send('FILES_CHANGED', { paths: ['/srv/api/src/fix.ts'] }).advance(500);
    expect(a.state).toBe('starting');
    expect(a.context.restarts).toBe(0);
  });

  it('a file change does not start a backend stopped by hand', () => {
    const a = createdAndRunning(100);
    a.send('STOP_REQUESTED');
    a.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'exit' });
    expect(a.state).toBe('stopped');
    a.send('FILES_CHANGED', { paths: ['/srv/api/src/a.ts'] }).advance(600);
    expect(a.state).toBe('stopped');
  });

  it('stop kills and ends stopped with the exit recorded; start after it resets the count', () => {
    const a = createdAndRunning(100);
    crash(a, 100);
    a.advance(1000).send('PROCESS_STARTED', { pid: 101, startTicks: 2 });
    a.takeEffects();
    a.send('STOP_REQUESTED');
    expect(a.state).toBe('stopping');
    expect(a.takeEffects()).toEqual(['killProcess']);
    a.send('PROCESS_EXITED', { pid: 101, code: null, signal: 'SIGTERM', cause: 'exit' });
    expect(a.state).toBe('stopped');
    expect(a.context.lastExit).toMatchObject({ signal: 'SIGTERM' });
    a.send('START_REQUESTED');
    expect(a.state).toBe('starting');
    expect(a.context.restarts).toBe(0);
  });

  it('stop during a backoff cancels the pending restart', () => {
    const a = createdAndRunning(100);
    crash(a, 100);
    expect(a.pendingTimers()).toHaveLength(1);
    a.send('STOP_REQUESTED');
    expect(a.state).toBe('stopped');
    expect(a.pendingTimers()).toEqual([]);
    a.advance(5000);
    expect(a.state).toBe('stopped');
  });

  it('restart by hand kills, then starts again', () => {
    const a = createdAndRunning(100);
    a.send('RESTART_REQUESTED');
    expect(a.state).toBe('restarting');
    a.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'exit' });
    expect(a.state).toBe('starting');
  });

  it('a spawn failure counts as a crash and ends failed past the limit', () => {
    const a = new SimulatedHost(kind).send('CREATED', { name: 'api', config, autostart: true });
    for (let n = 1; n <= 3; n++) {
      a.send('SPAWN_FAILED', { error: 'ENOENT' });
      expect(a.state).toBe('backoff');
      a.advance(1000 * n);
    }
    a.send('SPAWN_FAILED', { error: 'ENOENT' });
    expect(a.state).toBe('failed');
    expect(a.context.lastError).toBe('ENOENT');
  });

  it('the host going away interrupts the run; the host coming back resumes it without counting a crash', () => {
    const a = createdAndRunning(100);
    a.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'host-lost' });
    expect(a.state).toBe('interrupted');
    a.send('HOST_RESUMED');
    expect(a.state).toBe('starting');
    expect(a.context.restarts).toBe(0);
  });

  it('remove kills a running process, then is removed; the name can be created again', () => {
    const a = createdAndRunning(100);
    a.send('REMOVE_REQUESTED');
    expect(a.state).toBe('removing');
    a.send('PROCESS_EXITED', { pid: 100, code: null, signal: 'SIGTERM', cause: 'exit' });
    expect(a.state).toBe('removed');
    a.send('CREATED', { name: 'api', config, autostart: false });
    expect(a.state).toBe('stopped');
  });

  it('refuses commands that do not apply (start while running, create twice)', () => {
    const a = createdAndRunning(100);
    expect(a.snapshot.can({ type: 'START_REQUESTED', at: a.now })).toBe(false);
    expect(a.snapshot.can({ type: 'CREATED', name: 'api', config, autostart: true, at: a.now })).toBe(false);
    expect(a.snapshot.can({ type: 'STOP_REQUESTED', at: a.now })).toBe(true);
  });
});
