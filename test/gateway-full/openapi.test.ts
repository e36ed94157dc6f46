import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { TaskBoard } from '../../services/taskboard/index.js';
import { taskRoutePlugin } from '../../gateway/routes/tasks.js';
import { tunnelRoutePlugin } from '../../gateway/routes/tunnels.js';
import { createGatewayAuth } from '../../gateway/auth/index.js';
import { openApiPath } from '../../gateway/openapi.js';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { setPassword } from '../../services/auth/password.js';
import { tempDir } from '../support/tmp.js';
import { openTempStore, startGateway, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { callableRoutes, fill, raw } from './helpers.js';

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
  paths: Record<
    string,
    Record<
      string,
      {
        parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
        requestBody?: { content: { 'application/json': { schema: Record<string, unknown> } } };
        security?: unknown[];
        responses: Record<string, { description: string; content?: { 'application/json': { schema: unknown } } }>;
      }
    >
  >;
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

describe('every status a route can answer is in the document', () => {
  const PASSWORD = 'correct horse battery staple';
  let flow: Embedded;
  let token: string;
  let cleanup: () => void;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    const t = tempDir('flow-openapi-statuses-');
    cleanup = t.cleanup;
    const home = join(t.dir, 'home');
    mkdirSync(join(home, 'claude', 'tasks'), { recursive: true });
    process.env.FLOW_HOME = home;
    process.env.FLOW_TASKS_DIR = join(home, 'claude', 'tasks');
    process.env.FLOW_PROJECTS_DIR = join(home, 'claude', 'projects');
    // The features API on, so its routes are in the route table (and documented).
    process.env.FLOW_FEATURES = '1';
    await setPassword(home, PASSWORD);
    flow = await startEmbedded({ port: 0, log: () => {} });
    const login = await raw(flow.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    token = JSON.parse(login.body).token;
  });

  afterAll(async () => {
    await flow?.close();
    process.env = savedEnv;
    cleanup?.();
  });

  async function documentOf(): Promise<Doc> {
    return JSON.parse((await raw(flow.url, 'GET', '/api/docs', { headers: { authorization: `Bearer ${token}` } })).body) as Doc;
  }

  it('lists each status by its number (no 4XX/5XX catch-alls) with Flow\'s error body for errors', async () => {
    const doc = await documentOf();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys(op.responses);
        expect(statuses.filter((s) => !/^(\d{3}|default)$/.test(s)), `${method} ${path}`).toEqual([]);
        for (const s of statuses.filter((x) => /^[45]/.test(x))) expect(op.responses[s]!.content?.['application/json'].schema, `${method} ${path} ${s}`).toEqual({ $ref: '#/components/schemas/ApiError' });
      }
    }
    expect(Object.keys(doc.paths['/api/backends']!.post!.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409', '413', '415', '421', '500', '503', '504']));
    expect(doc.paths['/api/backends']!.post!.responses['200']).toBeUndefined();
    expect(Object.keys(doc.paths['/api/backends/{id}']!.get!.responses)).toEqual(expect.arrayContaining(['200', '404', '414']));
    expect(Object.keys(doc.paths['/api/tunnels']!.post!.responses)).toEqual(expect.arrayContaining(['200', '201']));
    expect(Object.keys(doc.paths['/api/sessions/{id}/messages']!.post!.responses)).toEqual(expect.arrayContaining(['202', '409', '502']));
    expect(Object.keys(doc.paths['/api/ws']!.get!.responses)).toEqual(expect.arrayContaining(['101', '426', '401', '403']));
    expect(Object.keys(doc.paths['/app/{backend}/api/{path}']!.get!.responses)).toEqual(expect.arrayContaining(['default', '502']));
    expect(Object.keys(doc.paths['/api/auth/login']!.post!.responses)).toEqual(expect.arrayContaining(['200', '401', '409', '429']));
    expect(doc.paths['/api/health']!.get!.responses['401']).toBeUndefined();
  });

  it('answers nothing that is not documented, over the whole route table and the ways a request goes wrong', async () => {
    const doc = await documentOf();
    const bearer = { authorization: `Bearer ${token}` };
    const undocumented: string[] = [];
    const seen = new Set<string>();
    for (const r of callableRoutes(flow.app.routeTable)) {
      if (r.url === '/api/auth/logout') continue;
      const op = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
      if (!op) continue; // the first test says every route is there
      const hasBody = !['GET', 'HEAD'].includes(r.method);
      const probes: [string, string, Record<string, string>, string | undefined][] = [
        ['no token', fill(r.url, 'x'), {}, hasBody ? '{}' : undefined],
        ['token', fill(r.url, 'x'), bearer, hasBody ? '{"note":"n","theme":"aurora"}' : undefined],
        ['traversal', fill(r.url, '..%2f..'), bearer, hasBody ? '{}' : undefined],
        ['foreign host', fill(r.url, 'x'), { ...bearer, host: 'rebind.attacker.example' }, undefined],
      ];
      if (/:[A-Za-z0-9_]+/.test(r.url)) probes.push(['long parameter', fill(r.url, 'a'.repeat(101)), bearer, undefined]);
      if (hasBody) {
        probes.push(['bad JSON', fill(r.url, 'x'), bearer, '{"x":']);
        probes.push(['not JSON', fill(r.url, 'x'), { ...bearer, 'content-type': 'application/x-www-form-urlencoded' }, 'a=b']);
      }
      for (const [what, path, headers, body] of probes) {
        const res = await raw(flow.url, r.method, path, { headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body });
        seen.add(String(res.status));
        if (!(String(res.status) in op.responses) && !('default' in op.responses)) undocumented.push(`${r.method} ${r.url} (${what}): ${res.status} ${res.body.slice(0, 100)}`);
      }
    }
    expect(undocumented).toEqual([]);
    // The sweep did meet the statuses it is meant to check.
    expect([...seen]).toEqual(expect.arrayContaining(['200', '400', '401', '404', '414', '415', '421']));
  });

  it('every success says what it carries: a JSON schema (from the route\'s zod), an event stream, or a file\'s media type', async () => {
    const doc = await documentOf();
    const bare: string[] = [];
    for (const r of callableRoutes(flow.app.routeTable)) {
      if (r.websocket) continue;
      const op = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
      for (const [status, res] of Object.entries(op?.responses ?? {})) {
        if (/^2\d\d$/.test(status) && !res.content) bare.push(`${r.method} ${r.url} ${status}`);
      }
    }
    expect(bare).toEqual([]);
    const backend = doc.paths['/api/backends/{id}']!.get!.responses['200']!.content!['application/json'].schema as { properties: Record<string, unknown> };
    expect(Object.keys(backend.properties)).toEqual(expect.arrayContaining(['name', 'status', 'pid', 'config', 'version']));
    expect(Object.keys(doc.paths['/api/events']!.get!.responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(Object.keys(doc.paths['/api/backends/{id}/logs']!.get!.responses['200']!.content!)).toEqual(['application/json', 'text/event-stream']);
  });

  it('a create answers the 201 its document promises', async () => {
    const doc = await documentOf();
    const res = await raw(flow.url, 'POST', '/api/backends', { headers: { ...{ authorization: `Bearer ${token}` }, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'documented', command: ['true'], autostart: false }) });
    expect(res.status).toBe(201);
    expect(doc.paths['/api/backends']!.post!.responses['201']).toBeDefined();
  });
});
