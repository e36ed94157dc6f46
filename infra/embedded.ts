import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { buildGateway } from '../gateway/app.js';
import { backendChildServices } from '../services/backend-child/index.js';
import { gatewayExposureGuard, tunnelDepsFromEnv, tunnelServices } from '../services/tunnel/index.js';
import { tunnelRoutePlugin } from '../gateway/routes/tunnels.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { ActorHost } from '../services/host/actor-host.js';
import { readActor, readActors } from '../services/host/actor-projection.js';
import { InProcessCommandQueue } from '../services/queue/in-process.js';
import type { EventStore } from '../services/store/event-store.js';
import type { ReadModel } from '../services/store/read-model.js';
import { DEFAULT_BIND, DEFAULT_PORT, flowPaths } from './config.js';
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
  const releaseLock = acquireHostLock(join(paths.home, 'host.lock'), `http://${bind}:${port}`);
  const store = openFlowStore({ host: opts.hostId });
  const live = new InProcessLiveBus();
  const backends = backendChildServices({ live });
  // No password can be set yet (auth is not wired), so a tunnel to the gateway itself is refused.
  let boundPort = port;
  const refuseExposure = gatewayExposureGuard({ gatewayPort: () => boundPort, hasPassword: () => false });
  const tunnels = tunnelServices({ ...tunnelDepsFromEnv(paths.home), refuse: refuseExposure });
  let host: ActorHost;
  try {
    host = await ActorHost.start({ store, live, services: [backends, tunnels], log: opts.log });
  } catch (err) {
    store.close();
    releaseLock();
    throw err;
  }
  const readModel: ReadModel = {
    listActors: (streamType) => readActors(store.db, streamType),
    getActor: (streamId) => readActor(store.db, streamId),
    outputLines: (streamId, limit) => backends.outputs()?.lines(streamId, limit) ?? [],
  };
  const commands = new InProcessCommandQueue(host);
  const app = await buildGateway({ log: store, readModel, commands, live, extraRoutes: [tunnelRoutePlugin({ refuse: refuseExposure })] });
  let url: string;
  try {
    const address = await app.listen({ port, host: bind });
    url = address.replace('[::1]', 'localhost');
    boundPort = Number(new URL(url).port) || port;
  } catch (err) {
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
      (closing ??= (async () => {
        await commands.close();
        await app.close();
        await host.stop();
        await live.close();
        store.close();
        releaseLock();
      })()),
  };
}
