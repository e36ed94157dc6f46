import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { buildGateway } from '../gateway/app.js';
import { createGatewayAuth } from '../gateway/auth/index.js';
import { gatewayExposure, openBindRefusal } from '../gateway/auth/exposure.js';
import { TaskBoard } from '../services/taskboard/index.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { ActorHost } from '../services/host/actor-host.js';
import { ActorReadModel } from '../services/store/actor-read-model.js';
import { InProcessCommandQueue } from '../services/queue/in-process.js';
import type { EventStore } from '../services/store/event-store.js';
import type { ReadModel } from '../services/store/read-model.js';
import { FeatureService } from '../services/features/index.js';
import { allowedHosts, DEFAULT_BIND, DEFAULT_PORT, featuresEnabled, flowPaths, publicDir } from './config.js';
import type { BackgroundVerify } from '../services/host/background-verify.js';
import { verifyAfterStart } from './verify-after-start.js';
import { flowRoutes } from './gateway-routes.js';
import { hostKinds } from './kinds.js';
import { startWithin, type Lifetime } from './lifetime.js';
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
  /** The verification of the stored snapshots that runs after start (null when FLOW_VERIFY_ON_START=0). */
  verify: BackgroundVerify | null;
  close(): Promise<void>;
}

/**
 * The default mode: one process, nothing but Node. SQLite log, in-process bus and queue,
 * the actor host and the gateway.
 */
export function startEmbedded(opts: EmbeddedOptions = {}): Promise<Embedded> {
  return startWithin((life) => openEmbedded(life, opts));
}

/**
 * Each part is deferred as soon as it is open, so close (or a failed start) runs
 * commands → app → board → host → bus → store → lock.
 */
async function openEmbedded(life: Lifetime, opts: EmbeddedOptions): Promise<Embedded> {
  const paths = flowPaths();
  const port = opts.port ?? DEFAULT_PORT;
  const bind = opts.bind ?? DEFAULT_BIND;
  const openBind = openBindRefusal(paths.home, bind);
  if (openBind) throw new Error(openBind);
  const hosts = allowedHosts();
  const frontend = publicDir();
  life.defer(acquireHostLock(join(paths.home, 'host.lock'), `http://${bind}:${port}`));
  const store = openFlowStore({ host: opts.hostId });
  life.defer(() => store.close());
  const live = new InProcessLiveBus();
  life.defer(() => live.close());
  let boundPort = port;
  const wired = hostKinds({ home: paths.home, live, log: opts.log, gatewayPort: () => boundPort });
  const host = await ActorHost.start({ store, live, services: wired.services, log: opts.log });
  life.defer(() => host.stop());
  const actors = new ActorReadModel(store);
  const readModel: ReadModel = {
    listActors: (streamType) => actors.listActors(streamType),
    getActor: (streamId) => actors.getActor(streamId),
    outputLines: (streamId, limit) => wired.outputLines(streamId, limit),
  };
  const commands = new InProcessCommandQueue(host);
  const board = new TaskBoard({ live, onError: (err) => opts.log?.(`task board: ${String(err)}`) });
  // Deferred before it starts: a start that fails with one watcher up still closes it.
  life.defer(() => board.close());
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
    backendMetrics: (streamId) => wired.backendMetrics(streamId),
    publicDir: frontend,
    logError: opts.log,
    extraRoutes: flowRoutes({ home: paths.home, board, refuse: wired.refuseExposure, opencode: wired.opencode, features: featuresEnabled() ? { on: new FeatureService(store, live) } : { off: 'disabled' } }),
  });
  life.defer(() => app.close());
  // Last opened, first closed: no command reaches the host once the close has begun.
  life.defer(() => commands.close());
  let url: string;
  try {
    const address = await app.listen({ port, host: bind });
    url = address.replace('[::1]', 'localhost');
    boundPort = Number(new URL(url).port) || port;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} on ${bind} is already in use; choose another with --port (or FLOW_PORT)`);
    }
    throw err;
  }
  updateLockUrl(join(paths.home, 'host.lock'), url);
  // Serving now; the full fold checks the snapshots recovery started from, at low priority.
  const verify = verifyAfterStart(store, host, opts.log);
  if (verify) life.defer(() => verify.stop());
  return { url, store, host, app, verify, close: () => life.close() };
}
