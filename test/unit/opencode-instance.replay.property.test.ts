import { describe, it } from 'vitest';
import fc from 'fast-check';
import { opencodeInstanceKind, opencodeInstanceMachine, type InstanceContext } from '../../actors/opencode-instance/index.js';
import { expectReplayAgreement } from '../support/replay-agreement.js';

/**
 * DESIGN.md's invariant for the instance kind, with its timers (health ticks, check timeouts,
 * restart backoff, the start timeout): XState's own live actor on a simulated clock, the host's
 * state and the fold of the log it wrote agree, whatever the history.
 */
type Step =
  | { t: 'cmd'; type: 'CREATED' | 'START_REQUESTED' | 'STOP_REQUESTED' | 'REMOVE_REQUESTED' | 'HOST_RESUMED'; policies: boolean }
  | { t: 'spawned' }
  | { t: 'ready' }
  | { t: 'exited'; current: boolean; code: number | null; cause: 'exit' | 'stopped' | 'host-lost' | 'host-shutdown' }
  | { t: 'spawnFailed' }
  | { t: 'health'; ok: boolean; stale: boolean }
  | { t: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('cmd' as const), type: fc.constantFrom('CREATED', 'START_REQUESTED', 'STOP_REQUESTED', 'REMOVE_REQUESTED', 'HOST_RESUMED'), policies: fc.boolean() }),
  fc.record({ t: fc.constant('spawned' as const) }),
  fc.record({ t: fc.constant('ready' as const) }),
  fc.record({ t: fc.constant('exited' as const), current: fc.boolean(), code: fc.constantFrom(0, 1, null), cause: fc.constantFrom('exit', 'exit', 'stopped', 'host-lost', 'host-shutdown') }),
  fc.record({ t: fc.constant('spawnFailed' as const) }),
  fc.record({ t: fc.constant('health' as const), ok: fc.boolean(), stale: fc.boolean() }),
  fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
);

function eventFor(s: Exclude<Step, { t: 'wait' }>, pid: number, c: InstanceContext): { type: string; data: Record<string, unknown> } {
  switch (s.t) {
    case 'cmd':
      return {
        type: s.type,
        data:
          s.type === 'CREATED'
            ? { id: 'a', directory: '/w', autostart: true, startTimeoutMs: 3000, ...(s.policies ? { health: { intervalMs: 700, timeoutMs: 200, failures: 2 }, restart: { maxRestarts: 2, backoffUnitMs: 300, stableAfterMs: 1500 } } : {}) }
            : {},
      };
    case 'spawned':
      return { type: 'SPAWNED', data: { pid, startTicks: pid, spawnId: null, port: 4000, bin: '/bin/opencode' } };
    case 'ready':
      return { type: 'READY', data: { url: 'http://127.0.0.1:4000', version: null } };
    case 'exited':
      return { type: 'PROCESS_EXITED', data: { pid: s.current ? (c.run?.pid ?? null) : pid + 100, code: s.code, signal: s.code === null ? 'SIGKILL' : null, cause: s.cause, portTaken: false, tail: [] } };
    case 'spawnFailed':
      return { type: 'SPAWN_FAILED', data: { error: 'boom' } };
    case 'health': {
      const checkId = c.health.checkId - (s.stale ? 1 : 0);
      return s.ok ? { type: 'HEALTH_OK', data: { checkId: Math.max(0, checkId), version: null } } : { type: 'HEALTH_FAILED', data: { checkId: Math.max(0, checkId), error: 'down' } };
    }
  }
}

describe('opencode-instance: replay equals live', () => {
  it('for any history with health checks and restarts, XState’s live actor (simulated clock), the host and the fold of its log agree', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        expectReplayAgreement(opencodeInstanceKind, opencodeInstanceMachine, (d) => {
          let pid = 1000;
          for (const s of steps) {
            if (s.t === 'wait') {
              d.wait(s.ms);
              continue;
            }
            if (s.t === 'spawned') pid += 1;
            const e = eventFor(s, pid, d.sim.context as unknown as InstanceContext);
            d.send(e.type, e.data);
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});
