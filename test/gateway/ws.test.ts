import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, openTempStore, positions, startGateway, until, WsClient, type RunningGateway, type StoreFixture } from './harness.js';

let fx: StoreFixture;
let gw: RunningGateway;
const opened: WsClient[] = [];

async function connect(opts: Parameters<typeof WsClient.connect>[1] = {}): Promise<WsClient> {
  const c = await WsClient.connect(gw.url, opts);
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

describe('GET /api/ws (WebSocket)', () => {
  it('subscribe from 0: hello, then the whole log, then live events, each with its position', async () => {
    appendEvents(fx.store, 'backend-child:a', 3);
    await gw.caughtUp();
    const c = await connect();
    c.subscribe({ from: 0 });
    await c.waitForPosition(fx.store.headPosition());
    const live = appendEvents(fx.store, 'backend-child:a', 2);
    await c.waitForPosition(live.at(-1)!.position);
    expect(c.messages[0]).toEqual({ type: 'hello', epoch: gw.epoch, head: 3, from: 0 });
    expect(positions(c.events)).toEqual(positions(fx.store.readAll(0, 1000)));
    const msg = c.of('event').at(-1)!;
    expect(msg.position).toBe(live.at(-1)!.position);
    expect(msg.event).toEqual(live.at(-1));
  });

  it('a client that disconnects and reconnects with {from: last position} receives every event exactly once, in order', async () => {
    const start = fx.store.headPosition();
    const seen: number[] = [];
    let last = start;
    for (let round = 0; round < 4; round++) {
      // Events written while no client is connected...
      appendEvents(fx.store, 'backend-child:resume', 3);
      appendEvents(fx.store, 'tunnel:resume', 1, { type: 'CREATED' });
      const c = await connect();
      c.subscribe({ from: last, epoch: gw.epoch });
      // ...and while it is.
      const during = appendEvents(fx.store, 'backend-child:resume', 2);
      await c.waitForPosition(during.at(-1)!.position);
      expect(c.of('reset')).toEqual([]);
      seen.push(...positions(c.events));
      last = c.events.at(-1)!.position;
      c.close();
      await c.waitClosed();
    }
    expect(seen).toEqual(positions(fx.store.readAll(start, 10_000)));
  });

  it('filters by stream type and stream id', async () => {
    const start = fx.store.headPosition();
    const byType = await connect();
    const byStream = await connect();
    byType.subscribe({ from: start, streamType: 'tunnel' });
    byStream.subscribe({ from: start, stream: 'backend-child:only' });
    appendEvents(fx.store, 'tunnel:w', 2, { type: 'CREATED' });
    const only = appendEvents(fx.store, 'backend-child:only', 2);
    const [lastTunnel] = appendEvents(fx.store, 'tunnel:w', 1, { type: 'CREATED' });
    appendEvents(fx.store, 'backend-child:not-this', 2);
    await byType.waitForPosition(lastTunnel!.position);
    await byStream.waitForPosition(only.at(-1)!.position);
    expect(byType.events.map((e) => e.streamType)).toEqual(['tunnel', 'tunnel', 'tunnel']);
    expect(positions(byStream.events)).toEqual(positions(only));
  });

  it('another epoch: hello, reset, then replay from position 1', async () => {
    const c = await connect();
    c.subscribe({ from: 5, epoch: 'an-old-log' });
    await c.waitForPosition(fx.store.headPosition());
    expect(c.messages.slice(0, 2).map((m) => m.type)).toEqual(['hello', 'reset']);
    expect(c.of('reset')[0]).toMatchObject({ epoch: gw.epoch, previousEpoch: 'an-old-log', reason: 'epoch-changed' });
    expect(c.events[0]!.position).toBe(1);
  });

  it('a new subscribe replaces the previous one', async () => {
    const c = await connect();
    c.subscribe({ stream: 'backend-child:first' });
    await until('hello', () => c.of('hello'), (h) => h.length === 1);
    c.subscribe({ stream: 'backend-child:second' });
    await until('second hello', () => c.of('hello'), (h) => h.length === 2);
    appendEvents(fx.store, 'backend-child:first', 1);
    const [second] = appendEvents(fx.store, 'backend-child:second', 1);
    await c.waitForPosition(second!.position);
    expect(c.events.map((e) => e.streamId)).toEqual(['backend-child:second']);
  });

  it('answers a malformed message with an error naming the field, and stays usable', async () => {
    const c = await connect();
    c.socket.send('not json');
    c.socket.send(JSON.stringify({ type: 'subscribe', from: -3 }));
    c.socket.send(JSON.stringify({ type: 'subscribe', stream: 'bad id' }));
    c.socket.send(JSON.stringify({ type: 'subscrib' }));
    await until('four errors', () => c.of('error'), (e) => e.length === 4);
    const [notJson, negative, badStream, badType] = c.of('error').map((e) => e.message);
    expect(notJson).toMatch(/JSON/);
    expect(negative).toMatch(/message\.from/);
    expect(badStream).toMatch(/message\.stream/);
    expect(badType).toMatch(/message\.type/);
    c.subscribe({});
    await until('hello', () => c.of('hello'), (h) => h.length === 1);
    const [e] = appendEvents(fx.store, 'backend-child:after-errors', 1);
    await c.waitForPosition(e!.position);
  });

  it('pings; a client that answers stays, one that never pongs is terminated', async () => {
    const polite = await connect();
    const mute = await connect({ autoPong: false });
    const closedCode = await mute.waitClosed();
    expect(closedCode).toBe(1006);
    // The polite client has been through the same heartbeats and is still there.
    expect(polite.closeCode).toBeNull();
    polite.subscribe({});
    await until('hello', () => polite.of('hello'), (h) => h.length === 1);
    const [e] = appendEvents(fx.store, 'backend-child:after-ping', 1);
    await polite.waitForPosition(e!.position);
  });

  it('a plain GET (no upgrade) is 426 with a JSON explanation', async () => {
    const res = await fetch(`${gw.url}/api/ws`);
    expect(res.status).toBe(426);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/WebSocket/);
  });

  it('closes every WebSocket when the gateway closes', async () => {
    const fx2 = openTempStore();
    const gw2 = await startGateway({ log: fx2.store });
    const c = await WsClient.connect(gw2.url);
    c.subscribe({ from: 0 });
    await until('hello', () => c.of('hello'), (h) => h.length === 1);
    await gw2.close();
    expect(await c.waitClosed()).toBe(1001);
    fx2.cleanup();
  });
});
