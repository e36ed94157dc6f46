import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CommandResultSchema } from '../../services/host/commands.js';
import type { CommandStatus } from '../../services/queue/types.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { zodRoute } from '../validation.js';
import { responds } from '../openapi.js';

/** What became of a queued command (services/queue's CommandStatus). */
export const CommandStatusSchema = z.object({
  id: z.string(),
  queue: z.string(),
  state: z.enum(['waiting', 'delayed', 'active', 'completed', 'failed', 'unknown']),
  attempts: z.number().int(),
  result: CommandResultSchema.optional(),
  failedReason: z.string().optional(),
}) satisfies z.ZodType<CommandStatus>;

export const CommandParamsSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a command id is the id a 504 answer gave') });

/**
 * `GET /api/commands/:id`: what became of a command that went through the queue (distributed
 * mode), e.g. one whose result did not arrive before the API answered 504.
 */
export async function commandRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/commands/:id',
    ...responds({ 503: 'the command queue cannot be read' }, zodRoute({ params: CommandParamsSchema, response: CommandStatusSchema }, async ({ params }) => {
      const status = ctx.deps.commands.status;
      if (!status) throw ApiError.notFound(`no command ${params.id}: in embedded mode commands finish before the API answers, so none is ever pending`);
      const found = await status.call(ctx.deps.commands, params.id).catch((err: unknown) => {
        throw new ApiError(503, 'unavailable', `the command queue is unavailable: ${err instanceof Error ? err.message : String(err)}`);
      });
      if (!found) throw ApiError.notFound(`no command ${params.id} (finished commands are kept for a day, failed ones for a week)`);
      return found;
    })),
  });
}
