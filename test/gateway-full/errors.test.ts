import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { writeFileSync } from 'node:fs';
import { ApiErrorBodySchema } from '../../gateway/errors.js';
import { openTempStore, startGateway, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { wire } from '../security/wire.js';

/**
 * Every error has Flow's body, `{ error: { code, message } }`, whoever produced it: a route, zod,
 * Fastify's router (a path parameter over 100 characters, a path it cannot decode), its body
 * parser (bad JSON, a body too large or not JSON), Node's HTTP parser (headers too large, a
 * malformed request) or a bug (a 500, which is also written to the log).
 */
let fx: StoreFixture;
let gw: RunningGateway;
const logged: string[] = [];

/** A route that fails the way a bug does. */
async function brokenRoute(app: FastifyInstance): Promise<void> {
  app.get('/api/test/broken', async () => {
    throw new TypeError('cannot read properties of undefined (reading "port")');
  });
  // A write to a full disk: /dev/full answers every write with ENOSPC, as a full disk does.
  app.post('/api/test/write', async () => {
    writeFileSync('/dev/full', 'a token');
    return { ok: true };
  });
}

beforeAll(async () => {
  fx = openTempStore();
  gw = await startGateway({ log: fx.store, extraRoutes: [brokenRoute], logError: (line) => logged.push(line) });
});

afterAll(async () => {
  await gw?.close();
  fx?.cleanup();
});

const host = () => `Host: 127.0.0.1:${gw.port}`;

function flowError(res: { status: number; body: string }): { code: string; message: string } {
  const parsed = ApiErrorBodySchema.safeParse(JSON.parse(res.body));
  expect(parsed.success, `${res.status} ${res.body}`).toBe(true);
  return parsed.data!.error;
}

describe('errors Fastify and Node produce have Flow\'s body', () => {
  it('404: no such route', async () => {
    const res = await wire(gw.port, ['GET /api/nothing HTTP/1.1', host()]);
    expect(res.status).toBe(404);
    expect(flowError(res).code).toBe('not_found');
  });

  it('414: a path parameter over 100 characters (Fastify\'s FST_ERR_MAX_PARAM_LENGTH)', async () => {
    for (const path of [`/api/backends/${'a'.repeat(101)}`, `/api/backends/${'a'.repeat(500)}/stop`, `/api/actors/${'%61'.repeat(101)}/state`]) {
      const method = path.endsWith('/stop') ? 'POST' : 'GET';
      const res = await wire(gw.port, [`${method} ${path} HTTP/1.1`, host()]);
      expect(res.status, path).toBe(414);
      const error = flowError(res);
      expect(error.code).toBe('too_long');
      expect(res.body).not.toContain('FST_ERR');
    }
  });

  it('400: a path Fastify cannot decode', async () => {
    for (const path of ['/api/backends/%zz', '/%e0%a4%a', '/api/backends/%']) {
      const res = await wire(gw.port, [`GET ${path} HTTP/1.1`, host()]);
      expect(res.status, path).toBe(400);
      expect(flowError(res).code).toBe('invalid');
      expect(res.body).not.toContain('FST_ERR');
    }
  });

  it('400: bad JSON, and a JSON content type with no body', async () => {
    const bad = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/json'], '{"name":');
    expect(bad.status).toBe(400);
    expect(flowError(bad).code).toBe('invalid');
    const empty = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/json', 'Content-Length: 0']);
    expect(empty.status).toBe(400);
    expect(flowError(empty).code).toBe('invalid');
  });

  it('400: each bad JSON body says what is wrong with it, and a __proto__ key is refused as such (Fastify said "not valid JSON" for all)', async () => {
    const cases: [string, string][] = [
      ['{"name":', 'the body is not valid JSON: Unexpected end of JSON input'],
      ['{name: 1}', "the body is not valid JSON: Expected property name or '}' in JSON at position 1"],
      ['{"name":"x","__proto__":{"autostart":true}}', 'the JSON body holds a "__proto__" or "constructor.prototype" key; Flow refuses those (no field of its API has either name)'],
      ['{"constructor":{"prototype":{"x":1}}}', 'the JSON body holds a "__proto__" or "constructor.prototype" key; Flow refuses those (no field of its API has either name)'],
    ];
    for (const [body, message] of cases) {
      const res = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/json; charset=utf-8'], body);
      expect(res.status, body).toBe(400);
      expect(flowError(res), body).toEqual({ code: 'invalid', message });
    }
    const empty = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/json', 'Content-Length: 0']);
    expect(flowError(empty).message).toBe('the body is empty but its Content-Type is application/json: send a JSON value, or no Content-Type');
    // A good body still gets to the route (which names the field it lacks).
    const good = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/json'], '{"name":"ok"}');
    expect(flowError(good).message).toMatch(/^body\.command: /);
  });

  it('413: a body over the limit', async () => {
    const res = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/json'], JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }));
    expect(res.status).toBe(413);
    expect(flowError(res).code).toBe('too_large');
  });

  it('415: a body that is not JSON', async () => {
    const res = await wire(gw.port, ['POST /api/backends HTTP/1.1', host(), 'Content-Type: application/x-www-form-urlencoded'], 'name=x');
    expect(res.status).toBe(415);
    expect(flowError(res).code).toBe('unsupported_media_type');
  });

  it('404 for a method no route has (Fastify answers 404, not 405), in Flow\'s body', async () => {
    for (const method of ['PUT', 'PATCH', 'PROPFIND', 'SEARCH']) {
      const res = await wire(gw.port, [`${method} /api/backends HTTP/1.1`, host()]);
      expect(res.status, method).toBe(404);
      expect(flowError(res).code).toBe('not_found');
    }
  });

  it('431: request headers over 16 KiB (refused by Node before Fastify)', async () => {
    const res = await wire(gw.port, ['GET /api/backends HTTP/1.1', host(), `Cookie: big=${'x'.repeat(20_000)}`]);
    expect(res.status).toBe(431);
    expect(flowError(res).code).toBe('too_large');
  });

  it('400: a request Node\'s parser refuses (bad request line, bad length, unknown method)', async () => {
    for (const lines of [
      ['GET /api/backends HTTP/1.1 extra', host()],
      ['POST /api/backends HTTP/1.1', host(), 'Content-Length: abc'],
      ['POST /api/backends HTTP/1.1', host(), 'Content-Length: 2', 'Transfer-Encoding: chunked'],
      ['BREW /api/backends HTTP/1.1', host()],
    ]) {
      const res = await wire(gw.port, lines);
      expect(res.status, lines[0]).toBe(400);
      expect(flowError(res).code).toBe('invalid');
    }
  });

  it('426: a plain GET on the WebSocket route', async () => {
    const res = await wire(gw.port, ['GET /api/ws HTTP/1.1', host()]);
    expect(res.status).toBe(426);
    expect(flowError(res).code).toBe('invalid');
  });
});

describe('a full disk', () => {
  it('is a 503 that says the disk is full and what to do (not a 500), and is logged', async () => {
    logged.length = 0;
    const res = await wire(gw.port, ['POST /api/test/write HTTP/1.1', host(), 'Content-Length: 0']);
    expect(res.status).toBe(503);
    expect(flowError(res)).toEqual({ code: 'unavailable', message: 'Flow could not write to its disk: the disk is full (ENOSPC); the request stopped there: free disk space where FLOW_HOME lives, then try again' });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^503 on POST \/api\/test\/write \[request [^\]]+\]: .*ENOSPC/);
  });
});

describe('a 500', () => {
  it('answers Flow\'s body without internals, and writes the error with its stack to the log', async () => {
    logged.length = 0;
    const res = await wire(gw.port, ['GET /api/test/broken?x=1 HTTP/1.1', host()]);
    expect(res.status).toBe(500);
    const error = flowError(res);
    expect(error.code).toBe('internal');
    expect(error.message).not.toContain('port');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^500 on GET \/api\/test\/broken\?x=1 .*\[request [^\]]+\]: TypeError: cannot read properties of undefined \(reading "port"\)/);
    // The stack says where.
    expect(logged[0]).toContain('errors.test.ts');
    // The client gets the request id to look for.
    const id = /\[request ([^\]]+)\]/.exec(logged[0]!)![1]!;
    expect(error.message).toContain(id);
  });

  it('goes to stderr when the gateway is not told otherwise (what f up and f gateway show)', async () => {
    const fx2 = openTempStore();
    const gw2 = await startGateway({ log: fx2.store, extraRoutes: [brokenRoute] });
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const res = await wire(gw2.port, ['GET /api/test/broken HTTP/1.1', `Host: 127.0.0.1:${gw2.port}`]);
      expect(res.status).toBe(500);
    } finally {
      process.stderr.write = original;
      await gw2.close();
      fx2.cleanup();
    }
    expect(written.join('')).toMatch(/\[flow gateway\] 500 on GET \/api\/test\/broken .*TypeError: cannot read properties of undefined/);
  });
});
