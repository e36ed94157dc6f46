import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createGatewayAuth } from '../../gateway/auth/index.js';
import { setPassword } from '../../services/auth/password.js';
import { TokenStore, TOKEN_TTL_MS } from '../../services/auth/tokens.js';
import { isLoopbackBind } from '../../gateway/auth/exposure.js';
import { startEmbedded } from '../../infra/embedded.js';
import { openTempStore, startGateway, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { tempDir } from '../support/tmp.js';
import { jsonBody, raw } from './helpers.js';

const PASSWORD = 'a long enough password';

/** A gateway with auth on a clock the test moves. */
async function authedGateway() {
  const fx: StoreFixture = openTempStore();
  await setPassword(fx.dir, PASSWORD);
  const clock = { now: Date.now() };
  const auth = createGatewayAuth({ home: fx.dir, db: fx.store.db, now: () => clock.now });
  const gw: RunningGateway = await startGateway({ log: fx.store, auth });
  const login = async () => {
    const res = await raw(gw.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    expect(res.status).toBe(200);
    return jsonBody<{ token: string; expiresAt: string }>(res);
  };
  const get = (token: string) => raw(gw.url, 'GET', '/api/backends', { headers: { authorization: `Bearer ${token}` } });
  return {
    fx,
    gw,
    clock,
    auth,
    login,
    get,
    close: async () => {
      await gw.close();
      fx.cleanup();
    },
  };
}

const closeAll: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closeAll.splice(0)) await c();
});

describe('tokens', () => {
  it('expire after 7 days: the same token is then refused with 401, even though it was cached', async () => {
    const t = await authedGateway();
    closeAll.push(t.close);
    const { token, expiresAt } = await t.login();
    expect(Date.parse(expiresAt) - t.clock.now).toBe(TOKEN_TTL_MS);
    expect((await t.get(token)).status).toBe(200);
    t.clock.now += TOKEN_TTL_MS - 1000;
    expect((await t.get(token)).status).toBe(200);
    t.clock.now += 1000;
    const expired = await t.get(token);
    expect(expired.status).toBe(401);
    expect(jsonBody(expired).error.message).toMatch(/expired/);
  });

  it('are stored hashed: the database never holds a token', async () => {
    const t = await authedGateway();
    closeAll.push(t.close);
    const { token } = await t.login();
    const rows = t.fx.store.db.prepare('SELECT * FROM auth_tokens').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).not.toContain(token.slice(5));
  });

  it('are checked against the database at most once a minute (a revocation elsewhere shows within 60 s)', async () => {
    const t = await authedGateway();
    closeAll.push(t.close);
    const { token } = await t.login();
    expect((await t.get(token)).status).toBe(200);
    // Another process (f auth set-password) ends every session in the database.
    new TokenStore(t.fx.store.db).revokeAll();
    expect((await t.get(token)).status).toBe(200);
    t.clock.now += 60_001;
    expect((await t.get(token)).status).toBe(401);
  });

  it('a logout in this process takes effect at once', async () => {
    const t = await authedGateway();
    closeAll.push(t.close);
    const { token } = await t.login();
    expect((await t.get(token)).status).toBe(200);
    expect((await raw(t.gw.url, 'POST', '/api/auth/logout', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await t.get(token)).status).toBe(401);
  });

  it('login with no password set is a 409 that says how to set one; the gateway is open', async () => {
    const fx = openTempStore();
    const auth = createGatewayAuth({ home: fx.dir, db: fx.store.db });
    const gw = await startGateway({ log: fx.store, auth });
    closeAll.push(async () => {
      await gw.close();
      fx.cleanup();
    });
    const res = await raw(gw.url, 'POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'whatever1' }) });
    expect(res.status).toBe(409);
    expect(jsonBody(res).error.message).toMatch(/f auth set-password/);
    expect((await raw(gw.url, 'GET', '/api/backends')).status).toBe(200);
    expect(jsonBody<{ passwordSet: boolean }>(await raw(gw.url, 'GET', '/api/auth/status')).passwordSet).toBe(false);
  });
});

describe('f up and the bind address', () => {
  it('knows loopback from every-interface addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackBind(a)).toBe(true);
    for (const a of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com']) expect(isLoopbackBind(a)).toBe(false);
  });

  it('refuses to start on a non-loopback address without a password, and says why', async () => {
    const { dir, cleanup } = tempDir('flow-bind-');
    closeAll.push(async () => cleanup());
    const prev = process.env.FLOW_HOME;
    process.env.FLOW_HOME = dir;
    process.env.FLOW_TASKS_DIR = join(dir, 'tasks');
    process.env.FLOW_PROJECTS_DIR = join(dir, 'projects');
    try {
      await expect(startEmbedded({ port: 0, bind: '0.0.0.0' })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without a password.*f auth set-password/);
      // With a password it starts (on port 0 of every interface, closed at once).
      await setPassword(dir, PASSWORD);
      const flow = await startEmbedded({ port: 0, bind: '0.0.0.0' });
      await flow.close();
    } finally {
      process.env.FLOW_HOME = prev;
    }
  });
});
