import { z } from 'zod';
import { actorNameSchema, TimerFiredSchema, type MachineEvents } from '../kind.js';
import { ProcessStartedSchema, RestartPolicySchema } from '../lifecycle.js';

export const OPENCODE_POLICY = {
  /** A port taken between picking it and opencode binding it: try another this many times. */
  maxPortRetries: 3,
  defaultStartTimeoutMs: 60_000,
  /** Lines of opencode's output kept with an exit, for "why did it die". */
  tailLines: 20,
  previewChars: 200,
} as const;

/**
 * How a running instance is watched (seed 004: spawn, stop, health-check): every intervalMs
 * Flow asks opencode's /global/health, waiting timeoutMs; `failures` checks in a row without
 * an answer mean a hung server, which is restarted with the instance's restart policy, as a
 * crash is. Carried in the CREATED event, so a replay judges alike.
 */
export const HealthPolicySchema = z
  .object({
    intervalMs: z.number().int().min(100).max(3_600_000).default(30_000),
    timeoutMs: z.number().int().min(50).max(600_000).default(5_000),
    failures: z.number().int().min(1).max(100).default(2),
  })
  .strict();
export type HealthPolicy = z.infer<typeof HealthPolicySchema>;
export const DEFAULT_HEALTH_POLICY: HealthPolicy = HealthPolicySchema.parse({});

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

/** An instance's run may also end because Flow stopped it. */
export const InstanceExitCauseSchema = z.enum(['exit', 'stopped', 'host-lost', 'host-shutdown']);

/**
 * Session calls (issue 12): a client's request to the instance's OpenCode server, as a request
 * event of the instance stream, taken only while it runs; services/opencode/session-calls.ts
 * makes the call and records its outcome. `callId` comes from the client with the request (ids
 * are data) and is on the outcome, so whoever asked (a gateway anywhere) finds its answer in the log.
 */
export const CallIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a call id is 1-64 letters, digits, "-" or "_"');
/** `provider/model` as the instance's models list names it, for one message. */
export const ModelRefSchema = z.object({ providerId: z.string().min(1).max(200), modelId: z.string().min(1).max(200) }).strict();
export const PermissionReplySchema = z.enum(['once', 'always', 'reject']);
export const MESSAGE_MAX_CHARS = 200_000;
export const sessionCallEvents = {
  SESSION_CREATE_REQUESTED: z.object({ callId: CallIdSchema, title: z.string().max(500).nullable().default(null) }),
  SESSION_DELETE_REQUESTED: z.object({ callId: CallIdSchema, sessionId: OpencodeIdSchema }),
  MESSAGE_SEND_REQUESTED: z.object({
    callId: CallIdSchema,
    sessionId: OpencodeIdSchema,
    text: z.string().max(MESSAGE_MAX_CHARS).refine((t) => t.trim().length > 0, 'a message needs some text'),
    model: ModelRefSchema.nullable().default(null),
  }),
  ABORT_REQUESTED: z.object({ callId: CallIdSchema, sessionId: OpencodeIdSchema }),
  PERMISSION_REPLY_REQUESTED: z.object({ callId: CallIdSchema, sessionId: OpencodeIdSchema, permissionId: OpencodeIdSchema, reply: PermissionReplySchema, message: z.string().max(2000).nullable().default(null) }),
  /** `answers` null: the question is rejected. */
  QUESTION_ANSWER_REQUESTED: z.object({ callId: CallIdSchema, sessionId: OpencodeIdSchema, questionId: OpencodeIdSchema, answers: z.array(z.array(z.string())).nullable() }),
  /** The call succeeded; `sessionId` is the session it was about (the new one, for a create). */
  SESSION_CALL_SUCCEEDED: z.object({ callId: CallIdSchema, request: z.string(), sessionId: OpencodeIdSchema }),
  /** The call failed: opencode's HTTP status (0: it did not answer; null: no live process here) and why. */
  SESSION_CALL_FAILED: z.object({ callId: CallIdSchema, request: z.string(), sessionId: OpencodeIdSchema.nullable(), status: z.number().int().nullable(), error: z.string() }),
} as const;
export type SessionCallRequest = Exclude<keyof typeof sessionCallEvents, 'SESSION_CALL_SUCCEEDED' | 'SESSION_CALL_FAILED'>;
export const SESSION_CALL_REQUESTS = Object.keys(sessionCallEvents).filter((k) => k.endsWith('_REQUESTED')) as SessionCallRequest[];

export const instanceEvents = {
  CREATED: z.object({
    id: InstanceIdSchema,
    directory: z.string().min(1),
    autostart: z.boolean(),
    startTimeoutMs: z.number().int().min(100).max(600_000),
    // Optional only for events from before health checks (they fold to the defaults).
    health: HealthPolicySchema.optional(),
    restart: RestartPolicySchema.optional(),
  }),
  START_REQUESTED: z.object({}),
  STOP_REQUESTED: z.object({}),
  REMOVE_REQUESTED: z.object({}),
  SPAWNED: ProcessStartedSchema.extend({ port: z.number().int().min(1).max(65535), bin: z.string() }),
  SPAWN_FAILED: z.object({ error: z.string() }),
  READY: z.object({ url: z.string().url(), version: z.string().nullable() }),
  /** The answer to health check `checkId` (one per tick; answers to an older check are stale). */
  HEALTH_OK: z.object({ checkId: z.number().int().nonnegative(), version: z.string().nullable() }),
  HEALTH_FAILED: z.object({ checkId: z.number().int().nonnegative(), error: z.string() }),
  /** At host start: an instance the host's going away interrupted carries on. */
  HOST_RESUMED: z.object({}),
  PROCESS_EXITED: z.object({
    /** null when no process had been recorded (Flow died before it spawned one). */
    pid: z.number().int().positive().nullable(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    cause: InstanceExitCauseSchema,
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
  ...sessionCallEvents,
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type InstanceEvent = MachineEvents<typeof instanceEvents>;

