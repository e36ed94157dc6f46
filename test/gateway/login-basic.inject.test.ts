import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_FREE_FAILURES } from '../../gateway/auth/login-throttle.js';
import { basicPassword } from '../../gateway/auth/routes.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * Seed 002 (Fluxy): the portal logs in with a JSON POST or with `GET` and Basic auth. Flow's
 * `GET /api/auth/login` is the same login: the same throttle, the same token, the same cookie.
 */
const PASSWORD = 'a long enough password';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let gw: InjectedGateway;
beforeAll(async () => {
  gw = await injectGateway({ password: PASSWORD });
});
afterAll(() => gw?.close());

const getLogin = (headers: Record<string, string>) => gw.app.inject({ method: 'GET', url: '/api/auth/login', headers: { host: '127.0.0.1', ...headers } });

describe('GET /api/auth/login with Basic auth', () => {
  it('given the right password (any user name), then it answers the token a POST answers, and the token opens the API', async () => {
    const res = await getLogin({ authorization: basic('admin', PASSWORD), 'x-forwarded-for': '10.0.0.1' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ token: string; tokenType: string; expiresAt: string }>();
    expect(body.tokenType).toBe('Bearer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(String(res.headers['set-cookie'])).toMatch(/^flow_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict/);
    const api = await gw.app.inject({ method: 'GET', url: '/api/backends', headers: { host: '127.0.0.1', authorization: `Bearer ${body.token}` } });
    expect(api.statusCode).toBe(200);

    const post = await gw.app.inject({ method: 'POST', url: '/api/auth/login', headers: { host: '127.0.0.1' }, payload: { password: PASSWORD } });
    expect(Object.keys(post.json<object>()).sort()).toEqual(Object.keys(body).sort());
  });

  it('given a password with colons, then everything after the first colon is the password (RFC 7617)', () => {
    expect(basicPassword(basic('u', 'a:b:c'))).toBe('a:b:c');
    expect(basicPassword(basic('', 'pw'))).toBe('pw');
    expect(basicPassword(`Basic ${Buffer.from('no colon').toString('base64')}`)).toBeNull();
    expect(basicPassword('Basic not base64!')).toBeNull();
    expect(basicPassword('Bearer abc')).toBeNull();
    expect(basicPassword(undefined)).toBeNull();
  });

  it('given a wrong password, then 401 with a Basic challenge, and no token or cookie', async () => {
    const res = await getLogin({ authorization: basic('admin', 'not it'), 'x-forwarded-for': '10.0.0.2' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="flow", charset="UTF-8"');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.json<{ error: { code: string; message: string } }>().error).toEqual({ code: 'unauthorized', message: 'wrong password' });
  });

  it('given no Authorization header, or one that is not Basic, then 401 with the challenge and how to log in', async () => {
    for (const headers of [{}, { authorization: 'Bearer something' }, { authorization: 'Basic %%%' }] as Record<string, string>[]) {
      const res = await getLogin(headers);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="flow", charset="UTF-8"');
      expect(res.json<{ error: { message: string } }>().error.message).toMatch(/Authorization: Basic/);
    }
  });

  it('given a client that keeps guessing, then the GET shares the POST\'s throttle: 429 with Retry-After, whichever way it asks next', async () => {
    const client = { 'x-forwarded-for': '10.0.0.3' };
    for (let i = 0; i < LOGIN_FREE_FAILURES; i++) {
      const res = i % 2 ? await getLogin({ ...client, authorization: basic('u', `guess ${i}`) }) : await gw.app.inject({ method: 'POST', url: '/api/auth/login', headers: { host: '127.0.0.1', ...client }, payload: { password: `guess ${i}` } });
      expect(res.statusCode).toBe(401);
    }
    const limited = await getLogin({ ...client, authorization: basic('u', PASSWORD) });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const post = await gw.app.inject({ method: 'POST', url: '/api/auth/login', headers: { host: '127.0.0.1', ...client }, payload: { password: PASSWORD } });
    expect(post.statusCode).toBe(429);
  });

  it('given a page of another origin, then the GET is refused as the POST is (403), even with the right password', async () => {
    const origin = { origin: 'https://evil.example', 'x-forwarded-for': '10.0.0.4' };
    const get = await getLogin({ ...origin, authorization: basic('u', PASSWORD) });
    expect(get.statusCode).toBe(403);
    expect(get.headers['set-cookie']).toBeUndefined();
    const post = await gw.app.inject({ method: 'POST', url: '/api/auth/login', headers: { host: '127.0.0.1', ...origin }, payload: { password: PASSWORD } });
    expect(post.statusCode).toBe(403);
  });
});
