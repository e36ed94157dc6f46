import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HeldObservations, type Observation } from '../../services/host/held-observations.js';

/**
 * Whatever the log's failures (a full disk that comes and goes, mid-way through what is held),
 * every observation is recorded exactly once, in the order it was made, with the time it was
 * first to be written; while anything is held, nothing newer is written before it.
 */
const full = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

describe('held observations', () => {
  it('property: any pattern of write failures records every observation once, in order, timed when it was made', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ observe: fc.boolean(), writable: fc.boolean() }), { minLength: 1, maxLength: 60 }), (steps) => {
        let writable = true;
        let clock = 0;
        const written: Observation[] = [];
        const lines: string[] = [];
        const held = new HeldObservations({
          deliver: (o) => {
            if (!writable) throw full();
            written.push(o);
          },
          schedule: () => {}, // retries are driven by the steps below
          now: () => clock,
          log: (l) => lines.push(l),
          where: '/tmp/flow.db',
        });
        const made: { type: string; at: number }[] = [];
        for (const [i, step] of steps.entries()) {
          clock += 10;
          writable = step.writable;
          if (step.observe) {
            held.observe({ streamId: 's:a', type: `E${i}`, data: {}, meta: {} });
            made.push({ type: `E${i}`, at: clock });
          } else {
            const flushed = held.flush();
            expect(flushed).toBe(held.count === 0);
            if (!flushed) expect(held.refusal()).toMatch(/cannot be written \(database or disk is full\): nothing was done; free disk space where it lives, then try again; \d+ observation/);
          }
          // Only a prefix of what was made is written, in order.
          expect(written.map((o) => o.type)).toEqual(made.slice(0, written.length).map((m) => m.type));
          expect(written.length + held.count).toBe(made.length);
        }
        writable = true;
        expect(held.flush()).toBe(true);
        expect(held.refusal()).toBeNull();
        expect(written.map((o) => ({ type: o.type, at: o.at }))).toEqual(made);
        // Each outage is said once when it starts and once when it ends.
        expect(lines.filter((l) => l.includes('cannot be written')).length).toBe(lines.filter((l) => l.includes('can be written again')).length);
        held.stop();
      }),
      { numRuns: 200 },
    );
  });

  it('stopped while the log still cannot be written, it tries once more, then says what was not recorded', () => {
    const lines: string[] = [];
    const held = new HeldObservations({
      deliver: () => {
        throw full();
      },
      schedule: () => {},
      now: () => 0,
      log: (l) => lines.push(l),
      where: '/tmp/flow.db',
    });
    held.observe({ streamId: 'backend-child:a', type: 'PROCESS_EXITED', data: {}, meta: {} });
    held.observe({ streamId: 'backend-child:b', type: 'TIMER_FIRED', data: {}, meta: {} });
    held.stop();
    expect(held.count).toBe(0);
    expect(lines.at(-1)).toBe('stopping with the event log /tmp/flow.db still unwritable (database or disk is full): 2 observation(s) not recorded: PROCESS_EXITED of backend-child:a, TIMER_FIRED of backend-child:b; the next start reconciles with what is still running');
  });

  it('an observation the log can never take (not a write failure) is logged and dropped, and does not hold back the ones after it', () => {
    const written: string[] = [];
    const lines: string[] = [];
    const held = new HeldObservations({
      deliver: (o) => {
        if (o.type === 'BAD') throw new Error('no actor kind takes BAD');
        written.push(o.type);
      },
      schedule: () => {},
      now: () => 0,
      log: (l) => lines.push(l),
      where: null,
    });
    for (const type of ['A', 'BAD', 'B']) held.observe({ streamId: 's:a', type, data: {}, meta: {} });
    expect(written).toEqual(['A', 'B']);
    expect(lines).toEqual(['s:a: could not record BAD: no actor kind takes BAD']);
    held.stop();
  });
});
