import { afterAll, beforeAll, expect, it } from 'vitest';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { TaskBoard } from '../../services/taskboard/index.js';
import { taskRoutePlugin } from '../../gateway/routes/tasks.js';
import { tunnelRoutePlugin } from '../../gateway/routes/tunnels.js';
import { createGatewayAuth } from '../../gateway/auth/index.js';
import { openApiPath } from '../../gateway/openapi.js';
import { join } from 'node:path';
import { openTempStore, startGateway, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { callableRoutes, raw } from './helpers.js';

let fx: StoreFixture;
let gw: RunningGateway;
let board: TaskBoard;

beforeAll(async () => {
  fx = openTempStore();
  const live = new InProcessLiveBus();
  board = new TaskBoard({ live, tasksDir: join(fx.dir, 'tasks'), projectsDir: join(fx.dir, 'projects') });
  await board.start();
  gw = await startGateway({
    log: fx.store,
    live,
    auth: createGatewayAuth({ home: fx.dir, db: fx.store.db }),
    extraRoutes: [taskRoutePlugin({ board, home: fx.dir }), tunnelRoutePlugin()],
  });
});

afterAll(async () => {
  await gw?.close();
  await board?.close();
  fx?.cleanup();
});

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[]; requestBody?: { content: { 'application/json': { schema: Record<string, unknown> } } }; security?: unknown[] }>>;
}

it('lists every route of the route table, generated from its zod schemas', async () => {
  const res = await raw(gw.url, 'GET', '/api/docs');
  expect(res.status).toBe(200);
  const doc = JSON.parse(res.body) as Doc;
  expect(doc.openapi).toBe('3.1.0');
  const missing = callableRoutes(gw.app.routeTable)
    .filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()])
    .map((r) => `${r.method} ${r.url}`);
  expect(missing).toEqual([]);
  // Schemas come from zod, not from a hand-written copy.
  const create = doc.paths['/api/backends']!.post!;
  const body = create.requestBody!.content['application/json'].schema as { properties: Record<string, unknown>; required: string[] };
  expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['name', 'command', 'cwd', 'port', 'env', 'watch']));
  expect(body.required).toEqual(expect.arrayContaining(['name', 'command']));
  const log = doc.paths['/api/events/log']!.get!;
  expect(log.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['from', 'limit', 'stream', 'streamType', 'type']));
  expect(log.parameters.find((p) => p.name === 'from')).toMatchObject({ in: 'query', required: false, schema: { type: 'string' } });
  const note = doc.paths['/api/tasks/{session}/{task}/note']!.post!;
  expect(note.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(['session', 'task']);
  expect(doc.paths['/api/auth/login']!.post!.security).toEqual([]);
});

it('serves a small viewer at /api/docs/ui', async () => {
  const res = await raw(gw.url, 'GET', '/api/docs/ui');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  expect(res.body).toContain("fetch('/api/docs')");
});
