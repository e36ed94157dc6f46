import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { kindFor, streamTypes } from '../../actors/index.js';
import { fold } from '../../actors/fold.js';
import { StreamIdSchema, type EventEnvelope } from '../../services/store/envelope.js';
import { RetirementSchema, type ActorListing } from '../../services/store/read-model.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { wholeNumber, zodRoute } from '../validation.js';

/**
 * The actors as the event timeline sees them. `GET /api/actors/:streamId/state?version=N`
 * folds the stream's first N events through the actor's own machine (the `fold()` that
 * recovery and `f events replay` use), so a state shown for an earlier version is computed
 * by exactly the code that produced the live one, never re-implemented in the browser.
 */
export const ActorListQuerySchema = z.object({
  streamType: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a stream type is lower-case letters, digits and "-"').optional(),
});

export const ActorParamsSchema = z.object({ streamId: StreamIdSchema });
export const ActorStateQuerySchema = z.object({ version: wholeNumber('version').optional() });

export const ActorSummarySchema = z.object({
  streamId: z.string(),
  streamType: z.string(),
  version: z.number().int(),
  status: z.string(),
  updatedAt: z.string(),
  /** The host that runs it. */
  host: z.string(),
  /** The epoch of the host log it belongs to (a host whose FLOW_HOME was replaced writes a new one). */
  epoch: z.string().nullable(),
  /** Set when status is `retired`: its host log is gone (replaced or forgotten), or another host owns its name. */
  retired: RetirementSchema.nullable(),
});
export type ActorSummary = z.infer<typeof ActorSummarySchema>;

export const ActorStateSchema = z.object({
  streamId: z.string(),
  streamType: z.string(),
  /** The version the state is folded to (0 = before the first event). */
  version: z.number().int().nonnegative(),
  /** The stream's newest version. */
  latest: z.number().int().nonnegative(),
  status: z.string(),
  value: z.unknown(),
  context: z.unknown(),
  /** The event that produced this state (null at version 0). */
  event: z.unknown().nullable(),
});
export type ActorState = z.infer<typeof ActorStateSchema>;

export const ActorListSchema = z.object({ actors: z.array(ActorSummarySchema) });

export const summary = (r: ActorListing): ActorSummary => ({
  streamId: r.streamId,
  streamType: r.streamType,
  version: r.version,
  status: r.status,
  updatedAt: r.updatedAt,
  host: r.host,
  epoch: r.epoch ?? null,
  retired: r.retired ?? null,
});

export function foldStateAt(streamId: string, events: readonly EventEnvelope[], version: number | undefined): ActorState {
  const streamType = streamId.slice(0, streamId.indexOf(':'));
  const kind = kindFor(streamType);
  if (!kind) throw ApiError.notFound(`no actor kind handles ${streamType} streams`);
  if (events.length === 0) throw ApiError.notFound(`no events in ${streamId}`);
  const latest = events.at(-1)!.version;
  const to = version ?? latest;
  if (to > latest) throw ApiError.notFound(`${streamId} has ${latest} events; there is no version ${to}`);
  const upTo = events.filter((e) => e.version <= to);
  const snapshot = fold(kind, upTo);
  return {
    streamId,
    streamType,
    version: to,
    latest,
    status: kind.status(snapshot as never),
    value: snapshot.value,
    context: snapshot.context,
    event: upTo.at(-1) ?? null,
  };
}

export async function actorRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/actors',
    ...zodRoute({ query: ActorListQuerySchema, response: ActorListSchema }, ({ query }) => {
      const types = query.streamType ? [query.streamType] : streamTypes;
      return { actors: types.flatMap((t) => ctx.deps.readModel.listActors(t)).map(summary) };
    }),
  });

  app.route({
    method: 'GET',
    url: '/api/actors/:streamId/state',
    ...zodRoute({ params: ActorParamsSchema, query: ActorStateQuerySchema, response: ActorStateSchema }, ({ params, query }) =>
      foldStateAt(params.streamId, ctx.deps.log.readStream(params.streamId), query.version),
    ),
  });
}
