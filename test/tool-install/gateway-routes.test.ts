import { request } from 'node:http';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogRoutes } from '../../gateway/routes/catalog.js';
import { installRoutes } from '../../gateway/routes/installs.js';
import { ActorProjector } from '../../services/store/projections.js';
import { EventStore } from '../../services/store/event-store.js';
import { kindFor } from '../../actors/index.js';
import { ensureBuilt, f, FIXTURES, json, sandbox, type Sandbox } from './helpers.js';

let server: Sandbox;
let client: Sandbox;
let app: FastifyInstance;
let base: string;

/** A raw GET, so that "..", "%2e%2e" and friends reach the server as written. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}`, { path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  ensureBuilt();
  server = sandbox();
  client = sandbox();
  // The serving Flow publishes into its own $FLOW_HOME/catalog and has a tool linked.
  expect((await f(['catalog', 'publish', join(FIXTURES, 'echo-py'), '--to', join(server.home, 'catalog')], server.env)).code).toBe(0);
  expect((await f(['install', join(FIXTURES, 'echo-sh')], server.env)).code).toBe(0);
  writeFileSync(join(server.home, 'secret.txt'), 'not for the catalog');
  symlinkSync(join(server.home, 'secret.txt'), join(server.home, 'catalog', 'leak.json'));
  app = Fastify();
  await app.register(catalogRoutes, { home: server.home });
  await app.register(installRoutes, { home: server.home });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}, 240_000);

afterAll(async () => {
  await app?.close();
  server?.cleanup();
  client?.cleanup();
});

describe('GET /api/catalog/: the gateway serves $FLOW_HOME/catalog so one Flow can install from another', () => {
  it('serves index.json and records as JSON', async () => {
    const res = await fetch(`${base}/api/catalog/index.json`);
    expect(res.headers.get('content-type')).toContain('application/json');
    const index = json<{ records: { id: string }[] }>(await res.text());
    expect(index.records.map((r) => r.id)).toEqual(['echo-py']);
  });

  it('another Flow installs and runs a tool from it', async () => {
    const index = json<{ records: { install_id: string }[] }>(await (await fetch(`${base}/api/catalog/`)).text());
    const env = { ...client.env, FLOW_CATALOG_URL: `${base}/api/catalog/` };
    const r = await f(['install', index.records[0]!.install_id], env);
    expect(r.code, r.stderr).toBe(0);
    expect(json((await f(['cli', 'echo-py', '--', '--help'], env)).stdout)).toEqual({ tool: 'echo-py', args: ['--help'] });
  });

  it('never serves anything outside the catalog directory', async () => {
    for (const path of ['/api/catalog/..%2fsecret.txt', '/api/catalog/%2e%2e/secret.txt', '/api/catalog/..%2f..%2fetc%2fpasswd']) {
      const res = await rawGet(path);
      expect([400, 404]).toContain(res.status);
      expect(res.body).not.toContain('not for the catalog');
    }
    const viaLink = await rawGet('/api/catalog/leak.json');
    expect(viaLink.status).toBe(404);
    expect((await rawGet('/api/catalog/nope.json')).status).toBe(404);
  });
});

describe('GET /api/installs', () => {
  it('lists installed tools as f cli list does, and resolves one id', async () => {
    const list = json<{ tools: { id: string; kind: string }[] }>(await (await fetch(`${base}/api/installs`)).text());
    expect(list.tools.map((t) => `${t.id}:${t.kind}`)).toEqual(['echo-sh:link']);
    const one = json<{ id: string; root: string }>(await (await fetch(`${base}/api/installs/echo-sh`)).text());
    expect(one.root).toBe(join(FIXTURES, 'echo-sh'));
    expect((await fetch(`${base}/api/installs/no-such`)).status).toBe(404);
    expect((await fetch(`${base}/api/installs/Bad..Id`)).status).toBe(400);
  });
});

describe('f install appends to the same log a running Flow reads', () => {
  it('a subscriber on the store sees the install’s events as they are committed by another process', async () => {
    const store = EventStore.open(join(client.home, 'flow.db'), { host: 'watcher', projectors: [new ActorProjector(kindFor)], pollMs: 20 });
    const seen: string[] = [];
    const sub = store.subscribe({ filter: { streamType: 'tool-install' } }, (e) => seen.push(`${e.streamId} ${e.type}`));
    try {
      expect((await f(['install', join(FIXTURES, 'echo-args')], client.env)).code).toBe(0);
      // Installs are per host: the sandbox's host is "test".
      for (let i = 0; i < 100 && !seen.includes('tool-install:echo-args_test REGISTERED'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual(['tool-install:echo-args_test INSTALL_REQUESTED', 'tool-install:echo-args_test MANIFEST_VALIDATED', 'tool-install:echo-args_test REGISTER_REQUESTED', 'tool-install:echo-args_test REGISTERED']);
    } finally {
      sub.close();
      store.close();
    }
  });
});
