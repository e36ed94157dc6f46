import Fastify, { type FastifyInstance } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { DEFAULT_OPTIONS, type GatewayContext, type GatewayDeps, type RoutePlugin } from './context.js';
import { installErrorHandlers } from './errors.js';
import { ClientRegistry } from './streams/clients.js';
import { healthRoutes } from './routes/health.js';
import { backendRoutes } from './routes/backends.js';
import { eventRoutes } from './routes/events.js';
import { wsRoutes } from './routes/ws.js';
import { appProxyRoutes } from './routes/app-proxy.js';
import { docsRoutes } from './routes/docs.js';
import { collectRoutes } from './openapi.js';
import { actorRoutes } from './routes/actors.js';
import { webRoutes } from './routes/web.js';
import { commandRoutes } from './routes/commands.js';

export type { GatewayDeps, GatewayOptions, GatewayContext, RoutePlugin } from './context.js';

/** The built-in routes, in registration order; `deps.extraRoutes` are registered after them. */
export const coreRoutes: readonly RoutePlugin[] = [healthRoutes, backendRoutes, eventRoutes, wsRoutes, actorRoutes, commandRoutes, appProxyRoutes, docsRoutes, webRoutes];

/** Client messages on /api/ws are small subscribe requests; anything bigger is not one. */
const WS_MAX_PAYLOAD = 64 * 1024;

/**
 * The Fastify app: REST under /api, SSE at /api/events, WebSocket at /api/ws. Not listening:
 * the caller chooses where (`app.listen({ host: '127.0.0.1', port })`).
 */
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const options = { ...DEFAULT_OPTIONS, ...deps.options };
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: options.bodyLimitBytes,
    // Keep-alive connections with no request in flight do not hold up close().
    forceCloseConnections: 'idle',
  });
  const ctx: GatewayContext = { deps, options, clients: new ClientRegistry() };

  installErrorHandlers(app);
  // Before any route: every route lands in app.routeTable (OpenAPI, route-table tests).
  collectRoutes(app);

  // Streams never finish on their own: end them, or close() would wait for clients that never
  // leave. SSE responses are ours to end; WebSockets get 1001 (and are terminated if they do not
  // complete the close). Added before the plugin so it runs before the plugin's own preClose.
  app.addHook('preClose', (done) => {
    ctx.clients.endAll();
    done();
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: WS_MAX_PAYLOAD } });
  // After the WebSocket plugin, whose own onRequest hook marks upgrades so that a refused one
  // has its socket destroyed; before every route, so nothing (no 101, no body) precedes it.
  if (deps.auth) app.addHook('onRequest', deps.auth.onRequest);

  for (const plugin of [...coreRoutes, ...(deps.auth ? [deps.auth.routes] : []), ...(deps.extraRoutes ?? [])]) {
    await app.register(async (scope) => plugin(scope, ctx));
  }
  return app;
}
