import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { kindFor, kinds } from '../../actors/index.js';
import { openDatabase } from './db.js';
import { machineVersion } from './machine-version.js';
import { verifyRange, type StreamRange, type VerifyResult } from './verify.js';
import type { VerifyJob } from './verify-worker.js';

export interface VerifyOptions {
  /** Only this stream. */
  streamId?: string;
  /** Worker threads to fold in (default: one per core); 0 folds in this thread. */
  threads?: number;
  /** A nice value for the worker threads (the background verifier runs at 19). */
  nice?: number;
}

/** The machine version of every kind, as this process computes them (the workers are told, not asked). */
export function machineVersions(): Record<string, string> {
  return Object.fromEntries(kinds.map((kind) => [kind.streamType, machineVersion(kind)]));
}

/**
 * Folds every stream of the log at `path` from its start and compares with the stored
 * projections. Streams are split into contiguous id ranges of about equal event counts, one
 * per worker thread, each folding and comparing its ranges in its own read transaction.
 */
export async function verifyLog(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const versions = machineVersions();
  const script = workerScript();
  const threads = opts.threads ?? availableParallelism();
  if (opts.streamId || threads === 0 || !script) {
    const db = openDatabase(path, { readonly: true });
    try {
      return verifyRange(db, { kindFor, versionOf: (t) => versions[t] }, opts.streamId ? { streamId: opts.streamId } : {});
    } finally {
      db.close();
    }
  }
  const ranges = splitStreams(path, threads);
  const results = await Promise.all(ranges.map((range) => runWorker(script, { path, ranges: [range], versions, nice: opts.nice })));
  const total: VerifyResult = { streams: 0, events: 0, differences: [] };
  for (const r of results) {
    total.streams += r.streams;
    total.events += r.events;
    total.differences.push(...r.differences);
  }
  total.differences.sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
  return total;
}

/** A running verification in one worker thread, which may be stopped (terminated) before it ends. */
export interface RunningVerify {
  result: Promise<VerifyResult | null>;
  stop(): Promise<void>;
}

/** One worker over the whole log, at the given priority: the background verification after start. */
export function verifyInBackground(path: string, nice = 19): RunningVerify | null {
  const script = workerScript();
  if (!script) return null;
  const worker = new Worker(script, { workerData: { path, ranges: [{}], versions: machineVersions(), nice } satisfies VerifyJob });
  let stopped = false;
  const result = new Promise<VerifyResult | null>((resolve, reject) => {
    worker.once('message', (m: VerifyResult) => resolve(m));
    worker.once('error', (err) => (stopped ? resolve(null) : reject(err)));
    worker.once('exit', () => resolve(null));
  });
  return {
    result,
    stop: async () => {
      stopped = true;
      await worker.terminate();
    },
  };
}

function runWorker(script: URL, job: VerifyJob): Promise<VerifyResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: job });
    let got: VerifyResult | undefined;
    worker.once('message', (m: VerifyResult) => (got = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (got ? resolve(got) : reject(new Error(`a verify worker exited with code ${code} before it answered`))));
  });
}

/** Contiguous stream-id ranges with about equal numbers of events (streams.version sums). */
export function splitStreams(path: string, parts: number): StreamRange[] {
  const db = openDatabase(path, { readonly: true });
  let heads: { stream_id: string; version: number }[];
  try {
    heads = db.prepare(`SELECT stream_id, version FROM streams ORDER BY stream_id`).all() as typeof heads;
  } finally {
    db.close();
  }
  const total = heads.reduce((n, h) => n + h.version, 0);
  const n = Math.max(1, Math.min(parts, heads.length));
  const cuts: string[] = [];
  let acc = 0;
  for (const h of heads) {
    if (cuts.length < n - 1 && acc >= (total * (cuts.length + 1)) / n) cuts.push(h.stream_id);
    acc += h.version;
  }
  // [undefined, c1), [c1, c2), … [ck, undefined): together every id, so rows without a stream are seen too.
  const edges = [undefined, ...cuts, undefined];
  return edges.slice(0, -1).map((from, i) => ({ from, to: edges[i + 1] }));
}

/**
 * The worker's file. Built, it is the sibling .js; run from the TypeScript sources (the tests)
 * a worker cannot load .ts, so the built copy in dist/ is used, and without one the caller
 * folds in its own thread.
 */
function workerScript(): URL | null {
  const here = new URL('./verify-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = fileURLToPath(import.meta.url).replace(/\/services\/store\/verify-log\.ts$/, '/dist/services/store/verify-worker.js');
  return built.endsWith('.js') && existsSync(built) ? new URL(`file://${built}`) : null;
}
