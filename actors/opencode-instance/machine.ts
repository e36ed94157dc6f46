import type { z } from 'zod';
import { and, assertEvent, assign, setup, type SnapshotFrom } from 'xstate';
import { creatable, DEFAULT_RESTART_POLICY, restartsBeforeCrash, runOf, windingDown, withTransitions, type ProcessRun, type RestartPolicy } from '../lifecycle.js';
import { sessionCallApplies } from './session-calls.js';
import { DEFAULT_HEALTH_POLICY, OPENCODE_POLICY, ZERO_TOKENS, type HealthPolicy, type InstanceEvent, type InstanceExitCauseSchema, type PermissionRequest, type QuestionRequest, type RawStatusSchema, type SessionInfo, type Tokens } from './events.js';

/**
 * opencode-instance (seed 004): one `opencode serve` in a working directory, and the durable
 * facts about its sessions. Lifecycle: new → starting → running → stopping → stopped, plus
 * error and removing/removed. While running, a health check every interval asks opencode's
 * /global/health; `failures` checks in a row without an answer mean a hung server, which is
 * restarted (stopped, then started again). A crash, or a hung server, restarts with the
 * backend-child policy: after unit × n, at most maxRestarts in a row (a run healthy for longer
 * than stableAfterMs wipes n), then `error` until started by hand. Either way the busy sessions
 * become `interrupted` (opencode itself leaves such turns orphaned, reference/opencode.md §0.3).
 * An instance the host's going away stopped (shutdown, or a Flow that died) is `interrupted`
 * and starts again when the host comes back, as backends do.
 *
 * Sessions live in this stream rather than in streams of their own: every call for a session
 * must go to the process that owns it (§0.4), and the owner is exactly this stream. The
 * snapshot keeps a summary per session (status, pending permissions and questions, tokens,
 * cost); message history stays in the log as MESSAGE_COMPLETED events, so the snapshot that
 * the projection rewrites on every append does not grow with the conversation.
 */

/**
 * A session's state: opencode's own (idle, busy, retry), or what Flow concluded — `error`
 * (the last turn failed), `interrupted` (its process died mid-turn). "Needs attention" is
 * not a state opencode has (it stays busy, §0.8): it is derived from pending requests.
 */
export type SessionState = 'idle' | 'busy' | 'retry' | 'error' | 'interrupted';

export interface SessionSummary {
  id: string;
  title: string;
  directory: string | null;
  createdAt: number;
  updatedAt: number;
  state: SessionState;
  detail: string | null;
  lastError: { name: string; message: string } | null;
  permissions: PermissionRequest[];
  questions: QuestionRequest[];
  tokens: Tokens;
  cost: number;
  messages: number;
  lastMessage: { id: string; role: 'user' | 'assistant'; preview: string; at: number } | null;
}

export interface InstanceRun extends ProcessRun {
  port: number;
  bin: string;
}

export interface InstanceExit {
  pid: number | null;
  code: number | null;
  signal: string | null;
  cause: z.infer<typeof InstanceExitCauseSchema>;
  at: number;
  tail: string[];
}

export interface InstanceHealth {
  /** Id of the check in flight (or the last one); answers for another id are stale. */
  checkId: number;
  /** Checks in a row without a healthy answer. */
  failures: number;
  /** When the last answer came (a check that timed out has none). */
  lastCheckAt: number | null;
  /** The last healthy answer of the current run (READY counts: it follows one). */
  lastOkAt: number | null;
  lastError: string | null;
}

export interface InstanceContext {
  id: string;
  directory: string;
  startTimeoutMs: number;
  /** From CREATED; null in logs from before health checks and restart policies (the defaults apply). */
  healthPolicy: HealthPolicy | null;
  restartPolicy: RestartPolicy | null;
  health: InstanceHealth;
  /** Automatic restarts in the current run of failures (the n of unit × n). */
  restarts: number;
  /** Why the last automatic restart happened, in a user's words. */
  restartReason: string | null;
  run: InstanceRun | null;
  url: string | null;
  version: string | null;
  readyAt: number | null;
  /** Port retries in the current start. */
  portRetries: number;
  lastExit: InstanceExit | null;
  lastError: string | null;
  sessions: Record<string, SessionSummary>;
}

type EventOf<T extends InstanceEvent['type']> = Extract<InstanceEvent, { type: T }>;

/** A session needs its user while opencode waits on a permission or a question. */
export function needsAttention(s: SessionSummary): boolean {
  return s.permissions.length > 0 || s.questions.length > 0;
}

/** The one status word a client sees for a session. */
export function sessionStatus(s: SessionSummary): SessionState | 'needs-attention' {
  return needsAttention(s) ? 'needs-attention' : s.state;
}

function newSession(info: SessionInfo): SessionSummary {
  return {
    id: info.id,
    title: info.title,
    directory: info.directory,
    createdAt: info.createdAt,
    updatedAt: info.updatedAt,
    state: 'idle',
    detail: null,
    lastError: null,
    permissions: [],
    questions: [],
    tokens: info.tokens ?? ZERO_TOKENS,
    cost: info.cost ?? 0,
    messages: 0,
    lastMessage: null,
  };
}

function withInfo(s: SessionSummary, info: SessionInfo): SessionSummary {
  return { ...s, title: info.title, directory: info.directory ?? s.directory, updatedAt: Math.max(s.updatedAt, info.updatedAt), tokens: info.tokens ?? s.tokens, cost: info.cost ?? s.cost };
}

/** A new status from opencode. Idle does not wipe what Flow concluded about the last turn. */
function withStatus(s: SessionSummary, status: z.infer<typeof RawStatusSchema>, detail: string | null): SessionSummary {
  if (status === 'idle') {
    const keep = s.state === 'error' || s.state === 'interrupted';
    // Idle means no turn runs: nothing can still be waiting for an answer.
    return { ...s, state: keep ? s.state : 'idle', detail: keep ? s.detail : null, permissions: [], questions: [] };
  }
  return { ...s, state: status, detail, lastError: status === 'busy' && s.state !== 'busy' && s.state !== 'retry' ? null : s.lastError };
}

/** Sessions whose turn was running when the process went away; their requests die with it. */
function interrupted(sessions: Record<string, SessionSummary>): Record<string, SessionSummary> {
  const out: Record<string, SessionSummary> = {};
  for (const [id, s] of Object.entries(sessions)) {
    const running = s.state === 'busy' || s.state === 'retry' || needsAttention(s);
    out[id] = running ? { ...s, state: 'interrupted', detail: 'the opencode process ended during this turn', permissions: [], questions: [] } : s;
  }
  return out;
}

function updateSession(ctx: InstanceContext, id: string, fn: (s: SessionSummary) => SessionSummary): Partial<InstanceContext> {
  const s = ctx.sessions[id];
  if (!s) return {};
  return { sessions: { ...ctx.sessions, [id]: fn(s) } };
}

function exitDescription(e: EventOf<'PROCESS_EXITED'>): string {
  const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${String(e.code)}`;
  return e.tail.length > 0 ? `${how}; its last output:\n${e.tail.join('\n')}` : how;
}

const isCurrentPid = ({ context, event }: { context: InstanceContext; event: InstanceEvent }): boolean =>
  event.type === 'PROCESS_EXITED' && event.pid === (context.run?.pid ?? null);

const INITIAL_HEALTH: InstanceHealth = { checkId: 0, failures: 0, lastCheckAt: null, lastOkAt: null, lastError: null };
export const healthPolicyOf = (c: InstanceContext): HealthPolicy => c.healthPolicy ?? DEFAULT_HEALTH_POLICY;
export const restartPolicyOf = (c: InstanceContext): RestartPolicy => c.restartPolicy ?? DEFAULT_RESTART_POLICY;
export const healthOf = (c: InstanceContext): InstanceHealth => c.health;

/** How long the run that just ended was healthy: from ready to its last healthy answer. */
function healthyMs(c: InstanceContext): number | null {
  const ok = healthOf(c).lastOkAt;
  return ok !== null && c.readyAt !== null ? ok - c.readyAt : null;
}
const restartsBefore = (c: InstanceContext): number => restartsBeforeCrash(c.restarts, healthyMs(c), restartPolicyOf(c));

/** A session call the machine takes while running: the effect gets the request event as its params. */
const sessionCall = { guard: 'sessionCallApplies', actions: { type: 'callOpencode', params: ({ event }: { event: InstanceEvent }) => event } } as const;

export const opencodeInstanceMachine = setup({
  types: { context: {} as InstanceContext, events: {} as InstanceEvent },
  delays: {
    startTimeout: ({ context }) => context.startTimeoutMs,
    healthInterval: ({ context }) => healthPolicyOf(context).intervalMs,
    healthTimeout: ({ context }) => healthPolicyOf(context).timeoutMs,
    restartDelay: ({ context }) => restartPolicyOf(context).backoffUnitMs * context.restarts,
  },
  guards: {
    autostart: ({ event }) => event.type === 'CREATED' && event.autostart,
    isCurrentPid,
    isCurrentCheck: ({ context, event }) => (event.type === 'HEALTH_OK' || event.type === 'HEALTH_FAILED') && event.checkId === healthOf(context).checkId,
    hung: ({ context }) => healthOf(context).failures >= healthPolicyOf(context).failures,
    withinRestartBudget: ({ context }) => restartsBefore(context) < restartPolicyOf(context).maxRestarts,
    /** A start that is itself an automatic restart: its failure is judged against the budget. */
    healing: ({ context }) => context.restarts > 0,
    hostLost: ({ context, event }) => event.type === 'PROCESS_EXITED' && isCurrentPid({ context, event }) && ['host-lost', 'host-shutdown'].includes(event.cause),
    portTakenRetry: ({ context, event }) =>
      event.type === 'PROCESS_EXITED' && isCurrentPid({ context, event }) && event.portTaken && context.portRetries < OPENCODE_POLICY.maxPortRetries,
    sessionCallApplies: ({ context, event }) => sessionCallApplies(context, event),
  },
  actions: {
    // Effects, carried out by services/opencode after the event is stored.
    spawnProcess: () => {},
    stopProcess: () => {},
    killProcess: () => {},
    checkHealth: () => {},
    /** A session call to the instance's OpenCode server; its params are the request event. */
    callOpencode: (_, _params: InstanceEvent) => {},
    configure: assign(({ context, event }) => {
      assertEvent(event, 'CREATED');
      const e = event;
      // A re-created id starts from a clean slate but keeps nothing of the old one's sessions.
      return {
        ...context,
        id: e.id,
        directory: e.directory,
        startTimeoutMs: e.startTimeoutMs,
        healthPolicy: e.health ?? null,
        restartPolicy: e.restart ?? null,
        run: null,
        url: null,
        version: null,
        lastError: null,
        sessions: {},
        portRetries: 0,
        restarts: 0,
        restartReason: null,
        health: INITIAL_HEALTH,
      };
    }),
    resetRetries: assign({ portRetries: 0, lastError: null }),
    resetRestarts: assign({ restarts: 0, restartReason: null }),
    countRestart: assign(({ context }) => ({ restarts: restartsBefore(context) + 1, portRetries: 0 })),
    gaveUp: assign(({ context }) => ({
      lastError: `${context.lastError ?? 'opencode failed'}\nFlow gave up after ${restartPolicyOf(context).maxRestarts} automatic restart(s); start it again with "f instance start ${context.id}"`,
    })),
    startCheck: assign(({ context }) => {
      const h = healthOf(context);
      return { health: { ...h, checkId: h.checkId + 1 } };
    }),
    recordHealthy: assign(({ context, event }) => {
      assertEvent(event, 'HEALTH_OK');
      // A server healthy for a while has earned a fresh restart budget.
      return { health: { ...healthOf(context), failures: 0, lastCheckAt: event.at, lastOkAt: event.at, lastError: null }, version: event.version ?? context.version };
    }),
    recordUnhealthy: assign(({ context, event }) => {
      assertEvent(event, 'HEALTH_FAILED');
      const h = healthOf(context);
      return { health: { ...h, failures: h.failures + 1, lastCheckAt: event.at, lastError: event.error } };
    }),
    recordCheckTimeout: assign(({ context }) => {
      const h = healthOf(context);
      return { health: { ...h, failures: h.failures + 1, lastError: `no answer from /global/health within ${healthPolicyOf(context).timeoutMs} ms` } };
    }),
    markHung: assign(({ context }) => {
      const h = healthOf(context);
      const reason = `opencode stopped answering: ${h.failures} health check(s) in a row failed (${h.lastError ?? 'unknown'})`;
      return { restartReason: reason, lastError: reason };
    }),
    markCrashed: assign(({ context }) => ({ restartReason: context.lastError })),
    countRetry: assign(({ context }) => ({ portRetries: context.portRetries + 1 })),
    recordRun: assign(({ context, event }) => {
      assertEvent(event, 'SPAWNED');
      const e = event;
      // A new run is judged on its own health: nothing of the last one's carries over.
      return { run: { ...runOf(e), port: e.port, bin: e.bin }, url: null, version: null, readyAt: null, health: { ...healthOf(context), failures: 0, lastOkAt: null, lastError: null } };
    }),
    recordReady: assign(({ context, event }) => {
      assertEvent(event, 'READY');
      const e = event;
      // Ready follows a healthy answer of /global/health.
      return { url: e.url, version: e.version, readyAt: e.at, lastError: null, health: { ...healthOf(context), failures: 0, lastOkAt: e.at, lastError: null } };
    }),
    recordSpawnFailure: assign(({ event }) => {
      assertEvent(event, 'SPAWN_FAILED');
      return { lastError: event.error, run: null, url: null };
    }),
    recordStartTimeout: assign(({ context }) => ({ lastError: `opencode did not become ready within ${context.startTimeoutMs} ms` })),
    recordExit: assign(({ event }) => {
      assertEvent(event, 'PROCESS_EXITED');
      const e = event;
      return { lastExit: { pid: e.pid, code: e.code, signal: e.signal, cause: e.cause, at: e.at, tail: e.tail }, run: null, url: null };
    }),
    describeEarlyExit: assign(({ context, event }) => {
      assertEvent(event, 'PROCESS_EXITED');
      return { lastError: context.lastError ?? `opencode ${exitDescription(event)} before it was ready` };
    }),
    describeCrash: assign(({ event }) => {
      assertEvent(event, 'PROCESS_EXITED');
      return { lastError: `opencode ${exitDescription(event)}` };
    }),
    interruptBusy: assign(({ context }) => ({ sessions: interrupted(context.sessions) })),
    syncSessions: assign(({ context, event }) => {
      assertEvent(event, 'SESSIONS_SYNCED');
      const e = event;
      const sessions: Record<string, SessionSummary> = {};
      // opencode's list is the truth about which sessions exist; what Flow knows about each is kept.
      for (const info of e.sessions) {
        const known = context.sessions[info.id];
        sessions[info.id] = known ? withInfo(known, info) : newSession(info);
      }
      const busy = new Map(e.busy.map((b) => [b.sessionId, b]));
      for (const [id, s] of Object.entries(sessions)) {
        const b = busy.get(id);
        let next = b ? withStatus(s, b.status, b.detail) : withStatus(s, 'idle', null);
        next = { ...next, permissions: e.permissions.filter((p) => p.sessionId === id), questions: e.questions.filter((q) => q.sessionId === id) };
        sessions[id] = next;
      }
      return { sessions };
    }),
    addSession: assign(({ context, event }) => {
      assertEvent(event, 'SESSION_CREATED');
      const info = event.session;
      const known = context.sessions[info.id];
      return { sessions: { ...context.sessions, [info.id]: known ? withInfo(known, info) : newSession(info) } };
    }),
    updateSessionInfo: assign(({ context, event }) => {
      assertEvent(event, 'SESSION_UPDATED');
      const info = event.session;
      const known = context.sessions[info.id];
      return { sessions: { ...context.sessions, [info.id]: known ? withInfo(known, info) : newSession(info) } };
    }),
    deleteSession: assign(({ context, event }) => {
      assertEvent(event, 'SESSION_DELETED');
      const { [event.sessionId]: _gone, ...rest } = context.sessions;
      return { sessions: rest };
    }),
    setStatus: assign(({ context, event }) => {
      assertEvent(event, 'SESSION_STATUS');
      const e = event;
      return updateSession(context, e.sessionId, (s) => withStatus(s, e.status, e.detail));
    }),
    setError: assign(({ context, event }) => {
      assertEvent(event, 'SESSION_ERROR');
      const e = event;
      // An abort is the user's choice, not a failure: it is remembered but the session is not "error".
      const aborted = e.error.name === 'MessageAbortedError';
      return updateSession(context, e.sessionId, (s) => ({ ...s, lastError: e.error, state: aborted ? s.state : 'error', detail: aborted ? s.detail : e.error.message }));
    }),
    askPermission: assign(({ context, event }) => {
      assertEvent(event, 'PERMISSION_ASKED');
      const p = event.permission;
      return updateSession(context, p.sessionId, (s) => ({ ...s, permissions: [...s.permissions.filter((x) => x.id !== p.id), p] }));
    }),
    answerPermission: assign(({ context, event }) => {
      assertEvent(event, 'PERMISSION_REPLIED');
      const e = event;
      return updateSession(context, e.sessionId, (s) => ({ ...s, permissions: s.permissions.filter((x) => x.id !== e.requestId) }));
    }),
    askQuestion: assign(({ context, event }) => {
      assertEvent(event, 'QUESTION_ASKED');
      const q = event.question;
      return updateSession(context, q.sessionId, (s) => ({ ...s, questions: [...s.questions.filter((x) => x.id !== q.id), q] }));
    }),
    answerQuestion: assign(({ context, event }) => {
      assertEvent(event, 'QUESTION_ANSWERED');
      const e = event;
      return updateSession(context, e.sessionId, (s) => ({ ...s, questions: s.questions.filter((x) => x.id !== e.requestId) }));
    }),
    countMessage: assign(({ context, event }) => {
      assertEvent(event, 'MESSAGE_COMPLETED');
      const m = event.message;
      return updateSession(context, m.sessionId, (s) => ({
        ...s,
        messages: s.messages + 1,
        lastMessage: { id: m.id, role: m.role, preview: m.text.slice(0, OPENCODE_POLICY.previewChars), at: m.completedAt ?? m.createdAt },
      }));
    }),
  },
}).createMachine({
  id: 'opencode-instance',
  initial: 'new',
  context: {
    id: '',
    directory: '',
    startTimeoutMs: OPENCODE_POLICY.defaultStartTimeoutMs,
    healthPolicy: null,
    restartPolicy: null,
    health: INITIAL_HEALTH,
    restarts: 0,
    restartReason: null,
    run: null,
    url: null,
    version: null,
    readyAt: null,
    portRetries: 0,
    lastExit: null,
    lastError: null,
    sessions: {},
  },
  // Session facts are accepted whatever the process does: they are what opencode reported.
  on: {
    SESSIONS_SYNCED: { actions: 'syncSessions' },
    SESSION_CREATED: { actions: 'addSession' },
    SESSION_UPDATED: { actions: 'updateSessionInfo' },
    SESSION_DELETED: { actions: 'deleteSession' },
    SESSION_STATUS: { actions: 'setStatus' },
    SESSION_ERROR: { actions: 'setError' },
    PERMISSION_ASKED: { actions: 'askPermission' },
    PERMISSION_REPLIED: { actions: 'answerPermission' },
    QUESTION_ASKED: { actions: 'askQuestion' },
    QUESTION_ANSWERED: { actions: 'answerQuestion' },
    MESSAGE_COMPLETED: { actions: 'countMessage' },
    // An exit of a process that is no longer this instance's (after a timeout kill): noted only.
    PROCESS_EXITED: { guard: 'isCurrentPid', actions: 'recordExit' },
  },
  states: {
    new: { on: { ...creatable() } },
    starting: {
      entry: 'spawnProcess',
      after: { startTimeout: { target: 'error', actions: ['recordStartTimeout', 'killProcess'] } },
      on: {
        SPAWNED: { actions: 'recordRun' },
        READY: { target: 'running', actions: 'recordReady' },
        SPAWN_FAILED: [
          { guard: 'healing', target: 'crashed', actions: 'recordSpawnFailure' },
          { target: 'error', actions: 'recordSpawnFailure' },
        ],
        PROCESS_EXITED: [
          { guard: 'hostLost', target: 'interrupted', actions: 'recordExit' },
          { guard: 'portTakenRetry', target: 'starting', reenter: true, actions: ['recordExit', 'countRetry'] },
          { guard: and(['isCurrentPid', 'healing']), target: 'crashed', actions: ['describeEarlyExit', 'recordExit'] },
          { guard: 'isCurrentPid', target: 'error', actions: ['describeEarlyExit', 'recordExit'] },
        ],
        STOP_REQUESTED: 'stopping',
        REMOVE_REQUESTED: 'removing',
      },
    },
    running: {
      initial: 'healthy',
      on: {
        // Session calls (session-calls.ts): taken only here, each carried out by callOpencode.
        SESSION_CREATE_REQUESTED: sessionCall,
        SESSION_DELETE_REQUESTED: sessionCall,
        MESSAGE_SEND_REQUESTED: sessionCall,
        ABORT_REQUESTED: sessionCall,
        PERMISSION_REPLY_REQUESTED: sessionCall,
        QUESTION_ANSWER_REQUESTED: sessionCall,
        PROCESS_EXITED: [
          { guard: 'hostLost', target: 'interrupted', actions: ['recordExit', 'interruptBusy'] },
          { guard: 'isCurrentPid', target: 'crashed', actions: ['describeCrash', 'recordExit', 'interruptBusy'] },
        ],
        STOP_REQUESTED: 'stopping',
        REMOVE_REQUESTED: 'removing',
      },
      states: {
        healthy: { after: { healthInterval: { target: 'checking', actions: 'startCheck' } } },
        checking: {
          entry: 'checkHealth',
          after: { healthTimeout: { target: 'judging', actions: 'recordCheckTimeout' } },
          on: {
            HEALTH_OK: { guard: 'isCurrentCheck', target: 'healthy', actions: 'recordHealthy' },
            HEALTH_FAILED: { guard: 'isCurrentCheck', target: 'judging', actions: 'recordUnhealthy' },
          },
        },
        // Transient: restart a hung server, or look again at the next tick.
        judging: {
          always: [{ guard: 'hung', target: '#opencode-instance.restarting', actions: 'markHung' }, { target: 'unhealthy' }],
        },
        unhealthy: { after: { healthInterval: { target: 'checking', actions: 'startCheck' } } },
      },
    },
    // A hung server is stopped (dispose, SIGTERM, SIGKILL), then judged as a crash.
    restarting: withTransitions(windingDown({ self: 'restarting', next: 'crashed', entry: 'stopProcess', started: 'SPAWNED', exitActions: ['recordExit', 'interruptBusy'] }), {
      STOP_REQUESTED: 'stopping',
      REMOVE_REQUESTED: 'removing',
    }),
    // Transient: another try after the backoff, or give up.
    crashed: {
      always: [
        { guard: 'withinRestartBudget', target: 'backoff', actions: ['countRestart', 'markCrashed'] },
        { target: 'error', actions: 'gaveUp' },
      ],
    },
    backoff: {
      after: { restartDelay: 'starting' },
      on: {
        START_REQUESTED: { target: 'starting', actions: ['resetRetries', 'resetRestarts'] },
        STOP_REQUESTED: 'stopped',
        REMOVE_REQUESTED: 'removed',
      },
    },
    interrupted: {
      on: {
        HOST_RESUMED: { target: 'starting', actions: ['resetRetries', 'resetRestarts'] },
        START_REQUESTED: { target: 'starting', actions: ['resetRetries', 'resetRestarts'] },
        STOP_REQUESTED: 'stopped',
        REMOVE_REQUESTED: 'removed',
      },
    },
    stopping: withTransitions(windingDown({ self: 'stopping', next: 'stopped', entry: 'stopProcess', started: 'SPAWNED', exitActions: ['recordExit', 'interruptBusy'] }), {
      REMOVE_REQUESTED: 'removing',
    }),
    removing: windingDown({ self: 'removing', next: 'removed', entry: 'stopProcess', started: 'SPAWNED', exitActions: ['recordExit', 'interruptBusy'] }),
    stopped: {
      on: {
        START_REQUESTED: { target: 'starting', actions: ['resetRetries', 'resetRestarts'] },
        REMOVE_REQUESTED: 'removed',
      },
    },
    error: {
      on: {
        START_REQUESTED: { target: 'starting', actions: ['resetRetries', 'resetRestarts'] },
        // A process left over from a failed start (the timeout kill) is stopped with it.
        STOP_REQUESTED: { target: 'stopped', actions: 'killProcess' },
        REMOVE_REQUESTED: { target: 'removed', actions: 'killProcess' },
      },
    },
    removed: { on: { ...creatable() } },
  },
});

export type InstanceSnapshot = SnapshotFrom<typeof opencodeInstanceMachine>;

/** The lifecycle word: `running` whatever its health (see instanceHealth). */
export function instanceState(snapshot: InstanceSnapshot): string {
  const v = snapshot.value as string | { running: string };
  return typeof v === 'string' ? v : 'running';
}

/** A running instance's health as a user reads it; null when it is not running. */
export function instanceHealth(snapshot: InstanceSnapshot): 'healthy' | 'unhealthy' | null {
  if (instanceState(snapshot) !== 'running') return null;
  return healthOf(snapshot.context).failures > 0 ? 'unhealthy' : 'healthy';
}

