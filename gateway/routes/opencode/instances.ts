import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { basename, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { HealthPolicySchema, InstanceIdSchema, OPENCODE_POLICY } from '../../../actors/opencode-instance/index.js';
import { RestartPolicySchema } from '../../../actors/lifecycle.js';
import type { Command } from '../../../actors/index.js';
import { isDirectory } from '../../../services/opencode/index.js';
import type { OpencodeRuntime } from '../../../services/opencode/runtime.js';
import { InstanceViewSchema, SessionViewSchema, sessionView } from '../../../services/opencode/views.js';
import type { GatewayContext } from '../../context.js';
import { ApiError } from '../../errors.js';
import { COMMAND_RESPONSES, responds } from '../../openapi.js';
import { submitAndView } from '../../submit.js';
import { zodRoute } from '../../validation.js';
import { SESSION_CALL_RESPONSES, callThroughHost } from './calls.js';
import { OPENCODE_READ_RESPONSES, OpencodeLookup, callOpencode, instanceViewOf, liveHere, sessionsOf, viewOf } from './lookup.js';

/**
 * /api/instances (seed 004): opencode instances and the sessions in each. Lifecycle and session
 * creation go through commands (persist, then act), answered once the host has recorded the
 * outcome; the models list is a read from the process (lookup.ts › liveHere).
 */
export const CreateInstanceBodySchema = z
  .object({
    directory: z.string().min(1, 'directory must not be empty'),
    id: InstanceIdSchema.optional(),
    start: z.boolean().default(true),
    startTimeoutMs: z.number().int().min(100).max(600_000).optional(),
    health: HealthPolicySchema.prefault({}).describe('how often Flow asks opencode /global/health, how long it waits, and how many failed checks in a row restart it'),
    restart: RestartPolicySchema.prefault({}).describe('automatic restarts after a crash or a hung server: backoffUnitMs × n, at most maxRestarts in a row'),
  })
  .strict();

export const InstanceParamsSchema = z.object({ id: InstanceIdSchema });
/** The models an instance offers for a message (`POST /api/sessions/:id/messages` `model`). */
export const ModelListSchema = z.object({
  models: z.array(z.object({ providerId: z.string(), modelId: z.string(), name: z.string() })),
  defaults: z.array(z.object({ providerId: z.string(), modelId: z.string() })),
});

export const InstanceListSchema = z.object({ instances: z.array(InstanceViewSchema) });
export const SessionListSchema = z.object({ sessions: z.array(SessionViewSchema) });
export const CreateSessionBodySchema = z.object({ title: z.string().max(500).optional() }).strict();

function newInstanceId(directory: string): string {
  const base =
    basename(directory)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[-_]+|[-_]+$/g, '')
      .slice(0, 40) || 'opencode';
  return `${base}-${randomBytes(2).toString('hex')}`;
}

export async function instanceRoutes(app: FastifyInstance, ctx: GatewayContext, runtime: OpencodeRuntime | undefined): Promise<void> {
  const lookup = new OpencodeLookup(ctx.deps.readModel);

  app.route({
    method: 'GET',
    url: '/api/instances',
    ...zodRoute({ response: InstanceListSchema }, () => ({ instances: lookup.instances().map(viewOf) })),
  });

  app.route({
    method: 'POST',
    url: '/api/instances',
    ...responds({ 201: 'the instance, created', ...COMMAND_RESPONSES }, zodRoute({ body: CreateInstanceBodySchema, response: InstanceViewSchema }, async ({ body }, _request, reply) => {
      if (!isAbsolute(body.directory)) throw ApiError.invalid(`body.directory: ${body.directory} is not an absolute path`);
      const directory = resolve(body.directory);
      if (!isDirectory(directory)) throw ApiError.invalid(`body.directory: ${directory} does not exist or is not a directory`);
      // One instance per directory is a rule across actors, which no one actor's host state can judge.
      const same = lookup.instances().find((r) => r.context.directory === directory);
      if (same) throw ApiError.conflict(`the instance ${same.context.id} already serves ${directory} (it is ${same.row.status})`);
      const command: Command = {
        type: 'opencode.create',
        id: body.id ?? newInstanceId(directory),
        directory,
        autostart: body.start,
        startTimeoutMs: body.startTimeoutMs ?? OPENCODE_POLICY.defaultStartTimeoutMs,
        health: body.health,
        restart: body.restart,
      };
      return reply.code(201).send(await submitAndView(ctx, command, instanceViewOf));
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/instances/:id',
    ...zodRoute({ params: InstanceParamsSchema, response: InstanceViewSchema }, ({ params }) => viewOf(lookup.instance(params.id))),
  });

  app.route({
    method: 'DELETE',
    url: '/api/instances/:id',
    ...responds(COMMAND_RESPONSES, zodRoute({ params: InstanceParamsSchema, response: InstanceViewSchema }, ({ params }) => submitAndView(ctx, { type: 'opencode.remove', id: params.id }, instanceViewOf))),
  });

  for (const action of ['start', 'stop'] as const) {
    app.route({
      method: 'POST',
      url: `/api/instances/:id/${action}`,
      ...responds(COMMAND_RESPONSES, zodRoute({ params: InstanceParamsSchema, response: InstanceViewSchema }, ({ params }) => submitAndView(ctx, { type: `opencode.${action}`, id: params.id }, instanceViewOf))),
    });
  }

  app.route({
    method: 'GET',
    url: '/api/instances/:id/sessions',
    ...responds({ 404: 'no such instance' }, zodRoute({ params: InstanceParamsSchema, response: SessionListSchema }, ({ params }) => ({ sessions: sessionsOf(lookup.instance(params.id)) }))),
  });

  app.route({
    method: 'POST',
    url: '/api/instances/:id/sessions',
    ...responds({ 201: 'the session, created', ...SESSION_CALL_RESPONSES, 503: 'no host took the command, or the session was created but is not readable yet' }, zodRoute({ params: InstanceParamsSchema, body: CreateSessionBodySchema, response: SessionViewSchema }, async ({ params, body }, _request, reply) => {
      lookup.instance(params.id);
      const { sessionId } = await callThroughHost(ctx, { type: 'opencode.session.create', id: params.id, title: body.title ?? null });
      const s = lookup.instance(params.id).context.sessions[sessionId];
      if (!s) throw new ApiError(503, 'unavailable', `session ${sessionId} was created but is not readable yet; read it again`);
      return reply.code(201).send(sessionView(params.id, s));
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/instances/:id/models',
    ...responds(OPENCODE_READ_RESPONSES, zodRoute({ params: InstanceParamsSchema, response: ModelListSchema }, async ({ params }) => {
      const live = liveHere(lookup.instance(params.id), runtime);
      return callOpencode(() => live.models(params.id));
    })),
  });
}
