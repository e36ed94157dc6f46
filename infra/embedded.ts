import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { buildGateway } from '../gateway/app.js';
import { createGatewayAuth } from '../gateway/auth/index.js';
import { gatewayExposure, openBindRefusal } from '../gateway/auth/exposure.js';
import { TaskBoard } from '../services/taskboard/index.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { ActorHost } from '../services/host/actor-host.js';
import { ActorReadModel } from '../services/host/actor-read-model.js';
import { InProcessCommandQueue } from '../services/queue/in-process.js';
import type { EventStore } from '../services/store/event-store.js';
import type { ReadModel } from '../services/store/read-model.js';
import { allowedHosts, DEFAULT_BIND, DEFAULT_PORT, flowPaths } from './config.js';
import { flowRoutes } from './gateway-routes.js';
import { hostKindServices } from './kind-services.js';
import { closeInOrder } from './lifetime.js';
import { acquireHostLock, updateLockUrl } from './lock.js';
import { openFlowStore } from './open-store.js';

export interface EmbeddedOptions {
  port?: number;
  bind?: string;
  hostId?: string;
  log?: (line: string) => void;
}

export interface Embedded {
  url: string;
  store: EventStore;
  host: ActorHost;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * The default mode: one process, nothing but Node. SQLite log, in-process bus and queue,
 * the actor host and the gateway.
 */
export async function startEmbedded(opts: EmbeddedOptions = {}): Promise<Embedded> {
  const paths = flowPaths();
  const port = opts.port ?? DEFAULT_PORT;
  const bind = opts.bind ?? DEFAULT_BIND;
  const openBind = openBindRefusal(paths.home, bind);
  if (openBind) throw new Error(openBind);
  const hosts = allowedHosts();
  const releaseLock = acquireHostLock(join(paths.home, 'host.lock'), `http://${bind}:${port}`);
  const store = openFlowStore({ host: opts.hostId });
  const live = new InProcessLiveBus();
  let boundPort = port;
  const { backends, opencode, refuseExposure, all } = hostKindServices({ home: paths.home, live, log: opts.log, gatewayPort: () => boundPort });
  let host: ActorHost;
  try {
    host = await ActorHost.start({ store, live, services: all, log: opts.log });
  } catch (err) {
    store.close();
    releaseLock();
    throw err;
  }
  const actors = new ActorReadModel(store);
  const readModel: ReadModel = {
    listActors: (streamType) => actors.listActors(streamType),
    getActor: (streamId) => actors.getActor(streamId),
    outputLines: (streamId, limit) => backends.outputs()?.lines(streamId, limit) ?? [],
  };
  const commands = new InProcessCommandQueue(host);
  const board = new TaskBoard({ live, onError: (err) => opts.log?.(`task board: ${String(err)}`) });
  await board.start();
  const exposure = gatewayExposure({ bind, port: () => boundPort, tunnels: () => readModel.listActors('tunnel') });
  const auth = createGatewayAuth({ home: paths.home, db: store.db, exposure });
  const app = await buildGateway({
    log: store,
    readModel,
    commands,
    live,
    auth,
    allowedHosts: hosts,
    logError: opts.log,
    extraRoutes: flowRoutes({ home: paths.home, board, refuse: refuseExposure, opencode: opencode.runtime }),
  });
  let url: string;
  try {
    const address = await app.listen({ port, host: bind });
    url = address.replace('[::1]', 'localhost');
    boundPort = Number(new URL(url).port) || port;
  } catch (err) {
    await board.close();
    await host.stop();
    store.close();
    releaseLock();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} on ${bind} is already in use; choose another with --port (or FLOW_PORT)`);
    }
    throw err;
  }
  updateLockUrl(join(paths.home, 'host.lock'), url);
  let closing: Promise<void> | null = null;
  return {
    url,
    store,
    host,
    app,
    close: () =>
      (closing ??= closeInOrder([
        () => commands.close(),
        () => app.close(),
        () => board.close(),
        () => host.stop(),
        () => live.close(),
        () => store.close(),
        releaseLock,
      ])),
  };
}
