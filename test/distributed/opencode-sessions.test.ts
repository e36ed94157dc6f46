import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../services/host/proc.js';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { Feed, ProcessWatch, isSessionStatus, project, waitInstance, type SessionView } from '../opencode/helpers.js';
import { json, startF, until, type FlowProcess } from '../support/flow-process.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const urls = await serviceUrls();

/**
 * `f gateway` on its own serves OpenCode sessions (issue 12): a real `f host` runs a real
 * `opencode serve` (against the stub model); every call goes from the lone gateway through
 * BullMQ to that host, its outcome comes back through JetStream, and the reply's token deltas
 * arrive on core NATS, which the host publishes them on.
 */
describe.skipIf(!urls)('OpenCode sessions through a lone f gateway, with a separate f host, on the real Redis and NATS', { timeout: 120_000 }, () => {
  const prefix = uniquePrefix('oc-sessions');
  const cleanups: (() => void)[] = [];
  const procs: FlowProcess[] = [];
  const watch = new ProcessWatch();
  let stub: StubModel;
  let host: FlowProcess;
  let gateway: FlowProcess;
  let feed: Feed | null = null;
  let sessionId = '';
  const url = (path: string) => `${gateway.url}${path}`;
  const home = () => {
    const t = tempDir('flow-oc-dist-');
    cleanups.push(t.cleanup);
    return t.dir;
  };

  beforeAll(async () => {
    stub = await startStubModel();
    const env = { FLOW_NATS_URL: urls!.natsUrl, FLOW_REDIS_URL: urls!.redisUrl, FLOW_NATS_PREFIX: prefix };
    host = await startF(['host', '--id', 'oc-host'], home(), env, /Flow host (oc-host) is up/);
    procs.push(host);
    gateway = await startF(['gateway', '--port', '0'], home(), env, /Flow gateway is up at (\S+)/);
    procs.push(gateway);
  }, 60_000);

  afterAll(async () => {
    feed?.close();
    // The gateway first, then the host, which stops its opencode and records it.
    for (const p of procs.reverse()) {
      if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
      await p.exited;
    }
    watch.killAll();
    await stub?.close();
    while (cleanups.length) cleanups.pop()!();
    if (urls) await cleanupPrefix(urls, prefix);
  }, 60_000);

  it('creates an instance on the host, a session, and streams the reply to a message sent through the gateway', async () => {
    const dir = project(stub, cleanups);
    const created = await json<{ id: string; status: string; host: string }>(url('/api/instances'), { method: 'POST', body: { directory: dir, id: 'remote' } });
    expect(created.status).toBe(201);
    const running = await waitInstance(gateway, 'remote', 'running', watch);
    expect(isAlive(running.pid!)).toBe(true);

    const s = await json<SessionView>(url('/api/instances/remote/sessions'), { method: 'POST', body: { title: 'through the queue' } });
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ instanceId: 'remote', status: 'idle' });
    expect(s.body.id).toMatch(/^ses_/);
    sessionId = s.body.id;

    feed = await Feed.open(gateway, sessionId);
    const sent = await json<{ accepted: boolean; events: string }>(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: 'say hi' } });
    expect(sent.status).toBe(202);
    expect(sent.body.events).toBe(`/api/sessions/${sessionId}/events`);
    const done = await feed.waitFor((m) => m.type === 'message.completed' && m.message?.role === 'assistant', 'the assistant message');
    expect(done.message!.text).toBe('Hello from the stub model.');
    const doneAt = feed.messages.indexOf(done);
    const deltas = feed.messages.filter((m) => m.type === 'delta' && m.messageId === done.message!.id);
    expect(deltas.map((d) => d.delta)).toEqual(['Hello', ' from', ' the', ' stub', ' model.']);
    expect(deltas.every((d) => feed!.messages.indexOf(d) < doneAt)).toBe(true);
    await feed.waitFor((m) => isSessionStatus('idle')(m) && feed!.messages.indexOf(m) > doneAt, 'the session to go idle');
  });

  it('serves what needs the process from the log, and says so; what only the process has is a 503 that says where to ask', async () => {
    const list = await until(async () => {
      const r = await json<{ source: string; messages: { role: string; text: string }[] }>(url(`/api/sessions/${sessionId}/messages`));
      return r.body.messages.length >= 2 ? r.body : undefined;
    }, 'both messages in the gateway\'s log');
    expect(list.source).toBe('log');
    expect(list.messages.map((m) => [m.role, m.text])).toEqual([
      ['user', 'say hi'],
      ['assistant', 'Hello from the stub model.'],
    ]);
    const models = await json<{ error: { message: string } }>(url('/api/instances/remote/models'));
    expect(models.status).toBe(503);
    expect(models.body.error.message).toMatch(/runs on host oc-host/);
  });

  it('records each call and its outcome in the log the gateway reads', async () => {
    const log = await json<{ events: { type: string; data: Record<string, unknown> }[] }>(url('/api/events/log?from=0&limit=1000'));
    const types = log.body.events.map((e) => e.type);
    const send = log.body.events.find((e) => e.type === 'MESSAGE_SEND_REQUESTED')!;
    expect(send.data).toMatchObject({ sessionId, text: 'say hi' });
    const outcome = log.body.events.find((e) => e.type === 'SESSION_CALL_SUCCEEDED' && e.data.callId === send.data.callId);
    expect(outcome?.data).toMatchObject({ request: 'MESSAGE_SEND_REQUESTED', sessionId });
    expect(types.indexOf('SESSION_CREATED')).toBeLessThan(types.indexOf('SESSION_CALL_SUCCEEDED'));
  });

  it('stopped on its host, the instance refuses a message with the host\'s reason', async () => {
    expect((await json(url('/api/instances/remote/stop'), { method: 'POST' })).status).toBe(200);
    await waitInstance(gateway, 'remote', 'stopped');
    const refused = await json<{ error: { code: string; message: string } }>(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: 'hello?' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe('instance remote is stopped; start it first');
  });
});
