import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendViewSchema, type BackendView } from '../../gateway/backend-view.js';
import { TunnelViewSchema } from '../../gateway/routes/tunnels.js';
import { InstanceViewSchema } from '../../services/opencode/views.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * The route tier: each route parses, submits and shows; the host alone says whether a command
 * applies. Every request goes through app.inject to a gateway over a real host and store.
 */
interface ErrorBody {
  error: { code: string; message: string };
}

let gw: InjectedGateway;

beforeAll(async () => {
  gw = await injectGateway();
});

afterAll(async () => {
  await gw?.close();
});

/** Reads `path` until its status is `status` (the bound only ends a failing test). */
async function waitStatus(path: string, status: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await gw.call<{ status: string }>('GET', path);
    if (r.body.status === status) return;
    if (Date.now() > deadline) throw new Error(`${path} never became ${status}; last: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const IDLE = ['node', '-e', 'setInterval(() => {}, 1000)'];

describe('a backend through the route tier', () => {
  it('given no backend, when one is created, started, stopped and removed, then each answer is its view', async () => {
    const created = await gw.call<BackendView>('POST', '/api/backends', { name: 'tier', command: IDLE, cwd: gw.dir, autostart: false, stopGraceMs: 1000 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(BackendViewSchema.parse(created.body)).toMatchObject({ name: 'tier', status: 'stopped', version: 1 });
    expect(gw.store.readStream('backend-child:tier').map((e) => e.type)).toEqual(['CREATED']);

    const started = await gw.call<BackendView>('POST', '/api/backends/tier/start');
    expect(started.status).toBe(200);
    expect(['starting', 'running']).toContain(BackendViewSchema.parse(started.body).status);
    await waitStatus('/api/backends/tier', 'running');

    const stopped = await gw.call<BackendView>('POST', '/api/backends/tier/stop');
    expect(stopped.status).toBe(200);
    expect(BackendViewSchema.parse(stopped.body).name).toBe('tier');
    await waitStatus('/api/backends/tier', 'stopped');

    const removed = await gw.call<BackendView>('DELETE', '/api/backends/tier');
    expect(removed.status).toBe(200);
    expect(BackendViewSchema.parse(removed.body).status).toBe('removed');
    expect((await gw.call('GET', '/api/backends/tier')).status).toBe(404);
  });

  it('given a backend of that name, when another is created, then the host refuses it: 409 naming it', async () => {
    expect((await gw.call('POST', '/api/backends', { name: 'taken', command: IDLE, cwd: gw.dir, autostart: false })).status).toBe(201);
    const again = await gw.call<ErrorBody>('POST', '/api/backends', { name: 'taken', command: ['true'], cwd: gw.dir });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('backend taken already exists (it is stopped)');
    expect(gw.store.readStream('backend-child:taken').map((e) => e.type)).toEqual(['CREATED']);
  });

  it('given a bad body, then 400 with a message that names the field, and nothing is written', async () => {
    const head = gw.store.headPosition();
    const res = await gw.call<ErrorBody>('POST', '/api/backends', { name: 'bad', command: [] });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid', message: expect.stringMatching(/^body\.command: /) as unknown as string });
    expect(gw.store.headPosition()).toBe(head);
  });

  it('given no backend of that name, then every route answers 404', async () => {
    for (const [method, path] of [
      ['GET', '/api/backends/ghost'],
      ['DELETE', '/api/backends/ghost'],
      ['POST', '/api/backends/ghost/start'],
      ['POST', '/api/backends/ghost/stop'],
      ['POST', '/api/backends/ghost/restart'],
    ] as const) {
      const res = await gw.call<ErrorBody>(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect(res.body.error.message, `${method} ${path}`).toMatch(/ghost/);
    }
  });
});

describe('a command that does not apply', () => {
  it('is the host\'s 409 invalid_state, the same body for every kind: a stopped backend, tunnel or instance told to stop', async () => {
    expect((await gw.call('POST', '/api/backends', { name: 'halted', command: IDLE, cwd: gw.dir, autostart: false })).status).toBe(201);

    const tunnel = await gw.call('POST', '/api/tunnels', { name: 'halted', port: 1, command: IDLE });
    expect(tunnel.status, JSON.stringify(tunnel.body)).toBe(201);
    TunnelViewSchema.parse(tunnel.body);
    expect((await gw.call('POST', '/api/tunnels/halted/stop')).status).toBe(200);
    await waitStatus('/api/tunnels/halted', 'stopped');

    const instance = await gw.call('POST', '/api/instances', { directory: gw.dir, id: 'halted', start: false });
    expect(instance.status, JSON.stringify(instance.body)).toBe(201);
    expect(InstanceViewSchema.parse(instance.body).status).toBe('stopped');

    for (const path of ['/api/backends/halted/stop', '/api/tunnels/halted/stop', '/api/instances/halted/stop']) {
      const head = gw.store.headPosition();
      const res = await gw.call<ErrorBody>('POST', path);
      expect(res.status, path).toBe(409);
      // The reason is the kind's, in a user's words, and the same for every kind.
      expect(res.body, path).toEqual({ error: { code: 'invalid_state', message: 'halted is already stopped' } });
      // A refused command writes nothing.
      expect(gw.store.headPosition(), path).toBe(head);
    }
  });
});

describe('response schemas', () => {
  it('given actors of every kind, then every GET without parameters answers what its declared schema says', async () => {
    const checked: string[] = [];
    for (const route of gw.app.routeTable) {
      const schema = route.zod?.response;
      if (route.method !== 'GET' || /[:*]/.test(route.url) || !schema) continue;
      const res = await gw.call('GET', route.url);
      expect(res.status, route.url).toBe(200);
      const parsed = schema.safeParse(res.body);
      expect(parsed.success ? [] : parsed.error.issues, route.url).toEqual([]);
      checked.push(route.url);
    }
    expect(checked).toEqual(expect.arrayContaining(['/api/health', '/api/backends', '/api/tunnels', '/api/instances', '/api/actors', '/api/events/log', '/api/attention', '/api/docs']));
  });
});
