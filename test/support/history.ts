import fc from 'fast-check';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { kindFor } from '../../actors/index.js';
import { backendChildKind } from '../../actors/backend-child/index.js';
import type { ActorKind } from '../../actors/kind.js';
import type { Statement } from 'better-sqlite3';
import { openDatabase } from '../../services/store/db.js';
import { SqliteEventStore } from '../../services/store/event-store.js';
import { ActorProjector } from '../../services/store/projections.js';
import type { RecordedEvent as SimEvent } from '../../actors/fold.js';
import { SimulatedHost as SimulatedActor } from './given.js';

/**
 * Random backend-child histories, written into a real SQLite log the way the host writes it
 * (store.append with the actor projector: events, projection row and timers in one transaction).
 */
export const backendKind = backendChildKind as unknown as ActorKind;
const config = { command: ['node', 'x.js'], cwd: '/w', env: {}, port: null, watch: ['.'], watchExtensions: ['.js'], stopGraceMs: 10 };

export type HistoryStep =
  | { t: 'cmd'; type: 'START_REQUESTED' | 'STOP_REQUESTED' | 'RESTART_REQUESTED' | 'REMOVE_REQUESTED' | 'HOST_RESUMED' }
  | { t: 'started' }
  | { t: 'exited'; code: number | null }
  | { t: 'changed' }
  | { t: 'wait'; ms: number };

export const historyStepArb: fc.Arbitrary<HistoryStep> = fc.oneof(
  fc.record({ t: fc.constant('cmd' as const), type: fc.constantFrom('START_REQUESTED', 'STOP_REQUESTED', 'RESTART_REQUESTED', 'REMOVE_REQUESTED', 'HOST_RESUMED') }),
  fc.record({ t: fc.constant('started' as const) }),
  fc.record({ t: fc.constant('exited' as const), code: fc.constantFrom(0, 1, 137, null) }),
  fc.record({ t: fc.constant('changed' as const) }),
  fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

/** The log one backend's history writes (its timers fire as simulated time passes them). */
export function backendLog(name: string, steps: readonly HistoryStep[], start = 1_700_000_000_000): SimEvent[] {
  const sim = new SimulatedActor(backendKind, start);
  sim.send('CREATED', { name, config, autostart: true });
  let pid = 1000;
  for (const s of steps) {
    switch (s.t) {
      case 'wait':
        sim.advance(s.ms);
        break;
      case 'cmd':
        sim.send(s.type, {});
        break;
      case 'started':
        pid += 1;
        sim.send('PROCESS_STARTED', { pid, startTicks: pid, spawnId: null });
        break;
      case 'exited':
        sim.send('PROCESS_EXITED', { pid, code: s.code, signal: s.code === null ? 'SIGKILL' : null, cause: 'exit' });
        break;
      case 'changed':
        sim.send('FILES_CHANGED', { paths: ['/w/a.js'] });
        break;
    }
  }
  return sim.log;
}

export function openTestStore(path: string, projectors = true): SqliteEventStore {
  return SqliteEventStore.open(path, { host: 'test', projectors: projectors ? [new ActorProjector(kindFor)] : [], pollMs: 0 });
}

/** Appends each stream's events, interleaved round-robin as many actors write into one log. */
export function writeLogs(store: SqliteEventStore, logs: ReadonlyMap<string, readonly SimEvent[]>): void {
  const cursors = [...logs].map(([streamId, events]) => ({ streamId, events, i: 0 }));
  for (let left = true; left; ) {
    left = false;
    for (const c of cursors) {
      const e = c.events[c.i++];
      if (!e) continue;
      left = true;
      store.append(backendKind.streamType, c.streamId, 'any', [{ id: uuidv7(), type: e.type, data: e.data, at: e.at }]);
    }
  }
}

/**
 * The store over a connection that counts every row its statements hand back (get, all,
 * iterate): what "recovery reads O(actors) rows" is measured with.
 */
export function countingStore(dir: string): { store: SqliteEventStore; rows: () => number; reset: () => void } {
  const db = openDatabase(join(dir, 'flow.db'));
  let rows = 0;
  const prepare = db.prepare.bind(db);
  const wrap = (stmt: Statement): Statement =>
    new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'get')
          return (...args: unknown[]) => {
            const r = (target.get as (...a: unknown[]) => unknown)(...args);
            if (r !== undefined) rows++;
            return r;
          };
        if (prop === 'all')
          return (...args: unknown[]) => {
            const r = (target.all as (...a: unknown[]) => unknown[])(...args);
            rows += r.length;
            return r;
          };
        if (prop === 'iterate')
          return function* (...args: unknown[]) {
            for (const r of (target.iterate as (...a: unknown[]) => Iterable<unknown>)(...args)) {
              rows++;
              yield r;
            }
          };
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          const r = (v as (...a: unknown[]) => unknown).apply(target, args);
          // raw(), pluck(), expand() … return the statement itself: keep counting through it.
          return r === target ? wrap(target) : r;
        };
      },
    });
  (db as unknown as { prepare: (sql: string) => Statement }).prepare = (sql: string) => wrap(prepare(sql));
  const store = new SqliteEventStore(db, { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  return { store, rows: () => rows, reset: () => (rows = 0) };
}
