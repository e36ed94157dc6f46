import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { basename, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { InstanceIdSchema, instanceStreamId, opencodeInstanceKind, type InstanceContext, type SessionSummary } from '../../actors/opencode-instance.js';
import type { ActorRow } from '../../services/host/actor-projection.js';
import type { Command } from '../../services/host/commands.js';
import { OpencodeHttpError } from '../../services/opencode/client.js';
import { isDirectory } from '../../services/opencode/index.js';
import { InstanceNotReadyError, type OpencodeRuntime } from '../../services/opencode/runtime.js';
import { instanceView, sessionView, type InstanceView, type SessionView } from '../../services/opencode/views.js';
import type { ReadModel } from '../../services/store/read-model.js';
import type { GatewayContext, RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { zodRoute } from '../validation.js';
import { COMMAND_RESPONSES, responds, type RouteResponses } from '../openapi.js';
import { attentionRoutes } from './attention.js';
import { sessionRoutes } from './sessions.js';

/**
 * /api/instances (seed 004): opencode instances and the sessions in each. Lifecycle goes
 * through commands (persist, then act); session calls go to the owning process through the
 * runtime and are answered as soon as opencode answers.
 */
export const CreateInstanceBodySchema = z
  .object({
    directory: z.string().min(1, 'directory must not be empty'),
    id: InstanceIdSchema.optional(),
    start: z.boolean().default(true),
    startTimeoutMs: z.number().int().min(100).max(600_000).optional(),
  })
  .strict();

export const InstanceParamsSchema = z.object({ id: InstanceIdSchema });
export const CreateSessionBodySchema = z.object({ title: z.string().max(500).optional() }).strict();

export interface OpencodeRouteDeps {
  readModel: ReadModel;
  commands: { submit(command: Command, meta?: { by?: string }): ReturnType<GatewayContext['deps']['commands']['submit']> };
  runtime: OpencodeRuntime;
}

export interface InstanceRecord {
  row: ActorRow;
  context: InstanceContext;
}

/** Lookups shared by the instance, session and attention routes, all from the read model. */
export class OpencodeLookup {
  constructor(private readonly readModel: ReadModel) {}

  instances(): InstanceRecord[] {
    return this.readModel
      .listActors(opencodeInstanceKind.streamType)
      .filter((r) => r.status !== 'removed' && r.status !== 'new')
      .map((row) => ({ row, context: row.snapshot.context as InstanceContext }));
  }

  instance(id: string): InstanceRecord {
    const row = this.readModel.getActor(instanceStreamId(id));
    if (!row || row.status === 'removed' || row.status === 'new') throw ApiError.notFound(`no opencode instance ${id}`);
    return { row, context: row.snapshot.context as InstanceContext };
  }

  session(sessionId: string): { instance: InstanceRecord; session: SessionSummary } {
    for (const instance of this.instances()) {
      const session = instance.context.sessions[sessionId];
      if (session) return { instance, session };
    }
    throw ApiError.notFound(`no session ${sessionId}`);
  }
}

export function viewOf(r: InstanceRecord): InstanceView {
  return instanceView(r.row.status, r.context, r.row.updatedAt);
}

export function sessionsOf(r: InstanceRecord): SessionView[] {
  return Object.values(r.context.sessions)
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .map((s) => sessionView(r.context.id, s));
}

/** Session calls need a running instance: anything else is a 409 that says what it is. */
export function requireRunning(r: InstanceRecord, runtime: OpencodeRuntime): void {
  const status = r.row.status;
  if (status === 'running' && runtime.isLive(r.context.id)) return;
  const hint = status === 'stopped' || status === 'error' ? ` (start it with "f instance start ${r.context.id}")` : status === 'starting' ? ' (try again in a moment)' : '';
  throw ApiError.conflict(`the instance ${r.context.id} is ${status === 'running' ? 'not ready' : status}${hint}`);
}

/** opencode's answers, as Flow's errors: its 404/400/409 keep their meaning; the rest is a bad gateway. */
/** What a route that calls an instance's OpenCode server can answer besides its success. */
export const OPENCODE_RESPONSES: RouteResponses = {
  409: 'the instance is not running, or not ready yet',
  502: 'its OpenCode server failed or did not answer',
};

export async function callOpencode<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InstanceNotReadyError) throw ApiError.conflict(err.message);
    if (err instanceof OpencodeHttpError) {
      if (err.status === 404) throw ApiError.notFound(`opencode: ${err.message}`);
      if (err.status === 400) throw ApiError.invalid(`opencode: ${err.message}`);
      if (err.status === 409) throw ApiError.conflict(`opencode: ${err.message}`);
      throw new ApiError(502, 'unavailable', `opencode: ${err.message}`);
    }
    throw err;
  }
}

function newInstanceId(directory: string): string {
  const base =
    basename(directory)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[-_]+|[-_]+$/g, '')
      .slice(0, 40) || 'opencode';
  return `${base}-${randomBytes(2).toString('hex')}`;
}

export async function instanceRoutes(app: FastifyInstance, deps: OpencodeRouteDeps): Promise<void> {
  const lookup = new OpencodeLookup(deps.readModel);
  const submit = async (command: Command): Promise<InstanceView> => {
    const result = await deps.commands.submit(command, { by: 'api' });
    if (!result.ok) throw ApiError.fromCommand(result);
    const row = deps.readModel.getActor(result.streamId);
    if (!row) throw new ApiError(503, 'unavailable', `${result.streamId} was updated but is not readable yet; retry`);
    return instanceView(row.status, row.snapshot.context as InstanceContext, row.updatedAt);
  };

  app.route({
    method: 'GET',
    url: '/api/instances',
    ...zodRoute({}, () => ({ instances: lookup.instances().map(viewOf) })),
  });

  app.route({
    method: 'POST',
    url: '/api/instances',
    ...responds({ 201: 'the instance, created', ...COMMAND_RESPONSES }, zodRoute({ body: CreateInstanceBodySchema }, async ({ body }, _request, reply) => {
      if (!isAbsolute(body.directory)) throw ApiError.invalid(`body.directory: ${body.directory} is not an absolute path`);
      const directory = resolve(body.directory);
      if (!isDirectory(directory)) throw ApiError.invalid(`body.directory: ${directory} does not exist or is not a directory`);
      const same = lookup.instances().find((r) => r.context.directory === directory);
      if (same) throw ApiError.conflict(`the instance ${same.context.id} already serves ${directory} (it is ${same.row.status})`);
      const id = body.id ?? newInstanceId(directory);
      const view = await submit({
        type: 'opencode.create',
        id,
        directory,
        autostart: body.start,
        ...(body.startTimeoutMs !== undefined ? { startTimeoutMs: body.startTimeoutMs } : {}),
      } as Command);
      return reply.code(201).send(view);
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/instances/:id',
    ...zodRoute({ params: InstanceParamsSchema }, ({ params }) => viewOf(lookup.instance(params.id))),
  });

  app.route({
    method: 'DELETE',
    url: '/api/instances/:id',
    ...responds(COMMAND_RESPONSES, zodRoute({ params: InstanceParamsSchema }, async ({ params }) => {
      lookup.instance(params.id);
      return submit({ type: 'opencode.remove', id: params.id });
    })),
  });

  for (const action of ['start', 'stop'] as const) {
    app.route({
      method: 'POST',
      url: `/api/instances/:id/${action}`,
      ...responds(COMMAND_RESPONSES, zodRoute({ params: InstanceParamsSchema }, async ({ params }) => {
        const r = lookup.instance(params.id);
        if (action === 'stop' && r.row.status === 'stopped') return viewOf(r);
        return submit({ type: `opencode.${action}`, id: params.id });
      })),
    });
  }

  app.route({
    method: 'GET',
    url: '/api/instances/:id/sessions',
    ...responds(OPENCODE_RESPONSES, zodRoute({ params: InstanceParamsSchema }, ({ params }) => ({ sessions: sessionsOf(lookup.instance(params.id)) }))),
  });

  app.route({
    method: 'POST',
    url: '/api/instances/:id/sessions',
    ...responds({ 201: 'the session, created', ...OPENCODE_RESPONSES, 503: 'created, but not readable yet; read it again' }, zodRoute({ params: InstanceParamsSchema, body: CreateSessionBodySchema }, async ({ params, body }, _request, reply) => {
      const r = lookup.instance(params.id);
      requireRunning(r, deps.runtime);
      const info = await callOpencode(() => deps.runtime.createSession(params.id, body.title));
      const fresh = lookup.instance(params.id);
      const s = fresh.context.sessions[info.id];
      if (!s) throw new ApiError(503, 'unavailable', `session ${info.id} was created but is not readable yet; retry`);
      return reply.code(201).send(sessionView(params.id, s));
    })),
  });
}

/** Instances, sessions and attention as one gateway RoutePlugin (for `extraRoutes`). */
export function opencodeRoutePlugin(runtime: OpencodeRuntime): RoutePlugin {
  return async (app: FastifyInstance, ctx: GatewayContext) => {
    const deps: OpencodeRouteDeps = { readModel: ctx.deps.readModel, commands: ctx.deps.commands, runtime };
    await instanceRoutes(app, deps);
    await sessionRoutes(app, ctx, deps);
    await attentionRoutes(app, ctx, deps);
  };
}
