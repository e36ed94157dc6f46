/**
 * Gateway REST throughput and memory per SSE client.
 *
 *   node dist/bench/gateway-rest.js [--seconds 3] [--rounds 3] [--conns 32] [--sse 500]
 *
 * 1. Requests/s of GET /api/backends on the Flow gateway (buildGateway over a real EventStore
 *    holding 8 projected backends; the route reads the projection and builds each view) against
 *    a bare Fastify route that returns the same JSON (the object Flow answers, kept in memory),
 *    same run, the servers' turns rotated within each round. Flow is measured twice: without a
 *    password (the default on loopback) and with auth on (bearer token, 60 s check cache).
 *    Each server runs in a process of its own (with --expose-gc), as a real gateway does; the
 *    load comes from one more child process (so the loader shares no server's event loop):
 *    `--conns` keep-alive connections (http.Agent), each sending its next request as soon as the
 *    previous answer is read. Reported: medians of the rounds, the ratio Flow/bare, and each
 *    server process's CPU time per request. Quality bars: Flow ≥ 70 % of bare (DESIGN.md),
 *    Flow with a password ≥ 80 % (issue 13).
 *    BENCH_CPU_PROF=<dir> writes each server's V8 CPU profile there (<side>.cpuprofile).
 * 2. Memory per connected SSE client: heap and RSS of the Flow server process before and after
 *    `--sse` clients (in the loader) have connected to /api/events, after a GC, divided by the count.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { kindFor } from '../actors/index.js';
import { buildGateway } from '../gateway/app.js';
import { createGatewayAuth } from '../gateway/auth/index.js';
import { setPassword } from '../services/auth/password.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { ActorProjector } from '../services/store/projections.js';
import { ActorReadModel } from '../services/store/actor-read-model.js';
import { commandError } from '../services/host/commands.js';
import { EventStore } from '../services/store/event-store.js';
import type { ReadModel } from '../services/store/read-model.js';
import { benchTempDir, fmt, fmtInt, intFlag, machineLine, median, settle, table } from './lib.js';

const SECONDS = intFlag('seconds', 'BENCH_SECONDS', 3);
const ROUNDS = intFlag('rounds', 'BENCH_ROUNDS', 3);
const CONNS = intFlag('conns', 'BENCH_CONNS', 32);
const SSE = intFlag('sse', 'BENCH_SSE', 500);
const BAR = 0.7;
/** Issue 13: REST with a password set, against the same bare Fastify. */
const AUTH_BAR = 0.8;

type LoaderMsg = { cmd: 'load'; url: string; path: string; seconds: number; conns: number; headers: Record<string, string> } | { cmd: 'sse'; url: string; n: number } | { cmd: 'close' } | { cmd: 'exit' };

// ---------------------------------------------------------------- the loader (child process)
async function loaderMain(): Promise<void> {
  let sse: http.ClientRequest[] = [];
  process.on('message', (m: LoaderMsg) => {
    if (m.cmd === 'exit') process.exit(0);
    if (m.cmd === 'close') {
      for (const r of sse) r.destroy();
      sse = [];
      process.send?.({ type: 'closed' });
    }
    if (m.cmd === 'sse') {
      let ready = 0;
      for (let i = 0; i < m.n; i++) {
        const req = http.get(`${m.url}/api/events`, { agent: false }, (res) => {
          res.once('data', () => {
            if (++ready === m.n) process.send?.({ type: 'sse-ready', n: ready });
          });
          res.resume();
        });
        sse.push(req);
      }
    }
    if (m.cmd === 'load') void load(m).then((r) => process.send?.({ type: 'loaded', ...r }));
  });
  process.send?.({ type: 'up' });
}

async function load(m: Extract<LoaderMsg, { cmd: 'load' }>): Promise<{ requests: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: m.conns });
  const u = new URL(m.url);
  const deadline = Date.now() + m.seconds * 1000;
  let requests = 0;
  let errors = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.request({ host: u.hostname, port: u.port, path: m.path, agent, headers: m.headers }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          if (res.statusCode === 200) requests++;
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (Date.now() < deadline) await one();
  };
  await Promise.all(Array.from({ length: m.conns }, worker));
  agent.destroy();
  return { requests, errors };
}

// ---------------------------------------------------------------- the servers (one process each)
// Each server runs in a process of its own, as a real gateway does: in one process the three
// would share V8's type feedback for Fastify's code (its router, hook runner and serializer),
// and whichever ran second measured the other's call-site shapes (two identical Flow gateways
// in one process differed by 20 % CPU per request).
type Side = 'bare' | 'flow' | 'auth';
type ServerMsg = { cmd: 'cpu' } | { cmd: 'memory' } | { cmd: 'exit' };

function seedBackends(store: EventStore, n: number): void {
  for (let i = 0; i < n; i++) {
    const name = `api-${i}`;
    const config = { command: ['node', 'server.js'], cwd: '/srv/app', env: { NODE_ENV: 'production' }, port: 4000 + i, watch: ['/srv/app/src'], watchExtensions: ['.ts', '.js'], stopGraceMs: 5000 };
    store.append('backend-child', `backend-child:${name}`, 'any', [{ id: uuidv7(), type: 'CREATED', data: { name, config, autostart: false }, at: new Date().toISOString() }]);
  }
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** The body Flow answers GET /api/backends with, for the bare server to send as is. */
async function flowBody(): Promise<unknown> {
  const { dir, cleanup } = benchTempDir('rest-body');
  const store = EventStore.open(join(dir, 'flow.db'), { host: 'bench', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  seedBackends(store, 8);
  const actors = new ActorReadModel(store);
  const app = await buildGateway({ log: store, readModel: { listActors: (t) => actors.listActors(t), getActor: (id) => actors.getActor(id), outputLines: () => [] }, commands: { submit: async () => commandError('unavailable', 'bench'), close: async () => {} }, live: new InProcessLiveBus() });
  const body = (await app.inject({ url: '/api/backends', headers: { host: '127.0.0.1' } })).json() as unknown;
  await app.close();
  store.close();
  cleanup();
  return body;
}

async function serverMain(side: Side): Promise<void> {
  const { dir, cleanup } = benchTempDir(`rest-${side}`);
  let app: FastifyInstance;
  let token: string | null = null;
  let close = async () => {};
  if (side === 'bare') {
    const body = JSON.parse(process.env.BENCH_BODY!) as unknown;
    app = Fastify({ logger: false });
    app.get('/api/backends', async () => body);
  } else {
    const store = EventStore.open(join(dir, 'flow.db'), { host: 'bench', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    seedBackends(store, 8);
    // The read model f up serves from (infra/embedded.ts): listings cached between writes.
    const actors = new ActorReadModel(store);
    const readModel: ReadModel = { listActors: (t) => actors.listActors(t), getActor: (id) => actors.getActor(id), outputLines: () => [] };
    const deps = { log: store, readModel, commands: { submit: async () => commandError('unavailable', 'bench'), close: async () => {} }, live: new InProcessLiveBus() };
    if (side === 'auth') {
      const authHome = join(dir, 'authed');
      await setPassword(authHome, 'bench password');
      const auth = createGatewayAuth({ home: authHome, db: store.db });
      app = await buildGateway({ ...deps, auth });
      token = auth.tokens.issue('bench').token;
    } else {
      app = await buildGateway(deps);
    }
    close = async () => store.close();
  }
  const url = await listen(app);
  process.on('message', (m: ServerMsg) => {
    if (m.cmd === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
    if (m.cmd === 'memory') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ type: 'memory', usage: process.memoryUsage() });
    }
    if (m.cmd === 'exit') void app.close().then(close).then(() => (cleanup(), process.exit(0)));
  });
  process.send?.({ type: 'up', url, token });
}

// ---------------------------------------------------------------- the run (the parent)
function ask<T>(child: ChildProcess, msg: LoaderMsg | ServerMsg, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== reply) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

function startServer(side: Side, body: unknown): Promise<{ child: ChildProcess; url: string; token: string | null }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', side], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=${side}.cpuprofile`] : [])], env: { ...process.env, BENCH_BODY: JSON.stringify(body) } });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { url: string; token: string | null }) => resolve({ child, url: m.url, token: m.token }));
  });
}

async function cpuOf(child: ChildProcess): Promise<number> {
  const { usage } = await ask<{ usage: NodeJS.CpuUsage }>(child, { cmd: 'cpu' }, 'cpu');
  return usage.user + usage.system;
}

async function main(): Promise<void> {
  console.log(`gateway-rest: ${machineLine()}`);
  console.log(`${ROUNDS} rounds × ${SECONDS} s per server, ${CONNS} keep-alive connections, each server in its own process`);
  const body = await flowBody();
  const [bare, flow, authed] = await Promise.all([startServer('bare', body), startServer('flow', body), startServer('auth', body)]);

  const child = fork(fileURLToPath(import.meta.url), ['--loader'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((r) => child.once('message', () => r()));

  const sides: { name: string; server: ChildProcess; url: string; headers: Record<string, string> }[] = [
    { name: 'bare Fastify', server: bare.child, url: bare.url, headers: {} },
    { name: 'Flow', server: flow.child, url: flow.url, headers: {} },
    { name: 'Flow + auth', server: authed.child, url: authed.url, headers: { authorization: `Bearer ${authed.token}` } },
  ];
  const rps: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]));
  // Server CPU time per request (each server process serves only this load): much less
  // disturbed by other load on the machine than requests/s is.
  const cpuUs: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]));
  // A warm-up run of each, not counted: JIT and the connections' first requests.
  for (const s of sides) await ask(child, { cmd: 'load', url: s.url, path: '/api/backends', seconds: 1, conns: CONNS, headers: s.headers }, 'loaded');
  for (let round = 0; round < ROUNDS; round++) {
    // Each server in every position in turn (rotation), so none is always measured first or last.
    const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
    for (const s of order) {
      await settle(100);
      const c0 = await cpuOf(s.server);
      const r = await ask<{ requests: number; errors: number }>(child, { cmd: 'load', url: s.url, path: '/api/backends', seconds: SECONDS, conns: CONNS, headers: s.headers }, 'loaded');
      const c = (await cpuOf(s.server)) - c0;
      if (r.errors) console.log(`  ${s.name}: ${r.errors} errors`);
      rps[s.name]!.push(r.requests / SECONDS);
      cpuUs[s.name]!.push(c / Math.max(1, r.requests));
    }
  }
  const bareRps = median(rps['bare Fastify']!);
  console.log(
    table(
      ['server', 'req/s (median)', 'rounds', 'vs bare', 'cpu µs/req', 'bare/this cpu'],
      sides.map((s) => [
        s.name,
        fmtInt(median(rps[s.name]!)),
        rps[s.name]!.map(fmtInt).join(' / '),
        fmt(median(rps[s.name]!) / bareRps),
        fmt(median(cpuUs[s.name]!), 1),
        fmt(median(cpuUs['bare Fastify']!) / median(cpuUs[s.name]!)),
      ]),
    ),
  );

  // Memory per connected SSE client, on the Flow gateway (the clients live in the loader).
  await settle(200);
  const m0 = (await ask<{ usage: NodeJS.MemoryUsage }>(flow.child, { cmd: 'memory' }, 'memory')).usage;
  await ask(child, { cmd: 'sse', url: flow.url, n: SSE }, 'sse-ready');
  await settle(300);
  const m1 = (await ask<{ usage: NodeJS.MemoryUsage }>(flow.child, { cmd: 'memory' }, 'memory')).usage;
  const heapPer = (m1.heapUsed - m0.heapUsed) / SSE;
  const rssPer = (m1.rss - m0.rss) / SSE;
  console.log(`memory per SSE client (${SSE} connected): heap ${fmt(heapPer / 1024)} KiB, rss ${fmt(rssPer / 1024)} KiB`);
  await ask(child, { cmd: 'close' }, 'closed');

  const ratio = median(rps.Flow!) / bareRps;
  const ratioAuth = median(rps['Flow + auth']!) / bareRps;
  const cpuRatio = median(cpuUs['bare Fastify']!) / median(cpuUs.Flow!);
  const cpuRatioAuth = median(cpuUs['bare Fastify']!) / median(cpuUs['Flow + auth']!);
  console.log(
    `RESULT gateway-rest flow/bare=${fmt(ratio)} (bar ≥ ${BAR}: ${ratio >= BAR ? 'met' : 'MISSED'}) auth/bare=${fmt(ratioAuth)} (bar ≥ ${AUTH_BAR}: ${ratioAuth >= AUTH_BAR ? 'met' : 'MISSED'}) ` +
      `cpu bare/flow=${fmt(cpuRatio)} cpu bare/auth=${fmt(cpuRatioAuth)} bare=${fmtInt(bareRps)} flow=${fmtInt(median(rps.Flow!))} rps sse-heap=${fmt(heapPer / 1024)}KiB sse-rss=${fmt(rssPer / 1024)}KiB per client`,
  );

  child.send({ cmd: 'exit' } satisfies LoaderMsg);
  await Promise.all(sides.map((s) => new Promise<void>((r) => (s.server.once('exit', () => r()), s.server.send({ cmd: 'exit' } satisfies ServerMsg)))));
}

const serverAt = process.argv.indexOf('--server');
if (process.argv.includes('--loader')) void loaderMain();
else if (serverAt >= 0) void serverMain(process.argv[serverAt + 1] as Side);
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
