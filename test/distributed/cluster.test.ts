import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { json, startF, until, type FlowProcess } from '../support/flow-process.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { EventFeed, streamOrderProblems } from '../support/sse.js';
import { tempDir } from '../support/tmp.js';

const urls = await serviceUrls();

function parentOf(pid: number): number {
  // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

interface BackendView {
  name: string;
  status: string;
  pid: number | null;
  host: string;
}

describe.skipIf(!urls)('two f host processes and one f gateway, on the real Redis and NATS', () => {
  const prefix = uniquePrefix('cluster');
  const dirs: (() => void)[] = [];
  const procs: FlowProcess[] = [];
  let env: Record<string, string>;
  let alpha: FlowProcess;
  let beta: FlowProcess;
  let gateway: FlowProcess;
  const feed = () => new EventFeed(gateway.url);

  const home = () => {
    const t = tempDir('flow-cluster-');
    dirs.push(t.cleanup);
    return t.dir;
  };

  beforeAll(async () => {
    env = { FLOW_NATS_URL: urls!.natsUrl, FLOW_REDIS_URL: urls!.redisUrl, FLOW_NATS_PREFIX: prefix };
    [alpha, beta] = await Promise.all([
      startF(['host', '--id', 'alpha'], home(), env, /Flow host (alpha) is up/),
      startF(['host', '--id', 'beta'], home(), env, /Flow host (beta) is up/),
    ]);
    gateway = await startF(['gateway', '--port', '0'], home(), env, /Flow gateway is up at (\S+)/);
    procs.push(alpha, beta, gateway);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) {
      p.proc.kill('SIGTERM');
      await p.exited;
    }
    for (const d of dirs) d();
    await cleanupPrefix(urls!, prefix);
  }, 60_000);

  it('runs a backend added through the gateway on the host it was placed on, and streams both hosts\' events in one SSE stream in order', async () => {
    const sse = feed();
    await sse.connect();
    const command = [process.execPath, '-e', 'setInterval(() => console.log("tick"), 200)'];
    const a = await json<BackendView>(`${gateway.url}/api/backends`, { method: 'POST', body: { name: 'on-alpha', command, host: 'alpha' } });
    const b = await json<BackendView>(`${gateway.url}/api/backends`, { method: 'POST', body: { name: 'on-beta', command, host: 'beta' } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);

    const running = async (name: string) => {
      const r = await json<BackendView>(`${gateway.url}/api/backends/${name}`);
      return r.body.status === 'running' && r.body.pid ? r.body : null;
    };
    const onAlpha = await until(() => running('on-alpha'), 'on-alpha running');
    const onBeta = await until(() => running('on-beta'), 'on-beta running');
    // Each process is a child of the host it was placed on, not of the other one.
    expect(parentOf(onAlpha.pid!)).toBe(alpha.proc.pid);
    expect(parentOf(onBeta.pid!)).toBe(beta.proc.pid);
    expect([onAlpha.host, onBeta.host]).toEqual(['alpha', 'beta']);

    // More traffic on both hosts at once: each restart goes to the owning host's queue. (A
    // second restart of the same backend while it is still stopping would be refused: 409.)
    for (let round = 0; round < 2; round++) {
      const restarts = await Promise.all([
        json(`${gateway.url}/api/backends/on-alpha/restart`, { method: 'POST' }),
        json(`${gateway.url}/api/backends/on-beta/restart`, { method: 'POST' }),
      ]);
      expect(restarts.map((r) => r.status)).toEqual([200, 200]);
      await until(async () => (await running('on-alpha')) && (await running('on-beta')), 'both running again');
    }

    const log = await json<{ events: EventEnvelope[] }>(`${gateway.url}/api/events/log?from=0&limit=1000`);
    const received = await until(() => (sse.events.length >= log.body.events.length ? sse.events : null), 'SSE to catch up with the log');
    sse.close();
    expect(new Set(received.filter((e) => e.streamId === 'backend-child:on-alpha').map((e) => e.host))).toEqual(new Set(['alpha']));
    expect(new Set(received.filter((e) => e.streamId === 'backend-child:on-beta').map((e) => e.host))).toEqual(new Set(['beta']));
    expect(streamOrderProblems(received)).toEqual([]);
    // One stream: the gateway's positions increase across both hosts' events.
    const positions = received.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    // Output lines travel on core NATS to the gateway.
    await until(async () => (await json<{ lines: unknown[] }>(`${gateway.url}/api/backends/on-beta/logs`)).body.lines.length > 0, 'on-beta output at the gateway');
  });

  it('places a backend with no host named on the connected host that runs the fewest actors', async () => {
    const add = (name: string) => json<BackendView>(`${gateway.url}/api/backends`, { method: 'POST', body: { name, command: ['true'], autostart: false } });
    // alpha and beta run one backend each: a tie goes to the first by name, then beta has fewer.
    const first = await add('free-1');
    const second = await add('free-2');
    expect([first.status, second.status]).toEqual([201, 201]);
    expect([first.body.host, second.body.host]).toEqual(['alpha', 'beta']);
  });

  it('says which host is missing when a backend is placed on a host that is not running', async () => {
    const r = await json<{ error: { code: string; message: string } }>(`${gateway.url}/api/backends`, {
      method: 'POST',
      body: { name: 'nowhere', command: ['true'], host: 'gamma' },
    });
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/host gamma is not connected/);
    expect(r.body.error.message).toMatch(/f host --id gamma/);
  });

  it('refuses to create a backend again on another host', async () => {
    const r = await json<{ error: { code: string; message: string } }>(`${gateway.url}/api/backends`, {
      method: 'POST',
      body: { name: 'on-alpha', command: ['true'], host: 'beta' },
    });
    // Not a route's check: the placement (who owns the actor) refuses it before any host sees it.
    expect(r.status).toBe(409);
    expect(r.body.error.message).toMatch(/on-alpha belongs to host alpha/);
  });
});
