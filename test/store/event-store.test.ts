import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { EventStore } from '../../services/store/event-store.js';
import { ConcurrencyError } from '../../services/store/errors.js';
import { ActorProjector, readActors, readTimers } from '../../services/host/actor-projection.js';
import { kindFor } from '../../actors/index.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { openDatabase, SCHEMA_VERSION } from '../../services/store/db.js';
import { newEvent } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function open(path?: string, opts: { pollMs?: number } = {}) {
  const t = tempDir();
  const file = path ?? join(t.dir, 'flow.db');
  const store = EventStore.open(file, { host: 'h1', projectors: [new ActorProjector(kindFor)], pollMs: opts.pollMs ?? 0 });
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  return { store, file };
}

describe('event store', () => {
  it('given an empty stream, appends with expected version 0 and numbers versions from 1', () => {
    const { store } = open();
    const out = store.append('test', 'test:a', 0, [newEvent('A'), newEvent('B')]);
    expect(out.map((e) => e.version)).toEqual([1, 2]);
    expect(out.map((e) => e.position)).toEqual([1, 2]);
    expect(store.streamVersion('test:a')).toBe(2);
    expect(store.readStream('test:a').map((e) => e.type)).toEqual(['A', 'B']);
  });

  it('a wrong expected version throws a ConcurrencyError and writes nothing', () => {
    const { store } = open();
    store.append('test', 'test:a', 0, [newEvent('A')]);
    expect(() => store.append('test', 'test:a', 0, [newEvent('B'), newEvent('C')])).toThrow(ConcurrencyError);
    expect(store.readStream('test:a').map((e) => e.type)).toEqual(['A']);
    expect(store.headPosition()).toBe(1);
  });

  it('of two writers racing on one version exactly one wins (two connections to one file)', () => {
    const { store, file } = open();
    const other = EventStore.open(file, { host: 'h2', pollMs: 0 });
    cleanups.push(() => other.close());
    store.append('test', 'test:a', 0, [newEvent('A')]);
    other.append('test', 'test:a', 1, [newEvent('B')]);
    expect(() => store.append('test', 'test:a', 1, [newEvent('C')])).toThrow(/expected 1/);
    expect(store.readStream('test:a').map((e) => [e.type, e.host])).toEqual([
      ['A', 'h1'],
      ['B', 'h2'],
    ]);
  });

  it('event ids are unique: appending an id twice fails and writes nothing', () => {
    const { store } = open();
    const e = newEvent('A');
    store.append('test', 'test:a', 'any', [e]);
    expect(() => store.append('test', 'test:b', 'any', [newEvent('B'), e])).toThrow(/UNIQUE/);
    expect(store.streamVersion('test:b')).toBe(0);
  });

  it('readAll pages by position and filters by stream type and id', () => {
    const { store } = open();
    store.append('x', 'x:1', 0, [newEvent('A')]);
    store.append('y', 'y:1', 0, [newEvent('B')]);
    store.append('x', 'x:2', 0, [newEvent('C')]);
    expect(store.readAll(0, 2).map((e) => e.type)).toEqual(['A', 'B']);
    expect(store.readAll(2, 10).map((e) => e.type)).toEqual(['C']);
    expect(store.readAll(0, 10, { streamType: 'x' }).map((e) => e.type)).toEqual(['A', 'C']);
    expect(store.readAll(0, 10, { streamId: 'y:1' }).map((e) => e.type)).toEqual(['B']);
  });

  it('a catch-up subscription delivers history then live events, each once, in order, across the seam', async () => {
    const { store } = open();
    for (let i = 0; i < 1200; i++) store.append('test', `test:s${i % 7}`, 'any', [newEvent('H', { i })]);
    const seen: number[] = [];
    const sub = store.subscribe({ from: 0 }, (e) => seen.push(e.position));
    // Appends land while the history is still being delivered in batches.
    for (let i = 0; i < 300; i++) {
      store.append('test', 'test:live', 'any', [newEvent('L', { i })]);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 20));
    sub.close();
    expect(seen).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
  });

  it('events appended by another process reach a live subscription', async () => {
    const { store, file } = open(undefined, { pollMs: 20 });
    const seen: EventEnvelope[] = [];
    const sub = store.subscribe({ from: 0, filter: { streamType: 'ext' } }, (e) => seen.push(e));
    const { execFileSync } = await import('node:child_process');
    const script = `
      const D = require('better-sqlite3');
      const db = new D(${JSON.stringify(file)});
      db.prepare("INSERT INTO events (id, host, stream_type, stream_id, version, type, data, meta, at) VALUES (?, 'cli', 'ext', 'ext:1', 1, 'FROM_CLI', '{}', '{}', ?)").run(require('crypto').randomUUID(), new Date().toISOString());
      db.prepare("INSERT INTO streams (stream_id, stream_type, version) VALUES ('ext:1','ext',1)").run();
    `;
    execFileSync(process.execPath, ['-e', script], { cwd: process.cwd() });
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    sub.close();
    expect(seen.map((e) => [e.type, e.host])).toEqual([['FROM_CLI', 'cli']]);
  });

  it('projections move with the append, and rebuild reproduces them from the log', () => {
    const { store } = open();
    const config = { command: ['sleep', '1'], cwd: '/tmp', env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 100 };
    const at = (ms: number) => new Date(1_700_000_000_000 + ms).toISOString();
    store.append('backend-child', 'backend-child:a', 0, [
      newEvent('CREATED', { name: 'a', config, autostart: true }, at(0)),
      newEvent('PROCESS_STARTED', { pid: 10, startTicks: 1 }, at(10)),
      newEvent('PROCESS_EXITED', { pid: 10, code: 1, signal: null, cause: 'exit' }, at(20)),
    ]);
    const before = readActors(store.db);
    expect(before).toMatchObject([{ streamId: 'backend-child:a', status: 'backoff', version: 3 }]);
    expect(readTimers(store.db)).toMatchObject([{ streamId: 'backend-child:a', dueAt: 1_700_000_000_000 + 20 + 1000 }]);
    store.db.exec(`UPDATE actor_state SET status = 'garbage'; DELETE FROM timers;`);
    expect(store.rebuild()).toEqual({ events: 3, streams: 1 });
    expect(readActors(store.db)).toEqual(before);
    expect(readTimers(store.db)).toHaveLength(1);
  });

  it('migrations are versioned and applied once; reopening keeps the data and the epoch', () => {
    const { store, file } = open();
    store.append('test', 'test:a', 0, [newEvent('A')]);
    const epoch = store.epoch;
    store.close();
    const db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const again = EventStore.open(file, { host: 'h1', pollMs: 0 });
    expect(again.epoch).toBe(epoch);
    expect(again.readStream('test:a')).toHaveLength(1);
    again.close();
  });

  it('property: for any interleaving of appends (some with stale versions), every stream is gapless and positions strictly increase', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 1 }), fc.integer({ min: 1, max: 3 })), { maxLength: 80 }), (ops) => {
        const { store } = open();
        for (const [s, skew, n] of ops) {
          const id = `test:p${s}`;
          try {
            store.append('test', id, store.streamVersion(id) + skew, Array.from({ length: n }, () => newEvent('E')));
          } catch (err) {
            expect(err).toBeInstanceOf(ConcurrencyError);
          }
        }
        const all = store.readAll(0, 100_000);
        all.forEach((e, i) => i > 0 && expect(e.position).toBeGreaterThan(all[i - 1]!.position));
        for (let s = 0; s < 4; s++) {
          const versions = store.readStream(`test:p${s}`).map((e) => e.version);
          expect(versions).toEqual(versions.map((_, i) => i + 1));
        }
      }),
      { numRuns: 40 },
    );
  });
});
