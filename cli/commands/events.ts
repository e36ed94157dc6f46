import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import type { ZodType } from 'zod';
import { existsSync } from 'node:fs';
import type { EventEnvelope } from '../../services/store/envelope.js';
import type { EventStore } from '../../services/store/event-store.js';
import type { EventFilter } from '../../services/store/filter.js';
import type { ReadOnlyLog } from '../../services/store/read-only-log.js';
import { flowPaths } from '../../infra/locations.js';
import { parseCount, parseVersion } from '../options.js';
import { printJson } from '../output.js';

// `f events tail` reads the log read-only and loads neither the actor machines nor zod; the
// commands that fold (show, replay, rebuild, schema) load them when they run.

function line(e: EventEnvelope): string {
  return `${String(e.position).padStart(6)}  ${e.at}  ${e.streamId}@${e.version}  ${e.type}  ${JSON.stringify(e.data)}`;
}

function logPath(): string {
  const { db } = flowPaths();
  if (!existsSync(db)) throw new Error(`there is no event log at ${db} yet (run "f up" once, or set FLOW_HOME)`);
  return db;
}

async function withStore<T>(fn: (store: EventStore) => T): Promise<T> {
  const { openFlowStore } = await import('../../infra/open-store.js');
  const store = openFlowStore({ mustExist: true, host: 'cli' });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

async function actorKinds() {
  return (await import('../../actors/index.js')).kinds;
}

/**
 * A filter that names what the log does not have is said so, not answered with silence: an
 * unknown stream or stream type is an error (unless following, where it may yet appear).
 */
async function checkFilter(log: ReadOnlyLog, filter: EventFilter, follow: boolean): Promise<void> {
  const problems: string[] = [];
  if (filter.streamId && !log.streamTypeOf(filter.streamId)) problems.push(`no stream ${filter.streamId} in the log (f events tail lists what is there)`);
  if (filter.streamType && !log.hasStreamType(filter.streamType)) {
    const known = (await actorKinds()).map((k) => k.streamType);
    problems.push(known.includes(filter.streamType) ? `the log has no ${filter.streamType} streams yet` : `${filter.streamType} is not a stream type; stream types: ${known.join(', ')}`);
  }
  if (filter.type) {
    const types = new Set((await actorKinds()).flatMap((k) => Object.keys(k.events)));
    if (!types.has(filter.type) && !log.hasEventType(filter.type)) {
      problems.push(`${filter.type} is not an event type (--stream-type filters by stream type); event types: ${[...types].sort().join(', ')}`);
    }
  }
  if (problems.length === 0) return;
  if (!follow) throw new Error(problems.join('\n'));
  for (const p of problems) process.stderr.write(`f: ${p}; following in case it appears\n`);
}

function describe(filter: EventFilter): string {
  const parts = [filter.type ? `${filter.type} events` : 'events', filter.streamId ? `in ${filter.streamId}` : '', filter.streamType ? `in ${filter.streamType} streams` : ''];
  return parts.filter(Boolean).join(' ');
}

export function register(program: Command): void {
  const events = program.command('events').description(summary('events'));

  events
    .command('tail')
    .description('print the latest events; --follow keeps printing new ones (also those other processes append)')
    .option('-n, --limit <n>', 'how many of the latest events', parseCount('--limit'), 20)
    .option('--stream <streamId>', 'only this stream (backend-child:api)')
    .option('--type <eventType>', 'only events of this type (PROCESS_EXITED)')
    .option('--stream-type <streamType>', 'only streams of this type (backend-child)')
    .option('-f, --follow', 'keep printing')
    .option('--json', 'one JSON envelope per line')
    .action(async (opts: { limit: number; stream?: string; type?: string; streamType?: string; follow?: boolean; json?: boolean }) => {
      const filter: EventFilter = { streamId: opts.stream, streamType: opts.streamType, type: opts.type };
      const print = (e: EventEnvelope) => process.stdout.write((opts.json ? JSON.stringify(e) : line(e)) + '\n');
      const { ReadOnlyLog } = await import('../../services/store/read-only-log.js');
      const log = ReadOnlyLog.open(logPath());
      const head = log.headPosition();
      try {
        const found = opts.limit > 0 ? log.latest(opts.limit, filter) : [];
        if (found.length === 0) await checkFilter(log, filter, !!opts.follow);
        for (const e of found) print(e);
        if (found.length === 0 && opts.limit > 0 && !opts.follow) process.stderr.write(`f: no ${describe(filter)} in the log\n`);
      } catch (err) {
        log.close();
        throw err;
      }
      if (!opts.follow) return log.close();
      const sub = log.subscribe({ from: head, filter }, print);
      // The store's poller does not hold the process open; following does, until a signal.
      const keepAlive = setInterval(() => {}, 1 << 30);
      await new Promise<void>((resolve) => {
        const stop = () => {
          clearInterval(keepAlive);
          sub.close();
          log.close();
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  events
    .command('show <streamId>')
    .description("print a stream's events and the actor's current state")
    .option('--json', 'print JSON')
    .action((streamId: string, opts: { json?: boolean }) =>
      withStore((store) => {
        const list = store.readStream(streamId);
        if (list.length === 0) throw new Error(`no stream ${streamId} in the log (f events tail lists what is there)`);
        const state = store.actor(streamId);
        if (opts.json) return printJson({ events: list, state });
        for (const e of list) process.stdout.write(line(e) + '\n');
        if (state) process.stdout.write(`\nnow: ${state.status} (version ${state.version})\n`);
      }),
    );

  events
    .command('replay <streamId>')
    .description("fold a stream through its machine: each event and the actor's state after it")
    .option('--to <version>', 'stop after this version', parseVersion('--to'))
    .option('--json', 'print JSON')
    .action(async (streamId: string, opts: { to?: number; json?: boolean }) => {
      const [{ kindFor }, { step, initialSnapshot, toStored }] = await Promise.all([import('../../actors/index.js'), import('../../actors/fold.js')]);
      return withStore((store) => {
        const list = store.readStream(streamId).filter((e) => opts.to === undefined || e.version <= opts.to);
        if (list.length === 0) throw new Error(`no stream ${streamId} in the log (f events tail lists what is there)`);
        const kind = kindFor(list[0]!.streamType);
        if (!kind) throw new Error(`no machine for stream type ${list[0]!.streamType}: this Flow cannot replay it`);
        let snap = initialSnapshot(kind);
        const steps = list.map((e) => {
          snap = step(kind, snap, e)[0];
          return { version: e.version, at: e.at, type: e.type, data: e.data, status: kind.status(snap as never), state: toStored(snap) };
        });
        const stored = store.actor(streamId);
        const last = steps[steps.length - 1]!;
        const agrees = opts.to !== undefined && opts.to < (stored?.version ?? 0) ? null : JSON.stringify(stored?.snapshot) === JSON.stringify(last.state);
        if (opts.json) return printJson({ streamId, steps, projectionAgrees: agrees });
        for (const s of steps) {
          process.stdout.write(`v${s.version}  ${s.at}  ${s.type} ${JSON.stringify(s.data)}\n      → ${s.status}  ${JSON.stringify(s.state.value)}  ${JSON.stringify(s.state.context)}\n`);
        }
        if (agrees === false) {
          process.stdout.write(`\nthe stored projection differs from this replay (run "f events rebuild")\n`);
          process.exitCode = 2;
        } else if (agrees) process.stdout.write(`\nthe stored projection agrees with this replay\n`);
      });
    });

  events
    .command('rebuild')
    .description('drop every projection and rebuild it from the log (--stream: only that actor)')
    .option('--stream <streamId>', 'only this stream')
    .action((opts: { stream?: string }) =>
      withStore((store) => {
        if (opts.stream) {
          if (store.streamVersion(opts.stream) === 0) throw new Error(`no stream ${opts.stream} in the log (f events tail lists what is there)`);
          const r = store.rebuildStream(opts.stream);
          process.stdout.write(`rebuilt the projection of ${opts.stream} from its ${r.events} events\n`);
          return;
        }
        const r = store.rebuild();
        process.stdout.write(`rebuilt projections from ${r.events} events in ${r.streams} streams\n`);
      }),
    );

  events
    .command('verify')
    .description('fold every stream from its start and compare with the stored projections; exit code 2 on any difference')
    .option('--stream <streamId>', 'only this stream')
    .option('--threads <n>', 'worker threads to fold in (default: one per core; 0: this thread)', (v) => parseThreads(v))
    .option('--json', 'print JSON')
    .action(async (opts: { stream?: string; threads?: number; json?: boolean }) => {
      // Opening it to write migrates an older file first; the workers then read it.
      const path = await withStore((store) => {
        if (opts.stream && store.streamVersion(opts.stream) === 0) throw new Error(`no stream ${opts.stream} in the log (f events tail lists what is there)`);
        return store.path!;
      });
      const { verifyLog } = await import('../../services/store/verify-log.js');
      const t0 = performance.now();
      const r = await verifyLog(path, { streamId: opts.stream, threads: opts.threads });
      const seconds = (performance.now() - t0) / 1000;
      if (r.differences.length > 0) process.exitCode = 2;
      if (opts.json) return printJson({ ...r, seconds });
      for (const d of r.differences) {
        process.stdout.write(`${d.streamId}: ${d.problem}\n    stored: ${clip(d.stored)}\n    log:    ${clip(d.folded)}\n`);
      }
      const what = `${r.events} events in ${r.streams} streams folded in ${seconds.toFixed(2)} s`;
      if (r.differences.length === 0) process.stdout.write(`every projection agrees with the log (${what})\n`);
      else {
        const streams = new Set(r.differences.map((d) => d.streamId)).size;
        process.stdout.write(`${r.differences.length} difference(s) in ${streams} stream(s) (${what}); "f events rebuild" repairs them from the log\n`);
      }
    });

  events
    .command('schema')
    .description('print the JSON Schema of the event envelope and of every event type')
    .option('--type <streamType>', 'only this actor kind')
    .action(async (opts: { type?: string }) => {
      const [{ z }, { kinds }, { EventEnvelopeSchema }, { FEATURE_STREAM_TYPE, featureEvents }] = await Promise.all([import('zod'), import('../../actors/index.js'), import('../../services/store/envelope.js'), import('../../services/features/events.js')]);
      const out: Record<string, Record<string, unknown>> = {};
      // The actor kinds' streams, and the features' (not an actor: a stream of records).
      const schemas: [string, Readonly<Record<string, ZodType>>][] = [...kinds.map((k) => [k.streamType, k.events] as [string, Readonly<Record<string, ZodType>>]), [FEATURE_STREAM_TYPE, featureEvents]];
      for (const [streamType, events] of schemas) {
        if (opts.type && opts.type !== streamType) continue;
        out[streamType] = Object.fromEntries(Object.entries(events).map(([type, schema]) => [type, z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })]));
      }
      if (opts.type && !out[opts.type]) throw new Error(`no stream type ${opts.type}; known: ${schemas.map(([t]) => t).join(', ')}`);
      printJson({ envelope: z.toJSONSchema(EventEnvelopeSchema, { unrepresentable: 'any' }), events: out });
    });
}

function parseThreads(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error(`--threads must be a whole number from 0 to 64, not ${JSON.stringify(v)}`);
  return n;
}

function clip(text: string | null): string {
  if (text === null) return '(none)';
  return text.length > 400 ? `${text.slice(0, 400)}… (${text.length} characters)` : text;
}
