import type { Command } from '../actors/index.js';
import type { SubmitOptions } from '../services/queue/types.js';
import type { ActorListing } from '../services/store/read-model.js';
import type { GatewayContext } from './context.js';
import { ApiError } from './errors.js';

/**
 * The whole of what a command route does once its input is parsed: hand the command to the host
 * (the only judge of whether it applies: a refusal comes back as its 409, 404 or 400 and is
 * answered as it is), then show the actor as the gateway's read model has it after the command.
 */
export async function submitAndView<V>(ctx: GatewayContext, command: Command, view: (row: ActorListing) => V, opts: Omit<SubmitOptions, 'by'> = {}): Promise<V> {
  const result = await ctx.deps.commands.submit(command, { by: 'api', ...opts });
  if (!result.ok) throw ApiError.fromCommand(result);
  const row = ctx.deps.readModel.getActor(result.streamId);
  if (row) return view(row);
  // A read model fed from elsewhere (distributed mode) may not have caught up yet.
  throw new ApiError(
    503,
    'unavailable',
    `${result.streamId} was updated (version ${result.version}) but the gateway's copy of the log has not caught up (is NATS reachable?); do not repeat the command, read it again shortly`,
  );
}
