import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { GatewayContext } from '../context.js';
import { zodRoute } from '../validation.js';
import { publicRoute } from '../auth/guard.js';

export const HealthSchema = z.object({
  ok: z.literal(true),
  epoch: z.string(),
  head: z.number().int().nonnegative(),
  clients: z.object({ sse: z.number().int(), ws: z.number().int(), cutOffSlow: z.number().int() }),
});
export type Health = z.infer<typeof HealthSchema>;

/** `GET /api/health`: cheap, public (a CLI or a supervisor has no token), and enough to know Flow is up. */
export async function healthRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/health',
    ...publicRoute(zodRoute({ response: HealthSchema }, (): Health => ({ ok: true, epoch: ctx.deps.log.epoch, head: ctx.deps.log.headPosition(), clients: ctx.clients.stats() }))),
  });
}
