import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventStore } from '../../services/store/event-store.js';
import { ConcurrencyError } from '../../services/store/errors.js';
import { ActorProjector } from '../../services/store/projections.js';
import { kindFor } from '../../actors/index.js';
import { UNKNOWN_EPOCH, type EventEnvelope } from '../../services/store/envelope.js';
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
    const before = store.actors();
    expect(before).toMatchObject([{ streamId: 'backend-child:a', status: 'backoff', version: 3 }]);
    expect(store.timers()).toMatchObject([{ streamId: 'backend-child:a', dueAt: 1_700_000_000_000 + 20 + 1000 }]);
    store.db.exec(`UPDATE actor_state SET status = 'garbage'; DELETE FROM timers;`);
    expect(store.rebuild()).toEqual({ events: 3, streams: 1 });
    expect(store.actors()).toEqual(before);
    expect(store.timers()).toHaveLength(1);
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

  it('a file that is not an SQLite database, or a damaged one, is refused naming the file and what to do, for writing and for reading alike', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    for (const [name, bytes] of [
      ['random.db', randomBytes(8192)],
      ['header-only.db', Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(84, 0xff)])],
    ] as const) {
      const file = join(t.dir, name);
      writeFileSync(file, bytes);
      for (const readonly of [false, true]) {
        expect(() => openDatabase(file, { readonly }), `${name} readonly=${readonly}`).toThrow(
          `${file} is not a Flow event log that can be read (file is not a database): it is damaged, or another program's file; move it away (Flow then starts with an empty log) or put back a copy from a backup`,
        );
      }
      // Refused, not repaired: the file is as it was.
      expect(readFileSync(file).equals(bytes)).toBe(true);
    }
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

describe('the queries the host needs, as named methods of the store', () => {
  it('given a stream whose events carry causation ids, eventCausedBy finds the first event a command caused, in that stream only', () => {
    const { store } = open();
    store.append('test', 'test:a', 0, [newEvent('A'), { ...newEvent('B'), meta: { causationId: 'job-1' } }, { ...newEvent('C'), meta: { causationId: 'job-1' } }]);
    store.append('test', 'test:b', 0, [{ ...newEvent('D'), meta: { causationId: 'job-2' } }]);
    expect(store.eventCausedBy('test:a', 'job-1')).toEqual({ version: 2, position: 2 });
    expect(store.eventCausedBy('test:a', 'job-2')).toBeUndefined();
    expect(store.eventCausedBy('test:b', 'job-2')).toEqual({ version: 1, position: 4 });
  });

  it('lists every stream head in id order, and reads one event by id', () => {
    const { store } = open();
    store.append('y', 'y:1', 0, [newEvent('A')]);
    const [b] = store.append('x', 'x:2', 0, [newEvent('B'), newEvent('C')]);
    expect(store.streams()).toEqual([
      { streamId: 'x:2', streamType: 'x', version: 2 },
      { streamId: 'y:1', streamType: 'y', version: 1 },
    ]);
    expect(store.readEvent(b!.id)).toEqual(b);
    expect(store.readEvent('no-such-id')).toBeUndefined();
  });

  it('reads the actor projection by stream, by type, and its durable timers', () => {
    const { store } = open();
    const config = { command: ['sleep', '1'], cwd: '/tmp', env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 100 };
    store.append('backend-child', 'backend-child:a', 0, [newEvent('CREATED', { name: 'a', config, autostart: false }, new Date(1_700_000_000_000).toISOString())]);
    expect(store.actor('backend-child:a')).toMatchObject({ streamId: 'backend-child:a', streamType: 'backend-child', version: 1, status: 'stopped', host: 'h1' });
    expect(store.actor('backend-child:none')).toBeUndefined();
    expect(store.actors('backend-child').map((r) => r.streamId)).toEqual(['backend-child:a']);
    expect(store.actors('tunnel')).toEqual([]);
    expect(store.timers()).toEqual([]);
  });

  it('keeps a named checkpoint (0 until stored) that survives reopening the file', () => {
    const { store, file } = open();
    expect(store.readCheckpoint('jetstream.published')).toBe(0);
    store.storeCheckpoint('jetstream.published', 42);
    store.close();
    const again = EventStore.open(file, { host: 'h1', pollMs: 0 });
    expect(again.readCheckpoint('jetstream.published')).toBe(42);
    again.close();
  });

  it('keeps the last N output lines of each stream, in order, and forgets a stream on request', () => {
    const { store } = open();
    const at = new Date().toISOString();
    const line = (seq: number, streamId: string, truncated = false) => ({ seq, streamId, at, fd: 'stdout' as const, line: `l${seq}`, truncated });
    expect(store.output.lastSeq()).toBe(0);
    store.output.append([line(1, 'backend-child:a'), line(2, 'backend-child:b'), line(3, 'backend-child:a', true), line(4, 'backend-child:a')], 2);
    expect(store.output.read('backend-child:a', 10)).toEqual([
      { seq: 3, at, fd: 'stdout', line: 'l3', truncated: true },
      { seq: 4, at, fd: 'stdout', line: 'l4' },
    ]);
    expect(store.output.read('backend-child:a', 1).map((l) => l.seq)).toEqual([4]);
    expect(store.output.lastSeq()).toBe(4);
    store.output.forget('backend-child:a');
    expect(store.output.read('backend-child:a', 10)).toEqual([]);
    expect(store.output.read('backend-child:b', 10).map((l) => l.seq)).toEqual([2]);
  });

  it('says where the log lives and whether it is closed', () => {
    const { store, file } = open();
    expect(store.path).toBe(file);
    expect(store.closed).toBe(false);
    store.close();
    expect(store.closed).toBe(true);
  });
});

describe('one insert for local appends and imported copies', () => {
  const copy = (over: Partial<EventEnvelope>): EventEnvelope => ({
    ...newEvent('A'),
    position: 7,
    host: 'other-host',
    epoch: 'epoch-of-other',
    streamType: 'test',
    streamId: 'test:a',
    version: 1,
    meta: { by: 'someone' },
    ...over,
  });

  it('given events of another host, importBatch keeps their id, host, epoch, version, time and data; the position is this log\'s own', () => {
    const { store } = open();
    store.append('test', 'test:mine', 0, [newEvent('M')]);
    const e = copy({ data: { n: 1 } });
    const [written] = store.importBatch([e]);
    expect(written).toEqual({ ...e, position: 2 });
    expect(store.readStream('test:a')).toEqual([{ ...e, position: 2 }]);
    expect(store.readStream('test:mine')[0]).toMatchObject({ host: 'h1', epoch: store.epoch });
    expect(store.db.prepare(`SELECT origin_position FROM events WHERE id = ?`).pluck().get(e.id)).toBe(7);
  });

  it('a copy from a log that did not say its epoch keeps no origin position', () => {
    const { store } = open();
    const e = copy({ epoch: UNKNOWN_EPOCH });
    store.importBatch([e]);
    expect(store.db.prepare(`SELECT origin_position FROM events WHERE id = ?`).pluck().get(e.id)).toBeNull();
  });

  it('an imported event that is not its stream\'s next version fails with a ConcurrencyError and the whole batch writes nothing', () => {
    const { store } = open();
    const first = copy({ version: 1 });
    const gap = copy({ id: newEvent('B').id, version: 3, position: 9 });
    expect(() => store.importBatch([first, gap])).toThrow(ConcurrencyError);
    expect(store.headPosition()).toBe(0);
    expect(store.streamVersion('test:a')).toBe(0);
  });

  it('imports and appends reach the projections and the subscribers alike', () => {
    const { store } = open();
    const seen: string[] = [];
    const sub = store.subscribe({ from: 0 }, (e) => seen.push(`${e.host}:${e.type}`));
    const config = { command: ['sleep', '1'], cwd: '/tmp', env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 100 };
    store.importBatch([copy({ streamType: 'backend-child', streamId: 'backend-child:a', type: 'CREATED', data: { name: 'a', config, autostart: false } })]);
    store.append('backend-child', 'backend-child:b', 0, [newEvent('CREATED', { name: 'b', config, autostart: false })]);
    sub.close();
    expect(seen).toEqual(['other-host:CREATED', 'h1:CREATED']);
    expect(store.actors('backend-child').map((r) => [r.streamId, r.host, r.status])).toEqual([
      ['backend-child:a', 'other-host', 'stopped'],
      ['backend-child:b', 'h1', 'stopped'],
    ]);
  });
});
