import Fastify, { type FastifyInstance } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { installJsonBodyParser } from './json-body.js';
import { DEFAULT_OPTIONS, type GatewayContext, type GatewayDeps, type RoutePlugin } from './context.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandlers, stderrErrorLog } from './errors.js';
import { flowAuthPlugin } from './auth/index.js';
import { originFormUrl, tunnelHosts } from './auth/host.js';
import { flowSsePlugin } from './streams/sse-plugin.js';
import { ClientRegistry } from './streams/clients.js';
import { healthRoutes } from './routes/health.js';
import { backendRoutes } from './routes/backends.js';
import { eventRoutes } from './routes/events.js';
import { wsRoutes } from './routes/ws.js';
import { appProxyRoutes } from './routes/app-proxy.js';
import { docsRoutes } from './routes/docs.js';
import { collectRoutes, documentResponses } from './openapi.js';
import { actorRoutes } from './routes/actors.js';
import { webRoutes } from './routes/web.js';
import { commandRoutes } from './routes/commands.js';

export type { GatewayDeps, GatewayOptions, GatewayContext, RoutePlugin } from './context.js';

/** /app/<backend>/api/*: whatever the backend answers is passed on. */
const proxyRoutes: RoutePlugin = async (scope, ctx) => {
  const responses = { default: 'whatever the backend answers, passed on as it is', 502: 'the backend is not running, has no port, or did not answer' };
  documentResponses(scope, { '/app/:backend/api': responses, '/app/:backend/api/*': responses });
  await appProxyRoutes(scope, ctx);
};

/** The built-in routes, in registration order; `deps.extraRoutes` are registered after them. */
export const coreRoutes: readonly RoutePlugin[] = [healthRoutes, backendRoutes, eventRoutes, wsRoutes, actorRoutes, commandRoutes, proxyRoutes, docsRoutes, webRoutes];

/** Client messages on /api/ws are small subscribe requests; anything bigger is not one. */
const WS_MAX_PAYLOAD = 64 * 1024;

/**
 * The Fastify app: REST under /api, SSE at /api/events, WebSocket at /api/ws. Not listening:
 * the caller chooses where (`app.listen({ host: '127.0.0.1', port })`).
 */
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const options = { ...DEFAULT_OPTIONS, ...deps.options };
  const logError = deps.logError ?? stderrErrorLog;
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: options.bodyLimitBytes,
    // Keep-alive connections with no request in flight do not hold up close().
    forceCloseConnections: 'idle',
    // `POST http://x/api/... HTTP/1.1` is routed as the path it names; the host guard judges x.
    rewriteUrl: originFormUrl,
    // A request with no Host is refused by the host guard, in Flow's shape, not by Node with an empty 400.
    http: { requireHostHeader: false },
    frameworkErrors: frameworkErrorHandler(logError),
    clientErrorHandler,
  });
  const ctx: GatewayContext = { deps, options, clients: new ClientRegistry() };

  installErrorHandlers(app, logError);
  installJsonBodyParser(app);
  // Before any route: every route lands in app.routeTable (OpenAPI, route-table tests).
  collectRoutes(app);

  // WebSockets never finish on their own: they get 1001 (and are terminated if they do not
  // complete the close), or close() would wait for clients that never leave. Added before the
  // WebSocket plugin so it runs before the plugin's own preClose. SSE streams: flowSse ends them.
  app.addHook('preClose', (done) => {
    ctx.clients.endAll('ws');
    done();
  });
  await app.register(flowSsePlugin, { clients: ctx.clients, capBytes: options.maxClientBufferBytes, heartbeatMs: options.heartbeatMs });
  await app.register(fastifyWebsocket, { options: { maxPayload: WS_MAX_PAYLOAD } });
  await app.register(flowAuthPlugin, { hosts: { allowed: deps.allowedHosts ?? [], exposedAs: tunnelHosts(deps.readModel) }, auth: deps.auth });

  for (const plugin of [...coreRoutes, ...(deps.extraRoutes ?? [])]) {
    await app.register(async (scope) => plugin(scope, ctx));
  }
  return app;
}
