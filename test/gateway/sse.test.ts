import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, openTempStore, positions, SseClient, startGateway, until, type RunningGateway, type StoreFixture } from './harness.js';

let fx: StoreFixture;
let gw: RunningGateway;
const opened: SseClient[] = [];

async function connect(path: string, opts: Parameters<typeof SseClient.connect>[1] = {}): Promise<SseClient> {
  const c = await SseClient.connect(gw.url + path, opts);
  opened.push(c);
  return c;
}

beforeAll(async () => {
  fx = openTempStore();
  gw = await startGateway({ log: fx.store, options: { heartbeatMs: 50 } });
});

afterAll(async () => {
  for (const c of opened) c.close();
  await gw.close();
  fx.cleanup();
});

describe('GET /api/events (SSE)', () => {
  it('answers with an unbuffered, uncached event stream that opens with hello (epoch, head)', async () => {
    appendEvents(fx.store, 'backend-child:hello', 2);
    await gw.caughtUp();
    const c = await connect('/api/events');
    expect(c.status).toBe(200);
    expect(c.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(c.res.headers['cache-control']).toMatch(/no-cache/);
    expect(c.res.headers['x-accel-buffering']).toBe('no');
    await until('hello', () => c.named('hello'), (h) => h.length === 1);
    expect(c.messages[0]!.event).toBe('hello');
    expect(c.named('hello')[0]).toEqual({ epoch: gw.epoch, head: fx.store.headPosition(), from: fx.store.headPosition() });
    c.close();
  });

  it('tells EventSource how long to wait before it reconnects (a retry: field first)', async () => {
    const { createParser } = await import('eventsource-parser');
    const abort = new AbortController();
    const res = await fetch(`${gw.url}/api/events`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    let retry: number | undefined;
    let firstEvent: string | undefined;
    const parser = createParser({ onRetry: (ms) => (retry ??= ms), onEvent: (e) => (firstEvent ??= e.event) });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    while (firstEvent === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    abort.abort();
    expect(retry).toBe(2000);
    // The retry comes before hello: a client that drops at once already knows it.
    expect(firstEvent).toBe('hello');
  });

  it('without a position sends only what happens from now on; each message id is the position', async () => {
    appendEvents(fx.store, 'backend-child:before', 1);
    await gw.caughtUp();
    const c = await connect('/api/events');
    await until('hello', () => c.named('hello'), (h) => h.length === 1);
    const [live] = appendEvents(fx.store, 'backend-child:after', 1);
    await c.waitForPosition(live!.position);
    expect(positions(c.events)).toEqual([live!.position]);
    const msg = c.messages.find((m) => m.id !== undefined)!;
    expect(msg.id).toBe(String(live!.position));
    expect(JSON.parse(msg.data)).toEqual(live);
    c.close();
  });

  it('from=0 replays the whole log, then goes live, in position order', async () => {
    const c = await connect('/api/events?from=0');
    const head = fx.store.headPosition();
    await c.waitForPosition(head);
    const more = appendEvents(fx.store, 'backend-child:live', 3);
    await c.waitForPosition(more.at(-1)!.position);
    expect(positions(c.events)).toEqual(positions(fx.store.readAll(0, 10_000)));
    c.close();
  });

  it('a client that disconnects and reconnects with Last-Event-ID receives every event exactly once, in order', async () => {
    const start = fx.store.headPosition();
    const seen: number[] = [];

    let c = await connect(`/api/events?from=${start}`);
    const first = appendEvents(fx.store, 'backend-child:resume', 5);
    await c.waitForPosition(first.at(-1)!.position);
    seen.push(...positions(c.events));
    let last = c.lastEventId!;
    c.close();

    for (let round = 0; round < 3; round++) {
      // Written while the client is away...
      appendEvents(fx.store, 'backend-child:resume', 4);
      appendEvents(fx.store, 'backend-child:other', 2);
      // ...and resumed by header (an EventSource) or by query (a first request that cannot set headers).
      const byHeader = round % 2 === 0;
      c = await connect(byHeader ? `/api/events?from=${start}` : `/api/events?last_event_id=${last}`, byHeader ? { headers: { 'last-event-id': last } } : {});
      await until('hello', () => c.named('hello'), (h) => h.length === 1);
      const during = appendEvents(fx.store, 'backend-child:resume', 3);
      await c.waitForPosition(during.at(-1)!.position);
      seen.push(...positions(c.events));
      last = c.lastEventId!;
      c.close();
    }

    expect(seen).toEqual(positions(fx.store.readAll(start, 10_000)));
  });

  it('filters by stream type and by stream id, in replay and live', async () => {
    const start = fx.store.headPosition();
    appendEvents(fx.store, 'backend-child:f1', 2);
    appendEvents(fx.store, 'tunnel:t1', 2, { type: 'CREATED' });
    appendEvents(fx.store, 'backend-child:f2', 2);
    const byType = await connect(`/api/events?from=${start}&streamType=tunnel`);
    const byStream = await connect(`/api/events?from=${start}&stream=backend-child:f2`);
    const liveTunnel = appendEvents(fx.store, 'tunnel:t2', 1, { type: 'CREATED' });
    const liveF2 = appendEvents(fx.store, 'backend-child:f2', 1);
    appendEvents(fx.store, 'backend-child:f1', 1);
    await byType.waitForPosition(liveTunnel[0]!.position);
    await byStream.waitForPosition(liveF2[0]!.position);
    expect(byType.events.map((e) => e.streamId)).toEqual(['tunnel:t1', 'tunnel:t1', 'tunnel:t2']);
    expect(byStream.events.map((e) => e.version)).toEqual([1, 2, 3]);
    expect(new Set(byStream.events.map((e) => e.streamId))).toEqual(new Set(['backend-child:f2']));
  });

  it('a client resuming from another epoch gets hello, then reset, then the log from the start', async () => {
    const c = await connect('/api/events?from=3&epoch=some-other-log');
    const head = fx.store.headPosition();
    await c.waitForPosition(head);
    expect(c.messages.slice(0, 2).map((m) => m.event)).toEqual(['hello', 'reset']);
    expect(c.named('reset')[0]).toMatchObject({ epoch: gw.epoch, previousEpoch: 'some-other-log', reason: 'epoch-changed' });
    expect(c.events[0]!.position).toBe(1);
    expect(positions(c.events)).toEqual(positions(fx.store.readAll(0, 10_000)));
  });

  it('a position past the head (a longer, other log) is a reset too, never a silent gap', async () => {
    const c = await connect(`/api/events?from=${fx.store.headPosition() + 1000}&epoch=${gw.epoch}`);
    await until('reset', () => c.named('reset'), (r) => r.length === 1);
    expect(c.named('reset')[0]).toMatchObject({ reason: 'ahead-of-log' });
  });

  it('same epoch: no reset', async () => {
    await gw.caughtUp();
    const c = await connect(`/api/events?from=${fx.store.headPosition()}&epoch=${gw.epoch}`);
    const [e] = appendEvents(fx.store, 'backend-child:same', 1);
    await c.waitForPosition(e!.position);
    expect(c.named('reset')).toEqual([]);
  });

  it('sends heartbeat comments while idle', async () => {
    const c = await connect('/api/events');
    await until('two heartbeats', () => c.comments.length, (n) => n >= 2);
    expect(c.comments[0]!.trim()).toBe('ping');
  });

  it('rejects bad positions and filters with 400 and a message naming the field', async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['/api/events?from=abc', {}, /query\.from: from must be a whole number/],
      ['/api/events?from=-1', {}, /query\.from/],
      ['/api/events?stream=no-colon', {}, /query\.stream: stream id must look like/],
      ['/api/events?streamType=Bad.Type', {}, /query\.streamType/],
      ['/api/events', { 'last-event-id': 'x1' }, /headers\.last-event-id/],
    ];
    for (const [path, headers, message] of cases) {
      const res = await fetch(gw.url + path, { headers });
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid');
      expect(body.error.message).toMatch(message);
    }
  });

  it('ends open streams when the gateway closes, instead of waiting for them forever', async () => {
    const fx2 = openTempStore();
    const gw2 = await startGateway({ log: fx2.store });
    const c = await SseClient.connect(`${gw2.url}/api/events?from=0`);
    await until('hello', () => c.named('hello'), (h) => h.length === 1);
    await gw2.close();
    await until('stream ended', () => c.ended, (e) => e);
    fx2.cleanup();
  });

  it('counts connected SSE clients and forgets them when they leave', async () => {
    for (const c of opened) c.close();
    const health = async () => ((await (await fetch(gw.url + '/api/health')).json()) as { clients: { sse: number } }).clients.sse;
    const settle = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while ((await health()) !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return health();
    };
    expect(await settle(0)).toBe(0);
    const c = await connect('/api/events');
    expect(await settle(1)).toBe(1);
    c.close();
    expect(await settle(0)).toBe(0);
  });
});
