import { z } from 'zod';
import { assign, raise, setup, type SnapshotFrom } from 'xstate';
import { actorNameSchema, defineKind, SpawnIdSchema, TimerFiredSchema, type MachineEvents } from './kind.js';

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
  maxRestarts: 3,
  restartDelayUnitMs: 1000,
  stableAfterMs: 30_000,
  watchDebounceMs: 500,
} as const;

/** How a backend is restarted after crashes; carried in its CREATED event, so a replay judges alike. */
export const RestartPolicySchema = z
  .object({
    maxRestarts: z.number().int().min(0).max(1000).default(BACKEND_POLICY.maxRestarts),
    backoffUnitMs: z.number().int().min(0).max(3_600_000).default(BACKEND_POLICY.restartDelayUnitMs),
    stableAfterMs: z.number().int().min(0).max(86_400_000).default(BACKEND_POLICY.stableAfterMs),
  })
  .strict();
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;
export const DEFAULT_RESTART_POLICY: RestartPolicy = RestartPolicySchema.parse({});

export const BackendNameSchema = actorNameSchema('a backend name');

export const BackendConfigSchema = z.object({
  command: z.array(z.string().min(1, 'command words must not be empty')).min(1, 'a backend needs a command to run'),
  cwd: z.string().min(1),
  env: z.record(z.string(), z.string()).default({}),
  port: z.number().int().min(1).max(65535).nullable().default(null),
  watch: z.array(z.string().min(1)).default([]),
  watchExtensions: z.array(z.string().regex(/^\.[A-Za-z0-9]+$/)).default(['.ts', '.js', '.json']),
  stopGraceMs: z.number().int().min(0).max(600_000).default(5000),
  // Optional only for events from before policies (they fold to the defaults); the gateway
  // always writes it, so a later change of the defaults cannot change what a replay decides.
  restart: RestartPolicySchema.optional(),
});
export type BackendConfig = z.infer<typeof BackendConfigSchema>;

const ExitCause = z.enum(['exit', 'host-lost', 'host-shutdown']);

export const backendEvents = {
  CREATED: z.object({ name: BackendNameSchema, config: BackendConfigSchema, autostart: z.boolean() }),
  START_REQUESTED: z.object({}),
  STOP_REQUESTED: z.object({}),
  RESTART_REQUESTED: z.object({}),
  REMOVE_REQUESTED: z.object({}),
  PROCESS_STARTED: z.object({ pid: z.number().int().positive(), startTicks: z.number().int().nonnegative().nullable(), spawnId: SpawnIdSchema }),
  SPAWN_FAILED: z.object({ error: z.string() }),
  PROCESS_EXITED: z.object({
    pid: z.number().int().positive(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    cause: ExitCause,
  }),
  FILES_CHANGED: z.object({ paths: z.array(z.string()).min(1) }),
  HOST_RESUMED: z.object({}),
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type BackendEvent = MachineEvents<typeof backendEvents> | { type: 'WATCH_SETTLED' };

export interface BackendRun {
  pid: number;
  startTicks: number | null;
  /** The spawn id the process carries (null in logs from before spawn ids). */
  spawnId: string | null;
  startedAt: number;
}
export interface BackendExit {
  pid: number | null;
  code: number | null;
  signal: string | null;
  cause: z.infer<typeof ExitCause> | 'spawn-failed';
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

type Ev<T extends BackendEvent['type']> = Extract<BackendEvent, { type: T }>;

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
  return event.type === 'PROCESS_EXITED' && context.run !== null && context.run.pid === event.pid;
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
    hostGone: ({ context, event }) => isCurrentPid({ context, event }) && (event as Ev<'PROCESS_EXITED'>).cause !== 'exit',
    cleanExit: ({ context, event }) => {
      if (!isCurrentPid({ context, event })) return false;
      const e = event as Ev<'PROCESS_EXITED'>;
      return e.code === 0 && e.signal === null;
    },
    withinRestartBudget: ({ context }) => countBeforeCrash(context) < policyOf(context).maxRestarts,
    autostart: ({ event }) => (event as Ev<'CREATED'>).autostart,
  },
  actions: {
    // Effects: named here, carried out by services/backend-child after the event is stored.
    spawnProcess: () => {},
    killProcess: () => {},
    configure: assign(({ event }) => {
      const e = event as Ev<'CREATED'>;
      return { name: e.name, config: e.config, restarts: 0, run: null, lastError: null };
    }),
    resetRestarts: assign({ restarts: 0 }),
    countRestart: assign(({ context }) => ({ restarts: countBeforeCrash(context) + 1 })),
    recordRun: assign(({ event }) => {
      const e = event as Ev<'PROCESS_STARTED'>;
      return { run: { pid: e.pid, startTicks: e.startTicks, spawnId: e.spawnId ?? null, startedAt: e.at } };
    }),
    recordExit: assign(({ context, event }) => {
      const e = event as Ev<'PROCESS_EXITED'>;
      const lastExit: BackendExit = { pid: e.pid, code: e.code, signal: e.signal, cause: e.cause, at: e.at, ranMs: ranMs(context, e.at) };
      return { lastExit, run: null, exits: context.exits + 1 };
    }),
    recordSpawnFailure: assign(({ context, event }) => {
      const e = event as Ev<'SPAWN_FAILED'>;
      const lastExit: BackendExit = { pid: null, code: null, signal: null, cause: 'spawn-failed', at: e.at, ranMs: null };
      return { lastError: e.error, lastExit, run: null, exits: context.exits + 1 };
    }),
    recordChange: assign(({ event }) => {
      const e = event as Ev<'FILES_CHANGED'>;
      return { lastChange: { paths: e.paths, at: e.at } };
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
        stopping: {
          entry: 'killProcess',
          on: {
            PROCESS_EXITED: { guard: 'isCurrentPid', target: 'stopped', actions: 'recordExit' },
            PROCESS_STARTED: { target: 'stopping', reenter: true, actions: 'recordRun' },
            SPAWN_FAILED: { target: 'stopped', actions: 'recordSpawnFailure' },
            REMOVE_REQUESTED: 'removing',
          },
        },
        restarting: {
          entry: 'killProcess',
          on: {
            PROCESS_EXITED: { guard: 'isCurrentPid', target: 'starting', actions: 'recordExit' },
            PROCESS_STARTED: { target: 'restarting', reenter: true, actions: 'recordRun' },
            SPAWN_FAILED: { target: 'starting', actions: 'recordSpawnFailure' },
            STOP_REQUESTED: 'stopping',
            REMOVE_REQUESTED: 'removing',
          },
        },
        removing: {
          entry: 'killProcess',
          on: {
            PROCESS_EXITED: { guard: 'isCurrentPid', target: 'removed', actions: 'recordExit' },
            PROCESS_STARTED: { target: 'removing', reenter: true, actions: 'recordRun' },
            SPAWN_FAILED: { target: 'removed', actions: 'recordSpawnFailure' },
          },
        },
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

function creatable() {
  return {
    CREATED: [
      { guard: 'autostart', target: 'starting', actions: 'configure' },
      { target: 'stopped', actions: 'configure' },
    ],
  } as const;
}

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

export const backendChildKind = defineKind({
  streamType: 'backend-child',
  machine: backendChildMachine,
  events: backendEvents,
  commands: new Set(['CREATED', 'START_REQUESTED', 'STOP_REQUESTED', 'RESTART_REQUESTED', 'REMOVE_REQUESTED']),
  status: backendLifeState,
  fromCommand(command) {
    const parsed = BackendCommandSchema.safeParse(command);
    if (!parsed.success) return undefined;
    const c = parsed.data;
    const data = c.type === 'backend.create' ? { name: c.name, config: c.config, autostart: c.autostart } : {};
    return { streamId: backendStreamId(c.name), type: backendCommandEvent[c.type], data, creates: c.type === 'backend.create' };
  },
});

export function backendStreamId(name: string): string {
  return `backend-child:${name}`;
}

/** Config as a client sends it: paths and defaults are filled in before it becomes an event. */
export const BackendConfigInputSchema = BackendConfigSchema.extend({ cwd: z.string().min(1).optional() });

/** Commands a client may send about a backend; each maps to one event of the stream. */
export const BackendCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('backend.create'), name: BackendNameSchema, config: BackendConfigSchema, autostart: z.boolean().default(true) }),
  z.object({ type: z.literal('backend.start'), name: BackendNameSchema }),
  z.object({ type: z.literal('backend.stop'), name: BackendNameSchema }),
  z.object({ type: z.literal('backend.restart'), name: BackendNameSchema }),
  z.object({ type: z.literal('backend.remove'), name: BackendNameSchema }),
]);
export type BackendCommand = z.infer<typeof BackendCommandSchema>;

export const backendCommandEvent = {
  'backend.create': 'CREATED',
  'backend.start': 'START_REQUESTED',
  'backend.stop': 'STOP_REQUESTED',
  'backend.restart': 'RESTART_REQUESTED',
  'backend.remove': 'REMOVE_REQUESTED',
} as const satisfies Record<BackendCommand['type'], keyof typeof backendEvents>;
