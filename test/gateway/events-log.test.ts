import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLogPage } from '../../gateway/routes/events.js';
import { appendEvents, openTempStore, positions, startGateway, type RunningGateway, type StoreFixture } from './harness.js';

let fx: StoreFixture;
let gw: RunningGateway;

beforeAll(async () => {
  fx = openTempStore();
  gw = await startGateway({ log: fx.store });
  appendEvents(fx.store, 'backend-child:a', 4);
  appendEvents(fx.store, 'tunnel:t', 3, { type: 'CREATED' });
  appendEvents(fx.store, 'backend-child:b', 2, { type: 'START_REQUESTED' });
  appendEvents(fx.store, 'backend-child:a', 2, { type: 'START_REQUESTED' });
  await gw.caughtUp();
});

afterAll(async () => {
  await gw.close();
  fx.cleanup();
});

async function page(query: string): Promise<EventLogPage> {
  const res = await fetch(`${gw.url}/api/events/log?${query}`);
  expect(res.status, query).toBe(200);
  return (await res.json()) as EventLogPage;
}

describe('GET /api/events/log', () => {
  it('pages through the whole log with from/limit/next, and says which epoch it read', async () => {
    const seen: number[] = [];
    let from = 0;
    for (;;) {
      const p = await page(`from=${from}&limit=3`);
      expect(p.epoch).toBe(gw.epoch);
      expect(p.head).toBe(11);
      expect(p.events.length).toBeLessThanOrEqual(3);
      seen.push(...positions(p.events));
      from = p.next;
      if (!p.more) break;
    }
    expect(seen).toEqual(positions(fx.store.readAll(0, 100)));
  });

  it('defaults to the start of the log, 100 events', async () => {
    const p = await page('');
    expect(positions(p.events)).toEqual(positions(fx.store.readAll(0, 100)));
    expect(p).toMatchObject({ next: 11, more: false });
  });

  it('filters by stream, by stream type and by event type', async () => {
    expect((await page('stream=backend-child:a')).events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set((await page('streamType=tunnel')).events.map((e) => e.streamId))).toEqual(new Set(['tunnel:t']));
    const starts = await page('type=START_REQUESTED&limit=3');
    expect(starts.events.map((e) => [e.streamId, e.type])).toEqual([
      ['backend-child:b', 'START_REQUESTED'],
      ['backend-child:b', 'START_REQUESTED'],
      ['backend-child:a', 'START_REQUESTED'],
    ]);
    const rest = await page(`type=START_REQUESTED&limit=3&from=${starts.next}`);
    expect(rest.events.map((e) => e.streamId)).toEqual(['backend-child:a']);
    expect(rest.more).toBe(false);
    const combined = await page('type=START_REQUESTED&stream=backend-child:a');
    expect(combined.events.map((e) => e.version)).toEqual([5, 6]);
  });

  it('rejects bad queries with 400 and a message naming the field', async () => {
    const cases: [string, RegExp][] = [
      ['limit=abc', /^query\.limit: limit must be a whole number$/],
      ['limit=0', /query\.limit: limit must be at least 1/],
      ['limit=100000', /query\.limit: limit must be at most 1000/],
      ['from=1.5', /query\.from: from must be a whole number/],
      ['stream=../../etc/passwd', /query\.stream: stream id must look like/],
    ];
    for (const [query, message] of cases) {
      const res = await fetch(`${gw.url}/api/events/log?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, query).toMatch(message);
    }
  });
});

describe('the rest of the API surface', () => {
  it('GET /api/health says the gateway is up, with the log epoch, head and stream clients', async () => {
    const res = await fetch(`${gw.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, epoch: gw.epoch, head: 11, clients: { sse: 0, ws: 0, cutOffSlow: 0 } });
  });

  it('an unknown route is a JSON 404', async () => {
    const res = await fetch(`${gw.url}/api/nope?x=1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /api/nope' } });
  });
});
