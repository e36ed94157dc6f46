import { z } from 'zod';
import { SpawnIdSchema } from './kind.js';

/**
 * What the supervised-process kinds (backend-child, tunnel, opencode-instance) share: the run a
 * start records, the exit the world reports, the creating command, the states that wait for a
 * process to go (stopping, restarting, removing) and the words of a refusal. Each machine
 * names its own guards and actions; these builders use the common names (`isCurrentPid`,
 * `recordRun`, `recordExit`, `recordSpawnFailure`, `autostart`, `configure`), which the typed
 * `setup()` of each machine checks.
 */

/** How a run ended: on its own, or because the host went away (lost, or shutting down). */
export const ExitCauseSchema = z.enum(['exit', 'host-lost', 'host-shutdown']);
export type ExitCause = z.infer<typeof ExitCauseSchema>;

/**
 * How a supervised process is restarted after crashes (seed 002's 3 / 1000 ms / 30 s by
 * default): the n-th restart waits backoffUnitMs × n, at most maxRestarts in a row; a run that
 * stayed up longer than stableAfterMs wipes the count. Carried in the creating event, so a
 * replay judges alike.
 */
export const RestartPolicySchema = z
  .object({
    maxRestarts: z.number().int().min(0).max(1000).default(3),
    backoffUnitMs: z.number().int().min(0).max(3_600_000).default(1000),
    stableAfterMs: z.number().int().min(0).max(86_400_000).default(30_000),
  })
  .strict();
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;
export const DEFAULT_RESTART_POLICY: RestartPolicy = RestartPolicySchema.parse({});

/** The restart count a crash is judged with: a run that was up longer than the stable time starts a new count. */
export function restartsBeforeCrash(restarts: number, upMs: number | null, policy: RestartPolicy): number {
  return upMs !== null && upMs > policy.stableAfterMs ? 0 : restarts;
}

/** The data of a "process started" observation. */
export const ProcessStartedSchema = z.object({ pid: z.number().int().positive(), startTicks: z.number().int().nonnegative().nullable(), spawnId: SpawnIdSchema });

export interface ProcessRun {
  pid: number;
  startTicks: number | null;
  /** The spawn id the process carries (null in logs from before spawn ids). */
  spawnId: string | null;
  startedAt: number;
}

/** The run a start event records. */
export function runOf(e: { pid: number; startTicks: number | null; spawnId?: string | null; at: number }): ProcessRun {
  return { pid: e.pid, startTicks: e.startTicks, spawnId: e.spawnId ?? null, startedAt: e.at };
}

/** Whether an event is about the process the actor runs now (exits of older pids are ignored). */
export function isCurrentRun(run: { pid: number } | null, event: { type: string }): boolean {
  const pid = 'pid' in event ? event.pid : undefined;
  return run !== null && run.pid === pid;
}

/** The time an event carries; the delayed events a machine raises carry the time they fired. */
export function atOf(event: { type: string }): number {
  return 'at' in event && typeof event.at === 'number' ? event.at : 0;
}

/** The creating command: configure, then start or stay stopped, as it asked. */
export function creatable() {
  return {
    CREATED: [
      { guard: 'autostart', target: 'starting', actions: 'configure' },
      { target: 'stopped', actions: 'configure' },
    ],
  } as const;
}

/**
 * A state that waits for the current process to go, then moves on to `next`: its entry asks
 * for the kill; a start that lands meanwhile (recorded after the request) is killed too; a
 * spawn that failed has nothing to wait for.
 */
export function windingDown<const Self extends string, const Next extends string, const Started extends string, const Entry, const Exit extends string | readonly string[]>(opts: {
  self: Self;
  next: Next;
  entry: Entry;
  started: Started;
  exitActions: Exit;
}) {
  const started = { [opts.started]: { target: opts.self, reenter: true, actions: 'recordRun' } } as { [K in Started]: { readonly target: Self; readonly reenter: true; readonly actions: 'recordRun' } };
  return {
    entry: opts.entry,
    on: {
      PROCESS_EXITED: { guard: 'isCurrentPid', target: opts.next, actions: opts.exitActions },
      ...started,
      SPAWN_FAILED: { target: opts.next, actions: 'recordSpawnFailure' },
    },
  } as const;
}

/** windingDown, for a kind that may have no process to wait for (guard `noRun`): it leaves at once. */
export function windingDownUnlessIdle<const Self extends string, const Next extends string, const Started extends string, const Entry, const Exit extends string | readonly string[]>(opts: {
  self: Self;
  next: Next;
  entry: Entry;
  started: Started;
  exitActions: Exit;
}) {
  return { ...windingDown<Self, Next, Started, Entry, Exit>(opts), always: { guard: 'noRun', target: opts.next } } as const;
}

/** A state with more transitions (a winding-down state that a remove request redirects, ...). */
export function withTransitions<const S extends { on: object }, const M extends object>(state: S, more: M) {
  return { ...state, on: { ...state.on, ...more } };
}

/** A lifecycle status in the words a user reads. */
function stateWords(status: string): string {
  if (status === 'connected' || status === 'checking' || status === 'up') return 'running';
  if (status === 'removing') return 'being removed';
  return status;
}

const verbs: Record<string, string> = {
  START_REQUESTED: 'start',
  STOP_REQUESTED: 'stop',
  RESTART_REQUESTED: 'restart',
  REMOVE_REQUESTED: 'remove',
};

/**
 * Why a request does not apply to a supervised thing in `status`, in a user's words:
 * "api is already running", "api is already stopped", "backend api already exists (it is stopped)".
 */
export function supervisedRefusal(what: string, name: string, status: string, request: string): string {
  const now = stateWords(status);
  if (request === 'CREATED') return `${what} ${name} already exists (it is ${now})`;
  if (request === 'START_REQUESTED' && (now === 'running' || now === 'starting')) return `${name} is already ${now}`;
  if (request === 'STOP_REQUESTED' && (now === 'stopped' || now === 'stopping')) return `${name} is already ${now}`;
  if (request === 'REMOVE_REQUESTED' && now === 'being removed') return `${name} is already being removed`;
  if (now === 'stopping' || now === 'being removed' || now === 'restarting') return `${name} is ${now}; ${verbs[request] ?? 'ask'} again once it is done`;
  if (now === 'removed') return `${name} was removed; create it again to use it`;
  return `${name} is ${now}, so it cannot ${verbs[request] ?? request} now`;
}
