import { z } from 'zod';
import {
  MessageRecordSchema,
  PermissionRequestSchema,
  QuestionRequestSchema,
  TokensSchema,
  needsAttention,
  sessionStatus,
  type InstanceContext,
  type SessionSummary,
} from '../../actors/opencode-instance/index.js';

/**
 * What clients see of instances and sessions (the API, the CLI, the live feed). Built from the
 * actor's snapshot, so it is the same whether the instance runs or not.
 */
export const SessionViewSchema = z.object({
  id: z.string(),
  instanceId: z.string(),
  title: z.string(),
  directory: z.string().nullable(),
  status: z.enum(['idle', 'busy', 'retry', 'error', 'interrupted', 'needs-attention']),
  /** The turn's state underneath "needs-attention" (busy, as opencode sees it). */
  state: z.enum(['idle', 'busy', 'retry', 'error', 'interrupted']),
  detail: z.string().nullable(),
  lastError: z.object({ name: z.string(), message: z.string() }).nullable(),
  needsAttention: z.boolean(),
  permissions: z.array(PermissionRequestSchema),
  questions: z.array(QuestionRequestSchema),
  tokens: TokensSchema,
  cost: z.number(),
  messages: z.number().int(),
  lastMessage: z.object({ id: z.string(), role: z.enum(['user', 'assistant']), preview: z.string(), at: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SessionView = z.infer<typeof SessionViewSchema>;

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function sessionView(instanceId: string, s: SessionSummary): SessionView {
  return {
    id: s.id,
    instanceId,
    title: s.title,
    directory: s.directory,
    status: sessionStatus(s),
    state: s.state,
    detail: s.detail,
    lastError: s.lastError,
    needsAttention: needsAttention(s),
    permissions: s.permissions,
    questions: s.questions,
    tokens: s.tokens,
    cost: s.cost,
    messages: s.messages,
    lastMessage: s.lastMessage && { id: s.lastMessage.id, role: s.lastMessage.role, preview: s.lastMessage.preview, at: iso(s.lastMessage.at)! },
    createdAt: iso(s.createdAt)!,
    updatedAt: iso(s.updatedAt)!,
  };
}

export const InstanceViewSchema = z.object({
  id: z.string(),
  status: z.string(),
  directory: z.string(),
  url: z.string().nullable().describe('where opencode listens; it needs the password only Flow holds'),
  port: z.number().int().nullable(),
  pid: z.number().int().nullable(),
  version: z.string().nullable(),
  startedAt: z.string().nullable(),
  readyAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastExit: z
    .object({ pid: z.number().int().nullable(), code: z.number().int().nullable(), signal: z.string().nullable(), cause: z.string(), at: z.string(), tail: z.array(z.string()) })
    .nullable(),
  health: z.enum(['healthy', 'unhealthy']).nullable().describe('while running: whether the last health check answered (null when not running)'),
  healthCheck: z.object({ failures: z.number().int(), lastCheckAt: z.string().nullable(), lastOkAt: z.string().nullable(), lastError: z.string().nullable() }),
  restarts: z.number().int().describe('automatic restarts in the current run of failures'),
  restartReason: z.string().nullable(),
  sessions: z.number().int(),
  busy: z.number().int(),
  needsAttention: z.number().int(),
  updatedAt: z.string(),
});
export type InstanceView = z.infer<typeof InstanceViewSchema>;

export function instanceView(status: string, c: InstanceContext, updatedAt: string): InstanceView {
  const sessions = Object.values(c.sessions);
  return {
    id: c.id,
    status,
    directory: c.directory,
    url: c.url,
    port: c.run?.port ?? null,
    pid: c.run?.pid ?? null,
    version: c.version,
    startedAt: iso(c.run?.startedAt),
    readyAt: c.url ? iso(c.readyAt) : null,
    lastError: c.lastError,
    lastExit: c.lastExit && { ...c.lastExit, at: iso(c.lastExit.at)! },
    health: status === 'running' ? (c.health.failures > 0 ? 'unhealthy' : 'healthy') : null,
    healthCheck: { failures: c.health.failures, lastCheckAt: iso(c.health.lastCheckAt), lastOkAt: iso(c.health.lastOkAt), lastError: c.health.lastError },
    restarts: c.restarts,
    restartReason: c.restartReason,
    sessions: sessions.length,
    busy: sessions.filter((s) => s.state === 'busy' || s.state === 'retry').length,
    needsAttention: sessions.filter(needsAttention).length,
    updatedAt,
  };
}

/** A message as the API lists it: the same shape from opencode (running) or from the log (stopped). */
export const MessageViewSchema = MessageRecordSchema.extend({
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  /** Parts (tool calls and their state, reasoning) when opencode is there to ask; [] from the log. */
  parts: z.array(z.object({ id: z.string(), type: z.string(), text: z.string().optional(), tool: z.object({ name: z.string(), status: z.string(), title: z.string().nullable(), error: z.string().nullable().optional(), input: z.string().nullable().optional(), output: z.string().nullable().optional() }).optional() })),
});
export type MessageView = z.infer<typeof MessageViewSchema>;
