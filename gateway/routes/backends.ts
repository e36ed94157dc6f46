import type { FastifyInstance, FastifyReply } from 'fastify';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { BACKEND_LOG_LINES_MAX } from '../../services/backend-child/log-lines-limit.js';
import { BackendConfigInputSchema, BackendNameSchema, RestartPolicySchema, backendStreamId, backendChildKind, type BackendConfig } from '../../actors/backend-child/index.js';
import { liveSubjects } from '../../services/bus/names.js';
import type { Command } from '../../actors/index.js';
import type { ActorListing, OutputLine } from '../../services/store/read-model.js';
import { BackendViewSchema, backendView } from '../backend-view.js';
import { submitAndView } from '../submit.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { LastEventIdHeadersSchema } from './events.js';
import { queryFlag, wholeNumber, zodRoute } from '../validation.js';
import { COMMAND_RESPONSES, responds, streams } from '../openapi.js';

/** The body of `POST /api/backends`: the backend config as a client sends it, plus its name. */
export const CreateBackendBodySchema = BackendConfigInputSchema.extend({
  name: BackendNameSchema,
  autostart: z.boolean().default(true),
  /** Distributed mode: the host to run it on (default: whichever host takes the job). */
  host: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'host is a host id: 1-64 letters, digits, "-" or "_"').optional(),
}).strict();
export type CreateBackendBody = z.infer<typeof CreateBackendBodySchema>;

export const BackendParamsSchema = z.object({ id: BackendNameSchema });

export const BackendLogsQuerySchema = z.object({
  limit: wholeNumber('limit').pipe(z.number().max(BACKEND_LOG_LINES_MAX, `limit must be at most ${BACKEND_LOG_LINES_MAX}`)).optional(),
  follow: queryFlag('follow').optional(),
});

export const OutputLineSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  fd: z.enum(['stdout', 'stderr', 'flow']).describe('flow: a note of Flow\'s own (started, reloading, cannot run ...)'),
  line: z.string(),
  truncated: z.boolean().optional().describe('true when the line was longer than the limit (64 KiB by default): this is its start, the rest was dropped'),
}) satisfies z.ZodType<OutputLine>;

export const BackendListSchema = z.object({ backends: z.array(BackendViewSchema) });
export const BackendLogsSchema = z.object({ name: z.string(), lines: z.array(OutputLineSchema) });

const STREAM_TYPE = backendChildKind.streamType;

/** What a read shows of a backend. One that was removed is gone as far as reads go (its log stays). */
function readBackend(ctx: GatewayContext, name: string): ActorListing {
  const row = ctx.deps.readModel.getActor(backendStreamId(name));
  if (!row || row.status === 'removed') throw ApiError.notFound(`no backend named ${name}`);
  return row;
}

/** Paths in the config are made absolute here, against the server's cwd, so the event says exactly what runs. */
function resolveConfig(body: CreateBackendBody): BackendConfig {
  const cwd = resolve(process.cwd(), body.cwd ?? '.');
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw ApiError.invalid(`body.cwd: ${cwd} is not an existing directory`);
  return {
    command: body.command,
    cwd,
    env: body.env,
    port: body.port,
    watch: body.watch.map((p) => resolve(cwd, p)),
    watchExtensions: body.watchExtensions,
    stopGraceMs: body.stopGraceMs,
    restart: RestartPolicySchema.parse(body.restart ?? {}),
  };
}

export async function backendRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/backends',
    ...zodRoute({ response: BackendListSchema }, () => ({
      backends: ctx.deps.readModel
        .listActors(STREAM_TYPE)
        .filter((r) => r.status !== 'removed')
        .map((r) => backendView(r, { metrics: ctx.deps.backendMetrics?.(r.streamId) })),
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/backends',
    ...responds({ 201: 'the backend, created', ...COMMAND_RESPONSES }, zodRoute({ body: CreateBackendBodySchema, response: BackendViewSchema }, async ({ body }, _request, reply) => {
      // A name in use is the host's to refuse (a retired one, of a host's old log, is no one's: it is replaced).
      const command: Command = { type: 'backend.create', name: body.name, config: resolveConfig(body), autostart: body.autostart };
      const view = await submitAndView(ctx, command, backendView, body.host ? { host: body.host } : {});
      return reply.code(201).send(view);
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/backends/:id',
    ...zodRoute({ params: BackendParamsSchema, response: BackendViewSchema }, ({ params }) => {
      const row = readBackend(ctx, params.id);
      return backendView(row, { metrics: ctx.deps.backendMetrics?.(row.streamId) });
    }),
  });

  app.route({
    method: 'DELETE',
    url: '/api/backends/:id',
    ...responds(COMMAND_RESPONSES, zodRoute({ params: BackendParamsSchema, response: BackendViewSchema }, async ({ params }) => {
      return submitAndView(ctx, { type: 'backend.remove', name: params.id }, backendView);
    })),
  });

  for (const action of ['start', 'stop', 'restart'] as const) {
    app.route({
      method: 'POST',
      url: `/api/backends/:id/${action}`,
      ...responds(COMMAND_RESPONSES, zodRoute({ params: BackendParamsSchema, response: BackendViewSchema }, async ({ params }) => {
        return submitAndView(ctx, { type: `backend.${action}`, name: params.id }, backendView);
      })),
    });
  }

  app.route({
    method: 'GET',
    url: '/api/backends/:id/logs',
    ...streams(responds({ 200: 'the stored lines; with ?follow=1 a text/event-stream of them, then live ones' }, zodRoute({ params: BackendParamsSchema, query: BackendLogsQuerySchema, headers: LastEventIdHeadersSchema, response: BackendLogsSchema }, ({ params, query, headers }, _request, reply) => {
      const row = readBackend(ctx, params.id);
      const limit = query.limit ?? 200;
      if (!query.follow) return { name: params.id, lines: ctx.deps.readModel.outputLines(row.streamId, limit) };
      followLogs(ctx, reply, params.id, row.streamId, limit, headers['last-event-id']);
      return reply;
    }))),
  });
}

/**
 * `?follow=1`: the stored tail, then live lines from the bus, as SSE (`event: line`, `id: seq`).
 * The bus subscription starts before the tail is read and holds lines back until the tail is
 * sent, so nothing is lost at the seam with an asynchronous bus; a line already sent (same seq)
 * is skipped. Lines are not durable events: a reconnect gets what the bounded history still has.
 */
function followLogs(ctx: GatewayContext, reply: FastifyReply, name: string, streamId: string, limit: number, resumeAfter: number | undefined): void {
  const conn = reply.sse();
  let lastSent = resumeAfter ?? 0;
  let held: OutputLine[] | null = [];
  const send = (line: OutputLine): void => {
    if (line.seq <= lastSent) return;
    lastSent = line.seq;
    if (!conn.send({ id: line.seq, event: 'line', data: JSON.stringify(line) })) stopLive();
  };
  const stopLive = ctx.deps.live.subscribe(liveSubjects.output(STREAM_TYPE, name), (msg) => {
    const parsed = OutputLineSchema.safeParse(msg.data);
    if (!parsed.success) return;
    if (held) held.push(parsed.data);
    else send(parsed.data);
  });
  for (const line of ctx.deps.readModel.outputLines(streamId, limit)) send(line);
  for (const line of held) send(line);
  held = null;
  conn.onClose(stopLive);
}
