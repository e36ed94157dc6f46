import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { BackendView } from '../../gateway/backend-view.js';
import type { OutputLine } from '../../services/store/read-model.js';
import { startHost } from '../support/host.js';
import { tempDir } from '../support/tmp.js';
import { SseClient, startGateway, until, type RunningGateway } from './harness.js';

/** The backends API against the real actor host: real processes, real events, the real projection. */
let tmp: ReturnType<typeof tempDir>;
let flow: Awaited<ReturnType<typeof startHost>>;
let gw: RunningGateway;
const sse: SseClient[] = [];

/** Prints a numbered line every 20 ms until stopped. */
const TICKER = ['node', '-e', "let i = 0; setInterval(() => console.log('line ' + i++), 20)"];

beforeAll(async () => {
  tmp = tempDir('flow-gateway-backends-');
  flow = await startHost(tmp.dir);
  gw = await startGateway({
    log: flow.store,
    host: flow.host,
    live: flow.live,
    outputLines: (streamId, limit) => flow.backends.outputs()?.lines(streamId, limit) ?? [],
    options: { bodyLimitBytes: 16 * 1024 },
  });
});

afterAll(async () => {
  for (const c of sse) c.close();
  await gw.close();
  await flow.close();
  tmp.cleanup();
});

interface ErrorBody {
  error: { code: string; message: string };
}

async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const backend = (name: string) => call<BackendView>('GET', `/api/backends/${name}`);
/** Polls the API until the backend reaches `status` (the bound only ends a failing test). */
async function waitStatus(name: string, status: string): Promise<BackendView> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const b = await backend(name);
    if (b.body.status === status) return b.body;
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}; last: ${JSON.stringify(b.body)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('POST /api/backends', () => {
  it('creates a backend from a zod-validated body; cwd defaults to the server cwd; 201 with its view', async () => {
    const res = await call<BackendView>('POST', '/api/backends', { name: 'idle', command: ['node', 'server.js'], autostart: false });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      name: 'idle',
      status: 'stopped',
      restarts: 0,
      pid: null,
      startedAt: null,
      lastExit: null,
      exits: 0,
      lastError: null,
      version: 1,
      config: { command: ['node', 'server.js'], cwd: process.cwd(), env: {}, port: null, watch: [], watchExtensions: ['.ts', '.js', '.json'], stopGraceMs: 5000 },
    });
    expect(flow.store.readStream('backend-child:idle').map((e) => e.type)).toEqual(['CREATED']);
  });

  it('resolves a relative cwd and watch paths against the server cwd', async () => {
    const res = await call<BackendView>('POST', '/api/backends', { name: 'relative', command: ['true'], cwd: 'test', watch: ['gateway'], port: 4100, autostart: false });
    expect(res.status).toBe(201);
    expect(res.body.config).toMatchObject({ cwd: join(process.cwd(), 'test'), watch: [join(process.cwd(), 'test', 'gateway')], port: 4100 });
  });

  it('refuses a second backend with the same name: the host\'s 409, naming it and its state', async () => {
    const res = await call<ErrorBody>('POST', '/api/backends', { name: 'idle', command: ['node', 'other.js'] });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/idle/);
    expect(res.body.error.message).toMatch(/stopped/);
  });

  it('rejects bad bodies with 400 and a message that names the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'x' }, /^body\.command: /],
      [{ name: 'x', command: [] }, /body\.command: a backend needs a command to run/],
      [{ name: 'x', command: [''] }, /body\.command\.0: command words must not be empty/],
      [{ name: 'Not A Name', command: ['a'] }, /body\.name: a backend name is/],
      [{ name: 'x', command: ['a'], port: 70000 }, /body\.port/],
      [{ name: 'x', command: ['a'], env: { A: 1 } }, /body\.env\.A/],
      // What no process can be given: Node refuses a NUL byte in a spawn, and "=" ends a name.
      [{ name: 'x', command: ['sleep\0', '1'] }, /^body\.command\.0: a command word cannot contain a NUL byte/],
      [{ name: 'x', command: ['a'], env: { A: 'b\0c' } }, /^body\.env\.A: an environment variable value cannot contain a NUL byte/],
      [{ name: 'x', command: ['a'], env: { 'A=B': 'c' } }, /^body\.env\.A=B: an environment variable name is not empty and holds no "=" or NUL byte/],
      [{ name: 'x', command: ['a'], env: { '': 'c' } }, /an environment variable name is not empty/],
      [{ name: 'x', command: ['a'], cmd: ['typo'] }, /body: .*cmd/],
      [{ name: 'x', command: ['a'], cwd: '/definitely/not/here' }, /^body\.cwd: \/definitely\/not\/here is not an existing directory$/],
      [{ name: 'x', command: ['a'], cwd: join(process.cwd(), 'package.json') }, /body\.cwd: .* is not an existing directory/],
      ['{"name": ', /JSON/i],
    ];
    for (const [body, message] of cases) {
      const res = await call<ErrorBody>('POST', '/api/backends', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid');
      expect(res.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await backend('x')).status).toBe(404);
  });

  it('a body over the limit is 413, as JSON', async () => {
    const res = await call<ErrorBody>('POST', '/api/backends', { name: 'big', command: ['a'], env: { BIG: 'x'.repeat(32 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('too_large');
  });
});

describe('unknown and malformed backend ids', () => {
  it('404 for an id that does not exist, on every route', async () => {
    const routes: [string, string][] = [
      ['GET', '/api/backends/ghost'],
      ['DELETE', '/api/backends/ghost'],
      ['POST', '/api/backends/ghost/start'],
      ['POST', '/api/backends/ghost/stop'],
      ['POST', '/api/backends/ghost/restart'],
      ['GET', '/api/backends/ghost/logs'],
    ];
    for (const [method, path] of routes) {
      const res = await call<ErrorBody>(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      // Reads say so from the read model; commands are the host's to refuse, in its words.
      expect(res.body.error.code).toBe('not_found');
      expect(res.body.error.message, `${method} ${path}`).toMatch(/ghost/);
    }
  });

  it('400 for an id that cannot be a backend name (path traversal included)', async () => {
    for (const id of ['Upper', '..%2F..%2Fetc', 'a%20b']) {
      const res = await call<ErrorBody>('GET', `/api/backends/${id}`);
      expect(res.status, id).toBe(400);
      expect(res.body.error.message).toMatch(/^params\.id: a backend name is/);
    }
  });
});

describe('a backend through its life', () => {
  it('runs, shows its pid, logs, follows its output live, stops, restarts and is removed', async () => {
    const created = await call<BackendView>('POST', '/api/backends', { name: 'ticker', command: TICKER, cwd: tmp.dir, stopGraceMs: 2000 });
    expect(created.status).toBe(201);
    const running = await waitStatus('ticker', 'running');
    expect(running.pid).toEqual(expect.any(Number));
    expect(running.startedAt).toEqual(expect.any(String));

    const listed = await call<{ backends: BackendView[] }>('GET', '/api/backends');
    expect(listed.body.backends.map((b) => b.name)).toContain('ticker');

    // The kept tail.
    await until('three lines', () => call<{ lines: OutputLine[] }>('GET', '/api/backends/ticker/logs?limit=10'), (r) => r.body.lines.length >= 3);
    const logs = await call<{ name: string; lines: OutputLine[] }>('GET', '/api/backends/ticker/logs?limit=2');
    expect(logs.status).toBe(200);
    expect(logs.body.lines).toHaveLength(2);
    expect(logs.body.lines[0]!.line).toMatch(/^line \d+$/);
    expect(logs.body.lines[1]!.seq).toBeGreaterThan(logs.body.lines[0]!.seq);
    // limit=0: none of the kept lines (as tail -n 0), not all of them.
    const none = await call<{ lines: OutputLine[] }>('GET', '/api/backends/ticker/logs?limit=0');
    expect(none.status).toBe(200);
    expect(none.body.lines).toEqual([]);
    const newOnly = await SseClient.connect(`${gw.url}/api/backends/ticker/logs?follow=1&limit=0`);
    sse.push(newOnly);
    const fresh = await until('two new lines', () => newOnly.named('line') as OutputLine[], (l) => l.length >= 2);
    expect(fresh[0]!.seq).toBeGreaterThan(logs.body.lines[1]!.seq);
    newOnly.close();

    // Following: the tail, then new lines as they are printed, ids increasing.
    const follow = await SseClient.connect(`${gw.url}/api/backends/ticker/logs?follow=1&limit=3`);
    sse.push(follow);
    expect(follow.status).toBe(200);
    const followed = await until('ten followed lines', () => follow.named('line') as OutputLine[], (l) => l.length >= 10);
    const seqs = followed.map((l) => l.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(follow.messages.filter((m) => m.event === 'line').map((m) => Number(m.id))).toEqual(seqs);
    follow.close();

    const stop = await call<BackendView>('POST', '/api/backends/ticker/stop');
    expect(stop.status).toBe(200);
    const stopped = await waitStatus('ticker', 'stopped');
    expect(stopped.pid).toBeNull();
    expect(stopped.lastExit).toMatchObject({ signal: 'SIGTERM', cause: 'exit' });
    // A command that does not apply in the current state is a 409 with the reason.
    const again = await call<ErrorBody>('POST', '/api/backends/ticker/stop');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_state');

    const restart = await call('POST', '/api/backends/ticker/restart');
    expect(restart.status, JSON.stringify(restart.body)).toBe(200);
    const restarted = await waitStatus('ticker', 'running');
    expect(restarted.pid).not.toBe(running.pid);

    const removed = await call<BackendView>('DELETE', '/api/backends/ticker');
    expect(removed.status).toBe(200);
    expect(['removing', 'removed']).toContain(removed.body.status);
    // Removing waits for the process to exit; then the backend is gone from the API (its log stays).
    for (let r = await backend('ticker'); r.status !== 404; r = await backend('ticker')) {
      expect(r.body.status).toBe('removing');
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(flow.store.readStream('backend-child:ticker').map((e) => e.type)).toContain('REMOVE_REQUESTED');
    const after = await call<{ backends: BackendView[] }>('GET', '/api/backends');
    expect(after.body.backends.map((b) => b.name)).not.toContain('ticker');

    // A removed name can be used again.
    const reborn = await call<BackendView>('POST', '/api/backends', { name: 'ticker', command: ['true'], autostart: false });
    expect(reborn.status).toBe(201);
    expect(reborn.body.status).toBe('stopped');
  });
});
