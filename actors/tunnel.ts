import { z } from 'zod';
import { and, assign, setup, type SnapshotFrom } from 'xstate';
import { actorNameSchema, defineKind, SpawnIdSchema, TimerFiredSchema, type MachineEvents } from './kind.js';

/**
 * tunnel: a cloudflared quick tunnel that exposes a local port (seed 002, supervisor/tunnel.ts,
 * and reference/supervisors.md §4). The public URL arrives in the process's output; a watchdog
 * tick every 30 s sends a HEAD through the public URL (5 s budget) and a relay heartbeat. A tick
 * that fires more than 60 s after the previous one means the machine slept: the check it
 * starts is then decisive (one failure restarts), because cloudflared is known not to
 * reconnect after sleep/wake (cloudflared #1339, #724). Otherwise two failures in a row are
 * needed, so a blip does not cost the URL (a quick tunnel's URL dies with its process).
 * A dead process or a dead tunnel restarts with exponential backoff; a rate-limited start
 * (HTTP 429 from api.trycloudflare.com) backs off for minutes, never hot-loops.
 */
export const TUNNEL_POLICY = {
  healthIntervalMs: 30_000,
  healthTimeoutMs: 5_000,
  /** A gap between ticks above this is sleep/wake (2 × the tick, as Fluxy and §4.6 do). */
  wakeGapMs: 60_000,
  /** Consecutive failed checks that make a tunnel dead when no wake was seen. */
  failuresToRestart: 2,
  /** No URL announced within this → the start is hung: restart it. */
  startTimeoutMs: 30_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 30_000,
  rateLimitBaseMs: 60_000,
  rateLimitCapMs: 600_000,
} as const;

export const TunnelNameSchema = actorNameSchema('a tunnel name');

/** Relay handles become DNS labels and URL path segments: no dots, no slashes, no upper case. */
export const RelayUsernameSchema = z
  .string()
  .min(1, 'a username must not be empty')
  .max(32, 'a username is at most 32 characters')
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'a username holds only lower-case letters, digits and "-" (no dots, slashes or spaces), and starts and ends with a letter or digit');
export const RelayTierSchema = z.enum(['premium', 'free']);
export type RelayTier = z.infer<typeof RelayTierSchema>;

export const RelayConfigSchema = z.object({
  url: z.string().url('the relay URL must be a URL such as https://relay.example.test'),
  username: RelayUsernameSchema,
  tier: RelayTierSchema.default('premium'),
});
export type RelayConfig = z.infer<typeof RelayConfigSchema>;

export const TunnelConfigSchema = z.object({
  name: TunnelNameSchema,
  port: z.number().int().min(1).max(65535),
  /** argv of the tunnel program, `{port}` replaced at spawn; null = the host's default (cloudflared). */
  command: z.array(z.string().min(1)).min(1).nullable().default(null),
  relay: RelayConfigSchema.nullable().default(null),
});
export type TunnelConfig = z.infer<typeof TunnelConfigSchema>;

const ExitCause = z.enum(['exit', 'host-lost', 'host-shutdown']);

export const tunnelEvents = {
  START_REQUESTED: TunnelConfigSchema,
  STOP_REQUESTED: z.object({}),
  RESTART_REQUESTED: z.object({}),
  REMOVE_REQUESTED: z.object({}),
  PROCESS_STARTED: z.object({ pid: z.number().int().positive(), startTicks: z.number().int().nonnegative().nullable(), spawnId: SpawnIdSchema }),
  /** `permanent`: retrying cannot help (program not found, exposure refused). */
  SPAWN_FAILED: z.object({ error: z.string(), permanent: z.boolean().default(false) }),
  URL_ANNOUNCED: z.object({ pid: z.number().int().positive(), url: z.string().url() }),
  /** cloudflared's `Registered tunnel connection` line: the edge accepted the connection. */
  TUNNEL_CONNECTED: z.object({
    pid: z.number().int().positive(),
    location: z.string().nullable(),
    protocol: z.string().nullable(),
    connIndex: z.number().int().nullable(),
  }),
  PROCESS_EXITED: z.object({
    pid: z.number().int().positive(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    cause: ExitCause,
    rateLimited: z.boolean().default(false),
    lastStderr: z.string().max(4096).default(''),
  }),
  HEALTH_OK: z.object({ checkId: z.number().int(), status: z.number().int() }),
  HEALTH_FAILED: z.object({ checkId: z.number().int(), error: z.string(), status: z.number().int().nullable().default(null) }),
  RELAY_ONLINE: z.object({ handleUrl: z.string().url(), tunnelUrl: z.string().url() }),
  RELAY_FAILED: z.object({ stage: z.enum(['register', 'tunnel', 'heartbeat', 'disconnect']), error: z.string() }),
  RELAY_DISCONNECTED: z.object({}),
  HOST_RESUMED: z.object({}),
  /** cloudflared was missing: its release is being fetched (services/tunnel/cloudflared-download.ts). */
  DOWNLOAD_STARTED: z.object({ program: z.string(), version: z.string(), url: z.string().url(), totalBytes: z.number().int().nonnegative().nullable() }),
  /** A checkpoint of that download (a few per download, not every chunk). */
  DOWNLOAD_PROGRESS: z.object({ receivedBytes: z.number().int().nonnegative(), totalBytes: z.number().int().nonnegative().nullable() }),
  DOWNLOADED: z.object({ program: z.string(), version: z.string(), path: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() }),
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type TunnelEvent = MachineEvents<typeof tunnelEvents>;

export interface TunnelRun {
  pid: number;
  startTicks: number | null;
  /** The spawn id the process carries (null in logs from before spawn ids). */
  spawnId: string | null;
  startedAt: number;
}
export interface TunnelExit {
  pid: number | null;
  code: number | null;
  signal: string | null;
  cause: z.infer<typeof ExitCause> | 'spawn-failed';
  /** Retrying cannot help (a spawn failure such as a missing program, or a refused exposure). */
  permanent: boolean;
  rateLimited: boolean;
  lastStderr: string;
  at: number;
}
export interface TunnelHealth {
  /** Id of the check in flight (or the last one); results for another id are stale. */
  checkId: number;
  failures: number;
  /** The check in flight follows a sleep/wake gap: one failure is enough to restart. */
  afterWake: boolean;
  lastOkAt: number | null;
  lastCheckAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
}
export interface TunnelRelayState {
  status: 'off' | 'pending' | 'online' | 'error' | 'disconnected';
  handleUrl: string | null;
  lastError: string | null;
  at: number | null;
}
/** The download of a missing cloudflared this tunnel waits for (or the last one it waited for). */
export interface TunnelDownload {
  program: string;
  version: string;
  url: string;
  receivedBytes: number;
  totalBytes: number | null;
  status: 'downloading' | 'done';
  path: string | null;
  at: number;
}
export interface TunnelContext {
  name: string;
  download?: TunnelDownload | null;
  config: TunnelConfig | null;
  run: TunnelRun | null;
  /** The public URL of the current run; null until announced. A restart brings a new one. */
  url: string | null;
  previousUrl: string | null;
  urlChanges: number;
  connection: { location: string | null; protocol: string | null; connIndex: number | null; at: number } | null;
  /** Restarts since the tunnel was last healthy: the n of the backoff. */
  restarts: number;
  rateLimited: boolean;
  lastExit: TunnelExit | null;
  lastError: string | null;
  restartReason: string | null;
  health: TunnelHealth;
  lastTickAt: number | null;
  wakes: number;
  lastWakeAt: number | null;
  relay: TunnelRelayState;
}

type Ev<T extends TunnelEvent['type']> = Extract<TunnelEvent, { type: T }>;
/** Delayed events (after) carry the time the host fired them, like every event. */
type AnyEv = { type: string; at?: number };

export function restartDelayMs(restarts: number, rateLimited: boolean): number {
  const n = Math.max(0, restarts - 1);
  return rateLimited
    ? Math.min(TUNNEL_POLICY.rateLimitBaseMs * 2 ** n, TUNNEL_POLICY.rateLimitCapMs)
    : Math.min(TUNNEL_POLICY.backoffBaseMs * 2 ** n, TUNNEL_POLICY.backoffCapMs);
}

const initialHealth: TunnelHealth = { checkId: 0, failures: 0, afterWake: false, lastOkAt: null, lastCheckAt: null, lastStatus: null, lastError: null };

function isCurrentPid({ context, event }: { context: TunnelContext; event: AnyEv }): boolean {
  const pid = (event as { pid?: number }).pid;
  return context.run !== null && context.run.pid === pid;
}
function isCurrentCheck({ context, event }: { context: TunnelContext; event: AnyEv }): boolean {
  return (event as { checkId?: number }).checkId === context.health.checkId;
}
function atOf(event: AnyEv): number {
  return event.at ?? 0;
}

export const tunnelMachine = setup({
  types: {
    context: {} as TunnelContext,
    events: {} as TunnelEvent,
  },
  delays: {
    healthInterval: TUNNEL_POLICY.healthIntervalMs,
    healthTimeout: TUNNEL_POLICY.healthTimeoutMs,
    startTimeout: TUNNEL_POLICY.startTimeoutMs,
    restartDelay: ({ context }) => restartDelayMs(context.restarts, context.rateLimited),
  },
  guards: {
    isCurrentPid,
    isCurrentCheck,
    hostGone: ({ context, event }) => isCurrentPid({ context, event }) && (event as Ev<'PROCESS_EXITED'>).cause !== 'exit',
    noRun: ({ context }) => context.run === null,
    hasRelay: ({ context }) => context.config?.relay != null,
    permanentFailure: ({ context }) => context.lastExit?.permanent === true,
    deadTunnel: ({ context }) => context.health.afterWake || context.health.failures >= TUNNEL_POLICY.failuresToRestart,
  },
  actions: {
    // Effects: named here, carried out by services/tunnel after the event is stored.
    spawnTunnel: () => {},
    killTunnel: () => {},
    checkHealth: () => {},
    relayAnnounce: () => {},
    relayHeartbeat: () => {},
    relayDisconnect: () => {},

    configure: assign(({ event }) => {
      const e = event as Ev<'START_REQUESTED'>;
      const config: TunnelConfig = { name: e.name, port: e.port, command: e.command, relay: e.relay };
      return {
        name: e.name,
        config,
        restarts: 0,
        rateLimited: false,
        run: null,
        lastError: null,
        restartReason: null,
        health: initialHealth,
        relay: { status: e.relay ? 'pending' : 'off', handleUrl: null, lastError: null, at: e.at } as TunnelRelayState,
      };
    }),
    resetRestarts: assign({ restarts: 0, rateLimited: false, restartReason: null }),
    countRestart: assign(({ context }) => ({ restarts: context.restarts + 1 })),
    recordRun: assign(({ event }) => {
      const e = event as Ev<'PROCESS_STARTED'>;
      return { run: { pid: e.pid, startTicks: e.startTicks, spawnId: e.spawnId ?? null, startedAt: e.at }, url: null, connection: null };
    }),
    recordUrl: assign(({ context, event }) => {
      const e = event as Ev<'URL_ANNOUNCED'>;
      const changed = context.url !== null || context.previousUrl !== null;
      return {
        url: e.url,
        previousUrl: context.url ?? context.previousUrl,
        urlChanges: context.urlChanges + (changed && e.url !== (context.url ?? context.previousUrl) ? 1 : 0),
        lastTickAt: e.at,
        health: { ...context.health, failures: 0, afterWake: false },
      };
    }),
    recordConnection: assign(({ event }) => {
      const e = event as Ev<'TUNNEL_CONNECTED'>;
      return { connection: { location: e.location, protocol: e.protocol, connIndex: e.connIndex, at: e.at } };
    }),
    recordExit: assign(({ context, event }) => {
      const e = event as Ev<'PROCESS_EXITED'>;
      const lastExit: TunnelExit = { pid: e.pid, code: e.code, signal: e.signal, cause: e.cause, permanent: false, rateLimited: e.rateLimited, lastStderr: e.lastStderr, at: e.at };
      return { lastExit, run: null, url: null, previousUrl: context.url ?? context.previousUrl, connection: null, rateLimited: e.rateLimited };
    }),
    recordSpawnFailure: assign(({ event }) => {
      const e = event as Ev<'SPAWN_FAILED'>;
      const lastExit: TunnelExit = { pid: null, code: null, signal: null, cause: 'spawn-failed', permanent: e.permanent, rateLimited: false, lastStderr: '', at: e.at };
      return { lastError: e.error, lastExit, run: null, url: null };
    }),
    /** A watchdog tick: note it, and whether it came late enough to mean the machine slept. */
    startCheck: assign(({ context, event }) => {
      const at = atOf(event as AnyEv);
      const woke = context.lastTickAt !== null && at - context.lastTickAt > TUNNEL_POLICY.wakeGapMs;
      return {
        lastTickAt: at,
        wakes: context.wakes + (woke ? 1 : 0),
        lastWakeAt: woke ? at : context.lastWakeAt,
        health: { ...context.health, checkId: context.health.checkId + 1, afterWake: woke, lastCheckAt: at },
      };
    }),
    recordHealthy: assign(({ context, event }) => {
      const e = event as Ev<'HEALTH_OK'>;
      // A healthy tunnel wipes the backoff slate (it has been up for at least one tick).
      return {
        restarts: 0,
        rateLimited: false,
        health: { ...context.health, failures: 0, afterWake: false, lastOkAt: e.at, lastStatus: e.status, lastError: null },
      };
    }),
    recordUnhealthy: assign(({ context, event }) => {
      const e = event as Ev<'HEALTH_FAILED'>;
      return { health: { ...context.health, failures: context.health.failures + 1, lastStatus: e.status, lastError: e.error } };
    }),
    recordCheckTimeout: assign(({ context }) => ({
      health: { ...context.health, failures: context.health.failures + 1, lastStatus: null, lastError: `no answer within ${TUNNEL_POLICY.healthTimeoutMs} ms` },
    })),
    markDead: assign(({ context }) => ({
      restartReason: context.health.afterWake
        ? `health check failed after a sleep/wake gap: ${context.health.lastError ?? 'unknown'}`
        : `${context.health.failures} health checks failed: ${context.health.lastError ?? 'unknown'}`,
    })),
    markHung: assign({ restartReason: `no public URL within ${TUNNEL_POLICY.startTimeoutMs} ms` }),
    markRequested: assign({ restartReason: 'restart requested' }),
    relayOnline: assign(({ event }) => {
      const e = event as Ev<'RELAY_ONLINE'>;
      return { relay: { status: 'online', handleUrl: e.handleUrl, lastError: null, at: e.at } as TunnelRelayState };
    }),
    relayFailed: assign(({ context, event }) => {
      const e = event as Ev<'RELAY_FAILED'>;
      return { relay: { ...context.relay, status: 'error', lastError: `${e.stage}: ${e.error}`, at: e.at } as TunnelRelayState };
    }),
    downloadStarted: assign(({ event }) => {
      const e = event as Ev<'DOWNLOAD_STARTED'>;
      return { download: { program: e.program, version: e.version, url: e.url, receivedBytes: 0, totalBytes: e.totalBytes, status: 'downloading', path: null, at: e.at } as TunnelDownload };
    }),
    downloadProgress: assign(({ context, event }) => {
      const e = event as Ev<'DOWNLOAD_PROGRESS'>;
      return context.download ? { download: { ...context.download, receivedBytes: e.receivedBytes, totalBytes: e.totalBytes ?? context.download.totalBytes, at: e.at } } : {};
    }),
    downloadDone: assign(({ context, event }) => {
      const e = event as Ev<'DOWNLOADED'>;
      const d = context.download;
      return { download: { program: e.program, version: e.version, url: d?.url ?? '', receivedBytes: e.bytes, totalBytes: d?.totalBytes ?? e.bytes, status: 'done', path: e.path, at: e.at } as TunnelDownload };
    }),
    relayGone: assign(({ context, event }) => ({ relay: { ...context.relay, status: 'disconnected', at: atOf(event as AnyEv) } as TunnelRelayState })),
  },
}).createMachine({
  id: 'tunnel',
  initial: 'new',
  context: {
    name: '',
    config: null,
    run: null,
    url: null,
    previousUrl: null,
    urlChanges: 0,
    connection: null,
    restarts: 0,
    rateLimited: false,
    lastExit: null,
    lastError: null,
    restartReason: null,
    health: initialHealth,
    lastTickAt: null,
    wakes: 0,
    lastWakeAt: null,
    relay: { status: 'off', handleUrl: null, lastError: null, at: null },
  },
  // Relay outcomes and edge connections are facts worth keeping in any state.
  on: {
    RELAY_ONLINE: { actions: 'relayOnline' },
    RELAY_FAILED: { actions: 'relayFailed' },
    RELAY_DISCONNECTED: { actions: 'relayGone' },
    TUNNEL_CONNECTED: { guard: 'isCurrentPid', actions: 'recordConnection' },
  },
  states: {
    new: { on: { START_REQUESTED: { target: 'starting', actions: 'configure' } } },
    stopped: {
      on: {
        START_REQUESTED: { target: 'starting', actions: 'configure' },
        REMOVE_REQUESTED: 'removed',
      },
    },
    starting: {
      entry: 'spawnTunnel',
      after: { startTimeout: { target: 'restarting', actions: 'markHung' } },
      on: {
        PROCESS_STARTED: { target: 'starting', actions: 'recordRun' },
        // No start timeout while cloudflared downloads: the download's own idle timeout watches it.
        DOWNLOAD_STARTED: { guard: 'noRun', target: 'downloading', actions: 'downloadStarted' },
        URL_ANNOUNCED: [
          { guard: and(['isCurrentPid', 'hasRelay']), target: 'up', actions: ['recordUrl', 'relayAnnounce'] },
          { guard: 'isCurrentPid', target: 'up', actions: 'recordUrl' },
        ],
        SPAWN_FAILED: { target: 'crashed', actions: 'recordSpawnFailure' },
        ...onExit(),
        STOP_REQUESTED: 'stopping',
        RESTART_REQUESTED: { target: 'restarting', actions: ['resetRestarts', 'markRequested'] },
        REMOVE_REQUESTED: 'removing',
      },
    },
    downloading: {
      on: {
        DOWNLOAD_PROGRESS: { actions: 'downloadProgress' },
        // Back to starting, whose entry spawns the program now that it is there.
        DOWNLOADED: { target: 'starting', actions: 'downloadDone' },
        SPAWN_FAILED: { target: 'crashed', actions: 'recordSpawnFailure' },
        STOP_REQUESTED: 'stopping',
        RESTART_REQUESTED: { target: 'starting', actions: ['resetRestarts', 'markRequested'] },
        REMOVE_REQUESTED: 'removing',
      },
    },
    up: {
      initial: 'connected',
      on: {
        ...onExit(),
        STOP_REQUESTED: 'stopping',
        RESTART_REQUESTED: { target: 'restarting', actions: ['resetRestarts', 'markRequested'] },
        REMOVE_REQUESTED: 'removing',
      },
      states: {
        connected: {
          after: {
            healthInterval: [
              { guard: 'hasRelay', target: 'checking', actions: ['startCheck', 'relayHeartbeat'] },
              { target: 'checking', actions: 'startCheck' },
            ],
          },
        },
        checking: {
          entry: 'checkHealth',
          after: { healthTimeout: { target: 'judging', actions: 'recordCheckTimeout' } },
          on: {
            HEALTH_OK: { guard: 'isCurrentCheck', target: 'connected', actions: 'recordHealthy' },
            HEALTH_FAILED: { guard: 'isCurrentCheck', target: 'judging', actions: 'recordUnhealthy' },
          },
        },
        // Transient: restart a dead tunnel, or wait for the next tick.
        judging: {
          always: [{ guard: 'deadTunnel', target: '#tunnel.restarting', actions: 'markDead' }, { target: 'connected' }],
        },
      },
    },
    restarting: {
      entry: 'killTunnel',
      always: { guard: 'noRun', target: 'backoff', actions: 'countRestart' },
      on: {
        PROCESS_EXITED: { guard: 'isCurrentPid', target: 'backoff', actions: ['recordExit', 'countRestart'] },
        PROCESS_STARTED: { target: 'restarting', reenter: true, actions: 'recordRun' },
        SPAWN_FAILED: { target: 'backoff', actions: ['recordSpawnFailure', 'countRestart'] },
        STOP_REQUESTED: 'stopping',
        REMOVE_REQUESTED: 'removing',
      },
    },
    // Transient: judged from the exit just recorded.
    crashed: {
      always: [{ guard: 'permanentFailure', target: 'failed' }, { target: 'backoff', actions: 'countRestart' }],
    },
    backoff: {
      after: { restartDelay: 'starting' },
      on: { ...whenDown() },
    },
    failed: { on: { ...whenDown() } },
    interrupted: { on: { HOST_RESUMED: 'starting', ...whenDown() } },
    stopping: {
      entry: ['killTunnel', 'relayDisconnect'],
      always: { guard: 'noRun', target: 'stopped' },
      on: {
        PROCESS_EXITED: { guard: 'isCurrentPid', target: 'stopped', actions: 'recordExit' },
        PROCESS_STARTED: { target: 'stopping', reenter: true, actions: 'recordRun' },
        SPAWN_FAILED: { target: 'stopped', actions: 'recordSpawnFailure' },
        REMOVE_REQUESTED: 'removing',
      },
    },
    removing: {
      entry: ['killTunnel', 'relayDisconnect'],
      always: { guard: 'noRun', target: 'removed' },
      on: {
        PROCESS_EXITED: { guard: 'isCurrentPid', target: 'removed', actions: 'recordExit' },
        PROCESS_STARTED: { target: 'removing', reenter: true, actions: 'recordRun' },
        SPAWN_FAILED: { target: 'removed', actions: 'recordSpawnFailure' },
      },
    },
    removed: { on: { START_REQUESTED: { target: 'starting', actions: 'configure' } } },
  },
});

/** A run ended unexpectedly: the host went away (resume later) or it died (back off, retry). */
function onExit() {
  return {
    PROCESS_EXITED: [
      { guard: 'hostGone', target: '#tunnel.interrupted', actions: 'recordExit' },
      { guard: 'isCurrentPid', target: '#tunnel.crashed', actions: 'recordExit' },
    ],
  } as const;
}

function whenDown() {
  return {
    START_REQUESTED: { target: '#tunnel.starting', actions: 'configure' },
    RESTART_REQUESTED: { target: '#tunnel.starting', actions: 'resetRestarts' },
    STOP_REQUESTED: '#tunnel.stopping',
    REMOVE_REQUESTED: '#tunnel.removing',
  } as const;
}

export type TunnelSnapshot = SnapshotFrom<typeof tunnelMachine>;

/** A status word: the top state, or for a running tunnel whether it is idle or being checked. */
export function tunnelStatus(snapshot: TunnelSnapshot): string {
  const v = snapshot.value as string | { up: string };
  if (typeof v === 'string') return v;
  return v.up === 'connected' ? 'connected' : 'checking';
}

export const tunnelKind = defineKind({
  streamType: 'tunnel',
  machine: tunnelMachine,
  events: tunnelEvents,
  commands: new Set(['START_REQUESTED', 'STOP_REQUESTED', 'RESTART_REQUESTED', 'REMOVE_REQUESTED']),
  status: tunnelStatus,
  fromCommand(command) {
    const parsed = TunnelCommandSchema.safeParse(command);
    if (!parsed.success) return undefined;
    const t = tunnelCommandTarget(parsed.data);
    return { streamId: t.streamId, type: t.type, data: t.data, creates: parsed.data.type === 'tunnel.start' };
  },
});

export function tunnelStreamId(name: string): string {
  return `tunnel:${name}`;
}

/** The name a tunnel gets when none is given: one tunnel per local port by default. */
export function defaultTunnelName(port: number): string {
  return `port-${port}`;
}

/** Commands a client may send about a tunnel; each maps to one event of `tunnel:<name>`. */
export const TunnelCommandSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('tunnel.start'),
    name: TunnelNameSchema.optional(),
    port: z.number().int().min(1).max(65535),
    command: z.array(z.string().min(1)).min(1).optional(),
    relay: RelayConfigSchema.optional(),
  }),
  z.object({ type: z.literal('tunnel.stop'), name: TunnelNameSchema }),
  z.object({ type: z.literal('tunnel.restart'), name: TunnelNameSchema }),
  z.object({ type: z.literal('tunnel.remove'), name: TunnelNameSchema }),
]);
export type TunnelCommand = z.infer<typeof TunnelCommandSchema>;

export const tunnelCommandEvent = {
  'tunnel.start': 'START_REQUESTED',
  'tunnel.stop': 'STOP_REQUESTED',
  'tunnel.restart': 'RESTART_REQUESTED',
  'tunnel.remove': 'REMOVE_REQUESTED',
} as const satisfies Record<TunnelCommand['type'], keyof typeof tunnelEvents>;

/** The stream and event a tunnel command becomes (the host appends it, the machine judges it). */
export function tunnelCommandTarget(cmd: TunnelCommand): { streamId: string; name: string; type: (typeof tunnelCommandEvent)[TunnelCommand['type']]; data: Record<string, unknown> } {
  if (cmd.type === 'tunnel.start') {
    const name = cmd.name ?? defaultTunnelName(cmd.port);
    const data: TunnelConfig = { name, port: cmd.port, command: cmd.command ?? null, relay: cmd.relay ?? null };
    return { streamId: tunnelStreamId(name), name, type: 'START_REQUESTED', data };
  }
  return { streamId: tunnelStreamId(cmd.name), name: cmd.name, type: tunnelCommandEvent[cmd.type], data: {} };
}
