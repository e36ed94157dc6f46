import type { Command } from 'commander';
import { z } from 'zod';
import { kindFor, kinds } from '../../actors/index.js';
import { step, initialSnapshot, toStored } from '../../actors/fold.js';
import { FEATURE_STREAM_TYPE, featureEvents } from '../../services/features/events.js';
import { EventEnvelopeSchema, type EventEnvelope } from '../../services/store/envelope.js';
import type { EventStore } from '../../services/store/event-store.js';
import { openFlowStore } from '../../infra/open-store.js';
import { printJson } from '../output.js';

function line(e: EventEnvelope): string {
  return `${String(e.position).padStart(6)}  ${e.at}  ${e.streamId}@${e.version}  ${e.type}  ${JSON.stringify(e.data)}`;
}

function withStore<T>(fn: (store: EventStore) => T): T {
  const store = openFlowStore({ mustExist: true, host: 'cli' });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export function register(program: Command): void {
  const events = program.command('events').description('read, replay and rebuild the event log ($FLOW_HOME/flow.db; works without f up)');

  events
    .command('tail')
    .description('print the latest events; --follow keeps printing new ones (also those other processes append)')
    .option('-n, --limit <n>', 'how many of the latest events', (v) => Number(v), 20)
    .option('--stream <streamId>', 'only this stream')
    .option('--type <streamType>', 'only streams of this type')
    .option('-f, --follow', 'keep printing')
    .option('--json', 'one JSON envelope per line')
    .action(async (opts: { limit: number; stream?: string; type?: string; follow?: boolean; json?: boolean }) => {
      const filter = { streamId: opts.stream, streamType: opts.type };
      const print = (e: EventEnvelope) => process.stdout.write((opts.json ? JSON.stringify(e) : line(e)) + '\n');
      const store = openFlowStore({ mustExist: true, host: 'cli', pollMs: 100 });
      const head = store.headPosition();
      // Read back far enough to find `limit` matching events, then print them oldest first.
      let from = head;
      let found: EventEnvelope[] = [];
      while (from > 0 && found.length < opts.limit) {
        from = Math.max(0, from - Math.max(opts.limit * 4, 1000));
        found = store.readAll(from, head - from, filter);
      }
      for (const e of found.slice(-opts.limit)) print(e);
      if (!opts.follow) return store.close();
      const sub = store.subscribe({ from: head, filter }, print);
      // The store's poller does not hold the process open; following does, until a signal.
      const keepAlive = setInterval(() => {}, 1 << 30);
      await new Promise<void>((resolve) => {
        const stop = () => {
          clearInterval(keepAlive);
          sub.close();
          store.close();
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
    .option('--to <version>', 'stop after this version', (v) => Number(v))
    .option('--json', 'print JSON')
    .action((streamId: string, opts: { to?: number; json?: boolean }) =>
      withStore((store) => {
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
      }),
    );

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
      const path = withStore((store) => {
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
    .action((opts: { type?: string }) => {
      const out: Record<string, Record<string, unknown>> = {};
      // The actor kinds' streams, and the features' (not an actor: a stream of records).
      const schemas: [string, Readonly<Record<string, z.ZodType>>][] = [...kinds.map((k) => [k.streamType, k.events] as [string, Readonly<Record<string, z.ZodType>>]), [FEATURE_STREAM_TYPE, featureEvents]];
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
