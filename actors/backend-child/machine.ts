import { assertEvent, assign, raise, setup, type SnapshotFrom } from 'xstate';
import { creatable, isCurrentRun, runOf, windingDown, withTransitions, type ExitCause, type ProcessRun } from '../lifecycle.js';
import { DEFAULT_RESTART_POLICY, type BackendConfig, type BackendEvent, type RestartPolicy } from './events.js';

/**
 * backend-child: a supervised command (seed 002, supervisor/backend.ts).
 * A crash (non-zero exit, or death by a signal Flow did not send) restarts it after
 * unit × n, n being the restarts so far, at most maxRestarts times; a run that lasted over
 * stableAfterMs resets n first; past the limit it is `failed` until started by hand. The
 * three numbers are the backend's restart policy (seed 002's 1000 ms / 3 / 30 s unless its
 * config says otherwise). A settled file change (500 ms without another) restarts it and
 * resets n. A clean exit (code 0) stays down.
 */
export const BACKEND_POLICY = {
  maxRestarts: DEFAULT_RESTART_POLICY.maxRestarts,
  restartDelayUnitMs: DEFAULT_RESTART_POLICY.backoffUnitMs,
  stableAfterMs: DEFAULT_RESTART_POLICY.stableAfterMs,
  watchDebounceMs: 500,
} as const;

export type BackendRun = ProcessRun;
export interface BackendExit {
  pid: number | null;
  code: number | null;
  signal: string | null;
  cause: ExitCause | 'spawn-failed';
  at: number;
  ranMs: number | null;
}
export interface BackendContext {
  name: string;
  config: BackendConfig | null;
  /** Crash restarts so far in the current run of failures (the n of 1000 ms × n). */
  restarts: number;
  run: BackendRun | null;
  lastExit: BackendExit | null;
  exits: number;
  lastError: string | null;
  lastChange: { paths: string[]; at: number } | null;
}

function ranMs(ctx: BackendContext, at: number): number | null {
  return ctx.run ? at - ctx.run.startedAt : null;
}

/** Events from before restart policies carry none: they fold to the defaults. */
function policyOf(ctx: BackendContext): RestartPolicy {
  return ctx.config?.restart ?? DEFAULT_RESTART_POLICY;
}

/** The restart count the last crash is judged with: a run longer than the stable time wipes the slate first. */
function countBeforeCrash(ctx: BackendContext): number {
  const ran = ctx.lastExit?.ranMs ?? null;
  return ran !== null && ran > policyOf(ctx).stableAfterMs ? 0 : ctx.restarts;
}

function isCurrentPid({ context, event }: { context: BackendContext; event: BackendEvent }): boolean {
  return event.type === 'PROCESS_EXITED' && isCurrentRun(context.run, event);
}

export const backendChildMachine = setup({
  types: {
    context: {} as BackendContext,
    events: {} as BackendEvent,
  },
  delays: {
    restartDelay: ({ context }) => policyOf(context).backoffUnitMs * context.restarts,
  },
  guards: {
    isCurrentPid,
    hostGone: ({ context, event }) => event.type === 'PROCESS_EXITED' && isCurrentPid({ context, event }) && event.cause !== 'exit',
    cleanExit: ({ context, event }) => event.type === 'PROCESS_EXITED' && isCurrentPid({ context, event }) && event.code === 0 && event.signal === null,
    withinRestartBudget: ({ context }) => countBeforeCrash(context) < policyOf(context).maxRestarts,
    autostart: ({ event }) => event.type === 'CREATED' && event.autostart,
  },
  actions: {
    // Effects: named here, carried out by services/backend-child after the event is stored.
    spawnProcess: () => {},
    killProcess: () => {},
    configure: assign(({ event }) => {
      assertEvent(event, 'CREATED');
      return { name: event.name, config: event.config, restarts: 0, run: null, lastError: null };
    }),
    resetRestarts: assign({ restarts: 0 }),
    countRestart: assign(({ context }) => ({ restarts: countBeforeCrash(context) + 1 })),
    recordRun: assign(({ event }) => {
      assertEvent(event, 'PROCESS_STARTED');
      return { run: runOf(event) };
    }),
    recordExit: assign(({ context, event }) => {
      assertEvent(event, 'PROCESS_EXITED');
      const lastExit: BackendExit = { pid: event.pid, code: event.code, signal: event.signal, cause: event.cause, at: event.at, ranMs: ranMs(context, event.at) };
      return { lastExit, run: null, exits: context.exits + 1 };
    }),
    recordSpawnFailure: assign(({ context, event }) => {
      assertEvent(event, 'SPAWN_FAILED');
      const lastExit: BackendExit = { pid: null, code: null, signal: null, cause: 'spawn-failed', at: event.at, ranMs: null };
      return { lastError: event.error, lastExit, run: null, exits: context.exits + 1 };
    }),
    recordChange: assign(({ event }) => {
      assertEvent(event, 'FILES_CHANGED');
      return { lastChange: { paths: event.paths, at: event.at } };
    }),
  },
}).createMachine({
  id: 'backend-child',
  type: 'parallel',
  context: {
    name: '',
    config: null,
    restarts: 0,
    run: null,
    lastExit: null,
    exits: 0,
    lastError: null,
    lastChange: null,
  },
  states: {
    life: {
      initial: 'new',
      states: {
        new: { on: { ...creatable() } },
        stopped: {
          on: {
            START_REQUESTED: { target: 'starting', actions: 'resetRestarts' },
            RESTART_REQUESTED: { target: 'starting', actions: 'resetRestarts' },
            REMOVE_REQUESTED: 'removed',
          },
        },
        starting: {
          entry: 'spawnProcess',
          on: {
            PROCESS_STARTED: { target: 'running', actions: 'recordRun' },
            SPAWN_FAILED: { target: 'crashed', actions: 'recordSpawnFailure' },
            ...onExit(),
            STOP_REQUESTED: 'stopping',
            RESTART_REQUESTED: { target: 'restarting', actions: 'resetRestarts' },
            REMOVE_REQUESTED: 'removing',
          },
        },
        running: {
          on: {
            ...onExit(),
            STOP_REQUESTED: 'stopping',
            RESTART_REQUESTED: { target: 'restarting', actions: 'resetRestarts' },
            REMOVE_REQUESTED: 'removing',
            WATCH_SETTLED: { target: 'restarting', actions: 'resetRestarts' },
          },
        },
        // Transient: a backoff restart or giving up, judged from the exit just recorded.
        crashed: {
          always: [{ guard: 'withinRestartBudget', target: 'backoff', actions: 'countRestart' }, { target: 'failed' }],
        },
        backoff: {
          after: { restartDelay: 'starting' },
          on: { ...restartableWhenDown() },
        },
        failed: { on: { ...restartableWhenDown() } },
        exited: { on: { ...restartableWhenDown() } },
        interrupted: { on: { HOST_RESUMED: 'starting', ...restartableWhenDown() } },
        stopping: withTransitions(windingDown({ self: 'stopping', next: 'stopped', entry: 'killProcess', started: 'PROCESS_STARTED', exitActions: 'recordExit' }), { REMOVE_REQUESTED: 'removing' }),
        restarting: withTransitions(windingDown({ self: 'restarting', next: 'starting', entry: 'killProcess', started: 'PROCESS_STARTED', exitActions: 'recordExit' }), {
          STOP_REQUESTED: 'stopping',
          REMOVE_REQUESTED: 'removing',
        }),
        removing: windingDown({ self: 'removing', next: 'removed', entry: 'killProcess', started: 'PROCESS_STARTED', exitActions: 'recordExit' }),
        removed: { on: { ...creatable() } },
      },
    },
    watch: {
      initial: 'quiet',
      states: {
        quiet: { on: { FILES_CHANGED: { target: 'settling', actions: 'recordChange' } } },
        settling: {
          after: { [BACKEND_POLICY.watchDebounceMs]: { target: 'quiet', actions: raise({ type: 'WATCH_SETTLED' }) } },
          on: { FILES_CHANGED: { target: 'settling', reenter: true, actions: 'recordChange' } },
        },
      },
    },
  },
});

/** A run ended: the host went away, a clean exit, or a crash. Exits of older pids are ignored. */
function onExit() {
  return {
    PROCESS_EXITED: [
      { guard: 'hostGone', target: 'interrupted', actions: 'recordExit' },
      { guard: 'cleanExit', target: 'exited', actions: 'recordExit' },
      { guard: 'isCurrentPid', target: 'crashed', actions: 'recordExit' },
    ],
  } as const;
}

function restartableWhenDown() {
  return {
    START_REQUESTED: { target: 'starting', actions: 'resetRestarts' },
    RESTART_REQUESTED: { target: 'starting', actions: 'resetRestarts' },
    WATCH_SETTLED: { target: 'starting', actions: 'resetRestarts' },
    STOP_REQUESTED: 'stopped',
    REMOVE_REQUESTED: 'removed',
  } as const;
}

export type BackendSnapshot = SnapshotFrom<typeof backendChildMachine>;

export function backendLifeState(snapshot: BackendSnapshot): string {
  return (snapshot.value as { life: string }).life;
}
