/**
 * Replay/rebuild: 1,000,000 backend-child events folded through the machine's pure transition.
 *
 *   node dist/bench/fold-million.js [--events 1000000] [--streams 500] [--budget 10] [--rounds 1]
 *
 * The log (bench/workload.ts) is what supervised processes write: CREATED, then cycles of
 * PROCESS_STARTED / PROCESS_EXITED / TIMER_FIRED (restart backoff, watch debounce) / STOP / START,
 * streams interleaved. Lines:
 *   plain JS reducer          baseline: a hand-written switch over the same rows computing the same
 *                             life state / restarts / exits, in memory
 *   bare SELECT + JSON.parse  baseline: better-sqlite3 iterate() over the same file, parsing data
 *   fold(), in memory         events grouped by stream, `fold(kind, events)` per stream
 *   fast fold, in memory      the same through actors/fast-fold.ts (f events verify's fold)
 *   iterateAll() + step()     a rebuild: the log in position order from the SQLite file through
 *                             store.iterateAll(), one snapshot per stream, `step()` per event
 * The SQLite lines run first, before the events are generated into memory (a rebuild does not
 * hold the log in its heap, and a big live heap slows every GC).
 * Diagnostic (paired, --paired events, not Flow's code): step() against machine.transition()
 * with one inert actor scope made once, on the same slices alternately. xstate's transition()
 * builds a throwaway actor per call and that actor computes the machine's initial snapshot;
 * this shows what actors/fold.ts would gain by not doing that.
 * Each line stops after `budget` seconds; a line that did not reach the end reports its measured
 * rate and the time projected for all events (marked "projected"). Finished folds are checked
 * against the plain reducer, stream by stream.
 * The SQLite file is written once (setup, not measured) with a prepared INSERT into the store's own
 * tables, the rows store.append would write; 1,000,000 appends would take minutes on their own.
 * Quality bar (DESIGN.md): 1,000,000 events folded in under 10 s.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { createActor, type EventObject } from 'xstate';
import { backendLifeState, type BackendContext, type BackendSnapshot } from '../actors/backend-child/index.js';
import { fold, initialSnapshot, step, toMachineEvent, type Snapshot } from '../actors/fold.js';
import { fastMachine, fastToStored } from '../actors/fast-fold.js';
import { EventStore } from '../services/store/event-store.js';
import { benchTempDir, fmt, fmtInt, intFlag, machineLine, median, settle, table, timed } from './lib.js';
import { backendWorkload, backendWorkloadArray, kind, type BenchEvent } from './workload.js';
import { plainFold, type Ev, type Plain } from './plain-reducer.js';

const EVENTS = intFlag('events', 'BENCH_EVENTS', 1_000_000);
const STREAMS = intFlag('streams', 'BENCH_STREAMS', 500);
const BUDGET_MS = intFlag('budget', 'BENCH_BUDGET_S', 10) * 1000;
const ROUNDS = intFlag('rounds', 'BENCH_ROUNDS', 1);
const PAIRED = intFlag('paired', 'BENCH_PAIRED', 20_000);
const BAR_S = 10;

type StepFn = (s: Snapshot, e: Ev) => Snapshot;

interface Summary {
  life: string;
  restarts: number;
  exits: number;
}

function summarize(s: Snapshot): Summary {
  const ctx = s.context as BackendContext;
  return { life: backendLifeState(s as BackendSnapshot), restarts: ctx.restarts, exits: ctx.exits };
}

const flowStep: StepFn = (s, e) => step(kind, s, e)[0];

/** Diagnostic: machine.transition() with one inert actor scope, made once (what xstate's transition() makes per call). */
function reusedScopeStep(): StepFn {
  const self = createActor(kind.machine);
  const scope = { self, defer() {}, id: '', logger() {}, sessionId: '', stopChild() {}, system: self.system, emit() {}, actionExecutor() {} };
  return (s, e) => kind.machine.transition(s, toMachineEvent(e) as EventObject, scope as never) as Snapshot;
}

interface Outcome {
  ms: number;
  events: number;
  folded?: Map<string, Snapshot>;
}

/** Folds in log order with one snapshot per stream, stopping once the budget is spent. */
function stepAll(events: Iterable<Ev>, fn: StepFn): Outcome {
  const m = new Map<string, Snapshot>();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(BUDGET_MS) * 1_000_000n;
  let n = 0;
  let done = true;
  for (const e of events) {
    m.set(e.streamId, fn(m.get(e.streamId) ?? initialSnapshot(kind), e));
    if (++n % 1000 === 0 && process.hrtime.bigint() > deadline) {
      done = false;
      break;
    }
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, events: n, folded: done ? m : undefined };
}

function foldGrouped(grouped: Map<string, Ev[]>): Outcome {
  const m = new Map<string, Snapshot>();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(BUDGET_MS) * 1_000_000n;
  let n = 0;
  for (const [id, evs] of grouped) {
    m.set(id, fold(kind, evs));
    n += evs.length;
    if (process.hrtime.bigint() > deadline) break;
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, events: n, folded: m.size === grouped.size ? m : undefined };
}

/** The same per-stream fold through actors/fast-fold.ts (what f events verify uses). */
function foldGroupedFast(grouped: Map<string, Ev[]>): Outcome {
  const fm = fastMachine(kind);
  if (!fm) throw new Error('the fast fold does not cover the backend-child machine');
  const m = new Map<string, Snapshot>();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(BUDGET_MS) * 1_000_000n;
  let n = 0;
  for (const [id, evs] of grouped) {
    let st = fm.initial();
    for (const e of evs) st = fm.step(st, e)[0];
    // What summarize() reads of a snapshot: its value and context.
    m.set(id, fastToStored(st) as unknown as Snapshot);
    n += evs.length;
    if (process.hrtime.bigint() > deadline) break;
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, events: n, folded: m.size === grouped.size ? m : undefined };
}

function check(name: string, got: Map<string, Snapshot>, want: Map<string, Plain>): void {
  if (got.size !== want.size) throw new Error(`${name}: ${got.size} streams, expected ${want.size}`);
  for (const [id, p] of want) {
    const s = got.get(id);
    const g = s && summarize(s);
    if (!g || g.life !== p.life || g.restarts !== p.restarts || g.exits !== p.exits) {
      throw new Error(`${name}: ${id} folded to ${JSON.stringify(g)}, the plain reducer says ${JSON.stringify({ life: p.life, restarts: p.restarts, exits: p.exits })}`);
    }
  }
}

/** Writes the rows store.append would write, straight into the store's tables (fixture only). */
function writeFixture(path: string, events: Iterable<BenchEvent>): void {
  const store = EventStore.open(path, { host: 'bench', pollMs: 0 });
  const insert = store.db.prepare(
    `INSERT INTO events (id, host, stream_type, stream_id, version, type, data, meta, at) VALUES (?, 'bench', ?, ?, ?, ?, ?, '{}', ?)`,
  );
  const upsert = store.db.prepare(`INSERT INTO streams (stream_id, stream_type, version) VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version`);
  const versions = new Map<string, number>();
  const tx = store.db.transaction((chunk: readonly BenchEvent[]) => {
    for (const e of chunk) {
      const v = (versions.get(e.streamId) ?? 0) + 1;
      versions.set(e.streamId, v);
      insert.run(uuidv7(), kind.streamType, e.streamId, v, e.type, JSON.stringify(e.data), e.at);
    }
    for (const [id, v] of versions) upsert.run(id, kind.streamType, v);
  });
  let chunk: BenchEvent[] = [];
  for (const e of events) {
    chunk.push(e);
    if (chunk.length === 20_000) {
      tx.immediate(chunk);
      chunk = [];
    }
  }
  if (chunk.length) tx.immediate(chunk);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
}

/** Diagnostic: flowStep and the reused scope on the same slices, alternating, so load hits both alike. */
function pairedScopeRatio(events: readonly Ev[], n: number): { flowUs: number; reusedUs: number } {
  const reused = reusedScopeStep();
  const a = new Map<string, Snapshot>();
  const b = new Map<string, Snapshot>();
  let ta = 0n;
  let tb = 0n;
  const SLICE = 2000;
  for (let i = 0; i < Math.min(n, events.length); i += SLICE) {
    const slice = events.slice(i, i + SLICE);
    let t = process.hrtime.bigint();
    for (const e of slice) a.set(e.streamId, flowStep(a.get(e.streamId) ?? initialSnapshot(kind), e));
    ta += process.hrtime.bigint() - t;
    t = process.hrtime.bigint();
    for (const e of slice) b.set(e.streamId, reused(b.get(e.streamId) ?? initialSnapshot(kind), e));
    tb += process.hrtime.bigint() - t;
  }
  for (const [id, s] of a) {
    if (JSON.stringify(summarize(s)) !== JSON.stringify(summarize(b.get(id)!))) throw new Error(`reused scope diverged on ${id}`);
  }
  const count = Math.min(n, events.length);
  return { flowUs: Number(ta) / 1e3 / count, reusedUs: Number(tb) / 1e3 / count };
}

async function main(): Promise<void> {
  console.log(`# fold-million: ${fmtInt(EVENTS)} backend-child events, ${STREAMS} streams, budget ${BUDGET_MS / 1000} s per line, ${ROUNDS} round(s)`);
  console.log(`# ${machineLine()}`);
  const { dir, cleanup } = benchTempDir('fold');
  const path = join(dir, 'flow.db');
  try {
    // The SQLite lines run first, before the 1,000,000 events are held in memory: a rebuild
    // does not have them in its heap, and a big live heap slows every GC.
    const write = timed(() => writeFixture(path, backendWorkload(EVENTS, STREAMS)));
    const want = plainFold(backendWorkload(EVENTS, STREAMS));
    console.log(`  SQLite fixture: ${fmtInt(EVENTS)} rows written in ${fmt(write.ms / 1000)} s (setup)`);

    const openStore = () => EventStore.open(path, { host: 'bench', pollMs: 0, readonly: true });
    let events: Ev[] = [];
    const grouped = new Map<string, Ev[]>();
    const lines: { name: string; fold: boolean; memory?: true; run: () => Outcome }[] = [
      {
        name: 'bare SELECT + JSON.parse',
        fold: false,
        run: () => {
          const db = new Database(path, { readonly: true });
          const r = timed(() => {
            let n = 0;
            for (const row of db.prepare(`SELECT * FROM events ORDER BY position`).iterate() as Iterable<{ data: string; meta: string }>) {
              JSON.parse(row.data);
              JSON.parse(row.meta);
              n++;
            }
            return n;
          });
          db.close();
          return { ms: r.ms, events: r.value };
        },
      },
      {
        name: 'store.iterateAll() + step()',
        fold: true,
        run: () => {
          const store = openStore();
          const r = stepAll(store.iterateAll(0), flowStep);
          store.close();
          return r;
        },
      },
      { name: 'plain JS reducer, in memory', fold: false, memory: true, run: () => ({ ...timed(() => plainFold(events)), events: EVENTS }) },
      { name: 'fold(), in memory, per stream', fold: true, memory: true, run: () => foldGrouped(grouped) },
      { name: 'fast fold, in memory, per stream', fold: true, memory: true, run: () => foldGroupedFast(grouped) },
    ];

    const results = new Map<string, { s: number[]; cpuS: number[]; projected: boolean; rate: number[] }>(lines.map((l) => [l.name, { s: [], cpuS: [], projected: false, rate: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const l of lines) {
        if (l.memory && events.length === 0) {
          // Setup, outside every measurement.
          const gen = timed(() => backendWorkloadArray(EVENTS, STREAMS));
          events = gen.value;
          for (const e of events) {
            let g = grouped.get(e.streamId);
            if (!g) grouped.set(e.streamId, (g = []));
            g.push(e);
          }
          const types = new Map<string, number>();
          for (const e of events) types.set(e.type, (types.get(e.type) ?? 0) + 1);
          console.log(`  workload in memory: ${[...types].map(([t, k]) => `${t} ${fmtInt(k)}`).join(', ')} (generated in ${fmt(gen.ms / 1000)} s)`);
        }
        await settle(200);
        const c0 = process.cpuUsage();
        const o = l.run();
        const c = process.cpuUsage(c0);
        if (o.folded) check(l.name, o.folded, want);
        const r = results.get(l.name)!;
        const projected = o.events < EVENTS;
        r.projected ||= projected;
        r.s.push((o.ms / 1000) * (EVENTS / o.events));
        r.rate.push(o.events / (o.ms / 1000));
        r.cpuS.push(((c.user + c.system) / 1e6) * (EVENTS / o.events));
        console.log(`  ${l.name}: ${fmtInt(o.events)} events in ${fmt(o.ms / 1000)} s (CPU ${fmt((c.user + c.system) / 1e6)} s)${projected ? ` (budget spent; ${fmt(r.s.at(-1)!)} s projected for ${fmtInt(EVENTS)})` : o.folded ? ' (checked against the reducer)' : ''}`);
      }
    }
    await settle(200);
    const paired = pairedScopeRatio(events, PAIRED);

    const sec = (name: string) => median(results.get(name)!.s);
    /** The bar is about a million events: smaller runs are scaled up to it. */
    const perMillion = (s: number) => (s * 1_000_000) / EVENTS;
    const base = 'plain JS reducer, in memory';
    const sel = 'bare SELECT + JSON.parse';
    console.log('');
    console.log(
      table(
        ['line', `s for ${fmtInt(EVENTS)}`, 'CPU s', 'events/s', 'µs/event', '× reducer', '× bare SELECT', `bar < ${BAR_S} s`],
        lines.map((l) => {
          const r = results.get(l.name)!;
          const s = sec(l.name);
          return [l.name, fmt(s) + (r.projected ? ' (proj.)' : ''), fmt(median(r.cpuS)), fmtInt(median(r.rate)), fmt(1e6 / median(r.rate), 2), fmt(s / sec(base), 1), fmt(s / sec(sel), 1), l.fold ? (perMillion(s) < BAR_S ? 'met' : `MISSED ×${fmt(perMillion(s) / BAR_S, 1)}`) : ''];
        }),
      ),
    );
    console.log('  CPU s = user + system time of this process (GC threads included), projected like the wall time; on a busy');
    console.log('  machine it is what a quiet one would come close to.');
    console.log(
      `  diagnostic (paired, first ${fmtInt(PAIRED)} events): step() ${fmt(paired.flowUs, 1)} µs/event, machine.transition() with one reused inert actor scope ${fmt(paired.reusedUs, 1)} µs/event ` +
        `(${fmt(paired.flowUs / paired.reusedUs, 2)}× faster; same snapshots)`,
    );
    const cpuSec = (name: string) => median(results.get(name)!.cpuS);
    const mem = sec('fold(), in memory, per stream');
    const sqlite = sec('store.iterateAll() + step()');
    const worst = Math.max(mem, sqlite);
    console.log('');
    console.log(
      `RESULT fold-million memory=${fmt(mem)}s sqlite=${fmt(sqlite)}s${results.get('store.iterateAll() + step()')!.projected ? '(projected)' : ''} ` +
        `sqlite/reducer=${fmt(sqlite / sec(base), 0)}x sqlite/select=${fmt(sqlite / sec(sel), 1)}x cpu-sqlite=${fmt(cpuSec('store.iterateAll() + step()'))}s cpu-memory=${fmt(cpuSec('fold(), in memory, per stream'))}s reused-scope-speedup=${fmt(paired.flowUs / paired.reusedUs, 2)}x (bar < ${BAR_S} s per million: ${perMillion(worst) < BAR_S ? 'met' : 'MISSED'})`,
    );
  } finally {
    cleanup();
  }
}

await main();
