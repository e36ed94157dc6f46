import type { OpencodeRuntime } from '../../../services/opencode/runtime.js';
import type { RoutePlugin } from '../../context.js';
import { attentionRoutes } from './attention.js';
import { instanceRoutes } from './instances.js';
import { sessionRoutes } from './sessions.js';

/**
 * /api/instances, /api/sessions and /api/attention (seed 004) as one gateway RoutePlugin: the
 * instances' lifecycle and every session call go through the host as commands, so a gateway
 * anywhere serves them; `runtime` (the OpenCode processes of a host in this process, if any)
 * serves the reads that need a process: tool parts, diffs, models.
 */
export function opencodeRoutePlugin(runtime?: OpencodeRuntime): RoutePlugin {
  return async (app, ctx) => {
    await instanceRoutes(app, ctx, runtime);
    await sessionRoutes(app, ctx, runtime);
    await attentionRoutes(app, ctx);
  };
}
