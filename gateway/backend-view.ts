import { z } from 'zod';
import { BackendConfigSchema, type BackendContext } from '../actors/backend-child.js';
import type { BackendMetrics } from '../services/backend-child/metrics.js';
import { RetirementSchema, type ActorListing } from '../services/store/read-model.js';

/** A backend as the API shows it: the actor's projected state, with times as ISO strings. */
export const BackendViewSchema = z.object({
  name: z.string(),
  status: z.string(),
  restarts: z.number().int(),
  pid: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  lastExit: z
    .object({
      pid: z.number().int().nullable(),
      code: z.number().int().nullable(),
      signal: z.string().nullable(),
      cause: z.string(),
      at: z.string(),
      ranMs: z.number().nullable(),
      /** The exit in user words: "reload (files changed)", "killed by SIGTERM", "spawn failed", "code 1"... */
      summary: z.string(),
    })
    .nullable(),
  exits: z.number().int(),
  /** The port it was given (PORT), as `pm2 ls` shows it; null when none. */
  port: z.number().int().nullable(),
  /** Since the current run started; null when not running. */
  uptimeMs: z.number().int().nonnegative().nullable(),
  /** Share of one core the process group used over the last sample interval (100 = one core); null when not running or not sampled yet. */
  cpuPercent: z.number().nonnegative().nullable(),
  /** Resident memory of the whole process group, in bytes; null when not running or not sampled yet. */
  memoryBytes: z.number().int().nonnegative().nullable(),
  lastError: z.string().nullable(),
  config: BackendConfigSchema.nullable(),
  version: z.number().int(),
  updatedAt: z.string(),
  /** The host that runs it (distributed mode: an `f host --id`; embedded: this machine's host id). */
  host: z.string(),
  /** Set when status is `retired`: it belonged to a host log that is gone (why, in user words). */
  retired: RetirementSchema.nullable(),
});
export type BackendView = z.infer<typeof BackendViewSchema>;

const iso = (ms: number): string => new Date(ms).toISOString();

/** What the view adds that is not in the log: the last CPU/memory sample and the time now. */
export interface BackendFigures {
  metrics?: BackendMetrics | null;
  nowMs?: number;
}

type Exit = NonNullable<BackendContext['lastExit']>;

/**
 * An exit in user words, judged from the context alone (the machine records no "why"):
 * a file change during the run that ended by a signal is a reload; a signal exit that left the
 * crash count at 0 (or the backend stopped) was Flow's own stop or restart, since a crash by a
 * foreign signal always counts one.
 */
export function exitSummary(c: BackendContext, status: string, x: Exit): string {
  if (x.cause === 'spawn-failed') return 'spawn failed';
  if (x.cause === 'host-shutdown') return 'stopped with Flow';
  if (x.cause === 'host-lost') return 'lost when Flow stopped';
  if (x.signal === null) return `code ${String(x.code)}`;
  const runStart = x.ranMs === null ? null : x.at - x.ranMs;
  const change = c.lastChange;
  if (change && runStart !== null && change.at >= runStart && change.at <= x.at) return 'reload (files changed)';
  if (status === 'stopped' || status === 'removed') return `stopped (${x.signal})`;
  if (c.restarts === 0) return `restarted (${x.signal})`;
  return `killed by ${x.signal}`;
}

export function backendView(row: ActorListing, figures: BackendFigures = {}): BackendView {
  // The projection stores the machine's context as JSON; its shape is the machine's.
  const c = row.snapshot.context as BackendContext;
  const pid = c.run?.pid ?? null;
  // A sample of an earlier run (another pid) says nothing about this one.
  const m = figures.metrics && pid !== null && figures.metrics.pid === pid ? figures.metrics : null;
  const now = figures.nowMs ?? Date.now();
  return {
    name: c.name || row.streamId.slice(row.streamId.indexOf(':') + 1),
    status: row.status,
    restarts: c.restarts,
    pid,
    startedAt: c.run ? iso(c.run.startedAt) : null,
    lastExit: c.lastExit ? { ...c.lastExit, at: iso(c.lastExit.at), summary: exitSummary(c, row.status, c.lastExit) } : null,
    exits: c.exits,
    port: c.config?.port ?? null,
    uptimeMs: c.run ? Math.max(0, now - c.run.startedAt) : null,
    cpuPercent: m?.cpuPercent ?? null,
    memoryBytes: m?.memoryBytes ?? null,
    lastError: c.lastError,
    config: c.config,
    version: row.version,
    updatedAt: row.updatedAt,
    host: row.host,
    retired: row.retired ?? null,
  };
}
