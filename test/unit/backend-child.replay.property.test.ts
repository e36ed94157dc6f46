import { describe, it } from 'vitest';
import fc from 'fast-check';
import { backendChildKind, backendChildMachine } from '../../actors/backend-child/index.js';
import { expectReplayAgreement } from '../support/replay-agreement.js';

const config = { command: ['node', 'x.js'], cwd: '/w', env: {}, port: null, watch: ['.'], watchExtensions: ['.js'], stopGraceMs: 10 };

type Step =
  | { t: 'cmd'; type: 'CREATED' | 'START_REQUESTED' | 'STOP_REQUESTED' | 'RESTART_REQUESTED' | 'REMOVE_REQUESTED' | 'HOST_RESUMED'; policy: { maxRestarts: number; backoffUnitMs: number; stableAfterMs: number } | null }
  | { t: 'started'; pidOffset: number }
  | { t: 'exited'; current: boolean; code: number | null; cause: 'exit' | 'host-lost' | 'host-shutdown' }
  | { t: 'spawnFailed' }
  | { t: 'changed' }
  | { t: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant('cmd' as const),
    type: fc.constantFrom('CREATED', 'START_REQUESTED', 'STOP_REQUESTED', 'RESTART_REQUESTED', 'REMOVE_REQUESTED', 'HOST_RESUMED'),
    // A CREATED with its own restart policy, or one from before policies (the defaults).
    policy: fc.option(fc.record({ maxRestarts: fc.integer({ min: 0, max: 4 }), backoffUnitMs: fc.integer({ min: 0, max: 3000 }), stableAfterMs: fc.integer({ min: 0, max: 40_000 }) })),
  }),
  fc.record({ t: fc.constant('started' as const), pidOffset: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('exited' as const), current: fc.boolean(), code: fc.constantFrom(0, 1, 137, null), cause: fc.constantFrom('exit', 'exit', 'exit', 'host-lost', 'host-shutdown') }),
  fc.record({ t: fc.constant('spawnFailed' as const) }),
  fc.record({ t: fc.constant('changed' as const) }),
  fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

function eventFor(s: Step, pid: number): { type: string; data: Record<string, unknown> } | null {
  switch (s.t) {
    case 'cmd':
      return { type: s.type, data: s.type === 'CREATED' ? { name: 'p', config: s.policy ? { ...config, restart: s.policy } : config, autostart: true } : {} };
    case 'started':
      return { type: 'PROCESS_STARTED', data: { pid: pid + s.pidOffset, startTicks: pid } };
    case 'exited':
      return { type: 'PROCESS_EXITED', data: { pid: s.current ? pid : pid + 100, code: s.code, signal: s.code === null ? 'SIGKILL' : null, cause: s.cause } };
    case 'spawnFailed':
      return { type: 'SPAWN_FAILED', data: { error: 'boom' } };
    case 'changed':
      return { type: 'FILES_CHANGED', data: { paths: ['/w/a.js'] } };
    case 'wait':
      return null;
  }
}

describe('backend-child: replay equals live', () => {
  it('for any event sequence, XState’s own live actor (simulated clock) and the fold of our log agree', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        expectReplayAgreement(backendChildKind, backendChildMachine, (d) => {
          let pid = 1000;
          for (const s of steps) {
            if (s.t === 'wait') {
              d.wait(s.ms);
              continue;
            }
            const ctxRun = (d.sim.context.run as { pid: number } | null)?.pid;
            if (ctxRun) pid = ctxRun;
            if (s.t === 'started') pid += 1;
            const e = eventFor(s, pid)!;
            d.send(e.type, e.data);
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});
