import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { kindFor } from '../../actors/index.js';
import { JetStreamFeed, StreamReplacedError } from '../../services/bus/jetstream-feed.js';
import { JetStreamPublisher } from '../../services/bus/jetstream-publisher.js';
import { flowNames } from '../../services/bus/names.js';
import { connectNats, ensureEventStream } from '../../services/bus/nats.js';
import { ActorProjector } from '../../services/store/projections.js';
import { EventStore } from '../../services/store/event-store.js';
import { ReplicaLog, type Delivered, type IngestResult } from '../../services/store/replica.js';
import { appendEvents, until } from '../gateway/harness.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

/**
 * From a host's log to a gateway's replica through a real NATS JetStream: the publisher drains
 * the log with a checkpoint and msgID = event id; the feed reads the stream from the replica's
 * checkpoint. Restarts on either side lose nothing and store nothing twice.
 */
const services = await serviceUrls();
const prefixes: string[] = [];

afterAll(async () => {
  if (services) for (const p of prefixes) await cleanupPrefix(services, p);
});

const quiet = () => {};

/** A replica that also records what the feed handed it, to tell where a feed started reading. */
class WatchedReplica extends ReplicaLog {
  readonly delivered: number[] = [];
  override ingest(batch: readonly Delivered[]): IngestResult {
    this.delivered.push(...batch.map((d) => d.seq));
    return super.ingest(batch);
  }
}

/**
 * One test's world: its own prefix (its own JetStream stream), a host's log in SQLite, a
 * gateway's replica in another SQLite file, connections for each side. Closed when the test ends.
 */
async function world() {
  const urls = services!;
  const prefix = uniquePrefix('pub');
  prefixes.push(prefix);
  const names = flowNames(prefix);
  const dir = tempDir('flow-publisher-');
  const closers: (() => Promise<unknown> | unknown)[] = [() => dir.cleanup()];
  onTestFinished(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  const host = EventStore.open(join(dir.dir, 'host.db'), { host: 'host-a', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  closers.push(() => host.close());
  const connect = async (name: string): Promise<NatsConnection> => {
    const nc = await connectNats(urls.natsUrl, name);
    closers.push(() => nc.close());
    return nc;
  };
  const hostNc = await connect('test-host');
  const gatewayNc = await connect('test-gateway');
  await ensureEventStream(hostNc, names);

  const w = {
    names,
    host,
    hostNc,
    gatewayNc,
    publisher(): JetStreamPublisher {
      const p = new JetStreamPublisher(host, hostNc, names, { log: quiet });
      closers.push(() => p.close());
      return p;
    },
    replica(): WatchedReplica {
      const store = EventStore.open(join(dir.dir, 'gateway.db'), { host: 'gateway', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
      closers.push(() => store.close());
      return new WatchedReplica(store, quiet);
    },
    async feed(replica: ReplicaLog): Promise<JetStreamFeed> {
      const f = new JetStreamFeed(gatewayNc, names, replica, quiet);
      closers.push(() => f.close());
      await f.start();
      return f;
    },
    /** How many messages the JetStream stream holds. */
    async messagesInStream(): Promise<number> {
      const jsm = await jetstreamManager(hostNc);
      return (await jsm.streams.info(names.stream)).state.messages;
    },
    /** Every message published on the event subjects, stored or not (a core NATS subscription sees repeats too). */
    async sent(): Promise<{ ids: string[] }> {
      const seen = { ids: [] as string[] };
      const sub = gatewayNc.subscribe(names.eventsWildcard, { callback: (_err, m) => void seen.ids.push((m.json() as { id: string }).id) });
      closers.push(() => sub.unsubscribe());
      // The server knows of the subscription only once a flush returns: publish before it and the sends go unseen.
      await gatewayNc.flush();
      return seen;
    },
  };
  await gatewayNc.flush();
  return w;
}

type World = Awaited<ReturnType<typeof world>>;

/** The replica holds exactly what the host wrote: same events, same streams and versions, in the same order. */
async function replicaMatchesHost(w: World, replica: ReplicaLog): Promise<void> {
  await until('the replica to catch up', () => replica.store.headPosition(), (n) => n >= w.host.headPosition());
  const strip = (e: { position: number }) => ({ ...e, position: 0 });
  expect(replica.store.readAll(0, 10_000).map(strip)).toEqual(w.host.readAll(0, 10_000).map(strip));
}

describe.skipIf(!services)('JetStreamPublisher and JetStreamFeed, against a real NATS JetStream', () => {
  it('given a publisher and a feed, events appended to the host log arrive in the replica in order, before and after they start', async () => {
    const w = await world();
    appendEvents(w.host, 'backend-child:a', 3);
    appendEvents(w.host, 'tunnel:t', 2, { type: 'CREATED' });
    const publisher = w.publisher().start();
    const replica = w.replica();
    await w.feed(replica);

    appendEvents(w.host, 'backend-child:a', 2);
    appendEvents(w.host, 'backend-child:b', 4);
    await publisher.idle();

    expect(publisher.publishedUpTo).toBe(11);
    expect(await w.messagesInStream()).toBe(11);
    await replicaMatchesHost(w, replica);
    expect(replica.checkpoint).toBe(11);
  });

  it('given a publisher that was closed, a new one resumes after its checkpoint: it sends only the new events and JetStream holds each once', async () => {
    const w = await world();
    const sent = await w.sent();
    appendEvents(w.host, 'backend-child:a', 5);
    const first = w.publisher().start();
    await first.idle();
    await first.close();
    appendEvents(w.host, 'backend-child:a', 3);

    const second = w.publisher();
    expect(second.publishedUpTo).toBe(5);
    await second.start().idle();

    expect(second.publishedUpTo).toBe(8);
    expect(await w.messagesInStream()).toBe(8);
    await w.hostNc.flush();
    await until('8 sends seen', () => sent.ids.length, (n) => n >= 8);
    expect(sent.ids).toEqual(w.host.readAll(0, 100).map((e) => e.id));
  });

  it('given events JetStream already has, resending them all (checkpoint reset to 0) stores nothing twice, in JetStream or in the replica', async () => {
    const w = await world();
    const sent = await w.sent();
    appendEvents(w.host, 'backend-child:a', 4);
    appendEvents(w.host, 'tunnel:t', 1, { type: 'CREATED' });
    const replica = w.replica();
    await w.feed(replica);
    const first = w.publisher().start();
    await first.idle();
    await replicaMatchesHost(w, replica);
    await first.close();

    // As if the checkpoint had not been saved before a crash.
    w.host.db.prepare(`UPDATE store_meta SET value = '0' WHERE key = 'jetstream.published'`).run();
    const again = w.publisher();
    expect(again.publishedUpTo).toBe(0);
    await again.start().idle();

    await w.hostNc.flush();
    await until('every event sent twice', () => sent.ids.length, (n) => n >= 10);
    expect(sent.ids).toHaveLength(10);
    expect(await w.messagesInStream()).toBe(5);
    // One more event after the resend reaches the replica right behind the first five.
    appendEvents(w.host, 'backend-child:a', 1);
    await again.idle();
    await replicaMatchesHost(w, replica);
    expect(replica.store.headPosition()).toBe(6);
    expect(replica.delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('given a feed that was closed (and its SQLite file reopened), a new feed on the same replica resumes after its checkpoint', async () => {
    const w = await world();
    const publisher = w.publisher().start();
    appendEvents(w.host, 'backend-child:a', 4);
    const replica = w.replica();
    const feed = await w.feed(replica);
    await publisher.idle();
    await replicaMatchesHost(w, replica);
    await feed.close();
    replica.store.close();

    appendEvents(w.host, 'backend-child:a', 2);
    appendEvents(w.host, 'tunnel:t', 1, { type: 'CREATED' });
    await publisher.idle();
    const reopened = w.replica();
    expect(reopened.checkpoint).toBe(4);
    await w.feed(reopened);

    await replicaMatchesHost(w, reopened);
    expect(reopened.delivered).toEqual([5, 6, 7]);
    expect(reopened.checkpoint).toBe(7);
  });

  it('given the replica fails to apply a batch once, the feed reads again from the checkpoint and nothing is skipped', async () => {
    const w = await world();
    const replica = w.replica();
    let calls = 0;
    const ingest = replica.ingest.bind(replica);
    // A write that fails once (say, the disk was full for a moment), while messages keep coming.
    replica.ingest = (batch) => {
      if (++calls === 2) throw new Error('disk I/O error');
      return ingest(batch);
    };
    await w.feed(replica);
    const publisher = w.publisher().start();
    for (let i = 0; i < 60; i++) {
      appendEvents(w.host, `backend-child:s${i % 3}`, 1);
      await new Promise((r) => setTimeout(r, 2));
    }
    await publisher.idle();

    await replicaMatchesHost(w, replica);
    expect(calls).toBeGreaterThan(2);
  });

  it('given the host log is closed while a batch is in flight, the publisher stops quietly (no unhandled rejection ends the process)', async () => {
    const w = await world();
    const publisher = w.publisher().start();
    appendEvents(w.host, 'backend-child:a', 3);
    // The batch is on its way to JetStream; its acknowledgement will find the log closed.
    w.host.close();
    await new Promise((r) => setTimeout(r, 200));
    await publisher.close();
    expect(publisher.publishedUpTo).toBeLessThanOrEqual(3);
  });

  it('given a replica built from a stream that has since been deleted and created again, a feed refuses to resume from it', async () => {
    const w = await world();
    const publisher = w.publisher().start();
    appendEvents(w.host, 'backend-child:a', 2);
    const replica = w.replica();
    const feed = await w.feed(replica);
    await publisher.idle();
    await replicaMatchesHost(w, replica);
    await feed.close();

    const jsm = await jetstreamManager(w.hostNc);
    await jsm.streams.delete(w.names.stream);
    await ensureEventStream(w.hostNc, w.names);

    await expect(new JetStreamFeed(w.gatewayNc, w.names, replica, quiet).start()).rejects.toBeInstanceOf(StreamReplacedError);
  });
});
