import { z } from 'zod';
import { HostIdSchema } from '../../actors/kind.js';
import type { ConnectedHost, HostRecord } from '../../services/store/replica.js';
import type { RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { zodRoute } from '../validation.js';

/** What the hosts routes need (distributed mode): the replica's hosts, and who Redis says is connected. */
export interface HostDirectory {
  list(): HostRecord[];
  /** The hosts connected now, with the epoch of the log each runs; null when Redis cannot say; throws when Redis is down. */
  connected(): Promise<readonly ConnectedHost[] | null>;
  /** Retires every actor of a host; undefined for a host never seen. */
  forget(id: string): { retired: number } | undefined;
}

export const HostParamsSchema = z.object({ id: HostIdSchema });

export const HostViewSchema = z.object({
  id: z.string(),
  /** The epoch of the log it writes now (null: forgotten, or nothing seen yet). */
  epoch: z.string().nullable(),
  /** Connected to Redis right now (null: Redis cannot say). */
  connected: z.boolean().nullable(),
  /** Its live actors. */
  actors: z.number().int(),
  /** Actors of its old or forgotten logs, shown as retired. */
  retired: z.number().int(),
  epochs: z.array(z.object({ epoch: z.string(), retiredAt: z.string().nullable(), reason: z.enum(['new-log', 'forgotten']).nullable() })),
});
export type HostView = z.infer<typeof HostViewSchema>;

export const ForgetResultSchema = z.object({ id: z.string(), retired: z.number().int() });
export const HostListSchema = z.object({ hosts: z.array(HostViewSchema) });

const redisError = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * GET /api/hosts: every host the gateway has seen (its log's epoch, whether it is connected, its
 * actors). POST /api/hosts/:id/forget: a host gone for good; its actors are retired (they stay
 * listed as retired; their names can be used again). A host that is connected is not forgotten.
 */
export function hostRoutePlugin(dir: HostDirectory): RoutePlugin {
  return (app) => {
    app.route({
      method: 'GET',
      url: '/api/hosts',
      ...zodRoute({ response: HostListSchema }, async () => {
        let connected: readonly ConnectedHost[] | null;
        try {
          connected = await dir.connected();
        } catch {
          connected = null; // Redis down: the list still says what the log knows
        }
        const up = connected && new Set(connected.map((c) => c.host));
        const known = dir.list();
        const hosts: HostView[] = known.map((h) => ({ ...h, connected: up ? up.has(h.id) : null }));
        for (const c of connected ?? []) {
          if (!hosts.some((h) => h.id === c.host)) hosts.push({ id: c.host, epoch: c.epoch, connected: true, actors: 0, retired: 0, epochs: [] });
        }
        return { hosts: hosts.sort((a, b) => a.id.localeCompare(b.id)) };
      }),
    });

    app.route({
      method: 'POST',
      url: '/api/hosts/:id/forget',
      ...zodRoute({ params: HostParamsSchema, response: ForgetResultSchema }, async ({ params }) => {
        let connected: readonly ConnectedHost[] | null;
        try {
          connected = await dir.connected();
        } catch (err) {
          throw new ApiError(503, 'unavailable', `cannot tell whether host ${params.id} is connected (Redis: ${redisError(err)}); nothing was forgotten, try again when Redis is back`);
        }
        if (!connected) throw new ApiError(503, 'unavailable', `cannot tell whether host ${params.id} is connected (this Redis does not list its clients); nothing was forgotten`);
        if (connected.some((c) => c.host === params.id)) {
          throw ApiError.conflict(`host ${params.id} is connected right now; stop it first (f host forget is for a host that is gone for good)`);
        }
        const done = dir.forget(params.id);
        if (!done) throw ApiError.notFound(`no host named ${params.id} has written to this gateway's log`);
        return { id: params.id, retired: done.retired };
      }),
    });
  };
}
