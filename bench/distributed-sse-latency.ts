/**
 * Event → SSE client latency in distributed mode against the embedded mode, in one run: an event
 * appended to the host's EventStore, to the moment each connected client has read it from
 * GET /api/events, with 1, 50 and 200 clients on loopback.
 *
 *   node dist/bench/distributed-sse-latency.js [--clients=1,50,200] [--rate 20] [--events 120] [--rounds 2]
 *
 * Needs NATS with JetStream (FLOW_NATS_URL, else nats://127.0.0.1:4222; the check wants Redis too,
 * FLOW_REDIS_URL or :6379). The run uses its own name prefix, so its own JetStream stream, and
 * deletes it at the end.
 *
 * embedded:    store.append → the gateway (buildGateway over the same EventStore) → SSE.
 * distributed: store.append on the host's EventStore → JetStreamPublisher → NATS JetStream
 *              (file storage, acked publish) → JetStreamFeed (ordered consumer) → ReplicaLog
 *              (the gateway's own SQLite file) → the gateway over the replica → SSE.
 * Both gateways are built as sse-latency.ts builds its own (InProcessCommandQueue with a trivial
 * handler, a live bus, a read model over the store the gateway reads). Host, NATS client and
 * gateway share this process, as in `f up --nats --redis`; the clients live in a separate process
 * (bench/sse-clients.ts), nats-server in its own. Each distributed measurement gets a fresh
 * JetStream stream, host log and replica, as each embedded one gets a fresh log.
 * Events carry `t0` (process.hrtime, taken just before the append); the two sides alternate
 * within each round; per client count the medians of the rounds' p50/p99 are reported, and the
 * ratio distributed/embedded of the p50s and p99s.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { join } from 'node:path';
import { kindFor } from '../actors/index.js';
import { JetStreamFeed } from '../services/bus/jetstream-feed.js';
import { JetStreamPublisher } from '../services/bus/jetstream-publisher.js';
import { flowNames, type FlowNames } from '../services/bus/names.js';
import { connectNats, ensureEventStream } from '../services/bus/nats.js';
import { ActorProjector } from '../services/store/projections.js';
import { EventStore } from '../services/store/event-store.js';
import { appender, gatewayOver, storeTarget } from './sse-target.js';
import { openReplica } from '../infra/open-store.js';
import { benchPrefix, benchServiceUrls, benchTempDir, cleanupBenchPrefix, fmt, intFlag, machineLine, measureSse, median, SseClients, table, type SseStats, type SseTarget } from './lib.js';

const RATE = intFlag('rate', 'BENCH_RATE', 20);
const EVENTS = intFlag('events', 'BENCH_EVENTS', 120);
const ROUNDS = intFlag('rounds', 'BENCH_ROUNDS', 2);
const CLIENTS = (process.argv.find((a) => a.startsWith('--clients='))?.slice(10) ?? process.env.BENCH_CLIENTS ?? '1,50,200').split(',').map(Number);
const STREAM = 'bench:latency';
type Side = 'embedded' | 'distributed';

async function startDistributed(nc: NatsConnection, names: FlowNames): Promise<SseTarget> {
  const { dir, cleanup } = benchTempDir('dsse-dist');
  // A fresh stream per measurement: a new replica reads the stream from its start.
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(names.stream).catch(() => {});
  await ensureEventStream(nc, names);
  // The host side, as infra/host-process.ts wires it.
  const hostStore = EventStore.open(join(dir, 'host.db'), { host: 'bench', projectors: [new ActorProjector(kindFor)], pollMs: 100 });
  const publisher = new JetStreamPublisher(hostStore, nc, names).start();
  // The gateway side, as infra/gateway-process.ts wires it.
  const replica = openReplica(join(dir, 'gateway.db'));
  const replicaStore = replica.store;
  const feed = new JetStreamFeed(nc, names, replica);
  await feed.start();
  const gw = await gatewayOver(replicaStore);
  return {
    url: gw.url,
    emit: appender(hostStore, STREAM),
    async close() {
      await gw.close();
      await feed.close();
      await publisher.close();
      replicaStore.close();
      hostStore.close();
      cleanup();
    },
  };
}

async function main(): Promise<void> {
  const urls = await benchServiceUrls();
  const prefix = benchPrefix('bench');
  const names = flowNames(prefix);
  console.log(`# distributed-sse-latency: clients ${CLIENTS.join('/')}, ${EVENTS} events at ${RATE}/s, ${ROUNDS} rounds; NATS ${urls.natsUrl}, stream ${names.stream}`);
  console.log(`# ${machineLine()}`);
  const nc = await connectNats(urls.natsUrl, 'flow-bench');
  const clients = await SseClients.start();
  const results = new Map<string, SseStats[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of CLIENTS) {
        const order: readonly Side[] = round % 2 ? ['distributed', 'embedded'] : ['embedded', 'distributed'];
        for (const side of order) {
          const s = await measureSse(clients, side === 'embedded' ? () => storeTarget('dsse-emb', STREAM) : () => startDistributed(nc, names), n, EVENTS, RATE);
          const key = `${side}:${n}`;
          results.set(key, [...(results.get(key) ?? []), s]);
          console.log(
            `  round ${round + 1} ${side.padEnd(11)} ${String(n).padStart(4)} clients: p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms, max ${fmt(s.max)} ms, cpu ${fmt(s.cpuUsPerEvent / 1000, 3)} ms/event, ${s.samples} samples${s.missing ? `, ${s.missing} MISSING` : ''}`,
          );
        }
      }
    }
  } finally {
    await clients.exit();
    await nc.drain().catch(() => nc.close());
    await cleanupBenchPrefix(urls, prefix);
  }

  const med = (key: string, f: keyof SseStats) => median((results.get(key) ?? []).map((s) => s[f]));
  const ratio = (n: number, f: 'p50' | 'p99') => median((results.get(`distributed:${n}`) ?? []).map((s, i) => s[f] / results.get(`embedded:${n}`)![i]![f]));
  const missing = (side: Side, n: number) => (results.get(`${side}:${n}`) ?? []).reduce((m, s) => m + s.missing, 0);
  console.log('');
  console.log(
    table(
      ['clients', 'embedded p50 ms', 'p99 ms', 'distributed p50 ms', 'p99 ms', 'p50 dist/emb', 'p99 dist/emb', 'cpu ms/event emb', 'dist', 'missing'],
      CLIENTS.map((n) => [
        String(n),
        fmt(med(`embedded:${n}`, 'p50')),
        fmt(med(`embedded:${n}`, 'p99')),
        fmt(med(`distributed:${n}`, 'p50')),
        fmt(med(`distributed:${n}`, 'p99')),
        fmt(ratio(n, 'p50')),
        fmt(ratio(n, 'p99')),
        fmt(med(`embedded:${n}`, 'cpuUsPerEvent') / 1000, 3),
        fmt(med(`distributed:${n}`, 'cpuUsPerEvent') / 1000, 3),
        `${missing('embedded', n)}/${missing('distributed', n)}`,
      ]),
    ),
  );
  console.log('');
  for (const n of CLIENTS) {
    console.log(
      `RESULT distributed-sse-latency clients=${n} embedded-p50=${fmt(med(`embedded:${n}`, 'p50'))}ms embedded-p99=${fmt(med(`embedded:${n}`, 'p99'))}ms distributed-p50=${fmt(med(`distributed:${n}`, 'p50'))}ms distributed-p99=${fmt(med(`distributed:${n}`, 'p99'))}ms ratio-p50=${fmt(ratio(n, 'p50'))} ratio-p99=${fmt(ratio(n, 'p99'))}`,
    );
  }
}

await main();
