import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MESSAGE_MAX_CHARS, MessageRecordSchema, ModelRefSchema, OpencodeIdSchema, PermissionReplySchema, instanceStreamId } from '../../../actors/opencode-instance/index.js';
import { sessionSubject, type SessionFeedMessage } from '../../../services/opencode/feed.js';
import type { OpencodeRuntime } from '../../../services/opencode/runtime.js';
import { MessageViewSchema, SessionViewSchema, sessionView, type MessageView } from '../../../services/opencode/views.js';
import type { GatewayContext } from '../../context.js';
import { ApiError } from '../../errors.js';
import { responds, streams } from '../../openapi.js';
import { zodRoute } from '../../validation.js';
import { SESSION_CALL_RESPONSES, callThroughHost } from './calls.js';
import { OPENCODE_READ_RESPONSES, OpencodeLookup, callOpencode, liveHere } from './lookup.js';

/**
 * /api/sessions/:id…: a session is found through the instance that owns it. Calls (send, abort,
 * delete, replies) are instance commands: the host that runs the instance judges them and has
 * its OpenCode server do them (calls.ts), so any gateway serves them, `f gateway` too. Messages
 * return once opencode took them (its async prompt); the reply streams on `/api/sessions/:id/events`.
 * Reads that need the process (tool parts, a turn's diff) are served only where the process is
 * (lookup.ts › liveHere); the message list falls back to what the log holds and says so.
 */
export const SessionParamsSchema = z.object({ id: OpencodeIdSchema });
export const SendMessageBodySchema = z
  .object({ text: z.string().max(MESSAGE_MAX_CHARS).refine((t) => t.trim().length > 0, 'a message needs some text'), model: ModelRefSchema.optional() })
  .strict();
export const DiffQuerySchema = z.object({ messageId: OpencodeIdSchema }).strict();
export const TurnDiffSchema = z.object({
  sessionId: z.string(),
  messageId: z.string(),
  files: z.array(z.object({ file: z.string(), patch: z.string(), additions: z.number(), deletions: z.number(), status: z.string().nullable() })),
});
export const PermissionReplyBodySchema = z
  .object({ reply: PermissionReplySchema, message: z.string().max(2000).optional() })
  .strict();
export const QuestionReplyBodySchema = z.union([
  z.object({ answers: z.array(z.array(z.string())).min(1, 'one array of answers per question') }).strict(),
  z.object({ reject: z.literal(true) }).strict(),
]);

export const MessageListSchema = z.object({ source: z.enum(['opencode', 'log']), messages: z.array(MessageViewSchema) });
export const MessageAcceptedSchema = z.object({ accepted: z.literal(true), sessionId: z.string(), events: z.string() });
export const AbortedSchema = z.object({ aborted: z.literal(true), sessionId: z.string() });
export const DeletedSchema = z.object({ deleted: z.literal(true), sessionId: z.string() });
export const PermissionRepliedSchema = z.object({ replied: z.literal(true), sessionId: z.string(), permissionId: z.string(), reply: PermissionReplyBodySchema.shape.reply });
export const QuestionAnsweredSchema = z.object({ answered: z.literal(true), sessionId: z.string(), questionId: z.string(), outcome: z.enum(['replied', 'rejected']) });

const iso = (ms: number) => new Date(ms).toISOString();

/** `runtime`: the OpenCode processes of a host in this process, if any (reads only). */
export async function sessionRoutes(app: FastifyInstance, ctx: GatewayContext, runtime: OpencodeRuntime | undefined): Promise<void> {
  const lookup = new OpencodeLookup(ctx.deps.readModel);

  /** What the log holds of a session's conversation: each completed message with its final text. */
  const fromLog = (instanceId: string, sessionId: string): MessageView[] =>
    ctx.deps.log
      .readStream(instanceStreamId(instanceId))
      .filter((e) => e.type === 'MESSAGE_COMPLETED' && (e.data.message as { sessionId?: string } | undefined)?.sessionId === sessionId)
      .map((e) => {
        const m = MessageRecordSchema.parse(e.data.message);
        return { ...m, createdAt: iso(m.createdAt), completedAt: m.completedAt === null ? null : iso(m.completedAt), parts: [] };
      });

  app.route({
    method: 'GET',
    url: '/api/sessions/:id',
    ...zodRoute({ params: SessionParamsSchema, response: SessionViewSchema }, ({ params }) => {
      const { instance, session } = lookup.session(params.id);
      return sessionView(instance.context.id, session);
    }),
  });

  app.route({
    method: 'GET',
    url: '/api/sessions/:id/messages',
    ...responds(OPENCODE_READ_RESPONSES, zodRoute({ params: SessionParamsSchema, response: MessageListSchema }, async ({ params }) => {
      const { instance } = lookup.session(params.id);
      const id = instance.context.id;
      if (instance.row.status === 'running' && runtime?.isLive(id)) {
        const messages = await callOpencode(() => runtime.messages(id, params.id));
        if (messages) return { source: 'opencode' as const, messages };
      }
      // The instance is not running, or runs on another host: the history Flow recorded is there.
      return { source: 'log' as const, messages: fromLog(id, params.id) };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/messages',
    ...responds({ 202: 'accepted: the reply streams on /api/sessions/:id/events', ...SESSION_CALL_RESPONSES }, zodRoute({ params: SessionParamsSchema, body: SendMessageBodySchema, response: MessageAcceptedSchema }, async ({ params, body }, _request, reply) => {
      const { instance } = lookup.session(params.id);
      await callThroughHost(ctx, { type: 'opencode.session.send', id: instance.context.id, sessionId: params.id, text: body.text, model: body.model ?? null });
      return reply.code(202).send({ accepted: true, sessionId: params.id, events: `/api/sessions/${params.id}/events` });
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/sessions/:id/diff',
    ...responds(OPENCODE_READ_RESPONSES, zodRoute({ params: SessionParamsSchema, query: DiffQuerySchema, response: TurnDiffSchema }, async ({ params, query }) => {
      const { instance } = lookup.session(params.id);
      const live = liveHere(instance, runtime);
      const files = await callOpencode(() => live.turnDiff(instance.context.id, params.id, query.messageId));
      return { sessionId: params.id, messageId: query.messageId, files };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/abort',
    ...responds(SESSION_CALL_RESPONSES, zodRoute({ params: SessionParamsSchema, response: AbortedSchema }, async ({ params }) => {
      const { instance } = lookup.session(params.id);
      await callThroughHost(ctx, { type: 'opencode.session.abort', id: instance.context.id, sessionId: params.id });
      return { aborted: true as const, sessionId: params.id };
    })),
  });

  app.route({
    method: 'DELETE',
    url: '/api/sessions/:id',
    ...responds(SESSION_CALL_RESPONSES, zodRoute({ params: SessionParamsSchema, response: DeletedSchema }, async ({ params }) => {
      const { instance } = lookup.session(params.id);
      await callThroughHost(ctx, { type: 'opencode.session.delete', id: instance.context.id, sessionId: params.id });
      return { deleted: true as const, sessionId: params.id };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/permissions/:permissionId',
    ...responds(SESSION_CALL_RESPONSES, zodRoute({ params: SessionParamsSchema.extend({ permissionId: OpencodeIdSchema }), body: PermissionReplyBodySchema, response: PermissionRepliedSchema }, async ({ params, body }) => {
      const { instance, session } = lookup.session(params.id);
      if (!session.permissions.some((p) => p.id === params.permissionId)) throw ApiError.notFound(`session ${params.id} has no pending permission ${params.permissionId}`);
      await callThroughHost(ctx, { type: 'opencode.permission.reply', id: instance.context.id, sessionId: params.id, permissionId: params.permissionId, reply: body.reply, message: body.message ?? null });
      return { replied: true as const, sessionId: params.id, permissionId: params.permissionId, reply: body.reply };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/questions/:questionId',
    ...responds(SESSION_CALL_RESPONSES, zodRoute({ params: SessionParamsSchema.extend({ questionId: OpencodeIdSchema }), body: QuestionReplyBodySchema, response: QuestionAnsweredSchema }, async ({ params, body }) => {
      const { instance, session } = lookup.session(params.id);
      const question = session.questions.find((q) => q.id === params.questionId);
      if (!question) throw ApiError.notFound(`session ${params.id} has no pending question ${params.questionId}`);
      if ('answers' in body && body.answers.length !== question.questions.length) {
        throw ApiError.invalid(`body.answers: the request asks ${question.questions.length} question(s); send one array of answers for each`);
      }
      await callThroughHost(ctx, { type: 'opencode.question.answer', id: instance.context.id, sessionId: params.id, questionId: params.questionId, answers: 'answers' in body ? body.answers : null });
      return { answered: true as const, sessionId: params.id, questionId: params.questionId, outcome: 'reject' in body ? ('rejected' as const) : ('replied' as const) };
    })),
  });

  /**
   * The session's live feed as SSE: first its current state (`session`), then deltas, parts and
   * completed messages in the order opencode produced them. Live only: no ids, no replay (the
   * durable facts are on /api/events, resumable); bounded like every Flow stream.
   */
  app.route({
    method: 'GET',
    url: '/api/sessions/:id/events',
    ...streams(zodRoute({ params: SessionParamsSchema }, ({ params }, _request, reply) => {
      const { instance, session } = lookup.session(params.id);
      const instanceId = instance.context.id;
      const conn = reply.sse();
      const send = (msg: SessionFeedMessage) => conn.send({ event: msg.type, data: JSON.stringify(msg) });
      send({ type: 'session', sessionId: params.id, session: sessionView(instanceId, session) });
      const unsubscribe = ctx.deps.live.subscribe(sessionSubject(instanceId, params.id), (m) => {
        if (!send(m.data as SessionFeedMessage)) unsubscribe();
      });
      conn.onClose(unsubscribe);
      return reply;
    })),
  });
}
