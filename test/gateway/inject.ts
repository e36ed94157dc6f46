import type { FastifyInstance, InjectOptions } from 'fastify';
import { join } from 'node:path';
import { kindFor } from '../../actors/index.js';
import { buildGateway, type RoutePlugin } from '../../gateway/app.js';
import { createGatewayAuth } from '../../gateway/auth/index.js';
import { setPassword } from '../../services/auth/password.js';
import { opencodeRoutePlugin } from '../../gateway/routes/opencode/index.js';
import { tunnelRoutePlugin } from '../../gateway/routes/tunnels.js';
import { hostKindServices } from '../../infra/kind-services.js';
import { startWithin } from '../../infra/lifetime.js';
import { FeatureProjector } from '../../services/features/index.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorHost } from '../../services/host/actor-host.js';
import { ActorProjector } from '../../services/host/actor-projection.js';
import { ActorReadModel } from '../../services/host/actor-read-model.js';
import { InProcessCommandQueue } from '../../services/queue/in-process.js';
import { EventStore, type SqliteEventStore } from '../../services/store/event-store.js';
import { tempDir } from '../support/tmp.js';

/**
 * The route tier: the whole gateway (every hook, the validation, the error mapping) in front of a
 * real actor host on a temp SQLite store, commands through the in-process queue, requests sent
 * with `app.inject` (no socket, no port). Fast enough to specify every route's answers.
 */
export interface InjectedGateway {
  app: FastifyInstance;
  host: ActorHost;
  store: EventStore;
  /** A directory of this gateway's own, for backends' cwd and instances' directories. */
  dir: string;
  /** One request; the body is parsed as JSON when there is one. */
  call<T = unknown>(method: InjectOptions['method'], url: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export interface InjectOptionsForGateway {
  /** Turn the login on with this password ($FLOW_HOME/auth); requests then need a token. */
  password?: string;
  /** More routes (the task board's, the features'), registered after the default ones. */
  extraRoutes?: RoutePlugin[];
  /** Routes that need this gateway's own store or bus (the features'). */
  routes?: (parts: { store: SqliteEventStore; live: InProcessLiveBus; dir: string }) => RoutePlugin[];
  /** A user's own frontend at `/` (PUBLIC_DIR). */
  publicDir?: string;
  /** The live bus to use (the default: one of its own). */
  live?: InProcessLiveBus;
}

export function injectGateway(opts: InjectOptionsForGateway = {}): Promise<InjectedGateway> {
  return startWithin(async (life) => {
    const tmp = tempDir('flow-route-tier-');
    life.defer(() => tmp.cleanup());
    if (opts.password) await setPassword(tmp.dir, opts.password);
    const store = EventStore.open(join(tmp.dir, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor), new FeatureProjector()], pollMs: 0 });
    life.defer(() => store.close());
    const live = opts.live ?? new InProcessLiveBus();
    if (!opts.live) life.defer(() => live.close());
    const services = hostKindServices({ home: tmp.dir, live, log: () => {}, gatewayPort: () => -1 });
    const host = await ActorHost.start({ store, live, services: services.all, log: () => {} });
    life.defer(() => host.stop());
    const actors = new ActorReadModel(store);
    const commands = new InProcessCommandQueue(host);
    const app = await buildGateway({
      log: store,
      readModel: { listActors: (t) => actors.listActors(t), getActor: (id) => actors.getActor(id), outputLines: () => [] },
      commands,
      live,
      publicDir: opts.publicDir,
      auth: opts.password ? createGatewayAuth({ home: tmp.dir, db: store.db }) : undefined,
      extraRoutes: [tunnelRoutePlugin({ refuse: services.refuseExposure }), opencodeRoutePlugin(services.opencode.runtime), ...(opts.extraRoutes ?? []), ...(opts.routes?.({ store, live, dir: tmp.dir }) ?? [])],
    });
    life.defer(() => app.close());
    life.defer(() => commands.close());
    await app.ready();
    return {
      app,
      host,
      store,
      dir: tmp.dir,
      async call<T>(method: InjectOptions['method'], url: string, body?: unknown) {
        const payload = body === undefined ? {} : typeof body === 'string' ? { payload: body, headers: { 'content-type': 'application/json' } } : { payload: body as object };
        const res = await app.inject({ method, url, ...payload });
        return { status: res.statusCode, body: (res.body ? res.json() : null) as T };
      },
      close: () => life.close(),
    };
  });
}
