import type { FastifyInstance } from 'fastify';
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, TestRunner } from 'vitest';
import { WebSocket } from 'ws';
import { kindFor } from '../../actors/index.js';
import { buildGateway, type GatewayDeps } from '../../gateway/app.js';
import { replicaCommandQueue, replicaReadModel } from '../../infra/gateway-process.js';
import { startWithin } from '../../infra/lifetime.js';
import { openReplica } from '../../infra/open-store.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { JetStreamFeed } from '../../services/bus/jetstream-feed.js';
import { JetStreamPublisher } from '../../services/bus/jetstream-publisher.js';
import { LiveOutputTail } from '../../services/bus/live-tail.js';
import { flowNames } from '../../services/bus/names.js';
import { connectNats, ensureEventStream, NatsLiveBus } from '../../services/bus/nats.js';
import { ActorProjector } from '../../services/store/projections.js';
import { commandError } from '../../services/host/commands.js';
import { CommandWorkers } from '../../services/queue/bullmq.js';
import { InProcessCommandQueue, type CommandHandler } from '../../services/queue/in-process.js';
import type { CommandQueue } from '../../services/queue/types.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { EventStore, type SqliteEventStore } from '../../services/store/event-store.js';
import type { ReadModel } from '../../services/store/read-model.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

/**
 * The gateway API tests run twice (vitest.config.ts): embedded, where the gateway reads the
 * host's SQLite log directly, and distributed (FLOW_TEST_MODE=distributed), where the host's log
 * is drained to a real NATS JetStream, the gateway reads a replica of it in its own SQLite file,
 * live traffic goes over core NATS and commands through BullMQ on a real Redis. The test files
 * are the same; they talk to the gateway over HTTP and write to the host's log.
 */
export const MODE: 'embedded' | 'distributed' = process.env.FLOW_TEST_MODE === 'distributed' ? 'distributed' : 'embedded';

// Under CI a missing Redis or NATS fails the file here; locally the file is skipped (said on stderr).
const services = MODE === 'distributed' ? await serviceUrls() : null;
if (MODE === 'distributed' && !services) {
  const file = (TestRunner.getCurrentSuite() as unknown as { file?: { mode: string } }).file;
  if (file) file.mode = 'skip';
}

/** Polls `pred` until it holds; the timeout only bounds a failing test, it is not asserted. */
export async function until<T>(what: string, read: () => T | Promise<T>, pred: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface StoreFixture {
  store: SqliteEventStore;
  dir: string;
  cleanup(): void;
}

/** A real SQLite event store in a fresh temp directory. */
export function openTempStore(): StoreFixture {
  const { dir, cleanup } = tempDir('flow-gateway-');
  const store = EventStore.open(join(dir, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  return {
    store,
    dir,
    cleanup: () => {
      store.close();
      cleanup();
    },
  };
}

/** Appends `n` events to a stream the way the brief describes, each with a fresh id. */
export function appendEvents(store: EventStore, streamId = 'backend-child:x', n = 1, opts: { type?: string; data?: Record<string, unknown> } = {}): EventEnvelope[] {
  const streamType = streamId.slice(0, streamId.indexOf(':'));
  const events = Array.from({ length: n }, () => ({ id: uuidv7(), type: opts.type ?? 'STOP_REQUESTED', data: opts.data ?? {}, at: new Date().toISOString() }));
  return store.append(streamType, streamId, 'any', events);
}

export function storeReadModel(store: EventStore, lines: ReadModel['outputLines'] = () => []): ReadModel {
  return {
    listActors: (streamType) => store.actors(streamType),
    getActor: (streamId) => store.actor(streamId),
    outputLines: lines,
  };
}

/** For stream tests that send no commands: every command is refused as unavailable. */
export const noCommands: CommandQueue = {
  submit: async () => commandError('unavailable', 'no host in this test'),
  close: async () => {},
};

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  port: number;
  /** The epoch of the log the gateway serves: the host's store, or (distributed) the gateway's replica. */
  epoch: string;
  /** Resolves once the gateway has every event the host has written so far (at once when embedded). */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

export interface GatewaySetup extends Partial<GatewayDeps> {
  /** The host's log: tests append to it; the gateway reads it (embedded) or a replica of it (distributed). */
  log: EventStore;
  /** The actor host that runs commands. Without one (and without `commands`) every command is refused as unavailable. */
  host?: CommandHandler;
  /** The output lines the host keeps, for the embedded read model (a distributed gateway keeps what the live bus brings). */
  outputLines?: ReadModel['outputLines'];
}

/**
 * A gateway on 127.0.0.1 and an ephemeral port over the host's log. `live` is the host's live
 * bus; `commands` and `readModel` may replace the embedded wiring (embedded mode only).
 */
export async function startGateway(setup: GatewaySetup): Promise<RunningGateway> {
  return MODE === 'distributed' ? startDistributedGateway(setup) : startEmbeddedGateway(setup);
}

async function listen(app: FastifyInstance): Promise<{ url: string; port: number }> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port };
}

async function startEmbeddedGateway(setup: GatewaySetup): Promise<RunningGateway> {
  const { log: store, host, outputLines, ...deps } = setup;
  const app = await buildGateway({
    ...deps,
    log: store,
    readModel: deps.readModel ?? storeReadModel(store, outputLines),
    commands: deps.commands ?? (host ? new InProcessCommandQueue(host) : noCommands),
    live: deps.live ?? new InProcessLiveBus(),
  });
  return { app, ...(await listen(app)), epoch: store.epoch, caughtUp: async () => {}, close: () => app.close() };
}

const openGateways = new Set<RunningGateway>();
if (MODE === 'distributed') {
  // A test that failed before closing its gateway: close it, so its connections let vitest exit.
  afterAll(async () => {
    for (const gw of openGateways) await gw.close();
  });
}

const log = (line: string) => process.stderr.write(`[gateway-distributed] ${line}\n`);

/**
 * The distributed wiring of `f host` + `f gateway`, with the test's store as the host's log:
 * a JetStreamPublisher drains it to a JetStream stream of a prefix of its own, a JetStreamFeed
 * fills a ReplicaLog in a second SQLite file that is the gateway's log and read model, live
 * traffic goes over core NATS (the host's in-process bus is forwarded to it, as `f host` would
 * publish there), and commands go through BullMQ to CommandWorkers that run the test's host.
 */
async function startDistributedGateway(setup: GatewaySetup): Promise<RunningGateway> {
  const { log: store, host, outputLines: _embeddedOnly, live: hostLive, ...deps } = setup;
  if (deps.commands || deps.readModel) throw new Error('a distributed gateway builds its own command queue and read model: pass `host` (and `live`) instead');
  const urls = services!;
  const prefix = uniquePrefix('gw');
  const names = flowNames(prefix);
  return startWithin(async (life) => {
    const tmp = tempDir('flow-gateway-replica-');
    life.defer(() => tmp.cleanup());
    life.defer(() => cleanupPrefix(urls, prefix));
    // The host's side.
    const hostNc = await connectNats(urls.natsUrl, 'flow-test-host');
    life.defer(() => hostNc.close());
    await ensureEventStream(hostNc, names);
    const publisher = new JetStreamPublisher(store, hostNc, names, { log }).start();
    life.defer(() => publisher.close());
    if (hostLive) {
      const toNats = new NatsLiveBus(hostNc, names);
      const off = hostLive.subscribe('flow.live.>', (m) => toNats.publish(m.subject, m.data));
      life.defer(() => toNats.close());
      life.defer(off);
    }
    if (host) {
      const workers = new CommandWorkers({ redisUrl: urls.redisUrl, names, hostId: host.hostId, handler: host, log });
      life.defer(() => workers.close());
      await workers.start();
    }

    // The gateway's side.
    const nc = await connectNats(urls.natsUrl, 'flow-test-gateway');
    life.defer(() => nc.close());
    const replica = openReplica(join(tmp.dir, 'gateway.db'), log);
    life.defer(() => replica.store.close());
    const feed = new JetStreamFeed(nc, names, replica, log);
    await feed.start();
    life.defer(() => feed.close());
    const live = new NatsLiveBus(nc, names);
    life.defer(() => live.close());
    const outputs = new LiveOutputTail(live);
    life.defer(() => outputs.close());
    const readModel = replicaReadModel(replica, outputs);
    const commands = replicaCommandQueue(replica, { redisUrl: urls.redisUrl, names, log });
    life.defer(() => commands.close());
    await commands.start();

    const caughtUp = async () => {
      const last = store.readAll(store.headPosition() - 1, 1)[0];
      if (last && !(await replica.waitFor(last.streamId, last.version, 15_000))) {
        throw new Error(`the gateway's replica did not receive ${last.streamId}@${last.version} (position ${last.position}) within 15 s`);
      }
    };
    await caughtUp();

    const app = await buildGateway({
      ...deps,
      log: replica.store,
      readModel,
      commands,
      live,
    });
    life.defer(() => app.close());
    const gw: RunningGateway = {
      app,
      ...(await listen(app)),
      epoch: replica.store.epoch,
      caughtUp,
      close: async () => {
        openGateways.delete(gw);
        await life.close();
      },
    };
    openGateways.add(gw);
    return gw;
  });
}

/** An SSE client over plain node:http, parsed by eventsource-parser, that can stop reading on demand. */
export class SseClient {
  readonly messages: EventSourceMessage[] = [];
  readonly comments: string[] = [];
  ended = false;
  private constructor(
    readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {}

  static connect(url: string, opts: { headers?: Record<string, string>; paused?: boolean } = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...opts.headers } }, (res) => {
        const client = new SseClient(req, res);
        const parser = createParser({ onEvent: (m) => client.messages.push(m), onComment: (c) => client.comments.push(c) });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('close', () => (client.ended = true));
        res.on('error', () => (client.ended = true));
        if (opts.paused) res.pause();
        resolve(client);
      });
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** Envelopes of the event messages (the ones carrying an id), in arrival order. */
  get events(): EventEnvelope[] {
    return this.messages.filter((m) => m.event === undefined).map((m) => JSON.parse(m.data) as EventEnvelope);
  }

  named(event: string): unknown[] {
    return this.messages.filter((m) => m.event === event).map((m) => JSON.parse(m.data) as unknown);
  }

  get lastEventId(): string | undefined {
    return this.messages.filter((m) => m.id !== undefined).at(-1)?.id;
  }

  waitForPosition(position: number): Promise<EventEnvelope[]> {
    return until(`SSE position ${position}`, () => this.events, (es) => (es.at(-1)?.position ?? 0) >= position);
  }

  close(): void {
    this.req.destroy();
  }
}

export type WsServerMessage =
  | { type: 'hello'; epoch: string; head: number; from: number }
  | { type: 'reset'; epoch: string; previousEpoch: string | null; head: number; reason: string }
  | { type: 'event'; position: number; event: EventEnvelope }
  | { type: 'error'; code: string; message: string };

export class WsClient {
  readonly messages: WsServerMessage[] = [];
  closeCode: number | null = null;
  private constructor(readonly socket: WebSocket) {}

  static connect(url: string, opts: { autoPong?: boolean } = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url.replace(/^http/, 'ws') + '/api/ws', { autoPong: opts.autoPong ?? true });
      const client = new WsClient(socket);
      socket.on('message', (data) => client.messages.push(JSON.parse(String(data)) as WsServerMessage));
      socket.on('close', (code) => (client.closeCode = code));
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
    });
  }

  subscribe(req: { from?: number; epoch?: string; streamType?: string; stream?: string }): void {
    this.socket.send(JSON.stringify({ type: 'subscribe', ...req }));
  }

  get events(): EventEnvelope[] {
    return this.messages.flatMap((m) => (m.type === 'event' ? [m.event] : []));
  }

  of<T extends WsServerMessage['type']>(type: T): Extract<WsServerMessage, { type: T }>[] {
    return this.messages.filter((m): m is Extract<WsServerMessage, { type: T }> => m.type === type);
  }

  waitForPosition(position: number): Promise<EventEnvelope[]> {
    return until(`WS position ${position}`, () => this.events, (es) => (es.at(-1)?.position ?? 0) >= position);
  }

  waitClosed(): Promise<number | null> {
    return until('WS close', () => this.closeCode, (c) => c !== null);
  }

  close(): void {
    this.socket.close();
  }
}

/** The positions of the events, to compare with the log's own. */
export const positions = (events: readonly EventEnvelope[]): number[] => events.map((e) => e.position);
