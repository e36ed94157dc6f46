import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, openTempStore, positions, SseClient, startGateway, until, WsClient, type RunningGateway, type StoreFixture } from './harness.js';

/**
 * A client that stops reading must not make the server hold its backlog: once the bytes
 * queued for it pass the cap it is disconnected, while clients that keep up see everything.
 */
const CAP = 256 * 1024;
const PAYLOAD = 'x'.repeat(32 * 1024);

let fx: StoreFixture;
let gw: RunningGateway;

beforeAll(async () => {
  fx = openTempStore();
  gw = await startGateway({ log: fx.store, options: { maxClientBufferBytes: CAP, heartbeatMs: 60_000 } });
});

afterAll(async () => {
  await gw.close();
  fx.cleanup();
});

async function clients(): Promise<{ sse: number; ws: number; cutOffSlow: number }> {
  const res = await fetch(gw.url + '/api/health');
  return ((await res.json()) as { clients: { sse: number; ws: number; cutOffSlow: number } }).clients;
}

describe('slow consumers', () => {
  it('replaying a history far larger than the cap waits for the client instead of cutting it off', async () => {
    const start = fx.store.headPosition();
    for (let i = 0; i < 300; i++) appendEvents(fx.store, 'backend-child:history', 1, { data: { payload: PAYLOAD } });
    const head = fx.store.headPosition();
    await gw.caughtUp();
    const before = (await clients()).cutOffSlow;
    // Both start paused for a while: replay must wait for them, not pile the history up.
    const sse = await SseClient.connect(`${gw.url}/api/events?from=${start}`, { paused: true });
    const ws = await WsClient.connect(gw.url);
    ws.socket.pause();
    ws.subscribe({ from: start });
    // Events keep arriving while replay is stalled mid-history: they must come after it, once.
    await new Promise((r) => setTimeout(r, 100));
    appendEvents(fx.store, 'backend-child:during-replay', 10);
    await new Promise((r) => setTimeout(r, 100));
    sse.res.resume();
    ws.socket.resume();
    const late = appendEvents(fx.store, 'backend-child:during-replay', 10);
    await sse.waitForPosition(late.at(-1)!.position);
    await ws.waitForPosition(late.at(-1)!.position);
    expect(head).toBeLessThan(late[0]!.position);
    expect(positions(sse.events)).toEqual(positions(fx.store.readAll(start, 1000)));
    expect(positions(ws.events)).toEqual(positions(fx.store.readAll(start, 1000)));
    expect((await clients()).cutOffSlow).toBe(before);
    sse.close();
    ws.close();
    await ws.waitClosed();
    await until('SSE gone', () => sse.ended, (e) => e);
  });

  it('a client that stops reading is cut off (SSE and WS) while the others keep up and get every event', async () => {
    const start = fx.store.headPosition();
    const fastSse = await SseClient.connect(`${gw.url}/api/events?from=${start}`);
    const slowSse = await SseClient.connect(`${gw.url}/api/events?from=${start}`, { paused: true });
    const fastWs = await WsClient.connect(gw.url);
    const slowWs = await WsClient.connect(gw.url);
    fastWs.subscribe({ from: start });
    slowWs.subscribe({ from: start });
    await until('both WS subscribed', () => fastWs.of('hello').length + slowWs.of('hello').length, (n) => n === 2);
    slowWs.socket.pause();

    // Write at the pace of the fast clients, until both slow ones are gone. The kernel's socket
    // buffers take several MB first; the loop bound only stops a broken server from looping forever.
    let written = 0;
    let stats = await clients();
    while ((stats.sse > 1 || stats.ws > 1) && written < 2000) {
      const [e] = appendEvents(fx.store, 'backend-child:firehose', 1, { data: { payload: PAYLOAD } });
      written++;
      await fastSse.waitForPosition(e!.position);
      await fastWs.waitForPosition(e!.position);
      if (written % 10 === 0) stats = await clients();
    }
    expect(stats).toMatchObject({ sse: 1, ws: 1, cutOffSlow: 2 });

    // The fast clients are still connected and still served.
    const after = appendEvents(fx.store, 'backend-child:firehose', 2);
    await fastSse.waitForPosition(after.at(-1)!.position);
    await fastWs.waitForPosition(after.at(-1)!.position);
    const all = positions(fx.store.readAll(start, 100_000));
    expect(positions(fastSse.events)).toEqual(all);
    expect(positions(fastWs.events)).toEqual(all);

    // The slow ones, once they read again, find what reached them before the cut, in order, then the end.
    slowSse.res.resume();
    slowWs.socket.resume();
    await until('slow SSE ended', () => slowSse.ended, (e) => e);
    const code = await slowWs.waitClosed();
    // 4008 "slow" when the close frame gets through; 1006 when the socket had to be terminated.
    expect([4008, 1006]).toContain(code);
    for (const slow of [positions(slowSse.events), positions(slowWs.events)]) {
      expect(slow.length).toBeLessThan(all.length);
      expect(slow).toEqual(all.slice(0, slow.length));
    }

    fastSse.close();
    fastWs.close();
  });
});
