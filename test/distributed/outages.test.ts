import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributedUp, type DistributedUp } from '../../infra/distributed.js';
import { flowNames } from '../../services/bus/names.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { json, until } from '../support/flow-process.js';
import { serviceUrls, uniquePrefix } from '../support/services.js';
import { startOwnNats, startOwnRedis, type OwnServer } from '../support/servers.js';
import { EventFeed, streamOrderProblems } from '../support/sse.js';
import { tempDir } from '../support/tmp.js';

// The shared servers must exist under CI like everywhere else; these tests stop servers of
// their own, so that no other test file loses its NATS or Redis.
const urls = await serviceUrls();

const config = (cwd: string) => ({ command: ['true'], cwd, env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 1000 });

describe.skipIf(!urls)('distributed mode when NATS or Redis goes away', () => {
  const prefix = uniquePrefix('outage');
  const tmp = tempDir('flow-outage-');
  let nats: OwnServer;
  let redis: OwnServer;
  let flow: DistributedUp;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([startOwnNats(`${tmp.dir}/nats`), startOwnRedis(tmp.dir)]);
    process.env.FLOW_HOME = `${tmp.dir}/home`;
    flow = await startDistributedUp({ natsUrl: nats.url, redisUrl: redis.url, prefix, port: 0, hostId: 'solo', log: () => {} });
  }, 60_000);

  afterAll(async () => {
    await flow?.close();
    await Promise.all([nats?.stop(), redis?.stop()]);
    tmp.cleanup();
  }, 60_000);

  it('NATS restarted in the middle of a stream of events: every event reaches JetStream and the SSE client, none twice', async () => {
    const sse = new EventFeed(flow.url);
    await sse.connect();
    const before = flow.host.store.headPosition();
    const n = 240;
    for (let i = 0; i < n; i++) {
      if (i === 80) await nats.stop();
      if (i === 160) await nats.start();
      const r = await flow.host.host.dispatch({ type: 'backend.create', name: `n${i}`, config: config(tmp.dir), autostart: false });
      expect(r.ok).toBe(true);
    }
    const mine = flow.host.store.readAll(before, 10_000);
    expect(mine).toHaveLength(n);

    const received = await until(() => (sse.events.length >= n ? sse.events : null), `${n} events over SSE`, 60_000);
    sse.close();
    expect(streamOrderProblems(received)).toEqual([]);
    expect(received.map((e) => e.id)).toEqual(mine.map((e) => e.id));

    // JetStream holds each event once: the publisher's resends were dropped by message id.
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(flowNames(prefix).stream);
      expect(info.state.messages).toBe(flow.host.store.headPosition());
    } finally {
      await nc.close();
    }
    expect(flow.host.publisher.publishedUpTo).toBe(flow.host.store.headPosition());
  }, 120_000);

  it('Redis stopped: commands get 503 with a clear message at once; when it is back, commands work and no accepted one was lost', async () => {
    const create = (name: string) =>
      json<{ name?: string; error?: { code: string; message: string } }>(`${flow.url}/api/backends`, { method: 'POST', body: { name, command: ['true'], autostart: false } });
    expect((await create('before')).status).toBe(201);

    // A burst in flight while Redis goes away.
    const burst = Array.from({ length: 20 }, (_, i) => create(`burst${i}`));
    await Promise.race(burst);
    await redis.stop();
    const answers = await Promise.all(burst);

    const down = await json<{ error: { code: string; message: string } }>(`${flow.url}/api/backends/before/start`, { method: 'POST' });
    expect(down.status).toBe(503);
    expect(down.body.error.message).toMatch(/Redis/);
    expect(down.body.error.message).toMatch(/try again/);

    await redis.start();
    await until(async () => (await create('after')).status === 201, 'a command to succeed once Redis is back', 30_000);

    // Every burst command was refused before it was queued (503), or ran (201), or answered
    // with an id that tells what became of it (504): it ran, or it was never queued. None vanished.
    for (const [i, a] of answers.entries()) {
      expect([201, 503, 504], JSON.stringify(a.body)).toContain(a.status);
      let ran = a.status === 201;
      if (a.status === 504) {
        const id = /GET \/api\/commands\/(\S+) /.exec(a.body.error!.message)![1]!;
        const status = await until(async () => {
          const s = await json<{ state: string }>(`${flow.url}/api/commands/${id}`);
          if (s.status === 404) return { state: 'never queued' };
          return s.status === 200 && ['completed', 'failed'].includes(s.body.state) ? s.body : null;
        }, `command ${id} to finish`);
        expect(status.state).not.toBe('failed');
        ran = status.state === 'completed';
      }
      const exists = (await json(`${flow.url}/api/backends/burst${i}`)).status === 200;
      expect(exists, `burst${i} answered ${a.status} ${JSON.stringify(a.body)}`).toBe(ran);
    }
    const log = await json<{ events: EventEnvelope[] }>(`${flow.url}/api/events/log?from=0&limit=1000`);
    const causes = log.body.events.map((e) => e.meta.causationId).filter(Boolean);
    expect(new Set(causes).size).toBe(causes.length);
  }, 120_000);
});
