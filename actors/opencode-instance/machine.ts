import { z } from 'zod';
import { assign, setup, type SnapshotFrom } from 'xstate';
import { actorNameSchema, defineKind, SpawnIdSchema, TimerFiredSchema, type MachineEvents } from '../kind.js';

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
export const OPENCODE_POLICY = {
  /** A port taken between picking it and opencode binding it: try another this many times. */
  maxPortRetries: 3,
  defaultStartTimeoutMs: 60_000,
  /** Lines of opencode's output kept with an exit, for "why did it die". */
  tailLines: 20,
  previewChars: 200,
} as const;

export const InstanceIdSchema = actorNameSchema('an instance id');

/** opencode's ids (ses_…, per_…, que_…, msg_…): safe in a URL path and a bus subject. */
export const OpencodeIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'not an opencode id');

export const TokensSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  reasoning: z.number().nonnegative(),
  cacheRead: z.number().nonnegative(),
  cacheWrite: z.number().nonnegative(),
});
export type Tokens = z.infer<typeof TokensSchema>;
export const ZERO_TOKENS: Tokens = { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 };

export const SessionInfoSchema = z.object({
  id: OpencodeIdSchema,
  title: z.string(),
  directory: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  tokens: TokensSchema.nullable(),
  cost: z.number().nullable(),
});
export type SessionInfo = z.infer<typeof SessionInfoSchema>;

export const PermissionRequestSchema = z.object({
  id: OpencodeIdSchema,
  sessionId: OpencodeIdSchema,
  permission: z.string(),
  patterns: z.array(z.string()),
  /** What the tool wants to do, as opencode words it (a command line, a path). */
  detail: z.string().nullable(),
});
export type PermissionRequest = z.infer<typeof PermissionRequestSchema>;

export const QuestionRequestSchema = z.object({
  id: OpencodeIdSchema,
  sessionId: OpencodeIdSchema,
  questions: z.array(
    z.object({
      question: z.string(),
      header: z.string().nullable(),
      options: z.array(z.object({ label: z.string(), description: z.string().nullable() })),
      multiple: z.boolean(),
    }),
  ),
});
export type QuestionRequest = z.infer<typeof QuestionRequestSchema>;

export const RawStatusSchema = z.enum(['idle', 'busy', 'retry']);
export const ErrorInfoSchema = z.object({ name: z.string(), message: z.string() });

export const MessageRecordSchema = z.object({
  id: OpencodeIdSchema,
  sessionId: OpencodeIdSchema,
  role: z.enum(['user', 'assistant']),
  /** The final text: the text parts of the message, joined. */
  text: z.string(),
  createdAt: z.number(),
  completedAt: z.number().nullable(),
  tokens: TokensSchema.nullable(),
  cost: z.number().nullable(),
  finish: z.string().nullable(),
  error: ErrorInfoSchema.nullable(),
});
export type MessageRecord = z.infer<typeof MessageRecordSchema>;

const ExitCause = z.enum(['exit', 'stopped', 'host-lost', 'host-shutdown']);

export const instanceEvents = {
  CREATED: z.object({
    id: InstanceIdSchema,
    directory: z.string().min(1),
    autostart: z.boolean(),
    startTimeoutMs: z.number().int().min(100).max(600_000),
  }),
  START_REQUESTED: z.object({}),
  STOP_REQUESTED: z.object({}),
  REMOVE_REQUESTED: z.object({}),
  SPAWNED: z.object({ pid: z.number().int().positive(), startTicks: z.number().int().nonnegative().nullable(), spawnId: SpawnIdSchema, port: z.number().int().min(1).max(65535), bin: z.string() }),
  SPAWN_FAILED: z.object({ error: z.string() }),
  READY: z.object({ url: z.string().url(), version: z.string().nullable() }),
  PROCESS_EXITED: z.object({
    /** null when no process had been recorded (Flow died before it spawned one). */
    pid: z.number().int().positive().nullable(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    cause: ExitCause,
    /** opencode answers a taken port with exit 1 and `ServeError`, nothing more (§0.2). */
    portTaken: z.boolean().default(false),
    tail: z.array(z.string()).max(OPENCODE_POLICY.tailLines).default([]),
  }),
  /** After (re)connecting to its event stream: what opencode says is true now. */
  SESSIONS_SYNCED: z.object({
    sessions: z.array(SessionInfoSchema),
    busy: z.array(z.object({ sessionId: OpencodeIdSchema, status: RawStatusSchema, detail: z.string().nullable() })),
    permissions: z.array(PermissionRequestSchema),
    questions: z.array(QuestionRequestSchema),
  }),
  SESSION_CREATED: z.object({ session: SessionInfoSchema }),
  SESSION_UPDATED: z.object({ session: SessionInfoSchema }),
  SESSION_DELETED: z.object({ sessionId: OpencodeIdSchema }),
  SESSION_STATUS: z.object({ sessionId: OpencodeIdSchema, status: RawStatusSchema, detail: z.string().nullable().default(null) }),
  SESSION_ERROR: z.object({ sessionId: OpencodeIdSchema, error: ErrorInfoSchema }),
  PERMISSION_ASKED: z.object({ permission: PermissionRequestSchema }),
  PERMISSION_REPLIED: z.object({ sessionId: OpencodeIdSchema, requestId: OpencodeIdSchema, reply: z.string() }),
  QUESTION_ASKED: z.object({ question: QuestionRequestSchema }),
  QUESTION_ANSWERED: z.object({ sessionId: OpencodeIdSchema, requestId: OpencodeIdSchema, outcome: z.enum(['replied', 'rejected']) }),
  MESSAGE_COMPLETED: z.object({ message: MessageRecordSchema }),
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type InstanceEvent = MachineEvents<typeof instanceEvents>;

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

export interface InstanceRun {
  pid: number;
  startTicks: number | null;
  /** The spawn id the process carries (null in logs from before spawn ids). */
  spawnId: string | null;
  port: number;
  bin: string;
  startedAt: number;
}

export interface InstanceExit {
  pid: number | null;
  code: number | null;
  signal: string | null;
  cause: z.infer<typeof ExitCause>;
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

type Ev<T extends InstanceEvent['type']> = Extract<InstanceEvent, { type: T }>;

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

function exitDescription(e: Ev<'PROCESS_EXITED'>): string {
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
    autostart: ({ event }) => (event as Ev<'CREATED'>).autostart,
    isCurrentPid,
    hostLost: ({ context, event }) => isCurrentPid({ context, event }) && ['host-lost', 'host-shutdown'].includes((event as Ev<'PROCESS_EXITED'>).cause),
    portTakenRetry: ({ context, event }) =>
      isCurrentPid({ context, event }) && (event as Ev<'PROCESS_EXITED'>).portTaken && context.portRetries < OPENCODE_POLICY.maxPortRetries,
  },
  actions: {
    // Effects, carried out by services/opencode after the event is stored.
    spawnProcess: () => {},
    stopProcess: () => {},
    killProcess: () => {},
    configure: assign(({ context, event }) => {
      const e = event as Ev<'CREATED'>;
      // A re-created id starts from a clean slate but keeps nothing of the old one's sessions.
      return { ...context, id: e.id, directory: e.directory, startTimeoutMs: e.startTimeoutMs, run: null, url: null, version: null, lastError: null, sessions: {}, portRetries: 0 };
    }),
    resetRetries: assign({ portRetries: 0, lastError: null }),
    countRetry: assign(({ context }) => ({ portRetries: context.portRetries + 1 })),
    recordRun: assign(({ event }) => {
      const e = event as Ev<'SPAWNED'>;
      return { run: { pid: e.pid, startTicks: e.startTicks, spawnId: e.spawnId ?? null, port: e.port, bin: e.bin, startedAt: e.at }, url: null, version: null };
    }),
    recordReady: assign(({ event }) => {
      const e = event as Ev<'READY'>;
      return { url: e.url, version: e.version, readyAt: e.at, lastError: null };
    }),
    recordSpawnFailure: assign(({ event }) => ({ lastError: (event as Ev<'SPAWN_FAILED'>).error, run: null, url: null })),
    recordStartTimeout: assign(({ context }) => ({ lastError: `opencode did not become ready within ${context.startTimeoutMs} ms` })),
    recordExit: assign(({ event }) => {
      const e = event as Ev<'PROCESS_EXITED'>;
      return { lastExit: { pid: e.pid, code: e.code, signal: e.signal, cause: e.cause, at: e.at, tail: e.tail }, run: null, url: null };
    }),
    describeEarlyExit: assign(({ context, event }) => ({
      lastError: context.lastError ?? `opencode ${exitDescription(event as Ev<'PROCESS_EXITED'>)} before it was ready`,
    })),
    describeCrash: assign(({ event }) => ({ lastError: `opencode ${exitDescription(event as Ev<'PROCESS_EXITED'>)}` })),
    interruptBusy: assign(({ context }) => ({ sessions: interrupted(context.sessions) })),
    syncSessions: assign(({ context, event }) => {
      const e = event as Ev<'SESSIONS_SYNCED'>;
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
      const info = (event as Ev<'SESSION_CREATED'>).session;
      const known = context.sessions[info.id];
      return { sessions: { ...context.sessions, [info.id]: known ? withInfo(known, info) : newSession(info) } };
    }),
    updateSessionInfo: assign(({ context, event }) => {
      const info = (event as Ev<'SESSION_UPDATED'>).session;
      const known = context.sessions[info.id];
      return { sessions: { ...context.sessions, [info.id]: known ? withInfo(known, info) : newSession(info) } };
    }),
    deleteSession: assign(({ context, event }) => {
      const { [(event as Ev<'SESSION_DELETED'>).sessionId]: _gone, ...rest } = context.sessions;
      return { sessions: rest };
    }),
    setStatus: assign(({ context, event }) => {
      const e = event as Ev<'SESSION_STATUS'>;
      return updateSession(context, e.sessionId, (s) => withStatus(s, e.status, e.detail));
    }),
    setError: assign(({ context, event }) => {
      const e = event as Ev<'SESSION_ERROR'>;
      // An abort is the user's choice, not a failure: it is remembered but the session is not "error".
      const aborted = e.error.name === 'MessageAbortedError';
      return updateSession(context, e.sessionId, (s) => ({ ...s, lastError: e.error, state: aborted ? s.state : 'error', detail: aborted ? s.detail : e.error.message }));
    }),
    askPermission: assign(({ context, event }) => {
      const p = (event as Ev<'PERMISSION_ASKED'>).permission;
      return updateSession(context, p.sessionId, (s) => ({ ...s, permissions: [...s.permissions.filter((x) => x.id !== p.id), p] }));
    }),
    answerPermission: assign(({ context, event }) => {
      const e = event as Ev<'PERMISSION_REPLIED'>;
      return updateSession(context, e.sessionId, (s) => ({ ...s, permissions: s.permissions.filter((x) => x.id !== e.requestId) }));
    }),
    askQuestion: assign(({ context, event }) => {
      const q = (event as Ev<'QUESTION_ASKED'>).question;
      return updateSession(context, q.sessionId, (s) => ({ ...s, questions: [...s.questions.filter((x) => x.id !== q.id), q] }));
    }),
    answerQuestion: assign(({ context, event }) => {
      const e = event as Ev<'QUESTION_ANSWERED'>;
      return updateSession(context, e.sessionId, (s) => ({ ...s, questions: s.questions.filter((x) => x.id !== e.requestId) }));
    }),
    countMessage: assign(({ context, event }) => {
      const m = (event as Ev<'MESSAGE_COMPLETED'>).message;
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
    stopping: {
      entry: 'stopProcess',
      on: {
        SPAWNED: { target: 'stopping', reenter: true, actions: 'recordRun' },
        SPAWN_FAILED: { target: 'stopped', actions: 'recordSpawnFailure' },
        PROCESS_EXITED: { guard: 'isCurrentPid', target: 'stopped', actions: ['recordExit', 'interruptBusy'] },
        REMOVE_REQUESTED: 'removing',
      },
    },
    removing: {
      entry: 'stopProcess',
      on: {
        SPAWNED: { target: 'removing', reenter: true, actions: 'recordRun' },
        SPAWN_FAILED: { target: 'removed', actions: 'recordSpawnFailure' },
        PROCESS_EXITED: { guard: 'isCurrentPid', target: 'removed', actions: ['recordExit', 'interruptBusy'] },
      },
    },
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

function creatable() {
  return {
    CREATED: [
      { guard: 'autostart', target: 'starting', actions: 'configure' },
      { target: 'stopped', actions: 'configure' },
    ],
  } as const;
}

export type InstanceSnapshot = SnapshotFrom<typeof opencodeInstanceMachine>;

export function instanceState(snapshot: InstanceSnapshot): string {
  return snapshot.value as string;
}

export function instanceStreamId(id: string): string {
  return `opencode-instance:${id}`;
}

/** Commands a client may send about an instance; each maps to one event of its stream. */
export const InstanceCommandSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('opencode.create'),
    id: InstanceIdSchema,
    directory: z.string().min(1),
    autostart: z.boolean().default(true),
    startTimeoutMs: z.number().int().min(100).max(600_000).default(OPENCODE_POLICY.defaultStartTimeoutMs),
  }),
  z.object({ type: z.literal('opencode.start'), id: InstanceIdSchema }),
  z.object({ type: z.literal('opencode.stop'), id: InstanceIdSchema }),
  z.object({ type: z.literal('opencode.remove'), id: InstanceIdSchema }),
]);
export type InstanceCommand = z.infer<typeof InstanceCommandSchema>;

const commandEvent = {
  'opencode.create': 'CREATED',
  'opencode.start': 'START_REQUESTED',
  'opencode.stop': 'STOP_REQUESTED',
  'opencode.remove': 'REMOVE_REQUESTED',
} as const satisfies Record<InstanceCommand['type'], keyof typeof instanceEvents>;

export const opencodeInstanceKind = defineKind({
  streamType: 'opencode-instance',
  machine: opencodeInstanceMachine,
  events: instanceEvents,
  commands: new Set(['CREATED', 'START_REQUESTED', 'STOP_REQUESTED', 'REMOVE_REQUESTED']),
  status: instanceState,
  fromCommand(command) {
    const parsed = InstanceCommandSchema.safeParse(command);
    if (!parsed.success) return undefined;
    const c = parsed.data;
    const data = c.type === 'opencode.create' ? { id: c.id, directory: c.directory, autostart: c.autostart, startTimeoutMs: c.startTimeoutMs } : {};
    return { streamId: instanceStreamId(c.id), type: commandEvent[c.type], data, creates: c.type === 'opencode.create' };
  },
});
