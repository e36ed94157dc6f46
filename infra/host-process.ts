import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { flowNames } from '../services/bus/names.js';
import { JetStreamPublisher } from '../services/bus/jetstream-publisher.js';
import { connectNats, ensureEventStream, NatsLiveBus } from '../services/bus/nats.js';
import { ActorHost } from '../services/host/actor-host.js';
import { CommandWorkers } from '../services/queue/bullmq.js';
import type { EventStore } from '../services/store/event-store.js';
import { flowPaths, parseEnv, type DistributedUrls, featuresEnabled } from './config.js';
import { defaultHostId } from './host-id.js';
import { hostKinds, type HostKinds } from './kinds.js';
import { startWithin, stderrLog } from './lifetime.js';
import { acquireHostLock } from './lock.js';
import { openFlowStore } from './open-store.js';
import { FeatureService } from '../services/features/index.js';
import { verifyAfterStart } from './verify-after-start.js';

export interface HostProcessOptions extends DistributedUrls {
  hostId?: string;
  log?: (line: string) => void;
  /** The gateway's port when it runs in the same process (a tunnel to it needs a password). */
  gatewayPort?: () => number;
}

export interface HostProcess {
  hostId: string;
  store: EventStore;
  host: ActorHost;
  nc: NatsConnection;
  live: NatsLiveBus;
  publisher: JetStreamPublisher;
  kinds: HostKinds;
  /** Features in this host's log (FLOW_FEATURES=1), for a gateway in the same process. */
  features?: FeatureService;
  close(): Promise<void>;
}

/**
 * `f host`: an actor host in distributed mode. Its own SQLite log for the processes it owns,
 * drained to JetStream; commands from its BullMQ queues; live output on core NATS. Durable
 * timers stay in its log's timers table (written in the same transaction as the event that
 * armed them), so a restart re-arms them without a second store to keep in step.
 *
 * Each part is deferred as it opens, so a close (or a failed start) runs workers first (running
 * jobs finish), then the host (its processes' exits are recorded), then gives the publisher a
 * moment to send those last events, then the rest, the lock last.
 */
export async function startHostProcess(opts: HostProcessOptions): Promise<HostProcess> {
  const paths = flowPaths();
  const hostId = opts.hostId ?? defaultHostId();
  const names = flowNames(opts.prefix);
  const log = opts.log ?? stderrLog(`flow host ${hostId}`);
  const releaseLock = acquireHostLock(join(paths.home, 'host.lock'), `host ${hostId}`);
  return startWithin(async (life) => {
    life.defer(releaseLock);
    const store = openFlowStore({ host: hostId });
    life.defer(() => store.close());
    const nc = await connectNats(opts.natsUrl, `flow-host-${hostId}`);
    life.defer(() => nc.drain().catch(() => nc.close()));
    await ensureEventStream(nc, names);
    const live = new NatsLiveBus(nc, names);
    life.defer(() => live.close());
    const kinds = hostKinds({ home: paths.home, live, log, gatewayPort: opts.gatewayPort ?? (() => -1) });
    // Publishing starts before recovery, so what recovery records goes out as it happens.
    const publisher = new JetStreamPublisher(store, nc, names, { log }).start();
    life.defer(() => publisher.close());
    // After the host has stopped: the last events (its processes' exits) get a moment to go out.
    life.defer(() => Promise.race([publisher.idle(), new Promise((r) => setTimeout(r, 2000).unref())]));
    const host = await ActorHost.start({ store, live, services: kinds.services, log });
    life.defer(() => host.stop());
    const workers = new CommandWorkers({ redisUrl: opts.redisUrl, names, hostId, epoch: store.epoch, handler: host, lockMs: parseEnv().FLOW_QUEUE_LOCK_MS, log });
    life.defer(() => workers.close());
    await workers.start();
    const verify = verifyAfterStart(store, host, log);
    if (verify) life.defer(() => verify.stop());
    const features = featuresEnabled() ? new FeatureService(store, live) : undefined;
    return { hostId, store, host, nc, live, publisher, kinds, features, close: () => life.close() };
  });
}
