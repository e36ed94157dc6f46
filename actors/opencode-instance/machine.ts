import type { z } from 'zod';
import { assertEvent, assign, setup, type SnapshotFrom } from 'xstate';
import { creatable, runOf, windingDown, withTransitions, type ProcessRun } from '../lifecycle.js';
import { OPENCODE_POLICY, ZERO_TOKENS, type InstanceEvent, type InstanceExitCauseSchema, type PermissionRequest, type QuestionRequest, type RawStatusSchema, type SessionInfo, type Tokens } from './events.js';

/**
 * opencode-instance (seed 004): one `opencode serve` in a working directory, and the durable
 * facts about its sessions. Lifecycle: new → starting → running → stopping → stopped, plus
 * error and removing/removed. A crash of the process is `error` and its busy sessions become
 * `interrupted` (opencode itself leaves such turns orphaned, reference/opencode.md §0.3).
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

export interface InstanceContext {
  id: string;
  directory: string;
  startTimeoutMs: number;
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

export const opencodeInstanceMachine = setup({
  types: { context: {} as InstanceContext, events: {} as InstanceEvent },
  delays: {
    startTimeout: ({ context }) => context.startTimeoutMs,
  },
  guards: {
    autostart: ({ event }) => event.type === 'CREATED' && event.autostart,
    isCurrentPid,
    hostLost: ({ context, event }) => event.type === 'PROCESS_EXITED' && isCurrentPid({ context, event }) && ['host-lost', 'host-shutdown'].includes(event.cause),
    portTakenRetry: ({ context, event }) =>
      event.type === 'PROCESS_EXITED' && isCurrentPid({ context, event }) && event.portTaken && context.portRetries < OPENCODE_POLICY.maxPortRetries,
  },
  actions: {
    // Effects, carried out by services/opencode after the event is stored.
    spawnProcess: () => {},
    stopProcess: () => {},
    killProcess: () => {},
    configure: assign(({ context, event }) => {
      assertEvent(event, 'CREATED');
      const e = event;
      // A re-created id starts from a clean slate but keeps nothing of the old one's sessions.
      return { ...context, id: e.id, directory: e.directory, startTimeoutMs: e.startTimeoutMs, run: null, url: null, version: null, lastError: null, sessions: {}, portRetries: 0 };
    }),
    resetRetries: assign({ portRetries: 0, lastError: null }),
    countRetry: assign(({ context }) => ({ portRetries: context.portRetries + 1 })),
    recordRun: assign(({ event }) => {
      assertEvent(event, 'SPAWNED');
      const e = event;
      return { run: { ...runOf(e), port: e.port, bin: e.bin }, url: null, version: null };
    }),
    recordReady: assign(({ event }) => {
      assertEvent(event, 'READY');
      const e = event;
      return { url: e.url, version: e.version, readyAt: e.at, lastError: null };
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
        SPAWN_FAILED: { target: 'error', actions: 'recordSpawnFailure' },
        PROCESS_EXITED: [
          { guard: 'hostLost', target: 'stopped', actions: 'recordExit' },
          { guard: 'portTakenRetry', target: 'starting', reenter: true, actions: ['recordExit', 'countRetry'] },
          { guard: 'isCurrentPid', target: 'error', actions: ['describeEarlyExit', 'recordExit'] },
        ],
        STOP_REQUESTED: 'stopping',
        REMOVE_REQUESTED: 'removing',
      },
    },
    running: {
      on: {
        PROCESS_EXITED: [
          { guard: 'hostLost', target: 'stopped', actions: ['recordExit', 'interruptBusy'] },
          { guard: 'isCurrentPid', target: 'error', actions: ['describeCrash', 'recordExit', 'interruptBusy'] },
        ],
        STOP_REQUESTED: 'stopping',
        REMOVE_REQUESTED: 'removing',
      },
    },
    stopping: withTransitions(windingDown({ self: 'stopping', next: 'stopped', entry: 'stopProcess', started: 'SPAWNED', exitActions: ['recordExit', 'interruptBusy'] }), {
      REMOVE_REQUESTED: 'removing',
    }),
    removing: windingDown({ self: 'removing', next: 'removed', entry: 'stopProcess', started: 'SPAWNED', exitActions: ['recordExit', 'interruptBusy'] }),
    stopped: {
      on: {
        START_REQUESTED: { target: 'starting', actions: 'resetRetries' },
        REMOVE_REQUESTED: 'removed',
      },
    },
    error: {
      on: {
        START_REQUESTED: { target: 'starting', actions: 'resetRetries' },
        // A process left over from a failed start (the timeout kill) is stopped with it.
        STOP_REQUESTED: { target: 'stopped', actions: 'killProcess' },
        REMOVE_REQUESTED: { target: 'removed', actions: 'killProcess' },
      },
    },
    removed: { on: { ...creatable() } },
  },
});

export type InstanceSnapshot = SnapshotFrom<typeof opencodeInstanceMachine>;

export function instanceState(snapshot: InstanceSnapshot): string {
  return snapshot.value as string;
}

