import type { RoutePlugin } from '../gateway/app.js';
import { catalogRoutes } from '../gateway/routes/catalog.js';
import { installRoutes } from '../gateway/routes/installs.js';
import { defaultHostId } from './host-id.js';
import { dirRoots } from './config.js';
import { fsRoutePlugin } from '../gateway/routes/fs.js';
import { opencodeRoutePlugin } from '../gateway/routes/opencode/index.js';
import { featureRoutePlugin, type FeaturesSetting } from '../gateway/routes/features.js';
import { taskRoutePlugin } from '../gateway/routes/tasks.js';
import { tunnelRoutePlugin } from '../gateway/routes/tunnels.js';
import { relayHandleRoutePlugin } from '../gateway/routes/relay-handles.js';
import { relayTokenStore } from '../services/tunnel/tokens.js';
import type { OpencodeRuntime } from '../services/opencode/runtime.js';
import type { TaskBoard } from '../services/taskboard/index.js';

/** The routes beyond the core ones: installs, catalog, task board, features, tunnels, relay handles, the directory picker and OpenCode. */
/** `opencode`: the OpenCode processes of a host in this process (f up); none for `f gateway` alone, which still serves every session call through the host. */
export function flowRoutes(opts: { home: string; board: TaskBoard; refuse: (port: number) => string | null; opencode?: OpencodeRuntime; features: FeaturesSetting }): RoutePlugin[] {
  return [
    (scope, ctx) => installRoutes(scope, { home: opts.home, host: defaultHostId(), readModel: ctx.deps.readModel }),
    (scope) => catalogRoutes(scope, { home: opts.home }),
    taskRoutePlugin({ board: opts.board, home: opts.home }),
    featureRoutePlugin(opts.features, opts.board),
    tunnelRoutePlugin({ refuse: opts.refuse }),
    relayHandleRoutePlugin({ tokens: relayTokenStore(opts.home), defaultRelay: process.env.FLOW_RELAY_URL }),
    fsRoutePlugin({ roots: () => dirRoots() }),
    opencodeRoutePlugin(opts.opencode),
  ];
}
