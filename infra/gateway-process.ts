import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { commandTarget } from '../actors/index.js';
import { buildGateway } from '../gateway/app.js';
import { createGatewayAuth } from '../gateway/auth/index.js';
import { hostRoutePlugin } from '../gateway/routes/hosts.js';
import { gatewayExposure, openBindRefusal } from '../gateway/auth/exposure.js';
import { authIsConfigured } from '../services/auth/password.js';
import { JetStreamFeed, StreamReplacedError } from '../services/bus/jetstream-feed.js';
import { LiveOutputTail } from '../services/bus/live-tail.js';
import { LiveMetricsTail } from '../services/backend-child/metrics.js';
import { flowNames, hostQueue, type FlowNames } from '../services/bus/names.js';
import { connectNats, NatsLiveBus } from '../services/bus/nats.js';
import type { LiveBus } from '../services/bus/types.js';
import { ActorReadModel } from '../services/store/actor-read-model.js';
import { commandError, type Command, type CommandResult } from '../services/host/commands.js';
import type { OpencodeRuntime } from '../services/opencode/runtime.js';
import { BullCommandQueue, type Placement } from '../services/queue/bullmq.js';
import type { ReadModel } from '../services/store/read-model.js';
import type { ReplicaLog } from '../services/store/replica.js';
import { gatewayExposureGuard } from '../services/tunnel/index.js';
import { TaskBoard } from '../services/taskboard/index.js';
import type { FeatureService } from '../services/features/index.js';
import { allowedHosts, DEFAULT_BIND, DEFAULT_PORT, featuresEnabled, flowPaths, publicDir, type DistributedUrls } from './config.js';
import { flowRoutes } from './gateway-routes.js';
import { openReplica } from './open-store.js';
import { startWithin, stderrLog } from './lifetime.js';
import { acquireHostLock, updateLockUrl } from './lock.js';

export interface GatewayProcessOptions extends DistributedUrls {
  port?: number;
  bind?: string;
  log?: (line: string) => void;
  /** When a host runs in the same process (f up --nats --redis): its connection and OpenCode runtime. */
  nc?: NatsConnection;
  live?: LiveBus;
  opencode?: OpencodeRuntime;
  /** The host's features, when the host runs in this process (FLOW_FEATURES=1). */
  features?: FeatureService;
  refuse?: (port: number) => string | null;
  /** How long the API waits for a command's result (default 15 s). */
  resultTimeoutMs?: number;
}

export interface GatewayProcess {
  url: string;
  port: number;
  replica: ReplicaLog;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Placement: an existing actor's commands go to the host that owns it; a new one to the host
 * asked for, or one the queue picks. A retired actor (its host log was replaced or forgotten) has
 * no owner: removing it takes it out of the gateway's view, creating it again makes a new one.
 */
export function placeCommand(replica: ReplicaLog, command: Command, host: string | undefined): Placement {
  const target = commandTarget(command);
  if (!target) return commandError('invalid', `no actor kind handles the command ${command.type}`);
  const owner = replica.ownerOf(target.streamId);
  if (owner) {
    if (host && host !== owner) return commandError('conflict', `${target.streamId} belongs to host ${owner}; it cannot be placed on ${host}`);
    return { queue: hostQueue(owner), retry: true };
  }
  const retired = replica.holding(target.streamId)?.retired;
  if (retired && !target.creates) {
    if (!command.type.endsWith('.remove')) return commandError('conflict', `${target.streamId} is retired (${retired.message}): remove it, or create it again`);
    replica.dismiss(target.streamId);
    const last = replica.store.readStream(target.streamId).at(-1);
    return { ok: true, streamId: target.streamId, version: last?.version ?? 0, status: 'removed', position: last?.position ?? 0 };
  }
  if (!target.creates) return commandError('not_found', `${target.streamId} does not exist`);
  return host ? { queue: hostQueue(host), retry: true } : { anyHost: true };
}

/** The API's read model in distributed mode: actors from the replica, output lines from the live bus. */
export function replicaReadModel(replica: ReplicaLog, outputs: LiveOutputTail): ReadModel {
  const actors = new ActorReadModel(replica.store);
  return {
    listActors: (streamType) => actors.listActors(streamType),
    getActor: (streamId) => actors.getActor(streamId),
    outputLines: (streamId, limit) => outputs.tail(streamId, limit),
  };
}

/** Commands through BullMQ, placed by the replica's knowledge of who owns what, answered once the replica has the result. */
export function replicaCommandQueue(replica: ReplicaLog, opts: { redisUrl: string; names: FlowNames; resultTimeoutMs?: number; log?: (line: string) => void }): BullCommandQueue {
  return new BullCommandQueue({
    ...opts,
    place: (command, host) => placeCommand(replica, command, host),
    chooseHost: (hosts) => leastLoaded(replica, hosts),
    // Which log each connected host runs: a host back with a new log retires its old actors at once.
    onConnected: (hosts) => replica.observeConnected(hosts),
    watchHostsMs: 2000,
    // The API answers from the replica: wait until the command's event has arrived in it.
    settle: async (result: CommandResult) => {
      if (!result.ok) return result;
      const e = await replica.waitFor(result.streamId, result.version, 5000);
      return e ? { ...result, position: e.position } : result;
    },
    knownQueues: () => replica.hosts().map(hostQueue),
  });
}

/** The connected host that runs the fewest actors (ties: by name), for a new actor with no host named. */
export function leastLoaded(replica: ReplicaLog, hosts: readonly string[]): string {
  const load = new Map(hosts.map((h) => [h, 0]));
  for (const row of replica.store.actors()) if (load.has(row.host) && row.status !== 'removed' && replica.ownerOf(row.streamId) === row.host) load.set(row.host, load.get(row.host)! + 1);
  return [...load].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
}

/**
 * `f gateway`: the API and streams in distributed mode. Its read model is a replica of
 * FLOW_EVENTS in its own SQLite file ($FLOW_HOME/gateway.db) with a checkpoint, so a restart
 * picks up where it stopped; its commands go to the hosts through BullMQ.
 */
export async function startGatewayProcess(opts: GatewayProcessOptions): Promise<GatewayProcess> {
  const paths = flowPaths();
  const port = opts.port ?? DEFAULT_PORT;
  const bind = opts.bind ?? DEFAULT_BIND;
  const log = opts.log ?? stderrLog('flow gateway');
  const openBind = openBindRefusal(paths.home, bind);
  if (openBind) throw new Error(openBind);
  const hosts = allowedHosts();
  const lockPath = join(paths.home, 'gateway.lock');
  const releaseLock = acquireHostLock(lockPath, `http://${bind}:${port}`);
  const names = flowNames(opts.prefix);
  // Each part is deferred as it opens: a close, or a failed start, closes the newest first.
  return startWithin(async (life) => {
    life.defer(releaseLock);
    const nc = opts.nc ?? (await connectNats(opts.natsUrl, 'flow-gateway'));
    if (!opts.nc) life.defer(() => nc.drain().catch(() => nc.close()));
    let replica = openReplica(paths.gatewayDb, log);
    // The replica open when the close comes (a rebuilt one replaces the first).
    life.defer(() => replica.store.close());
    let feed = new JetStreamFeed(nc, names, replica, log);
    try {
      await feed.start();
    } catch (err) {
      if (!(err instanceof StreamReplacedError)) throw err;
      // The history this replica holds is gone from NATS: start a new one (a new epoch, so
      // resuming clients get an explicit reset).
      log(`${err.message}; rebuilding ${paths.gatewayDb}`);
      replica.store.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(paths.gatewayDb + suffix, { force: true });
      replica = openReplica(paths.gatewayDb, log);
      feed = new JetStreamFeed(nc, names, replica, log);
      await feed.start();
    }
    life.defer(() => feed.close());
    const live = opts.live ?? new NatsLiveBus(nc, names);
    const outputs = new LiveOutputTail(live);
    life.defer(() => outputs.close());
    const metrics = new LiveMetricsTail(live);
    life.defer(() => metrics.close());
    const readModel = replicaReadModel(replica, outputs);
    const commands = replicaCommandQueue(replica, { redisUrl: opts.redisUrl, names, resultTimeoutMs: opts.resultTimeoutMs, log });
    life.defer(() => commands.close());
    await commands.start();
    const board = new TaskBoard({ live, onError: (err) => log(`task board: ${String(err)}`) });
    life.defer(() => board.close());
    await board.start();
    let boundPort = port;
    const exposure = gatewayExposure({ bind, port: () => boundPort, tunnels: () => readModel.listActors('tunnel') });
    const auth = createGatewayAuth({ home: paths.home, db: replica.store.db, exposure });
    // The file, not auth.isConfigured(): a gateway that keeps a removed password (fail closed) takes no new exposure.
    const refuse = opts.refuse ?? gatewayExposureGuard({ gatewayPort: () => boundPort, hasPassword: () => authIsConfigured(paths.home) });
    const app = await buildGateway({
      log: replica.store,
      readModel,
      commands,
      live,
      auth,
      allowedHosts: hosts,
      backendMetrics: (streamId) => metrics.get(streamId),
      publicDir: publicDir(),
      logError: log,
      extraRoutes: [
        ...flowRoutes({ home: paths.home, board, refuse, opencode: opts.opencode, features: !featuresEnabled() ? { off: 'disabled' } : opts.features ? { on: opts.features } : { off: 'no-log' } }),
        hostRoutePlugin({ list: () => replica.hostList(), connected: () => commands.connected(), forget: (id) => replica.forget(id) }),
      ],
    });
    life.defer(() => app.close());
    let url: string;
    try {
      url = (await app.listen({ port, host: bind })).replace('[::1]', 'localhost');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`port ${port} on ${bind} is already in use; choose another with --port (or FLOW_PORT)`);
      throw err;
    }
    boundPort = Number(new URL(url).port) || port;
    updateLockUrl(lockPath, url);
    return { url, port: boundPort, replica, app, close: () => life.close() };
  });
}
