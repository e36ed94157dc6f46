import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RelayConfigSchema, TunnelCommandWordsSchema, TunnelNameSchema, tunnelKind, tunnelStreamId, defaultTunnelName, type TunnelContext } from '../../actors/tunnel/index.js';
import type { ActorListing } from '../../services/store/read-model.js';
import type { GatewayContext, RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { submitAndView } from '../submit.js';
import { zodRoute } from '../validation.js';
import { COMMAND_RESPONSES, responds } from '../openapi.js';

export interface TunnelRouteOptions {
  /** Refuses to expose a port (the gateway without a password): the reason, or null. */
  refuse?: (port: number) => string | null;
}

export const StartTunnelBodySchema = z
  .object({
    name: TunnelNameSchema.optional(),
    port: z.number().int().min(1).max(65535),
    command: TunnelCommandWordsSchema.optional(),
    relay: RelayConfigSchema.optional(),
  })
  .strict();

export const TunnelParamsSchema = z.object({ id: TunnelNameSchema });

export const TunnelViewSchema = z.object({
  name: z.string(),
  status: z.string(),
  port: z.number().int().nullable(),
  url: z.string().nullable(),
  previousUrl: z.string().nullable(),
  urlChanges: z.number().int(),
  pid: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  restarts: z.number().int(),
  restartReason: z.string().nullable(),
  lastError: z.string().nullable(),
  health: z.object({ failures: z.number().int(), lastOkAt: z.string().nullable(), lastCheckAt: z.string().nullable(), lastStatus: z.number().int().nullable(), lastError: z.string().nullable() }),
  wakes: z.number().int(),
  connection: z.object({ location: z.string().nullable(), protocol: z.string().nullable() }).nullable(),
  relay: z.object({ url: z.string(), username: z.string(), tier: z.string(), status: z.string(), handleUrl: z.string().nullable(), lastError: z.string().nullable() }).nullable(),
  /** A missing cloudflared being downloaded for this tunnel (or the last one), with its progress. */
  download: z
    .object({ program: z.string(), version: z.string(), url: z.string(), status: z.enum(['downloading', 'done']), receivedBytes: z.number().int(), totalBytes: z.number().int().nullable(), path: z.string().nullable() })
    .nullable(),
  version: z.number().int(),
  updatedAt: z.string(),
});
export type TunnelView = z.infer<typeof TunnelViewSchema>;

export const TunnelListSchema = z.object({ tunnels: z.array(TunnelViewSchema) });

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function tunnelView(row: ActorListing): TunnelView {
  const c = row.snapshot.context as TunnelContext;
  const relay = c.config?.relay ?? null;
  return {
    name: c.name || row.streamId.slice(row.streamId.indexOf(':') + 1),
    status: row.status,
    port: c.config?.port ?? null,
    url: c.url,
    previousUrl: c.previousUrl,
    urlChanges: c.urlChanges,
    pid: c.run?.pid ?? null,
    startedAt: iso(c.run?.startedAt),
    restarts: c.restarts,
    restartReason: c.restartReason,
    lastError: c.lastError,
    health: { failures: c.health.failures, lastOkAt: iso(c.health.lastOkAt), lastCheckAt: iso(c.health.lastCheckAt), lastStatus: c.health.lastStatus, lastError: c.health.lastError },
    wakes: c.wakes,
    connection: c.connection && { location: c.connection.location, protocol: c.connection.protocol },
    relay: relay && { url: relay.url, username: relay.username, tier: relay.tier, status: c.relay.status, handleUrl: c.relay.handleUrl, lastError: c.relay.lastError },
    download: c.download ? { program: c.download.program, version: c.download.version, url: c.download.url, status: c.download.status, receivedBytes: c.download.receivedBytes, totalBytes: c.download.totalBytes, path: c.download.path } : null,
    version: row.version,
    updatedAt: row.updatedAt,
  };
}

/**
 * /api/tunnels: list, start, inspect, stop (and restart, remove) tunnels. Relay tokens never
 * appear here (they are not in the log either).
 */
export async function tunnelRoutes(app: FastifyInstance, ctx: GatewayContext, opts: TunnelRouteOptions = {}): Promise<void> {
  /** A tunnel that was removed is gone as far as reads go (its log stays). */
  const find = (name: string): ActorListing | undefined => {
    const row = ctx.deps.readModel.getActor(tunnelStreamId(name));
    return row && row.status !== 'removed' ? row : undefined;
  };

  app.route({
    method: 'GET',
    url: '/api/tunnels',
    ...zodRoute({ response: TunnelListSchema }, () => ({
      tunnels: ctx.deps.readModel
        .listActors(tunnelKind.streamType)
        .filter((r) => r.status !== 'removed')
        .map(tunnelView),
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/tunnels',
    ...responds({ 200: 'a stopped tunnel of that name, started again', 201: 'the tunnel, created and starting', ...COMMAND_RESPONSES, 409: 'exposing that port is refused (the gateway has no password), or the tunnel already runs' }, zodRoute({ body: StartTunnelBodySchema, response: TunnelViewSchema }, async ({ body }, _request, reply) => {
      // Not a state: a policy about this gateway's port (no password, no exposure).
      const refusal = opts.refuse?.(body.port) ?? null;
      if (refusal) throw ApiError.conflict(refusal);
      const name = body.name ?? defaultTunnelName(body.port);
      // Only which success to answer: whether a running tunnel may be started is the host's to say.
      const known = find(name) !== undefined;
      const view = await submitAndView(ctx, { type: 'tunnel.start', name, port: body.port, command: body.command, relay: body.relay }, tunnelView);
      return reply.code(known ? 200 : 201).send(view);
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/tunnels/:id',
    ...zodRoute({ params: TunnelParamsSchema, response: TunnelViewSchema }, ({ params }) => {
      const row = find(params.id);
      if (!row) throw ApiError.notFound(`no tunnel named ${params.id}`);
      return tunnelView(row);
    }),
  });

  for (const action of ['stop', 'restart', 'remove'] as const) {
    app.route({
      method: 'POST',
      url: `/api/tunnels/:id/${action}`,
      ...responds(COMMAND_RESPONSES, zodRoute({ params: TunnelParamsSchema, response: TunnelViewSchema }, ({ params }) => submitAndView(ctx, { type: `tunnel.${action}`, name: params.id }, tunnelView))),
    });
  }
}

/** The same routes as a gateway RoutePlugin (for `extraRoutes`). */
export function tunnelRoutePlugin(opts: TunnelRouteOptions = {}): RoutePlugin {
  return (app, ctx) => tunnelRoutes(app, ctx, opts);
}
