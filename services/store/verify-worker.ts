import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { kindFor } from '../../actors/index.js';
import { openDatabase } from './db.js';
import { verifyRange, type StreamRange, type VerifyResult } from './verify.js';

/** What services/store/verify-log.ts hands each worker: its ranges of streams, and the machine versions to expect. */
export interface VerifyJob {
  path: string;
  ranges: StreamRange[];
  versions: Record<string, string>;
  /** A nice value for this thread alone (Linux): the background verifier yields to the host. */
  nice?: number;
}

/** Lowers this thread's priority only: on Linux a thread has its own id, and setpriority takes it. */
function lowerThisThread(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // Not Linux (or no /proc): the verification runs at normal priority.
  }
}

const job = workerData as VerifyJob;
if (job.nice !== undefined) lowerThisThread(job.nice);
const db = openDatabase(job.path, { readonly: true });
try {
  const total: VerifyResult = { streams: 0, events: 0, differences: [] };
  const kinds = { kindFor, versionOf: (type: string) => job.versions[type] };
  for (const range of job.ranges) {
    const r = verifyRange(db, kinds, range);
    total.streams += r.streams;
    total.events += r.events;
    total.differences.push(...r.differences);
  }
  parentPort!.postMessage(total);
} finally {
  db.close();
}
