import type { FastifyInstance } from 'fastify';
import type { RoutePlugin } from '../gateway/app.js';
import { ApiError } from '../gateway/errors.js';
import { catalogRoutes } from '../gateway/routes/catalog.js';
import { installRoutes } from '../gateway/routes/installs.js';
import { defaultHostId } from './host-id.js';
import { dirRoots } from './config.js';
import { fsRoutePlugin } from '../gateway/routes/fs.js';
import { opencodeRoutePlugin } from '../gateway/routes/opencode/index.js';
import { featureRoutePlugin, type FeaturesSetting } from '../gateway/routes/features.js';
import { taskRoutePlugin } from '../gateway/routes/tasks.js';
import { tunnelRoutePlugin } from '../gateway/routes/tunnels.js';
import type { OpencodeRuntime } from '../services/opencode/runtime.js';
import type { TaskBoard } from '../services/taskboard/index.js';

/** The routes beyond the core ones: installs, catalog, task board, features, tunnels, the directory picker and OpenCode. */
export function flowRoutes(opts: { home: string; board: TaskBoard; refuse: (port: number) => string | null; opencode?: OpencodeRuntime; features: FeaturesSetting }): RoutePlugin[] {
  return [
    (scope, ctx) => installRoutes(scope, { home: opts.home, host: defaultHostId(), readModel: ctx.deps.readModel }),
    (scope) => catalogRoutes(scope, { home: opts.home }),
    taskRoutePlugin({ board: opts.board, home: opts.home }),
    featureRoutePlugin(opts.features, opts.board),
    tunnelRoutePlugin({ refuse: opts.refuse }),
    fsRoutePlugin({ roots: () => dirRoots() }),
    opts.opencode ? opencodeRoutePlugin(opts.opencode) : opencodeElsewhere,
  ];
}

/**
 * A gateway on its own (f gateway) does not talk to OpenCode servers: they listen on their
 * host's loopback. It says so instead of answering 404.
 */
async function opencodeElsewhere(app: FastifyInstance): Promise<void> {
  const refuse = () => {
    throw new ApiError(503, 'unavailable', 'OpenCode instances are served by a gateway that runs with their host: use "f up --nats ... --redis ..." on that machine, or the embedded "f up"');
  };
  const config = { refusesAll: true, responses: { 503: 'OpenCode instances are not served by this gateway (f gateway); use the one that runs with their host' } };
  for (const url of ['/api/instances', '/api/instances/*', '/api/sessions/*', '/api/attention']) app.all(url, { config }, refuse);
}
