import { z } from 'zod';
import type { MessageRecord, PermissionRequest, QuestionRequest, SessionInfo, Tokens } from '../../actors/opencode-instance.js';

/**
 * opencode's wire formats (reference/opencode.md §4-5), parsed with zod and translated into
 * Flow's own shapes. Only the fields Flow uses are read; nothing of opencode's payloads is
 * passed to clients as is (its provider config, for one, holds API keys).
 */
const num = z.number().finite();

export const WireTokensSchema = z.object({
  input: num.default(0),
  output: num.default(0),
  reasoning: num.default(0),
  cache: z.object({ read: num.default(0), write: num.default(0) }).default({ read: 0, write: 0 }),
});

export const WireSessionSchema = z.object({
  id: z.string(),
  title: z.string().default(''),
  directory: z.string().optional(),
  time: z.object({ created: num, updated: num.optional() }),
  tokens: WireTokensSchema.optional(),
  cost: num.optional(),
});
export type WireSession = z.infer<typeof WireSessionSchema>;

export const WireStatusSchema = z.object({ type: z.enum(['idle', 'busy', 'retry']), attempt: num.optional(), message: z.string().optional() });
export const WireStatusMapSchema = z.record(z.string(), WireStatusSchema);

export const WirePermissionSchema = z.object({
  id: z.string(),
  sessionID: z.string(),
  permission: z.string(),
  patterns: z.array(z.string()).default([]),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const WireQuestionSchema = z.object({
  id: z.string(),
  sessionID: z.string(),
  questions: z.array(
    z.object({
      question: z.string(),
      header: z.string().optional(),
      options: z.array(z.object({ label: z.string(), description: z.string().optional() })).default([]),
      multiple: z.boolean().optional(),
    }),
  ),
});

export const WireErrorSchema = z.object({ name: z.string().default('Error'), data: z.object({ message: z.string().optional() }).passthrough().optional() });

export const WireMessageInfoSchema = z.object({
  id: z.string(),
  sessionID: z.string(),
  role: z.enum(['user', 'assistant']),
  time: z.object({ created: num, completed: num.optional() }),
  tokens: WireTokensSchema.optional(),
  cost: num.optional(),
  finish: z.string().optional(),
  error: WireErrorSchema.optional(),
  parentID: z.string().optional(),
});
export type WireMessageInfo = z.infer<typeof WireMessageInfoSchema>;

export const WirePartSchema = z
  .object({
    id: z.string(),
    messageID: z.string(),
    sessionID: z.string(),
    type: z.string(),
    text: z.string().optional(),
    synthetic: z.boolean().optional(),
    ignored: z.boolean().optional(),
    tool: z.string().optional(),
    callID: z.string().optional(),
    state: z.object({ status: z.string(), title: z.string().optional(), error: z.string().optional() }).passthrough().optional(),
  })
  .passthrough();
export type WirePart = z.infer<typeof WirePartSchema>;

export const WireMessageSchema = z.object({ info: WireMessageInfoSchema, parts: z.array(WirePartSchema) });
export type WireMessage = z.infer<typeof WireMessageSchema>;

/** One file of a turn's diff (`GET /session/:id/diff?messageID=<user message>`). */
export const WireFileDiffSchema = z.object({ file: z.string(), patch: z.string().default(''), additions: num.default(0), deletions: num.default(0), status: z.string().optional() }).passthrough();

/**
 * `GET /config/providers`: the providers this instance can use and its default model per
 * provider. Their `options` hold API keys: only ids and names are ever read from it.
 */
export const WireProvidersSchema = z.object({
  providers: z.array(z.object({ id: z.string(), name: z.string().optional(), models: z.record(z.string(), z.object({ id: z.string().optional(), name: z.string().optional() }).passthrough()).default({}) }).passthrough()),
  default: z.record(z.string(), z.string()).default({}),
});

export const WireHealthSchema = z.object({ healthy: z.boolean(), version: z.string().optional() });

/** One event of `/event`: `{id?, type, properties}`. */
export const WireEventSchema = z.object({ type: z.string(), properties: z.record(z.string(), z.unknown()).default({}) });

export function tokensOf(t: z.infer<typeof WireTokensSchema> | undefined): Tokens | null {
  if (!t) return null;
  return { input: t.input, output: t.output, reasoning: t.reasoning, cacheRead: t.cache.read, cacheWrite: t.cache.write };
}

export function sessionInfo(s: WireSession): SessionInfo {
  return {
    id: s.id,
    title: s.title,
    directory: s.directory ?? null,
    createdAt: s.time.created,
    updatedAt: s.time.updated ?? s.time.created,
    tokens: tokensOf(s.tokens),
    cost: s.cost ?? null,
  };
}

export function permissionRequest(p: z.infer<typeof WirePermissionSchema>): PermissionRequest {
  const m = p.metadata ?? {};
  const detail = [m.command, m.filepath, m.filePath, m.path, m.url].find((v): v is string => typeof v === 'string') ?? (p.patterns.length ? p.patterns.join(' ') : null);
  return { id: p.id, sessionId: p.sessionID, permission: p.permission, patterns: p.patterns, detail };
}

export function questionRequest(q: z.infer<typeof WireQuestionSchema>): QuestionRequest {
  return {
    id: q.id,
    sessionId: q.sessionID,
    questions: q.questions.map((x) => ({
      question: x.question,
      header: x.header ?? null,
      options: x.options.map((o) => ({ label: o.label, description: o.description ?? null })),
      multiple: x.multiple ?? false,
    })),
  };
}

export function errorInfo(e: z.infer<typeof WireErrorSchema> | undefined): { name: string; message: string } | null {
  if (!e) return null;
  return { name: e.name, message: e.data?.message ?? e.name };
}

/** The visible text of a message: its text parts, without the synthetic ones opencode adds. */
export function messageText(parts: readonly WirePart[]): string {
  return parts
    .filter((p) => p.type === 'text' && !p.synthetic && !p.ignored)
    .map((p) => p.text ?? '')
    .join('');
}

export function messageRecord(m: WireMessage): MessageRecord {
  const i = m.info;
  return {
    id: i.id,
    sessionId: i.sessionID,
    role: i.role,
    text: messageText(m.parts),
    createdAt: i.time.created,
    completedAt: i.time.completed ?? null,
    tokens: i.role === 'assistant' ? tokensOf(i.tokens) : null,
    cost: i.role === 'assistant' ? (i.cost ?? null) : null,
    finish: i.finish ?? null,
    error: errorInfo(i.error),
  };
}

/** A part as clients see it: what it is and what it shows, never its raw metadata. */
export interface PartView {
  id: string;
  messageId: string;
  type: string;
  text?: string;
  tool?: { name: string; callId: string | null; status: string; title: string | null; error: string | null; input: string | null; output: string | null };
}

/** What a tool was given and gave back, as text for a collapsed view, cut at 8 KiB. */
const IO_MAX = 8192;
function ioText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const text = typeof v === 'string' ? v : JSON.stringify(v, null, 2);
  if (text === '{}' || text === '') return null;
  return text.length > IO_MAX ? `${text.slice(0, IO_MAX)}\n… (${text.length - IO_MAX} more characters)` : text;
}

export function partView(p: WirePart): PartView {
  const view: PartView = { id: p.id, messageId: p.messageID, type: p.type };
  if ((p.type === 'text' || p.type === 'reasoning') && p.text !== undefined) view.text = p.text;
  if (p.type === 'tool') {
    const state = p.state as { status?: string; title?: string; error?: string; input?: unknown; output?: unknown } | undefined;
    view.tool = { name: p.tool ?? 'unknown', callId: p.callID ?? null, status: state?.status ?? 'unknown', title: state?.title ?? null, error: state?.error ?? null, input: ioText(state?.input), output: ioText(state?.output) };
  }
  return view;
}
