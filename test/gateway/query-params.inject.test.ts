import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * A route takes the query parameters its schema names and no others. A misspelt `?limt=5`, or
 * one the route never had (`?lines=5`, `?after=`), is refused with a 400 that names it and lists
 * what the route does take; it is never read as "no limit" or "from the start".
 */
interface ErrorBody {
  error: { code: string; message: string };
}

let gw: InjectedGateway;

beforeAll(async () => {
  gw = await injectGateway();
  const created = await gw.call('POST', '/api/backends', { name: 'quiet', command: ['node', '-e', '0'], cwd: gw.dir, autostart: false });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await gw?.close();
});

describe('query parameters', () => {
  it('given the event log, when ?after= is sent (the route takes from=), then 400 naming after and listing what it takes', async () => {
    const res = await gw.call<ErrorBody>('GET', '/api/events/log?after=3');
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid', message: 'query.after: this route takes no such parameter (it takes from, limit, stream, streamType, type)' });
  });

  it('given a backend\'s log, when ?lines=5 and a misspelt ?folow=1 are sent, then 400 naming both', async () => {
    const res = await gw.call<ErrorBody>('GET', '/api/backends/quiet/logs?lines=5&folow=1');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('query.lines: this route takes no such parameter (it takes limit, follow); query.folow: this route takes no such parameter (it takes limit, follow)');
  });

  it('given a route that takes no query, when ?status=running is sent, then 400 saying it takes none', async () => {
    const res = await gw.call<ErrorBody>('GET', '/api/backends?status=running');
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid', message: 'query.status: this route takes no query parameters' });
  });

  it('refuses an unknown parameter on a command route before anything is submitted', async () => {
    const before = gw.store.readStream('backend-child:quiet').length;
    const res = await gw.call<ErrorBody>('POST', '/api/backends/quiet/start?force=1');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('query.force: this route takes no query parameters');
    expect(gw.store.readStream('backend-child:quiet')).toHaveLength(before);
  });

  it('given a parameter twice, then 400 saying to give it once (not zod\'s "expected string, received array")', async () => {
    const res = await gw.call<ErrorBody>('GET', '/api/events/log?limit=1&limit=2');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('query.limit: given 2 times; give it once');
  });

  it('given a number of more than 15 digits, then 400 saying it is too large (it is a whole number)', async () => {
    const res = await gw.call<ErrorBody>('GET', '/api/events/log?from=9999999999999999');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('query.from: from is too large (at most 15 digits)');
  });

  it('still takes the parameters a route names, and a bare "?"', async () => {
    expect((await gw.call('GET', '/api/events/log?limit=2&from=1')).status).toBe(200);
    expect((await gw.call('GET', '/api/backends?')).status).toBe(200);
    expect((await gw.call('GET', '/api/backends/quiet/logs?limit=5')).status).toBe(200);
  });

  it('names a parameter whose name is not plain text as JSON would, so the message cannot be forged', async () => {
    const res = await gw.call<ErrorBody>('GET', `/api/backends?${encodeURIComponent('a; query.limit: ok')}=1`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('query["a; query.limit: ok"]: this route takes no query parameters');
  });
});
