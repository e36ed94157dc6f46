/**
 * Event append throughput: EventStore.append against a bare better-sqlite3 INSERT of the same
 * rows into an equivalent table (the store's `events` DDL), in the same kind of file (WAL,
 * synchronous=NORMAL), in the same run.
 *
 *   node dist/bench/append-throughput.js [--events 30000] [--host-events 10000] [--streams 250]
 *                                        [--batch 10] [--rounds 3] [--breakdown]
 *
 * Lines (each in a fresh file; lines interleaved round by round; medians reported):
 *   bare insert            one autocommit INSERT per event (one transaction each)
 *   store.append           one event per append, as the host does
 *   bare insert, batched   `batch` events of one stream per transaction
 *   store.append, batched  `batch` events of one stream per append
 *   host write path        recordEvent: zod validation + XState step + append + ActorProjector
 *                          (actor_state upsert, durable timers), one event per call, over the
 *                          first `host-events` rows (it is several times slower)
 *   --breakdown adds B1..B4: the store's work rebuilt by hand one layer at a time, to show
 *   which part of the gap is SQLite and which is the JS around it.
 * The rows: backend-child events from bench/workload.ts over a few hundred streams.
 * Quality bar (DESIGN.md): store.append ≥ 80 % of the bare insert.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { kindFor } from '../actors/index.js';
import { initialSnapshot, type Snapshot } from '../actors/fold.js';
import { recordEvent } from '../services/host/writer.js';
import { LOG_TABLES_DDL } from '../services/store/db.js';
import { EventStore } from '../services/store/event-store.js';
import type { NewEvent } from '../services/store/envelope.js';
import { ActorProjector } from '../services/store/projections.js';
import { benchTempDir, fmt, fmtInt, intFlag, machineLine, median, settle, table, timedCpu } from './lib.js';
import { backendWorkloadArray, kind, type BenchEvent } from './workload.js';

const EVENTS = intFlag('events', 'BENCH_EVENTS', 30_000);
const STREAMS = intFlag('streams', 'BENCH_STREAMS', 250);
const BATCH = intFlag('batch', 'BENCH_BATCH', 10);
const ROUNDS = intFlag('rounds', 'BENCH_ROUNDS', 3);
const HOST_EVENTS = intFlag('host-events', 'BENCH_HOST_EVENTS', 10_000);
const BREAKDOWN = process.argv.includes('--breakdown');
const HOST = 'bench-host';

/** The store's own `events` and `streams` tables, with their indexes. */
const EVENTS_DDL = LOG_TABLES_DDL;

interface Row extends NewEvent {
  streamId: string;
  /** The stream version this event gets (known up front: the workload is deterministic). */
  version: number;
  atMs: number;
}

function toRows(events: readonly BenchEvent[]): Row[] {
  const versions = new Map<string, number>();
  return events.map((e) => {
    const version = (versions.get(e.streamId) ?? 0) + 1;
    versions.set(e.streamId, version);
    return { id: uuidv7(), streamId: e.streamId, type: e.type, data: e.data, meta: {}, at: e.at, atMs: e.atMs, version };
  });
}

/** The same events regrouped: runs of `size` consecutive events of one stream, runs interleaved. */
function toBatches(rows: readonly Row[], size: number): Row[][] {
  const byStream = new Map<string, Row[]>();
  for (const r of rows) {
    let list = byStream.get(r.streamId);
    if (!list) byStream.set(r.streamId, (list = []));
    list.push(r);
  }
  const queues = [...byStream.values()].map((list) => {
    const chunks: Row[][] = [];
    for (let i = 0; i < list.length; i += size) chunks.push(list.slice(i, i + size));
    return chunks;
  });
  const out: Row[][] = [];
  for (let i = 0; queues.some((q) => i < q.length); i++) {
    for (const q of queues) {
      const chunk = q[i];
      if (chunk) out.push(chunk);
    }
  }
  return out;
}

function openBare(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec(EVENTS_DDL);
  return db;
}

const INSERT = `INSERT INTO events (id, host, stream_type, stream_id, version, type, data, meta, at)
  VALUES (@id, @host, @streamType, @streamId, @version, @type, @data, @meta, @at)`;

function params(r: Row) {
  return {
    id: r.id,
    host: HOST,
    streamType: kind.streamType,
    streamId: r.streamId,
    version: r.version,
    type: r.type,
    data: JSON.stringify(r.data),
    meta: JSON.stringify(r.meta ?? {}),
    at: r.at,
  };
}

interface Timing {
  ms: number;
  cpuMs: number;
  events: number;
}

type Variant = {
  name: string;
  /** Part of the breakdown (--breakdown), not of the default lines. */
  breakdown?: true;
  run: (dir: string, rows: readonly Row[], batches: readonly Row[][]) => Timing;
};

/** The bare table, a prepared INSERT, and `body` timed (wall and CPU). */
function bare(path: string, body: (db: Database.Database, insert: Database.Statement, rows: readonly Row[]) => void, rows: readonly Row[]): Timing {
  const db = openBare(path);
  const insert = db.prepare(INSERT);
  const t = timedCpu(() => body(db, insert, rows));
  db.close();
  return { ...t, events: rows.length };
}

const VERSION_SQL = `SELECT version, stream_type FROM streams WHERE stream_id = ?`;
const UPSERT_SQL = `INSERT INTO streams (stream_id, stream_type, version) VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version`;

/** The statements store.append runs for one event, written by hand. */
function storeSql(db: Database.Database, insert: Database.Statement) {
  const version = db.prepare(VERSION_SQL);
  const upsert = db.prepare(UPSERT_SQL);
  return (r: Row) => {
    const cur = version.get(r.streamId) as { version: number } | undefined;
    if ((cur?.version ?? 0) !== r.version - 1) throw new Error('unexpected version');
    insert.run(params(r));
    upsert.run(r.streamId, kind.streamType, r.version);
  };
}

const variants: Variant[] = [
  {
    name: 'bare insert',
    run: (dir, rows) =>
      bare(
        join(dir, 'bare.db'),
        (_db, insert, rs) => {
          for (const r of rs) insert.run(params(r));
        },
        rows,
      ),
  },
  {
    name: 'store.append',
    run(dir, rows) {
      const store = EventStore.open(join(dir, 'store.db'), { host: HOST, pollMs: 0 });
      const t = timedCpu(() => {
        for (const r of rows) store.append(kind.streamType, r.streamId, r.version - 1, [r]);
      });
      store.close();
      return { ...t, events: rows.length };
    },
  },
  {
    name: 'bare insert, batched',
    run(dir, _rows, batches) {
      const db = openBare(join(dir, 'bare-batched.db'));
      const insert = db.prepare(INSERT);
      const tx = db.transaction((batch: readonly Row[]) => {
        for (const r of batch) insert.run(params(r));
      });
      const t = timedCpu(() => {
        for (const b of batches) tx.immediate(b);
      });
      db.close();
      return { ...t, events: batches.reduce((n, b) => n + b.length, 0) };
    },
  },
  {
    name: 'store.append, batched',
    run(dir, _rows, batches) {
      const store = EventStore.open(join(dir, 'store-batched.db'), { host: HOST, pollMs: 0 });
      const t = timedCpu(() => {
        for (const b of batches) store.append(kind.streamType, b[0]!.streamId, b[0]!.version - 1, b);
      });
      store.close();
      return { ...t, events: batches.reduce((n, b) => n + b.length, 0) };
    },
  },
  {
    name: 'host write path (recordEvent)',
    run(dir, allRows) {
      // The full host path is several times slower: it runs over the first HOST_EVENTS rows.
      const rows = allRows.slice(0, HOST_EVENTS);
      const store = EventStore.open(join(dir, 'host.db'), { host: HOST, projectors: [new ActorProjector(kindFor)], pollMs: 0 });
      const actors = new Map<string, { snapshot: Snapshot; version: number }>();
      const t = timedCpu(() => {
        for (const r of rows) {
          const current = actors.get(r.streamId) ?? { snapshot: initialSnapshot(kind), version: 0 };
          const rec = recordEvent(store, kind, r.streamId, current, { type: r.type, data: r.data, at: r.atMs, id: r.id });
          actors.set(r.streamId, { snapshot: rec.snapshot, version: rec.envelope.version });
        }
      });
      // Sanity: the projection holds every actor.
      const n = store.actors().length;
      if (n !== actors.size) throw new Error(`actor_state has ${n} rows, expected ${actors.size}`);
      store.close();
      return { ...t, events: rows.length };
    },
  },
  // --breakdown: where store.append's time goes, one layer at a time (bare SQL, by hand).
  {
    name: 'B1 INSERT in BEGIN IMMEDIATE/COMMIT',
    breakdown: true,
    run: (dir, rows) =>
      bare(
        join(dir, 'b1.db'),
        (db, insert, rs) => {
          const tx = db.transaction((r: Row) => insert.run(params(r)));
          for (const r of rs) tx.immediate(r);
        },
        rows,
      ),
  },
  {
    name: "B2 B1 + version lookup + streams upsert (store's SQL)",
    breakdown: true,
    run: (dir, rows) =>
      bare(
        join(dir, 'b2.db'),
        (db, insert, rs) => {
          const tx = db.transaction(storeSql(db, insert));
          for (const r of rs) tx.immediate(r);
        },
        rows,
      ),
  },
  {
    name: 'B3 B2 + db.transaction() built per call',
    breakdown: true,
    run: (dir, rows) =>
      bare(
        join(dir, 'b3.db'),
        (db, insert, rs) => {
          const one = storeSql(db, insert);
          for (const r of rs) db.transaction(() => one(r)).immediate();
        },
        rows,
      ),
  },
  {
    name: "B4 B3 + db.pragma('data_version') + head query",
    breakdown: true,
    run: (dir, rows) =>
      bare(
        join(dir, 'b4.db'),
        (db, insert, rs) => {
          const one = storeSql(db, insert);
          const head = db.prepare(`SELECT max(position) AS p FROM events`);
          for (const r of rs) {
            db.transaction(() => one(r)).immediate();
            db.pragma('data_version', { simple: true });
            head.get();
          }
        },
        rows,
      ),
  },
];

async function main(): Promise<void> {
  const lines = variants.filter((v) => BREAKDOWN || !v.breakdown);
  console.log(`# append-throughput: ${fmtInt(EVENTS)} events (host path: ${fmtInt(Math.min(EVENTS, HOST_EVENTS))}), ${STREAMS} streams, batch ${BATCH}, ${ROUNDS} rounds${BREAKDOWN ? ', with breakdown' : ''}`);
  console.log(`# ${machineLine()}`);
  const rows = toRows(backendWorkloadArray(EVENTS, STREAMS));
  const batches = toBatches(rows, BATCH);
  const times = new Map<string, Timing[]>(lines.map((v) => [v.name, []]));

  // Warm-up (JIT, page cache), not counted.
  const warm = rows.slice(0, Math.min(rows.length, 2000));
  for (const v of lines) {
    const { dir, cleanup } = benchTempDir('append-warm');
    try {
      v.run(dir, warm, toBatches(warm, BATCH));
    } finally {
      cleanup();
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no line always runs first or last on a noisy machine.
    const order = lines.map((_, i) => lines[(i + round) % lines.length]!);
    for (const v of order) {
      const { dir, cleanup } = benchTempDir('append-run');
      try {
        await settle();
        times.get(v.name)!.push(v.run(dir, rows, batches));
      } finally {
        cleanup();
      }
    }
    console.log(`  round ${round + 1}: ` + lines.map((v) => `${v.name} ${fmtInt(perSec(times.get(v.name)!.at(-1)!))}/s`).join(', '));
  }

  const rate = (name: string) => median(times.get(name)!.map(perSec));
  const cpuUs = (name: string) => median(times.get(name)!.map((t) => (t.cpuMs * 1000) / t.events));
  // Ratio within each round (same machine state), then the median of the rounds' ratios.
  const ratio = (a: string, b: string) => median(times.get(a)!.map((ta, i) => perSec(ta) / perSec(times.get(b)![i]!)));
  const cpuRatio = (a: string, b: string) => median(times.get(a)!.map((ta, i) => times.get(b)![i]!.cpuMs / times.get(b)![i]!.events / (ta.cpuMs / ta.events)));
  const baseOf = (name: string) => (name.includes('batched') ? 'bare insert, batched' : 'bare insert');
  console.log('');
  console.log(
    table(
      ['line', 'events/s', 'µs/event', 'ratio vs bare', 'CPU µs/event', 'CPU ratio'],
      lines.map((v) => [
        v.name === 'store.append' ? 'store.append (1 event/append)' : v.name.includes('batched') ? `${v.name} (${BATCH}/tx)` : v.name,
        fmtInt(rate(v.name)),
        fmt(1e6 / rate(v.name), 1),
        fmt(ratio(v.name, baseOf(v.name))),
        fmt(cpuUs(v.name), 1),
        fmt(cpuRatio(v.name, baseOf(v.name))),
      ]),
    ),
  );
  console.log('  ratio = line events/s ÷ bare events/s (per round, median); batched lines against the batched bare insert.');
  console.log('  CPU = this process\'s user+system time; it is far less disturbed by other load than wall time.');
  const single = ratio('store.append', 'bare insert');
  const batched = ratio('store.append, batched', 'bare insert, batched');
  const host = ratio('host write path (recordEvent)', 'bare insert');
  console.log('');
  console.log(
    `RESULT append-throughput store/bare=${fmt(single)} (bar ≥ 0.80: ${single >= 0.8 ? 'met' : 'MISSED'}) cpu=${fmt(cpuRatio('store.append', 'bare insert'))} batched=${fmt(batched)} host/bare=${fmt(host)} ` +
      `(${fmtInt(rate('store.append'))}/s vs ${fmtInt(rate('bare insert'))}/s)`,
  );
}

function perSec(t: Timing): number {
  return t.events / (t.ms / 1000);
}

await main();
