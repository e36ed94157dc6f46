import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { z } from 'zod';
import { kinds } from '../../actors/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { initialSnapshot, step, timerWork, toStored, type ActionLike, type RecordedEvent, type Snapshot } from '../../actors/fold.js';
import { fastMachine, fastToStored, type FastState } from '../../actors/fast-fold.js';
import { backendKind, backendLog, historyStepArb } from '../support/history.js';
import { backendWorkloadArray } from '../../bench/workload.js';

/**
 * The fast fold (actors/fast-fold.ts) is XState's macrostep without the interpreter, and XState
 * is its judge: given any history, when both fold it event by event, then after every event
 * they hold the same stored snapshot (state value and context, key order included: verify
 * compares the JSON) and asked for the same actions (effects, delayed raises and cancels, in
 * order). Histories: random events of every kind, their data drawn from the kind's own zod
 * schemas over small pools of values (so pids, check ids and names collide and guards go both
 * ways), with the timers the machine armed fired in between; random backend-child histories
 * from a simulated host; and the bench's million-event workload's first 20,000 events.
 */

type Outcome = { threw: true } | { threw: false; stored: string; actions: string };

const actionsText = (actions: readonly ActionLike[]) => JSON.stringify(actions.map((a) => ({ type: a.type, params: a.params ?? null })));

/** Folds `events` both ways side by side; the first disagreement fails with the event that caused it. */
function foldBothWays(kind: ActorKind, events: readonly RecordedEvent[]): void {
  const fm = fastMachine(kind)!;
  let snapshot: Snapshot = initialSnapshot(kind);
  let fast: FastState = fm.initial();
  expect(JSON.stringify(fastToStored(fast))).toBe(JSON.stringify(toStored(snapshot)));
  for (const [i, e] of events.entries()) {
    let slow: Outcome;
    try {
      const [next, actions] = step(kind, snapshot, e);
      snapshot = next;
      slow = { threw: false, stored: JSON.stringify(toStored(next)), actions: actionsText(actions) };
    } catch {
      slow = { threw: true };
    }
    let quick: Outcome;
    try {
      // As verify hands it over: freshly parsed data, `at` parsed once.
      const [next, actions] = fm.stepOwned(fast, e.type, JSON.parse(JSON.stringify(e.data)) as Record<string, unknown>, Date.parse(e.at));
      fast = next;
      quick = { threw: false, stored: JSON.stringify(fastToStored(next)), actions: actionsText(actions) };
    } catch {
      quick = { threw: true };
    }
    expect({ at: i, event: e, ...quick }).toEqual({ at: i, event: e, ...slow });
    if (slow.threw) return;
  }
}

// --- event data from a kind's zod schemas, over small pools -----------------------------------

const NUMBERS = [0, 1, 2, 3, 1000, 1001, 1002, 30_000, 600_000];
const STRINGS = ['p', 'a', 'http://127.0.0.1:9/x', 'https://a-b.trycloudflare.com', 'boom', ''];

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  entries?: Record<string, string>;
  values?: unknown[];
  options?: z.ZodType[];
  element?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
}

function arbOf(schema: z.ZodType, depth = 0): fc.Arbitrary<unknown> {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  if (depth > 6) return fc.constant(null);
  switch (def.type) {
    case 'string':
      return fc.constantFrom(...STRINGS);
    case 'number':
    case 'int':
      return fc.constantFrom(...NUMBERS);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'literal':
      return fc.constantFrom(...def.values!);
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries!));
    case 'nullable':
      return fc.option(arbOf(def.innerType!, depth + 1), { nil: null });
    case 'optional':
      return fc.option(arbOf(def.innerType!, depth + 1), { nil: undefined });
    case 'default':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return arbOf(def.innerType!, depth + 1);
    case 'pipe':
      return arbOf(def.in!, depth + 1);
    case 'lazy':
      return arbOf(def.getter!(), depth + 1);
    case 'array':
      return fc.array(arbOf(def.element!, depth + 1), { maxLength: 2 });
    case 'union':
      return fc.oneof(...def.options!.map((o) => arbOf(o, depth + 1)));
    case 'object':
      return fc.record(Object.fromEntries(Object.entries(def.shape!).map(([k, v]) => [k, arbOf(v, depth + 1)])));
    case 'record':
      return fc.constant({});
    default:
      return fc.constantFrom(null, 1, 'p');
  }
}

type Step = { t: 'event'; type: string; data: unknown } | { t: 'fire'; pick: number } | { t: 'wait'; ms: number };

function stepsArb(kind: ActorKind): fc.Arbitrary<Step[]> {
  const types = Object.keys(kind.events).filter((t) => t !== 'TIMER_FIRED');
  const event = fc.constantFrom(...types).chain((type) => arbOf(kind.events[type]!).map((data) => ({ t: 'event' as const, type, data })));
  const fire = fc.record({ t: fc.constant('fire' as const), pick: fc.nat() });
  const wait = fc.record({ t: fc.constant('wait' as const), ms: fc.constantFrom(0, 10, 500, 1_000, 5_000, 40_000, 700_000) });
  return fc.array(fc.oneof({ arbitrary: event, weight: 6 }, { arbitrary: fire, weight: 2 }, { arbitrary: wait, weight: 1 }), { maxLength: 40 });
}

/** The log of a random history: events as generated, and TIMER_FIRED for a timer the machine (XState's step) armed. */
function logOf(kind: ActorKind, steps: readonly Step[]): RecordedEvent[] {
  let now = 1_700_000_000_000;
  let snapshot = initialSnapshot(kind);
  const timers = new Map<string, { event: unknown }>();
  const log: RecordedEvent[] = [];
  for (const s of steps) {
    let e: RecordedEvent;
    if (s.t === 'wait') {
      now += s.ms;
      continue;
    }
    if (s.t === 'fire') {
      const armed = [...timers.entries()];
      if (!armed.length) continue;
      const [timerId, t] = armed[s.pick % armed.length]!;
      timers.delete(timerId);
      e = { type: 'TIMER_FIRED', data: { timerId, event: t.event }, at: new Date(now).toISOString() };
    } else {
      e = { type: s.type, data: s.data as Record<string, unknown>, at: new Date(now).toISOString() };
    }
    log.push(e);
    try {
      const [next, actions] = step(kind, snapshot, e);
      snapshot = next;
      const work = timerWork(actions, now);
      for (const id of work.cancel) timers.delete(id);
      for (const t of work.arm) timers.set(t.timerId, t);
    } catch {
      break;
    }
    now += 7;
  }
  return log;
}

describe('fast fold: the same as XState, event by event', () => {
  for (const k of kinds) {
    const kind = k as unknown as ActorKind;
    it(`${kind.streamType}: its machine is one the fast fold covers`, () => {
      expect(fastMachine(kind)).not.toBeNull();
    });
    it(`${kind.streamType}: given random events from its schemas and fired timers, both folds agree after every event`, () => {
      fc.assert(
        fc.property(stepsArb(kind), (steps) => foldBothWays(kind, logOf(kind, steps))),
        { numRuns: 300 },
      );
    });
  }

  it('backend-child: given random histories of a simulated host (crashes, backoff, file changes, waits), both folds agree', () => {
    fc.assert(
      fc.property(fc.array(historyStepArb, { maxLength: 60 }), (steps) => foldBothWays(backendKind, backendLog('p', steps))),
      { numRuns: 300 },
    );
  });

  it('backend-child: given the bench workload (20,000 events over 50 streams), both folds agree on every stream', () => {
    const byStream = new Map<string, RecordedEvent[]>();
    for (const e of backendWorkloadArray(20_000, 50)) {
      let list = byStream.get(e.streamId);
      if (!list) byStream.set(e.streamId, (list = []));
      list.push({ type: e.type, data: e.data, at: e.at });
    }
    for (const events of byStream.values()) foldBothWays(backendKind, events);
  });
});
