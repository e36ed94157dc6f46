import type { FastifyInstance } from 'fastify';
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { v7 as uuidv7 } from 'uuid';
import { WebSocket } from 'ws';
import { kindFor } from '../../actors/index.js';
import { buildGateway, type GatewayDeps } from '../../gateway/app.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorProjector, readActor, readActors } from '../../services/host/actor-projection.js';
import { commandError } from '../../services/host/commands.js';
import type { CommandQueue } from '../../services/queue/types.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { EventStore } from '../../services/store/event-store.js';
import type { ReadModel } from '../../services/store/read-model.js';
import { tempDir } from '../support/tmp.js';

/** Polls `pred` until it holds; the timeout only bounds a failing test, it is not asserted. */
export async function until<T>(what: string, read: () => T, pred: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface StoreFixture {
  store: EventStore;
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
    listActors: (streamType) => readActors(store.db, streamType),
    getActor: (streamId) => readActor(store.db, streamId),
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
  close(): Promise<void>;
}

export async function startGateway(deps: Partial<GatewayDeps> & Pick<GatewayDeps, 'log'>): Promise<RunningGateway> {
  const store = deps.log as EventStore;
  const app = await buildGateway({
    readModel: deps.readModel ?? storeReadModel(store),
    commands: deps.commands ?? noCommands,
    live: deps.live ?? new InProcessLiveBus(),
    ...deps,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${port}`, port, close: () => app.close() };
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
