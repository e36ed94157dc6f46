/**
 * Start-up independent of history, and the full fold that judges it (issue 13).
 *
 *   node dist/bench/startup-verify.js [--events 1000000] [--streams 500] [--runs 3]
 *
 * The log is bench/workload.ts's backend-child workload, written in the exact row format
 * store.append writes (one transaction, the actor projection applied as append applies it),
 * then every backend is stopped so `f up` has no process to start. Lines:
 *   f up ready, empty log        `node dist/cli/main.js up --port 0` until GET /api/health answers
 *   f up ready, N-event log      the same over the generated log (bar ≤ 1.5× the empty log)
 *   plain JS reducer             baseline: bench/plain-reducer.ts over the same events in memory
 *   verify, 1 thread / N threads verifyLog() (f events verify): every stream folded from its rows
 *                                and compared (bar ≤ 10 s for 1,000,000 events, stretch 5 s)
 * Runs alternate (empty, full, empty, full …) so machine load hits both alike; medians reported.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { kindFor } from '../actors/index.js';
import type { EventEnvelope } from '../services/store/envelope.js';
import { EventStore } from '../services/store/event-store.js';
import { ActorProjector } from '../services/store/projections.js';
import { verifyLog } from '../services/store/verify-log.js';
import { benchTempDir, fmt, fmtInt, intFlag, machineLine, median, settle, timed } from './lib.js';
import { plainFold } from './plain-reducer.js';
import { backendWorkload, kind, type BenchEvent } from './workload.js';

const EVENTS = intFlag('events', 'BENCH_EVENTS', 1_000_000);
const STREAMS = intFlag('streams', 'BENCH_STREAMS', 500);
const RUNS = intFlag('runs', 'BENCH_RUNS', 3);
const F_BIN = join(import.meta.dirname, '../cli/main.js');

/** Rows as store.append writes them (host, epoch NULL, meta '{}'), and the projection as append applies it. */
function writeLog(path: string, events: Iterable<BenchEvent>): number {
  const store = EventStore.open(path, { host: 'bench', pollMs: 0 });
  const projector = new ActorProjector(kindFor);
  const insert = store.db.prepare(
    `INSERT INTO events (id, host, epoch, origin_position, stream_type, stream_id, version, type, data, meta, at) VALUES (?, 'bench', NULL, NULL, ?, ?, ?, ?, ?, '{}', ?)`,
  );
  const upsert = store.db.prepare(`INSERT INTO streams (stream_id, stream_type, version) VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version`);
  const versions = new Map<string, number>();
  let last = 0;
  const put = (batch: { streamId: string; type: string; data: Record<string, unknown>; at: string }[]) => {
    const envs: EventEnvelope[] = batch.map((e) => {
      const v = (versions.get(e.streamId) ?? 0) + 1;
      versions.set(e.streamId, v);
      const id = uuidv7();
      const res = insert.run(id, kind.streamType, e.streamId, v, e.type, JSON.stringify(e.data), e.at);
      return { id, position: Number(res.lastInsertRowid), host: 'bench', epoch: store.epoch, streamType: kind.streamType, streamId: e.streamId, version: v, type: e.type, data: e.data, meta: {}, at: e.at };
    });
    projector.apply(store.db, envs);
    for (const [id, v] of versions) upsert.run(id, kind.streamType, v);
  };
  store.db.transaction(() => {
    let chunk: BenchEvent[] = [];
    for (const e of events) {
      chunk.push(e);
      last = Math.max(last, e.atMs);
      if (chunk.length === 20_000) {
        put(chunk);
        chunk = [];
      }
    }
    if (chunk.length) put(chunk);
    // Every backend stopped: f up then has nothing to start, only its log to read.
    const at = new Date(last + 1000).toISOString();
    const tail: { streamId: string; type: string; data: Record<string, unknown>; at: string }[] = [];
    for (const row of store.actors('backend-child')) {
      const run = (row.snapshot.context as { run?: { pid: number } | null }).run;
      if (!['stopped', 'failed', 'exited'].includes(row.status)) tail.push({ streamId: row.streamId, type: 'STOP_REQUESTED', data: {}, at });
      if (run) tail.push({ streamId: row.streamId, type: 'PROCESS_EXITED', data: { pid: run.pid, code: null, signal: 'SIGTERM', cause: 'exit' }, at });
    }
    put(tail);
  }).immediate();
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const n = store.headPosition();
  store.close();
  return n;
}

/** ms from spawning `f up` until /api/health answers 200; then SIGTERM and wait for the exit. */
async function upReady(home: string): Promise<number> {
  const t0 = performance.now();
  const p = spawn(process.execPath, [F_BIN, 'up', '--port', '0'], { env: { ...process.env, FLOW_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => p.once('exit', r));
  try {
    for (;;) {
      const url = /Flow is up at (\S+)/.exec(out)?.[1];
      if (url) {
        const res = await fetch(`${url}/api/health`).catch(() => null);
        if (res?.ok) return performance.now() - t0;
      }
      if (p.exitCode !== null) throw new Error(`f up exited:\n${out}`);
      if (performance.now() - t0 > 300_000) throw new Error(`f up not ready in 300 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    p.kill('SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  console.log(`# startup-verify: ${fmtInt(EVENTS)} backend-child events, ${STREAMS} streams, ${RUNS} run(s)`);
  console.log(`# ${machineLine()}`);
  const { dir, cleanup } = benchTempDir('startup');
  try {
    const empty = join(dir, 'empty');
    const full = join(dir, 'full');
    mkdirSync(empty);
    mkdirSync(full);
    const w = timed(() => writeLog(join(full, 'flow.db'), backendWorkload(EVENTS, STREAMS)));
    console.log(`  fixture: ${fmtInt(w.value)} events written with their projections in ${fmt(w.ms / 1000)} s (setup)`);
    // The first start migrates and records the host; not measured.
    await upReady(empty);
    await upReady(full);

    const emptyMs: number[] = [];
    const fullMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await settle(300);
      emptyMs.push(await upReady(empty));
      await settle(300);
      fullMs.push(await upReady(full));
      console.log(`  run ${i + 1}: f up ready, empty ${fmt(emptyMs.at(-1)!)} ms, ${fmtInt(w.value)} events ${fmt(fullMs.at(-1)!)} ms`);
    }

    const path = join(full, 'flow.db');
    const threads = availableParallelism();
    const reducerMs: number[] = [];
    const oneMs: number[] = [];
    const manyMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await settle(300);
      const events = [...backendWorkload(EVENTS, STREAMS)];
      reducerMs.push(timed(() => plainFold(events)).ms);
      events.length = 0;
      await settle(300);
      const one = performance.now();
      const r1 = await verifyLog(path, { threads: 0 });
      oneMs.push(performance.now() - one);
      await settle(300);
      const many = performance.now();
      const rn = await verifyLog(path, { threads });
      manyMs.push(performance.now() - many);
      if (r1.differences.length || rn.differences.length) throw new Error(`verify found differences in a log written with its projections: ${JSON.stringify(r1.differences.slice(0, 3))}`);
      console.log(`  run ${i + 1}: reducer ${fmt(reducerMs.at(-1)!)} ms, verify 1 thread ${fmt(oneMs.at(-1)! / 1000)} s, ${threads} threads ${fmt(manyMs.at(-1)! / 1000)} s (${fmtInt(rn.events)} events)`);
    }
    const up = median(fullMs) / median(emptyMs);
    const perMillion = (ms: number) => (ms / 1000) * (1_000_000 / w.value);
    const best = Math.min(median(oneMs), median(manyMs));
    const us = (ms: number) => (ms * 1000) / w.value;
    console.log('');
    console.log(`  f up ready: empty ${fmt(median(emptyMs))} ms, ${fmtInt(w.value)} events ${fmt(median(fullMs))} ms → ${fmt(up)}× (bar ≤ 1.5×: ${up <= 1.5 ? 'met' : 'MISSED'})`);
    console.log(`  plain reducer ${fmt(us(median(reducerMs)), 2)} µs/event; verify 1 thread ${fmt(us(median(oneMs)), 2)} µs/event (${fmt(median(oneMs) / median(reducerMs), 0)}× reducer), ${threads} threads ${fmt(us(median(manyMs)), 2)} µs/event (${fmt(median(manyMs) / median(reducerMs), 0)}× reducer)`);
    console.log(`  full verify per 1,000,000 events: ${fmt(perMillion(best))} s (bar ≤ 10 s: ${perMillion(best) <= 10 ? 'met' : 'MISSED'}; stretch 5 s: ${perMillion(best) <= 5 ? 'met' : 'missed'})`);
    console.log(
      `RESULT startup-verify up-empty=${fmt(median(emptyMs))}ms up-full=${fmt(median(fullMs))}ms up-ratio=${fmt(up)}x verify-1t=${fmt(median(oneMs) / 1000)}s verify-${threads}t=${fmt(median(manyMs) / 1000)}s verify/reducer=${fmt(best / median(reducerMs), 0)}x events=${w.value}`,
    );
  } finally {
    cleanup();
  }
}

await main();
