import { describe, expect, it } from 'vitest';
import { backendChildKind, DEFAULT_RESTART_POLICY, RestartPolicySchema } from '../../actors/backend-child/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { initialSnapshot, step } from '../../actors/fold.js';
import { SimulatedHost } from '../support/given.js';

const kind = backendChildKind as unknown as ActorKind;
const base = { command: ['node', 'server.js'], cwd: '/srv/api', env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 5000 };

function running(config: Record<string, unknown>): SimulatedHost {
  const a = new SimulatedHost(kind);
  a.send('CREATED', { name: 'api', config, autostart: true });
  a.send('PROCESS_STARTED', { pid: 100, startTicks: 1 });
  return a;
}

function crashAndRestart(a: SimulatedHost, pid: number, ranMs: number): void {
  a.advance(ranMs);
  a.send('PROCESS_EXITED', { pid, code: 1, signal: null, cause: 'exit' });
}

describe('a backend restart policy (max restarts, backoff unit, stable time)', () => {
  it('defaults to seed 002: 3 restarts, 1000 ms × n, 30 s', () => {
    expect(DEFAULT_RESTART_POLICY).toEqual({ maxRestarts: 3, backoffUnitMs: 1000, stableAfterMs: 30_000 });
    expect(RestartPolicySchema.parse({ maxRestarts: 5 })).toEqual({ maxRestarts: 5, backoffUnitMs: 1000, stableAfterMs: 30_000 });
  });

  it('given max 1 and a 250 ms unit, the first crash waits 250 ms and the second fails it', () => {
    const a = running({ ...base, restart: { maxRestarts: 1, backoffUnitMs: 250, stableAfterMs: 5000 } });
    crashAndRestart(a, 100, 100);
    expect(a.state).toBe('backoff');
    expect(a.pendingTimers()).toMatchObject([{ timerId: expect.stringContaining('restartDelay'), inMs: 250 }]);
    a.advance(250);
    expect(a.state).toBe('starting');
    a.send('PROCESS_STARTED', { pid: 101, startTicks: 2 });
    crashAndRestart(a, 101, 100);
    expect(a.state).toBe('failed');
  });

  it('given a 5 s stable time, a run of over 5 s resets the count before its crash is judged', () => {
    const a = running({ ...base, restart: { maxRestarts: 1, backoffUnitMs: 250, stableAfterMs: 5000 } });
    crashAndRestart(a, 100, 100);
    a.advance(250).send('PROCESS_STARTED', { pid: 101, startTicks: 2 });
    crashAndRestart(a, 101, 5001);
    expect(a.state).toBe('backoff');
    expect(a.context.restarts).toBe(1);
  });

  it('max 0 never restarts a crash', () => {
    const a = running({ ...base, restart: { maxRestarts: 0, backoffUnitMs: 1000, stableAfterMs: 30_000 } });
    crashAndRestart(a, 100, 10);
    expect(a.state).toBe('failed');
  });

  it('a CREATED event from before policies (no restart field) folds to the defaults, and a replay of the log decides the same', () => {
    const live = running(base);
    crashAndRestart(live, 100, 10);
    expect(live.pendingTimers()[0]!.inMs).toBe(1000);
    let replayed = initialSnapshot(kind);
    for (const e of live.log) replayed = step(kind, replayed, e)[0];
    expect(replayed.value).toEqual(live.snapshot.value);
    expect(replayed.context).toEqual(live.context);
  });
});
