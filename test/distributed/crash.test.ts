import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/host/ports.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { json, startF, until, type FlowProcess } from '../support/flow-process.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { EventFeed, streamOrderProblems } from '../support/sse.js';
import { killLeftoversOfHome } from '../support/proc-scan.js';
import { tempDir } from '../support/tmp.js';

const urls = await serviceUrls();

type Answer = { status: number; body: { status?: string; error?: { code: string; message: string } } };

/** The events a host wrote, read straight from its SQLite log. */
function hostEvents(home: string): { id: string; stream_id: string; version: number }[] {
  const db = new Database(join(home, 'flow.db'), { readonly: true });
  try {
    return db.prepare(`SELECT id, stream_id, version FROM events ORDER BY position`).all() as { id: string; stream_id: string; version: number }[];
  } finally {
    db.close();
  }
}

describe.skipIf(!urls)('a host or the gateway killed with kill -9 (real processes, real Redis and NATS)', () => {
  const prefix = uniquePrefix('crash');
  const homes = { alpha: tempDir('flow-crash-alpha-'), gateway: tempDir('flow-crash-gw-') };
  let env: Record<string, string>;
  let alpha: FlowProcess;
  let gateway: FlowProcess;
  let gatewayPort: number;

  const startAlpha = () => startF(['host', '--id', 'alpha'], homes.alpha.dir, env, /Flow host (alpha) is up/);
  const startGateway = () => startF(['gateway', '--port', String(gatewayPort)], homes.gateway.dir, env, /Flow gateway is up at (\S+)/);
  const kill9 = async (p: FlowProcess) => {
    p.proc.kill('SIGKILL');
    await p.exited;
  };

  beforeAll(async () => {
    // Short job locks, so a job held by a dead host is noticed in seconds (BullMQ's default is 30 s).
    env = { FLOW_NATS_URL: urls!.natsUrl, FLOW_REDIS_URL: urls!.redisUrl, FLOW_NATS_PREFIX: prefix, FLOW_QUEUE_LOCK_MS: '2000' };
    gatewayPort = await freePort();
    alpha = await startAlpha();
    gateway = await startGateway();
  }, 60_000);

  afterAll(async () => {
    for (const p of [alpha, gateway]) {
      if (p && p.proc.exitCode === null && p.proc.signalCode === null) {
        p.proc.kill('SIGTERM');
        await p.exited;
      }
    }
    // A host killed with -9 in the middle of a spawn can leave a child no event names (issue 11, item 3).
    killLeftoversOfHome(homes.alpha.dir);
    homes.alpha.cleanup();
    homes.gateway.cleanup();
    await cleanupPrefix(urls!, prefix);
  }, 60_000);

  it('a host killed in the middle of commands: each is answered, or retried when the host is back, or visibly failed; none is applied twice', async () => {
    const created = await json(`${gateway.url}/api/backends`, { method: 'POST', body: { name: 'victim', command: ['sleep', '60'], autostart: false, host: 'alpha' } });
    expect(created.status).toBe(201);

    const actions = ['start', 'stop'] as const;
    const inFlight = Array.from({ length: 40 }, (_, i) => json(`${gateway.url}/api/backends/victim/${actions[i % 2]}`, { method: 'POST' }) as Promise<Answer>);
    await Promise.race(inFlight);
    await kill9(alpha);
    const answers = await Promise.all(inFlight);
    alpha = await startAlpha();

    const commandIds: string[] = [];
    for (const a of answers) {
      // 200/409: the host ran it (409: not valid in the state it found); 503: not queued (the
      // host was gone); 504: queued, and its id says what became of it.
      expect([200, 409, 500, 503, 504], JSON.stringify(a.body)).toContain(a.status);
      // 500: it failed visibly, with the reason (e.g. it stalled more often than a retry allows).
      if (a.status === 500) expect(a.body.error!.message).toMatch(/failed on its host: \S/);
      if (a.status === 504) commandIds.push(/GET \/api\/commands\/(\S+) /.exec(a.body.error!.message)![1]!);
    }
    for (const id of commandIds) {
      const s = await until(async () => {
        const r = await json<{ state: string; failedReason?: string }>(`${gateway.url}/api/commands/${id}`);
        return r.status === 200 && ['completed', 'failed'].includes(r.body.state) ? r.body : null;
      }, `command ${id} to be completed or failed`, 60_000);
      if (s.state === 'failed') expect(s.failedReason).toBeTruthy();
    }
    // The host's log holds each command at most once, however often its job was delivered.
    const db = new Database(join(homes.alpha.dir, 'flow.db'), { readonly: true });
    const causes = (db.prepare(`SELECT json_extract(meta, '$.causationId') AS c FROM events WHERE c IS NOT NULL`).all() as { c: string }[]).map((r) => r.c);
    db.close();
    expect(new Set(causes).size).toBe(causes.length);
    for (const id of commandIds) {
      const r = await json<{ state: string; result?: { ok: boolean } }>(`${gateway.url}/api/commands/${id}`);
      if (r.body.state === 'completed' && r.body.result?.ok) expect(causes).toContain(id);
    }
  }, 120_000);

  it('the gateway killed and restarted resumes from its checkpoint: nothing lost, nothing twice, and SSE clients carry on', async () => {
    const sse = new EventFeed(gateway.url);
    await sse.connect();
    const { body: health } = await json<{ epoch: string }>(`${gateway.url}/api/health`);
    // A backend that keeps failing writes events on its own (exits, backoff, restarts) while the gateway is down.
    const r = await json(`${gateway.url}/api/backends`, { method: 'POST', body: { name: 'flappy', command: ['sh', '-c', 'sleep 0.2; exit 3'], host: 'alpha' } });
    expect(r.status).toBe(201);
    await until(() => sse.events.some((e) => e.streamId === 'backend-child:flappy' && e.type === 'PROCESS_EXITED'), 'a first exit over SSE');

    await kill9(gateway);
    sse.close();
    const during = hostEvents(homes.alpha.dir).length;
    await until(() => hostEvents(homes.alpha.dir).length > during, 'the host to log events while the gateway is down');
    gateway = await startGateway();
    await sse.connect(gateway.url);

    const { body: after } = await json<{ epoch: string }>(`${gateway.url}/api/health`);
    expect(after.epoch).toBe(health.epoch);
    await until(async () => (await json<{ status: string }>(`${gateway.url}/api/backends/flappy`)).body.status === 'failed', 'flappy to give up');
    const host = hostEvents(homes.alpha.dir);
    const log = await until(async () => {
      const l = await json<{ events: EventEnvelope[] }>(`${gateway.url}/api/events/log?from=0&limit=1000`);
      return l.body.events.length >= host.length ? l.body.events : null;
    }, 'the replica to hold every event of the host');
    expect(log.map((e) => e.id)).toEqual(host.map((e) => e.id));
    await until(() => (sse.events.at(-1)?.position ?? 0) >= log.at(-1)!.position, 'the SSE client to reach the head');
    sse.close();
    // Before and after the crash, one unbroken sequence: what the client missed was replayed from Last-Event-ID.
    const seen = sse.events.filter((e) => e.position > 0);
    expect(streamOrderProblems(seen.filter((e) => e.streamId === 'backend-child:flappy'))).toEqual([]);
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    expect(seen.map((e) => e.id)).toEqual(log.filter((e) => e.position >= seen[0]!.position).map((e) => e.id));
  }, 120_000);

  it('a restart backoff armed before the host was killed fires after it is back (durable timers live in the host\'s log)', async () => {
    const sse = new EventFeed(gateway.url);
    await sse.connect();
    const r = await json(`${gateway.url}/api/backends`, { method: 'POST', body: { name: 'phoenix', command: ['sh', '-c', 'sleep 0.3; exit 3'], host: 'alpha' } });
    expect(r.status).toBe(201);
    await until(() => sse.events.some((e) => e.streamId === 'backend-child:phoenix' && e.type === 'PROCESS_EXITED'), 'a first exit');
    // The first exit armed a 1 s backoff timer (in the same transaction): kill the host inside it.
    await kill9(alpha);
    alpha = await startAlpha();
    const view = await until(async () => {
      const b = await json<{ status: string; restarts: number }>(`${gateway.url}/api/backends/phoenix`);
      return b.body.status === 'failed' ? b.body : null;
    }, 'phoenix to use up its restarts and give up', 60_000);
    sse.close();
    expect(view.restarts).toBe(3);
    const timers = sse.events.filter((e) => e.streamId === 'backend-child:phoenix' && e.type === 'TIMER_FIRED');
    expect(timers.length).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
