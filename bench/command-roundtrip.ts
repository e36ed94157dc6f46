/**
 * Command round trip: a real ActorHost behind the embedded mode's InProcessCommandQueue, against
 * the same kind of host behind BullMQ (BullCommandQueue → Redis → CommandWorkers) in one run.
 *
 *   node dist/bench/command-roundtrip.js [--commands 600] [--concurrency 16] [--rounds 2]
 *
 * Needs Redis (FLOW_REDIS_URL, else redis://127.0.0.1:6379) and NATS with JetStream
 * (FLOW_NATS_URL, else nats://127.0.0.1:4222). The run uses its own name prefix and deletes its
 * JetStream stream and its Redis keys (`<bullPrefix>:*`) at the end.
 *
 * The command pair: `backend.create` of a new backend (autostart false: no process is spawned;
 * one CREATED event) and `backend.remove` of it (one REMOVE_REQUESTED event). In distributed mode
 * a create goes to the shared queue `flow-commands`, a remove to the owning host's queue, as
 * infra/gateway-process.ts places them (placeCommand, over the gateway's replica).
 * Lines, each over its own ActorHost (backend-child services, temp SQLite log):
 *   in-process     InProcessCommandQueue(host).submit — the embedded mode.
 *   bull           BullCommandQueue without `settle`: submit → job in Redis → a CommandWorkers
 *                  worker → host.dispatch → the result back through QueueEvents.
 *   bull+settle    the same, plus what the gateway adds before the API answers: waiting until the
 *                  command's event has reached the gateway's replica (JetStreamPublisher → NATS
 *                  JetStream → JetStreamFeed → ReplicaLog). This is what `f gateway` returns.
 * The distributed host, the publisher, the feed, the workers and the queue share this process,
 * as in `f up --nats --redis`; Redis and nats-server are separate processes on the same machine.
 * Latency: one command at a time (create, then remove: two samples per pair), p50/p99.
 * Throughput: `--concurrency` create+remove pairs in flight, commands per second.
 * Each round runs the three lines in a rotating order; medians over the rounds are reported, and
 * the ratios against in-process.
 */
import { join } from 'node:path';
import { flowNames, hostQueue, type FlowNames } from '../services/bus/names.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { JetStreamFeed } from '../services/bus/jetstream-feed.js';
import { JetStreamPublisher } from '../services/bus/jetstream-publisher.js';
import { connectNats, ensureEventStream } from '../services/bus/nats.js';
import { backendChildServices } from '../services/backend-child/index.js';
import { kindFor } from '../actors/index.js';
import { ActorHost } from '../services/host/actor-host.js';
import { ActorProjector } from '../services/store/projections.js';
import type { Command } from '../actors/index.js';
import type { CommandResult } from '../services/host/commands.js';
import { BullCommandQueue, CommandWorkers } from '../services/queue/bullmq.js';
import { InProcessCommandQueue } from '../services/queue/in-process.js';
import type { CommandQueue } from '../services/queue/types.js';
import { EventStore } from '../services/store/event-store.js';
import { placeCommand } from '../infra/gateway-process.js';
import { openReplica } from '../infra/open-store.js';
import { benchPrefix, benchServiceUrls, benchTempDir, cleanupBenchPrefix, fmt, fmtInt, intFlag, machineLine, median, percentileSorted, settle, table } from './lib.js';

const COMMANDS = intFlag('commands', 'BENCH_COMMANDS', 600);
const CONCURRENCY = intFlag('concurrency', 'BENCH_CONCURRENCY', 16);
const ROUNDS = intFlag('rounds', 'BENCH_ROUNDS', 2);
const WARMUP = intFlag('warmup', 'BENCH_WARMUP', 50);
const LINES = ['in-process', 'bull', 'bull+settle'] as const;
type Line = (typeof LINES)[number];

interface Stats {
  p50: number;
  p99: number;
  /** Commands per second with CONCURRENCY pairs in flight. */
  throughput: number;
  /** This process's CPU time per command in the throughput phase, µs. */
  cpuUsPerCommand: number;
}

interface Side {
  queue: CommandQueue;
  cwd: string;
}

async function newHost(dir: string, hostId: string): Promise<{ store: EventStore; host: ActorHost; live: InProcessLiveBus }> {
  const store = EventStore.open(join(dir, `${hostId}.db`), { host: hostId, projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  const live = new InProcessLiveBus();
  const host = await ActorHost.start({ store, live, services: [backendChildServices({ live })], log: () => {} });
  return { store, host, live };
}

let nameSeq = 0;
const createCmd = (name: string, cwd: string): Command => ({ type: 'backend.create', name, config: { command: ['true'], cwd, env: {}, port: null, watch: [], watchExtensions: ['.ts'], stopGraceMs: 1000 }, autostart: false });

function check(r: CommandResult, what: string): void {
  if (!r.ok) throw new Error(`${what}: ${r.error.code}: ${r.error.message}`);
}

/** One create+remove pair; pushes each command's latency (ms) when `lat` is given. */
async function pair(side: Side, lat?: number[]): Promise<void> {
  const name = `b${(nameSeq++).toString(36)}`;
  let t0 = process.hrtime.bigint();
  check(await side.queue.submit(createCmd(name, side.cwd)), `create ${name}`);
  let t1 = process.hrtime.bigint();
  lat?.push(Number(t1 - t0) / 1e6);
  t0 = t1;
  check(await side.queue.submit({ type: 'backend.remove', name }), `remove ${name}`);
  t1 = process.hrtime.bigint();
  lat?.push(Number(t1 - t0) / 1e6);
}

async function measure(side: Side): Promise<Stats> {
  for (let i = 0; i < WARMUP; i++) await pair(side);
  await settle(100);
  const lat: number[] = [];
  for (let i = 0; i < COMMANDS / 2; i++) await pair(side, lat);
  lat.sort((a, b) => a - b);
  await settle(100);
  const pairs = COMMANDS / 2;
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < pairs) {
        next++;
        await pair(side);
      }
    }),
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { p50: percentileSorted(lat, 50), p99: percentileSorted(lat, 99), throughput: (pairs * 2 * 1000) / ms, cpuUsPerCommand: (cpu.user + cpu.system) / (pairs * 2) };
}

interface Distributed {
  bull: BullCommandQueue;
  settled: BullCommandQueue;
  close(): Promise<void>;
}

/** A host as infra/host-process.ts wires it, and a gateway's queue as infra/gateway-process.ts wires it. */
async function startDistributed(dir: string, urls: { natsUrl: string; redisUrl: string }, names: FlowNames): Promise<Distributed> {
  const nc = await connectNats(urls.natsUrl, 'flow-bench');
  await ensureEventStream(nc, names);
  const h = await newHost(dir, 'bench-host');
  const publisher = new JetStreamPublisher(h.store, nc, names).start();
  const workers = new CommandWorkers({ redisUrl: urls.redisUrl, names, hostId: h.host.hostId, handler: h.host });
  await workers.start();
  const replica = openReplica(join(dir, 'gateway.db'));
  const replicaStore = replica.store;
  const feed = new JetStreamFeed(nc, names, replica);
  await feed.start();
  const common = {
    redisUrl: urls.redisUrl,
    names,
    place: (command: Command, host: string | undefined) => placeCommand(replica, command, host),
    knownQueues: () => replica.hosts().map(hostQueue),
  };
  // Without settle, a remove right after its create may reach placeCommand before the replica
  // knows the backend: route existing actors to the one host directly.
  const bull = new BullCommandQueue({
    ...common,
    place: (command, host) => {
      const p = placeCommand(replica, command, host);
      return 'ok' in p && !p.ok && p.error.code === 'not_found' ? { queue: hostQueue(h.host.hostId), retry: true } : p;
    },
  });
  const settled = new BullCommandQueue({
    ...common,
    settle: async (result) => {
      if (!result.ok) return result;
      const e = await replica.waitFor(result.streamId, result.version, 5000);
      if (!e) throw new Error(`${result.streamId}@${result.version} did not reach the replica within 5 s`);
      return { ...result, position: e.position };
    },
  });
  await bull.start();
  await settled.start();
  return {
    bull,
    settled,
    async close() {
      await bull.close();
      await settled.close();
      await workers.close();
      await h.host.stop();
      await Promise.race([publisher.idle(), new Promise((r) => setTimeout(r, 2000))]);
      await publisher.close();
      await feed.close();
      await h.live.close();
      await nc.drain().catch(() => nc.close());
      replicaStore.close();
      h.store.close();
    },
  };
}

async function main(): Promise<void> {
  if (COMMANDS % 2) throw new Error('--commands must be even (create+remove pairs)');
  const urls = await benchServiceUrls();
  const prefix = benchPrefix('bench');
  const names = flowNames(prefix);
  console.log(`# command-roundtrip: ${COMMANDS} commands one at a time + ${COMMANDS} with ${CONCURRENCY} pairs in flight, per line and round; ${WARMUP} warm-up pairs; ${ROUNDS} rounds`);
  console.log(`# Redis ${urls.redisUrl} (BullMQ prefix ${names.bullPrefix}), NATS ${urls.natsUrl} (stream ${names.stream})`);
  console.log(`# ${machineLine()}`);
  const { dir, cleanup } = benchTempDir('cmd');
  const local = await newHost(dir, 'bench-local');
  const inProcess = new InProcessCommandQueue(local.host);
  let dist: Distributed | null = null;
  const results = new Map<Line, Stats[]>();
  try {
    dist = await startDistributed(dir, urls, names);
    const sides: Record<Line, Side> = {
      'in-process': { queue: inProcess, cwd: dir },
      bull: { queue: dist.bull, cwd: dir },
      'bull+settle': { queue: dist.settled, cwd: dir },
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order = LINES.map((_, i) => LINES[(i + round) % LINES.length]!);
      for (const line of order) {
        const s = await measure(sides[line]);
        results.set(line, [...(results.get(line) ?? []), s]);
        console.log(`  round ${round + 1} ${line.padEnd(11)}: p50 ${fmt(s.p50, 3)} ms, p99 ${fmt(s.p99, 3)} ms, ${fmtInt(s.throughput)} commands/s at ${CONCURRENCY} pairs in flight, cpu ${fmt(s.cpuUsPerCommand / 1000, 3)} ms/command`);
      }
    }
  } finally {
    await inProcess.close();
    await local.host.stop();
    await local.live.close();
    local.store.close();
    await dist?.close();
    await cleanupBenchPrefix(urls, prefix);
    cleanup();
  }

  const med = (line: Line, f: keyof Stats) => median((results.get(line) ?? []).map((s) => s[f]));
  const ratio = (line: Line, f: keyof Stats) => median((results.get(line) ?? []).map((s, i) => s[f] / results.get('in-process')![i]![f]));
  console.log('');
  console.log(
    table(
      ['line', 'p50 ms', 'p99 ms', 'commands/s', 'cpu ms/command', 'p50 ×in-process', 'p99 ×in-process', 'throughput ×in-process'],
      LINES.map((line) => [line, fmt(med(line, 'p50'), 3), fmt(med(line, 'p99'), 3), fmtInt(med(line, 'throughput')), fmt(med(line, 'cpuUsPerCommand') / 1000, 3), fmt(ratio(line, 'p50')), fmt(ratio(line, 'p99')), fmt(ratio(line, 'throughput'), 3)]),
    ),
  );
  console.log('');
  for (const line of ['bull', 'bull+settle'] as const) {
    console.log(
      `RESULT command-roundtrip ${line} p50=${fmt(med(line, 'p50'), 3)}ms p99=${fmt(med(line, 'p99'), 3)}ms tput=${fmtInt(med(line, 'throughput'))}/s vs in-process p50=${fmt(med('in-process', 'p50'), 3)}ms p99=${fmt(med('in-process', 'p99'), 3)}ms tput=${fmtInt(med('in-process', 'throughput'))}/s: ratio p50 ${fmt(ratio(line, 'p50'))} p99 ${fmt(ratio(line, 'p99'))} tput ${fmt(ratio(line, 'throughput'), 3)}`,
    );
  }
}

await main();
