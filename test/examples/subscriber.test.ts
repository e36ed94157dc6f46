import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowNames } from '../../services/bus/names.js';
import { ensureEventStream } from '../../services/bus/nats.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';

const SUBSCRIBER = join(process.cwd(), 'dist/examples/subscriber.js');
const urls = await serviceUrls();

interface Run {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function startSubscriber(args: string[], env: Record<string, string>): Run {
  if (!existsSync(SUBSCRIBER)) throw new Error('dist/examples/subscriber.js is missing: run "npm run build" first (npm test does)');
  const proc = spawn(process.execPath, [SUBSCRIBER, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const lines: string[] = [];
  let partial = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  return { proc, lines, stderr: () => err, exited };
}

async function waitFor(what: string, check: () => boolean, run: Run, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stdout:\n${run.lines.join('\n')}\nstderr:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(run: Run): Promise<number | null> {
  run.proc.kill('SIGTERM');
  return run.exited;
}

describe.skipIf(!urls)('examples/subscriber (a durable JetStream consumer on FLOW_EVENTS)', () => {
  const prefix = uniquePrefix('sub');
  const names = flowNames(prefix);
  const env = { FLOW_NATS_URL: urls?.natsUrl ?? '', FLOW_NATS_PREFIX: prefix };
  let nc: NatsConnection;
  let js: JetStreamClient;
  let position = 0;
  const versions = new Map<string, number>();

  async function publish(streamId: string, type: string): Promise<EventEnvelope> {
    const version = (versions.get(streamId) ?? 0) + 1;
    versions.set(streamId, version);
    const streamType = streamId.slice(0, streamId.indexOf(':'));
    const e: EventEnvelope = { id: uuidv7(), position: ++position, host: 'test-host', epoch: 'test-epoch', streamType, streamId, version, type, data: { n: position }, meta: { by: 'test' }, at: new Date().toISOString() };
    await js.publish(names.eventSubject(streamType, streamId), JSON.stringify(e), { msgID: e.id });
    return e;
  }

  const line = (e: EventEnvelope) => `#${e.position} ${e.host} ${e.streamId} v${e.version} ${e.type}`;

  beforeAll(async () => {
    nc = await connect({ servers: urls!.natsUrl });
    await ensureEventStream(nc, names);
    js = jetstream(nc);
  });

  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    if (nc) {
      const jsm = await jetstreamManager(nc);
      for (const c of ['audit', 'tunnels-only']) await jsm.consumers.delete(names.stream, c).catch(() => {});
      await nc.close();
    }
    if (urls) await cleanupPrefix(urls, prefix);
  });

  it('prints and acks each event; a restart continues after the last acked one; a filter narrows it', async () => {
    const first = [await publish('backend-child:api', 'BACKEND_CREATED'), await publish('backend-child:api', 'PROCESS_STARTED'), await publish('tunnel:web', 'TUNNEL_STARTING')];
    // Not an envelope: reported and terminated, never printed.
    await js.publish(names.eventSubject('backend-child', 'backend-child:junk'), JSON.stringify({ hello: 'world' }), { msgID: uuidv7() });
    const last = await publish('backend-child:api', 'PROCESS_EXITED');
    first.push(last);

    const run1 = startSubscriber(['--name', 'audit'], env);
    await waitFor('the first events', () => run1.lines.length >= first.length, run1);
    expect(await stop(run1)).toBe(0);
    expect(run1.lines).toEqual(first.map(line));
    expect(run1.stderr()).toMatch(/message \d+ on \S+backend-child:junk is not an event envelope/);

    const second = [await publish('backend-child:api', 'PROCESS_STARTED'), await publish('tunnel:web', 'TUNNEL_UP')];
    const run2 = startSubscriber(['--name', 'audit'], env);
    await waitFor('the new events', () => run2.lines.length >= second.length, run2);
    // Give anything acked before (wrongly) a moment to show up again.
    await new Promise((r) => setTimeout(r, 500));
    expect(await stop(run2)).toBe(0);
    expect(run2.lines).toEqual(second.map(line));

    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(names.stream, 'audit');
    expect(info.config.durable_name).toBe('audit');
    expect(info.config.ack_policy).toBe('explicit');
    expect(info.num_pending).toBe(0);
    expect(info.num_ack_pending).toBe(0);

    // Another durable consumer starts from the beginning, and sees only what its filter matches.
    const run3 = startSubscriber(['--name', 'tunnels-only', '--filter', 'flow.events.tunnel.>'], env);
    const tunnels = [...first, ...second].filter((e) => e.streamType === 'tunnel');
    await waitFor('the tunnel events', () => run3.lines.length >= tunnels.length, run3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await stop(run3)).toBe(0);
    expect(run3.lines).toEqual(tunnels.map(line));
  });
});
