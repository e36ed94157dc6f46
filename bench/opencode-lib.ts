import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kindFor } from '../actors/index.js';
import { buildGateway } from '../gateway/app.js';
import { opencodeRoutePlugin } from '../gateway/routes/opencode/index.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { ActorProjector, readActor, readActors } from '../services/store/projections.js';
import { ActorHost } from '../services/host/actor-host.js';
import type { OpencodeEndpoint } from '../services/opencode/client.js';
import { opencodeServices } from '../services/opencode/index.js';
import { InProcessCommandQueue } from '../services/queue/in-process.js';
import { EventStore } from '../services/store/event-store.js';
import { startStubModel, type StubModel } from '../test/fixtures/stub-model-server.js';
import { benchTempDir } from './lib.js';

/**
 * Flow as `f up` wires it for opencode (store, host, opencode services, gateway on 127.0.0.1:0),
 * in this process, plus the stub model and a project directory pointing at it. `endpoints`
 * holds each ready instance's URL and password, so a bench can read opencode's own /event.
 */
export interface OpencodeBench {
  url: string;
  stub: StubModel;
  project: string;
  endpoints: Map<string, OpencodeEndpoint>;
  close(): Promise<void>;
}

export async function startOpencodeBench(): Promise<OpencodeBench> {
  const home = benchTempDir('oc-home');
  const proj = benchTempDir('oc-proj');
  const stub = await startStubModel();
  writeFileSync(join(proj.dir, 'opencode.json'), JSON.stringify(stub.opencodeConfig()));
  const store = EventStore.open(join(home.dir, 'flow.db'), { host: 'bench', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  const live = new InProcessLiveBus();
  const endpoints = new Map<string, OpencodeEndpoint>();
  const opencode = opencodeServices({ live, home: home.dir, onReady: (id, ep) => endpoints.set(id, ep), log: () => {} });
  const host = await ActorHost.start({ store, live, services: [opencode], log: () => {} });
  const commands = new InProcessCommandQueue(host);
  const readModel = { listActors: (t: string) => readActors(store.db, t), getActor: (id: string) => readActor(store.db, id), outputLines: () => [] };
  const app = await buildGateway({ log: store, readModel, commands, live, extraRoutes: [opencodeRoutePlugin(opencode.runtime)] });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    stub,
    project: proj.dir,
    endpoints,
    async close() {
      await commands.close();
      await app.close();
      await host.stop();
      await live.close();
      store.close();
      await stub.close();
      home.cleanup();
      proj.cleanup();
    },
  };
}

export async function api<T>(url: string, method = 'GET', body?: unknown): Promise<T> {
  const res = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function waitStatus(base: string, id: string, status: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await api<{ status: string; lastError: string | null }>(`${base}/api/instances/${id}`);
    if (v.status === status) return;
    if (v.status === 'error') throw new Error(`${id}: ${v.lastError}`);
    if (Date.now() > deadline) throw new Error(`${id} is still ${v.status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
