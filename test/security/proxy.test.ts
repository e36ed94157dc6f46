import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { InProcessCommandQueue } from '../../services/queue/in-process.js';
import { freePort } from '../../services/host/ports.js';
import { ApiErrorBodySchema } from '../../gateway/errors.js';
import { startGateway, storeReadModel, type RunningGateway } from '../gateway/harness.js';
import { startHost } from '../support/host.js';
import { tempDir } from '../support/tmp.js';

/**
 * Item 10 of issue 11: `/app/<backend>/api/*` forwards the request target's bytes as the client
 * sent them, refuses (400, Flow's error body) what cannot be forwarded, never answers 500, and
 * relays WebSocket messages far larger than the gateway's own /api/ws accepts.
 *
 * The backend is test/fixtures/echo-server.mjs, a real child run by the actor host: it answers
 * with the url it received (Node gives it as one latin1 character per byte, so comparing
 * `Buffer.from(url, 'latin1')` with the bytes sent is a byte-for-byte comparison).
 */
const ECHO = join(process.cwd(), 'test/fixtures/echo-server.mjs');
const SMALL_CAP = 256 * 1024;

let cleanup: () => void;
let host: Awaited<ReturnType<typeof startHost>>;
let commands: InProcessCommandQueue;
let gw: RunningGateway;
/** A second gateway over the same host, with a small proxied-WebSocket cap. */
let capped: RunningGateway;

interface RawAnswer {
  status: number;
  body: Buffer;
}

/**
 * Writes `GET <target> HTTP/1.1` with `target` as raw bytes (no client-side validation or
 * encoding) and `Connection: close`, reads until the server closes, and parses the answer
 * (Content-Length or chunked).
 */
function rawGet(port: number, target: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(target.toString('latin1').slice(0, 200))}`));
    }, 20_000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`connection closed without an answer: ${JSON.stringify(all.toString('latin1'))}`));
      const head = all.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const rest = all.subarray(end + 4);
      resolve({ status, body: /\r\ntransfer-encoding: *chunked/i.test(head) ? unchunk(rest) : rest });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(Buffer.concat([Buffer.from('GET '), target, Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)]));
  });
}

function unchunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

const echoed = (a: RawAnswer): Buffer => Buffer.from((JSON.parse(a.body.toString('utf8')) as { url: string }).url, 'latin1');
const latin1 = (s: string) => Buffer.from(s, 'latin1');

/** GET /app/web/api<suffix>: the answer and, when it was forwarded, the target the backend saw. */
async function through(suffix: string | Buffer, g = gw): Promise<{ status: number; seen: string | null; body: Buffer }> {
  const a = await rawGet(g.port, Buffer.concat([latin1('/app/web/api'), typeof suffix === 'string' ? latin1(suffix) : suffix]));
  return { status: a.status, body: a.body, seen: a.status === 200 ? echoed(a).toString('latin1') : null };
}

function flowError(body: Buffer): { code: string; message: string } {
  return ApiErrorBodySchema.parse(JSON.parse(body.toString('utf8'))).error;
}

function openWs(url: string): Promise<{ ws: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    ws.once('message', (data) => resolve({ ws, first: String(data) }));
    ws.once('unexpected-response', (_q, r) => reject(new Error(`upgrade refused with ${r.statusCode}`)));
    ws.once('error', reject);
  });
}

/** The status a WebSocket upgrade of `path` gets (101 if accepted), the path sent as is. */
function upgradeStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') } });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends one message and resolves with the echo, or with the close code if the socket closes first. */
function roundTrip(ws: WebSocket, data: Buffer): Promise<{ echo: Buffer } | { closed: number }> {
  return new Promise((resolve) => {
    ws.once('message', (m) => resolve({ echo: m as Buffer }));
    ws.once('close', (code) => resolve({ closed: code }));
    ws.send(data, { binary: true });
  });
}

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read().catch((e: unknown) => e as T);
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const tmp = tempDir('flow-sec-proxy-');
  cleanup = tmp.cleanup;
  host = await startHost(tmp.dir);
  commands = new InProcessCommandQueue(host.host);
  const readModel = storeReadModel(host.store);
  gw = await startGateway({ log: host.store, live: host.live, commands, readModel });
  capped = await startGateway({ log: host.store, live: host.live, commands, readModel, options: { proxyWsMaxPayloadBytes: SMALL_CAP } });
  const port = await freePort();
  const res = await fetch(`${gw.url}/api/backends`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'web', command: ['node', ECHO], cwd: tmp.dir, port }) });
  expect(res.status).toBe(201);
  await waitFor('the echo backend behind the proxy', () => through('/'), (r) => r.status === 200);
});

afterAll(async () => {
  await capped?.close();
  await gw?.close();
  await commands?.close();
  await host?.close();
  cleanup?.();
});

describe('the /app proxy forwards the request target as it was received', () => {
  it('given %20, a percent-encoded emoji or %0d%0a in the path, when proxied, then the backend sees them byte for byte (not a 500)', async () => {
    for (const suffix of ['/a%20b', '/%F0%9F%98%80', '/a%0d%0ab', '/a%0D%0A%20Set-Cookie:%20x=1']) {
      const r = await through(suffix);
      expect({ suffix, status: r.status, seen: r.seen }).toEqual({ suffix, status: 200, seen: suffix });
    }
  });

  it('given a raw emoji, a raw space or raw CR/LF in the request line, then the answer is 400, never 500', async () => {
    for (const suffix of [Buffer.from('/\u{1F600}', 'utf8'), latin1('/a b'), latin1('/a\r\nb'), latin1('/a\tb'), latin1('/a\x7fb')]) {
      expect({ suffix: suffix.toString('latin1'), status: (await through(suffix)).status }).toEqual({ suffix: suffix.toString('latin1'), status: 400 });
    }
  });

  it('given %3F, %23 or %2F in the path, then they stay encoded: a%3Fadmin=1 never reaches the backend as a query', async () => {
    expect((await through('/a%3Fadmin=1')).seen).toBe('/a%3Fadmin=1');
    expect((await through('/a%3fadmin=1?real=2')).seen).toBe('/a%3fadmin=1?real=2');
    expect((await through('/a%23frag')).seen).toBe('/a%23frag');
    expect((await through('/a%2Fb%2fc')).seen).toBe('/a%2Fb%2fc');
  });

  it('keeps the query as sent, and the bare prefix is the backend root', async () => {
    expect((await through('')).seen).toBe('/');
    expect((await through('?x=1&y=%20')).seen).toBe('/?x=1&y=%20');
    expect((await through('/')).seen).toBe('/');
    expect((await through('//double/slash?q=%3F')).seen).toBe('//double/slash?q=%3F');
    expect((await through("/sub-delims/!$&'()*+,;=:@~")).seen).toBe("/sub-delims/!$&'()*+,;=:@~");
  });

  it('given an encoded prefix (/%61pp/w%65b/%61pi/...), then the remainder is still what follows the prefix, as sent', async () => {
    for (const prefix of ['/%61pp/web/api', '/app/w%65b/api', '/app/web/%61pi', '/%61%70%70/%77eb/ap%69']) {
      const a = await rawGet(gw.port, latin1(`${prefix}/x%3Fy?z=1`));
      expect({ prefix, status: a.status, seen: a.status === 200 ? echoed(a).toString('latin1') : null }).toEqual({ prefix, status: 200, seen: '/x%3Fy?z=1' });
    }
  });

  it('given an absolute-form target naming the gateway, then the remainder excludes the scheme and authority', async () => {
    const a = await rawGet(gw.port, latin1(`http://127.0.0.1:${gw.port}/app/web/api/q%3Fx?y=1`));
    // Another guard may refuse absolute-form targets outright; what it must never be is a 500 or a decoded path.
    if (a.status === 200) expect(echoed(a).toString('latin1')).toBe('/q%3Fx?y=1');
    else expect([400, 403, 421]).toContain(a.status);
  });

  it('given a raw "#" (not part of a request target) or a ".." segment in any encoding, then 400 with Flow\'s error body', async () => {
    for (const suffix of ['/a#b?c=1', '/#', '/a/../b', '/a/%2e%2e/b', '/a/.%2E/b', '/a%2F..%2Fb', '/a\\..\\b', '/a%5C..%5Cb', '/..', '/a%00b']) {
      const r = await through(suffix);
      expect({ suffix, status: r.status }).toEqual({ suffix, status: 400 });
      expect(flowError(r.body).code).toBe('invalid');
    }
  });

  it('given a target longer than the server accepts, then a 4xx from the server, never a 500', async () => {
    const r = await through(`/${'x'.repeat(20_000)}`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    const long = `/${'y%3F'.repeat(1500)}`;
    expect((await through(long)).seen).toBe(long);
  });
});

/** Pieces a hostile client puts in a path: reserved characters, escapes of every kind, raw controls, non-ASCII. */
const hostilePiece = fc.oneof(
  fc.constantFrom('/', '?', '#', '%', '%%', '%2F', '%2f', '%3F', '%3f', '%23', '%20', '%0d%0a', '%0D%0A', '%00', '%25', '..', '.', '%2e', '%2E', '\\', '%5C', '&', '=', ';', ',', '+', '*', "'", '(', ')', '!', '$', ':', '@', '~', '[', ']', '"', '<', '>', '{', '}', '|', '^', '`', '\r\n', '\r', '\n', '\t', ' ', '\x7f', '\u{1F600}', 'é', '%F0%9F%98%80', '%ff', '%zz', '%C3%A9', '%e2%80%ae'),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
  fc.integer({ min: 100, max: 4000 }).map((n) => 'L'.repeat(n)),
);
const hostileSuffix = fc.tuple(fc.constantFrom('/', '/', '/', '?'), fc.array(hostilePiece, { maxLength: 24 })).map(([lead, pieces]) => lead + pieces.join(''));

/** What a well-behaved client sends: pchar, "/" and "?" only, every escape well formed and not "." (RFC 3986). */
const cleanPiece = fc.oneof(
  fc.constantFrom('/', '%2F', '%3F', '%23', '%20', '%0d%0a', '%25', '&', '=', ';', ',', '+', '*', "'", '(', ')', '!', '$', ':', '@', '~', '%F0%9F%98%80', '%C3%A9'),
  fc.integer({ min: 1, max: 0x7f }).filter((b) => b !== 0x2e).map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
);
const cleanSuffix = fc.tuple(fc.array(cleanPiece, { maxLength: 20 }), fc.option(fc.array(fc.oneof(cleanPiece, fc.constant('?')), { maxLength: 8 }))).map(([path, query]) => `/${path.join('')}${query ? `?${query.join('')}` : ''}`);

/** Node's parser refuses a request line holding bytes outside 0x21–0x7e in its target (a space ends it). */
const rawlyInvalid = (bytes: Buffer) => bytes.some((b) => b <= 0x20 || b >= 0x7f);
const expectedTarget = (suffix: string) => (suffix.startsWith('/') ? suffix : `/${suffix}`);

describe('fuzz: generated paths against the real echo backend', () => {
  it('every well-formed target reaches the backend byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(cleanSuffix, async (suffix) => {
        const r = await through(suffix);
        expect({ status: r.status, seen: r.seen }).toEqual({ status: 200, seen: suffix });
      }),
      { numRuns: 600 },
    );
  });

  it('every hostile target is forwarded byte for byte or refused with a 400, never a 500, never decoded', async () => {
    const counts = { forwarded: 0, refused: 0, tooLong: 0 };
    await fc.assert(
      fc.asyncProperty(hostileSuffix, async (suffix) => {
        const sent = Buffer.from(suffix, 'utf8');
        const r = await through(sent);
        // Spaces at the end only widen the gap before "HTTP/1.1", which Node's parser allows.
        const bytes = Buffer.from(sent.toString('latin1').replace(/ +$/, ''), 'latin1');
        if (r.status === 431 && bytes.length > 15_000) {
          counts.tooLong++;
          return;
        }
        if (rawlyInvalid(bytes)) {
          expect(r.status).toBe(400);
          counts.refused++;
          return;
        }
        if (r.status === 200) {
          expect(r.seen).toBe(expectedTarget(bytes.toString('latin1')));
          counts.forwarded++;
          return;
        }
        expect(r.status).toBe(400);
        counts.refused++;
      }),
      { numRuns: 2400 },
    );
    // Not a vacuous pass: a good share of the hostile targets is forwardable and was forwarded.
    expect(counts.forwarded).toBeGreaterThan(200);
    process.stdout.write(`proxy fuzz: ${JSON.stringify(counts)}\n`);
  });
});

describe('proxied WebSockets', () => {
  const wsBase = () => gw.url.replace(/^http/, 'ws');

  it('given an encoded ? in the WebSocket path, then the backend sees the target as sent', async () => {
    for (const suffix of ['/ws%3Fx?room=1', '/ws%20%F0%9F%98%80', '/ws%0d%0a', '/a%2Fb']) {
      const { ws, first } = await openWs(`${wsBase()}/app/web/api${suffix}`);
      expect(first).toBe(`hello ${suffix}`);
      ws.close();
    }
  });

  it('given a ".." in a WebSocket path, then the upgrade is refused with 400, not accepted', async () => {
    // Sent with node:http: a WebSocket client resolves dot segments before sending.
    for (const suffix of ['/a/%2e%2e/b', '/a/../b', '/a%2F..%2Fb']) expect({ suffix, status: await upgradeStatus(gw.port, `/app/web/api${suffix}`) }).toEqual({ suffix, status: 400 });
    expect(await upgradeStatus(gw.port, '/app/web/api/a%3Fb')).toBe(101);
  });

  it('relays a 1 MiB message both ways (16 times what the gateway\'s own /api/ws accepts)', async () => {
    const { ws } = await openWs(`${wsBase()}/app/web/api/big`);
    const data = Buffer.alloc(1024 * 1024, 7);
    const got = await roundTrip(ws, data);
    expect('echo' in got && got.echo.equals(data)).toBe(true);
    ws.close();
  });

  it('the gateway\'s own /api/ws still closes with 1009 past 64 KiB', async () => {
    const ws = new WebSocket(`${wsBase()}/api/ws`);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(Buffer.alloc(64 * 1024 + 1, 1));
    expect(await closed).toBe(1009);
  });

  it('the proxied cap is a gateway option: past it the client gets 1009, up to it the message passes', async () => {
    const { ws } = await openWs(`${capped.url.replace(/^http/, 'ws')}/app/web/api/capped`);
    const at = await roundTrip(ws, Buffer.alloc(SMALL_CAP, 2));
    expect('echo' in at && at.echo.length).toBe(SMALL_CAP);
    expect(await roundTrip(ws, Buffer.alloc(SMALL_CAP + 1, 3))).toEqual({ closed: 1009 });
  });
});
