import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { InProcessCommandQueue } from '../../services/queue/in-process.js';
import { startGateway, storeReadModel, type RunningGateway } from '../gateway/harness.js';
import { startHost } from '../support/host.js';
import { tempDir } from '../support/tmp.js';
import { jsonBody, raw } from './helpers.js';
import { freePort } from '../../services/host/ports.js';

/** A real backend child (node + ws), started and stopped through the actor host. */
const FIXTURE = join(process.cwd(), 'test/gateway-full/fixtures/proxy-backend.mjs');


async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let dir: string;
let cleanup: () => void;
let host: Awaited<ReturnType<typeof startHost>>;
let gw: RunningGateway;
let commands: InProcessCommandQueue;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('flow-proxy-'));
  host = await startHost(dir);
  commands = new InProcessCommandQueue(host.host);
  gw = await startGateway({ log: host.store, live: host.live, commands, readModel: storeReadModel(host.store, (id, n) => host.backends.outputs()?.lines(id, n) ?? []) });
  const port = await freePort();
  const created = await raw(gw.url, 'POST', '/api/backends', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'web', command: ['node', FIXTURE], cwd: dir, port }) });
  expect(created.status).toBe(201);
  const bare = await raw(gw.url, 'POST', '/api/backends', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'noport', command: ['node', '-e', 'setInterval(()=>{},1000)'], cwd: dir }) });
  expect(bare.status).toBe(201);
  // Running is not listening yet: until the server is up the proxy answers 502.
  await waitFor('the backend to answer through the proxy', () => raw(gw.url, 'GET', '/app/web/api/info'), (r) => r.status === 200);
});

afterAll(async () => {
  await gw?.close();
  await commands?.close();
  await host?.close();
  cleanup?.();
});

describe('/app/<backend>/api/*', () => {
  it('forwards a GET with the prefix stripped, the query kept, and Flow\'s own credentials removed', async () => {
    const res = await raw(gw.url, 'GET', '/app/web/api/info/deep?x=1&y=two', {
      headers: { authorization: 'Bearer flow_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', cookie: 'flow_session=abc; theirs=1', 'x-custom': 'kept' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-backend']).toBe('yes');
    const seen = jsonBody<{ method: string; url: string; headers: Record<string, string> }>(res);
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/info/deep?x=1&y=two');
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers.cookie).toBe('theirs=1');
    expect(seen.headers['x-forwarded-prefix']).toBe('/app/web/api');
  });

  it('the bare prefix is the backend\'s root', async () => {
    const res = await raw(gw.url, 'GET', '/app/web/api');
    expect(jsonBody<{ url: string }>(res).url).toBe('/');
  });

  it('streams a 1 MiB POST through and back byte for byte (the JSON body limit does not apply)', async () => {
    const body = randomBytes(1024 * 1024);
    const res = await new Promise<Buffer>((resolve, reject) => {
      const u = new URL(gw.url);
      import('node:http').then(({ request }) => {
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/app/web/api/echo', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length }, agent: false }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve(Buffer.concat(chunks)));
        });
        req.on('error', reject);
        req.end(body);
      }, reject);
    });
    expect(res.length).toBe(body.length);
    expect(createHash('sha256').update(res).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('relays a WebSocket both ways, text and binary', async () => {
    const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/app/web/api/ws?room=1`);
    const got: { data: string; binary: boolean }[] = [];
    ws.on('message', (data, isBinary) => got.push({ data: isBinary ? (data as Buffer).toString('hex') : String(data), binary: isBinary }));
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    ws.send('ping one');
    ws.send(Buffer.from([1, 2, 3, 255]));
    await waitFor('three messages', async () => got.length, (n) => n >= 3);
    expect(got).toEqual([
      { data: JSON.stringify({ hello: '/ws?room=1' }), binary: false },
      { data: 'ping one', binary: false },
      { data: '010203ff', binary: true },
    ]);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.close(1000, 'bye');
    expect(await closed).toBe(1000);
  });

  it('404 for an unknown backend, 400 for a bad name or a ".." path', async () => {
    const unknown = await raw(gw.url, 'GET', '/app/nope/api/x');
    expect(unknown.status).toBe(404);
    expect(jsonBody(unknown).error.message).toMatch(/no backend named nope/);
    expect((await raw(gw.url, 'GET', '/app/BAD!/api/x')).status).toBe(400);
    expect((await raw(gw.url, 'GET', '/app/web/api/a/%2e%2e/%2e%2e/etc/passwd')).status).toBe(400);
  });

  it('502 with a clear message for a backend with no port', async () => {
    const res = await raw(gw.url, 'GET', '/app/noport/api/x');
    expect(res.status).toBe(502);
    expect(jsonBody(res).error).toEqual({ code: 'bad_gateway', message: expect.stringMatching(/backend noport has no port/) as string });
  });

  it('502 with a clear message once the backend is stopped, for HTTP and for a WebSocket', async () => {
    expect((await raw(gw.url, 'POST', '/api/backends/web/stop')).status).toBe(200);
    await waitFor('web to stop', () => raw(gw.url, 'GET', '/api/backends/web'), (r) => jsonBody<{ status: string }>(r as never).status === 'stopped');
    const res = await raw(gw.url, 'GET', '/app/web/api/info');
    expect(res.status).toBe(502);
    expect(jsonBody(res).error.message).toMatch(/backend web is stopped, not running/);
    const status = await new Promise<number | null>((resolve) => {
      const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/app/web/api/ws`);
      ws.on('unexpected-response', (_q, r) => {
        resolve(r.statusCode ?? null);
        ws.terminate();
      });
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(null));
    });
    expect(status).toBe(502);
  });
});
