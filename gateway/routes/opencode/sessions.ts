import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MessageRecordSchema, OpencodeIdSchema, instanceStreamId } from '../../../actors/opencode-instance.js';
import { sessionSubject, type SessionFeedMessage } from '../../../services/opencode/feed.js';
import type { OpencodeRuntime } from '../../../services/opencode/runtime.js';
import { MessageViewSchema, SessionViewSchema, sessionView, type MessageView } from '../../../services/opencode/views.js';
import type { GatewayContext } from '../../context.js';
import { ApiError } from '../../errors.js';
import { responds, streams } from '../../openapi.js';
import { zodRoute } from '../../validation.js';
import { OPENCODE_RESPONSES, OpencodeLookup, callOpencode, requireRunning } from './lookup.js';

/**
 * /api/sessions/:id…: a session is found through the instance that owns it, and every call
 * goes to that instance's process. Messages return at once (opencode's async prompt); the
 * reply streams on `/api/sessions/:id/events`.
 */
export const SessionParamsSchema = z.object({ id: OpencodeIdSchema });
/** `provider/model` as the instance's models list names it, for this message only. */
const ModelRefSchema = z.object({ providerId: z.string().min(1).max(200), modelId: z.string().min(1).max(200) }).strict();
export const SendMessageBodySchema = z
  .object({ text: z.string().refine((t) => t.trim().length > 0, 'a message needs some text'), model: ModelRefSchema.optional() })
  .strict();
export const DiffQuerySchema = z.object({ messageId: OpencodeIdSchema }).strict();
export const TurnDiffSchema = z.object({
  sessionId: z.string(),
  messageId: z.string(),
  files: z.array(z.object({ file: z.string(), patch: z.string(), additions: z.number(), deletions: z.number(), status: z.string().nullable() })),
});
export const PermissionReplyBodySchema = z
  .object({ reply: z.enum(['once', 'always', 'reject']), message: z.string().max(2000).optional() })
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

export async function sessionRoutes(app: FastifyInstance, ctx: GatewayContext, runtime: OpencodeRuntime): Promise<void> {
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
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: SessionParamsSchema, response: MessageListSchema }, async ({ params }) => {
      const { instance } = lookup.session(params.id);
      const id = instance.context.id;
      if (instance.row.status === 'running' && runtime.isLive(id)) {
        const messages = await callOpencode(() => runtime.messages(id, params.id));
        if (messages) return { source: 'opencode' as const, messages };
      }
      // The instance is not running: the history Flow recorded is still there.
      return { source: 'log' as const, messages: fromLog(id, params.id) };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/messages',
    ...responds({ 202: 'accepted: the reply streams on /api/sessions/:id/events', ...OPENCODE_RESPONSES }, zodRoute({ params: SessionParamsSchema, body: SendMessageBodySchema, response: MessageAcceptedSchema }, async ({ params, body }, _request, reply) => {
      const { instance } = lookup.session(params.id);
      requireRunning(instance, runtime);
      const model = body.model && { providerID: body.model.providerId, modelID: body.model.modelId };
      await callOpencode(() => runtime.sendMessage(instance.context.id, params.id, body.text, model));
      return reply.code(202).send({ accepted: true, sessionId: params.id, events: `/api/sessions/${params.id}/events` });
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/sessions/:id/diff',
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: SessionParamsSchema, query: DiffQuerySchema, response: TurnDiffSchema }, async ({ params, query }) => {
      const { instance } = lookup.session(params.id);
      requireRunning(instance, runtime);
      const files = await callOpencode(() => runtime.turnDiff(instance.context.id, params.id, query.messageId));
      return { sessionId: params.id, messageId: query.messageId, files };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/abort',
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: SessionParamsSchema, response: AbortedSchema }, async ({ params }) => {
      const { instance } = lookup.session(params.id);
      requireRunning(instance, runtime);
      await callOpencode(() => runtime.abort(instance.context.id, params.id));
      return { aborted: true as const, sessionId: params.id };
    })),
  });

  app.route({
    method: 'DELETE',
    url: '/api/sessions/:id',
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: SessionParamsSchema, response: DeletedSchema }, async ({ params }) => {
      const { instance } = lookup.session(params.id);
      requireRunning(instance, runtime);
      await callOpencode(() => runtime.deleteSession(instance.context.id, params.id));
      return { deleted: true as const, sessionId: params.id };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/permissions/:permissionId',
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: SessionParamsSchema.extend({ permissionId: OpencodeIdSchema }), body: PermissionReplyBodySchema, response: PermissionRepliedSchema }, async ({ params, body }) => {
      const { instance, session } = lookup.session(params.id);
      if (!session.permissions.some((p) => p.id === params.permissionId)) throw ApiError.notFound(`session ${params.id} has no pending permission ${params.permissionId}`);
      requireRunning(instance, runtime);
      await callOpencode(() => runtime.replyPermission(instance.context.id, params.id, params.permissionId, body.reply, body.message));
      return { replied: true as const, sessionId: params.id, permissionId: params.permissionId, reply: body.reply };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/sessions/:id/questions/:questionId',
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: SessionParamsSchema.extend({ questionId: OpencodeIdSchema }), body: QuestionReplyBodySchema, response: QuestionAnsweredSchema }, async ({ params, body }) => {
      const { instance, session } = lookup.session(params.id);
      const question = session.questions.find((q) => q.id === params.questionId);
      if (!question) throw ApiError.notFound(`session ${params.id} has no pending question ${params.questionId}`);
      if ('answers' in body && body.answers.length !== question.questions.length) {
        throw ApiError.invalid(`body.answers: the request asks ${question.questions.length} question(s); send one array of answers for each`);
      }
      requireRunning(instance, runtime);
      await callOpencode(() => runtime.answerQuestion(instance.context.id, params.id, params.questionId, body));
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
