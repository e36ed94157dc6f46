import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGateway } from '../../gateway/app.js';
import { createGatewayAuth, flowAuthPlugin } from '../../gateway/auth/index.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { setPassword } from '../../services/auth/password.js';
import { noCommands, openTempStore, storeReadModel, until, type StoreFixture } from './harness.js';

/** The gateway's cross-cutting parts are Fastify plugins with names and declared dependencies. */
const fixtures: StoreFixture[] = [];
afterEach(() => {
  for (const fx of fixtures.splice(0)) fx.cleanup();
});

async function gateway(opts: { password?: string } = {}) {
  const fx = openTempStore();
  fixtures.push(fx);
  if (opts.password) await setPassword(fx.dir, opts.password);
  const auth = opts.password ? createGatewayAuth({ home: fx.dir, db: fx.store.db }) : undefined;
  return buildGateway({ log: fx.store, readModel: storeReadModel(fx.store), commands: noCommands, live: new InProcessLiveBus(), auth });
}

describe('flow-auth', () => {
  it('given an app without @fastify/websocket, when it is registered, then Fastify refuses it for the missing dependency', async () => {
    const bare = Fastify();
    await expect(bare.register(flowAuthPlugin, { hosts: { allowed: [] } }).ready()).rejects.toThrow(/@fastify\/websocket/);
    await bare.close();
  });

  it('given the gateway, then its access control and its event streams are the named plugins', async () => {
    const app = await gateway();
    expect(app.hasPlugin('@fastify/websocket')).toBe(true);
    expect(app.hasPlugin('flow-auth')).toBe(true);
    expect(app.hasPlugin('flow-sse')).toBe(true);
    await app.close();
  });

  it('given a password, then the Host is judged first (421 without a token), then the login (401), and public routes stay open', async () => {
    const app = await gateway({ password: 'a long enough password' });
    expect((await app.inject({ method: 'GET', url: '/api/backends', headers: { host: 'rebind.attacker.example' } })).statusCode).toBe(421);
    expect((await app.inject({ method: 'GET', url: '/api/backends', headers: { host: '127.0.0.1' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/health', headers: { host: '127.0.0.1' } })).statusCode).toBe(200);
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { host: '127.0.0.1' }, payload: { password: 'a long enough password' } });
    expect(login.statusCode).toBe(200);
    const token = login.json<{ token: string }>().token;
    expect((await app.inject({ method: 'GET', url: '/api/backends', headers: { host: '127.0.0.1', authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    await app.close();
  });
});

describe('flow-sse: reply.sse()', () => {
  it('given an open stream, then it counts among the clients, and closing the app ends it instead of waiting for it', async () => {
    const app = await gateway();
    const stream = app.inject({ method: 'GET', url: '/api/events' });
    const sse = async () => (await app.inject({ method: 'GET', url: '/api/health' })).json<{ clients: { sse: number } }>().clients.sse;
    await until('the stream to be counted', sse, (n) => n === 1);
    await app.close();
    const res = await stream;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.body).toMatch(/^retry: \d+\n\nevent: hello\n/);
  });
});
