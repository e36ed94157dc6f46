import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { readActor } from '../../services/host/actor-projection.js';
import type { EventStore } from '../../services/store/event-store.js';
import { openTempStore, startGateway, type RunningGateway, type StoreFixture } from './harness.js';

/**
 * GET /api/actors and /api/actors/:id/state (the timeline's fold), and the dashboard's static
 * files, against a real store. Events are appended as the backend host would write them.
 */
let fx: StoreFixture;
let gw: RunningGateway;
const STREAM = 'backend-child:api';
const CONFIG = { command: ['node', 'server.js'], cwd: '/tmp', env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 1000 };

function append(store: EventStore, type: string, data: Record<string, unknown>): void {
  store.append('backend-child', STREAM, 'any', [{ id: uuidv7(), type, data, at: new Date().toISOString() }]);
}

beforeAll(async () => {
  fx = openTempStore();
  append(fx.store, 'CREATED', { name: 'api', config: CONFIG, autostart: true });
  append(fx.store, 'PROCESS_STARTED', { pid: 4242, startTicks: null });
  append(fx.store, 'STOP_REQUESTED', {});
  append(fx.store, 'PROCESS_EXITED', { pid: 4242, code: null, signal: 'SIGTERM', cause: 'exit', ranMs: 10 });
  gw = await startGateway({ log: fx.store });
});

afterAll(async () => {
  await gw?.close();
  fx?.cleanup();
});

const get = async (path: string) => {
  const res = await fetch(gw.url + path);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};
const getJson = async <T>(path: string) => {
  const r = await get(path);
  return { status: r.status, body: JSON.parse(r.text) as T };
};

interface State {
  version: number;
  latest: number;
  status: string;
  value: unknown;
  context: { pid?: number; run: { pid: number } | null };
  event: { type: string } | null;
}

describe('GET /api/actors', () => {
  it('lists actors of every kind, or of one', async () => {
    const all = await getJson<{ actors: { streamId: string; status: string; version: number }[] }>('/api/actors');
    expect(all.body.actors).toEqual([expect.objectContaining({ streamId: STREAM, streamType: 'backend-child', version: 4, status: 'stopped' })]);
    expect((await getJson<{ actors: unknown[] }>('/api/actors?streamType=tunnel')).body.actors).toEqual([]);
    expect((await get('/api/actors?streamType=Not_A_Type')).status).toBe(400);
  });
});

describe('GET /api/actors/:streamId/state', () => {
  it('folds the stream to the version asked for', async () => {
    const running = await getJson<State>(`/api/actors/${encodeURIComponent(STREAM)}/state?version=2`);
    expect(running.status).toBe(200);
    expect(running.body).toMatchObject({ version: 2, latest: 4, status: 'running', event: { type: 'PROCESS_STARTED' } });
    expect(running.body.context.run?.pid).toBe(4242);

    const initial = await getJson<State>(`/api/actors/${encodeURIComponent(STREAM)}/state?version=0`);
    expect(initial.body).toMatchObject({ version: 0, event: null });
  });

  it('without a version, agrees with the stored projection', async () => {
    const latest = await getJson<State>(`/api/actors/${encodeURIComponent(STREAM)}/state`);
    const row = readActor(fx.store.db, STREAM)!;
    expect(latest.body).toMatchObject({ version: row.version, status: row.status });
    expect({ value: latest.body.value, context: latest.body.context }).toEqual(row.snapshot);
  });

  it('answers 404 for an unknown stream or a version past the end, 400 for a malformed id', async () => {
    expect((await get(`/api/actors/${encodeURIComponent('backend-child:nope')}/state`)).status).toBe(404);
    expect((await get(`/api/actors/${encodeURIComponent('no-such-kind:x')}/state`)).status).toBe(404);
    expect((await get(`/api/actors/${encodeURIComponent(STREAM)}/state?version=5`)).status).toBe(404);
    expect((await get(`/api/actors/${encodeURIComponent('../../etc/passwd')}/state`)).status).toBe(400);
    expect((await get(`/api/actors/${encodeURIComponent(STREAM)}/state?version=-1`)).status).toBe(400);
  });
});

describe('the dashboard files', () => {
  it('serves the page at / and its modules, and nothing outside gateway/web', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.type).toContain('text/html');
    expect(index.text).toContain('src="js/main.js"');
    const main = await get('/js/main.js');
    expect(main.status).toBe(200);
    expect(main.type).toMatch(/javascript/);
    for (const path of ['/package.json', '/../package.json', '/%2e%2e/package.json', '/js/../../routes/web.ts', '/nope.js']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
    }
  });
});
