import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../services/host/proc.js';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';
import { endSpec, Feed, instance, isSessionStatus, ProcessWatch, project, sessionOf, type SessionView, waitInstance } from './helpers.js';

/**
 * One real `f up` driving one real `opencode serve` (against the stub model), through a whole
 * life: chat with streamed deltas, a permission answered through Flow, an abort, a stop, a
 * crash of opencode, and the CLI. The instance is reused across cases; each case is one claim.
 */
describe.sequential('an opencode instance, end to end', { timeout: 120_000 }, () => {
  let stub: StubModel;
  let flow: FlowProcess;
  let dir: string;
  let home: string;
  let env: Record<string, string>;
  const cleanups: (() => void)[] = [];
  const watch = new ProcessWatch();
  let sessionId = '';
  let feed: Feed | null = null;
  const url = (path: string) => `${flow.url}${path}`;

  beforeAll(async () => {
    requireBuild();
    stub = await startStubModel();
    dir = project(stub, cleanups);
    const h = tempDir('flow-oc-home-');
    cleanups.push(h.cleanup);
    home = h.dir;
    flow = await startFlow(home);
    env = { FLOW_HOME: home, FLOW_URL: flow.url };
  });

  afterAll(async () => {
    feed?.close();
    await endSpec({ flow, watch, home, stub, cleanups });
  });

  it('refuses bad input with clear 400 and 404 errors', async () => {
    const missing = await json<{ error: { code: string; message: string } }>(url('/api/instances'), { method: 'POST', body: { directory: '/nonexistent/flow-test-dir' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/does not exist/);
    expect((await json(url('/api/instances'), { method: 'POST', body: { directory: '' } })).status).toBe(400);
    expect((await json(url('/api/instances'), { method: 'POST', body: { directory: 'relative/path' } })).status).toBe(400);
    expect((await json(url('/api/instances'), { method: 'POST', body: { directory: dir, bogus: 1 } })).status).toBe(400);
    const noSession = await json<{ error: { code: string; message: string } }>(url('/api/sessions/ses_nothere'));
    expect(noSession.status).toBe(404);
    expect(noSession.body.error.message).toMatch(/no session ses_nothere/);
    expect((await json(url('/api/sessions/ses_nothere/messages'), { method: 'POST', body: { text: 'hi' } })).status).toBe(404);
    expect((await json(url('/api/instances/nope'))).status).toBe(404);
    expect((await json(url('/api/sessions/bad%20id'))).status).toBe(400);
  });

  it('creates an instance, a session, and streams a reply: deltas in order, then the final text', async () => {
    const created = await json<{ id: string; status: string }>(url('/api/instances'), { method: 'POST', body: { directory: dir, id: 'alpha' } });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('starting');
    const running = await waitInstance(flow, 'alpha', 'running', watch);
    expect(isAlive(running.pid!)).toBe(true);
    expect((await json(url('/api/instances'), { method: 'POST', body: { directory: dir } })).status).toBe(409);

    const s = await json<SessionView>(url('/api/instances/alpha/sessions'), { method: 'POST', body: { title: 'chat' } });
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ instanceId: 'alpha', status: 'idle' });
    sessionId = s.body.id;
    const empty = await json<{ error: { message: string } }>(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: '   ' } });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/needs some text/);

    feed = await Feed.open(flow, sessionId);
    const sent = await json(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: 'say hi' } });
    expect(sent.status).toBe(202);
    const done = await feed.waitFor((m) => m.type === 'message.completed' && m.message?.role === 'assistant', 'the assistant message');
    const doneAt = feed.messages.indexOf(done);
    const deltas = feed.messages.filter((m) => m.type === 'delta' && m.messageId === done.message!.id);
    expect(deltas.map((d) => d.delta)).toEqual(['Hello', ' from', ' the', ' stub', ' model.']);
    expect(deltas.every((d) => feed!.messages.indexOf(d) < doneAt)).toBe(true);
    expect(done.message!.text).toBe('Hello from the stub model.');
    await feed.waitFor((m) => isSessionStatus('idle')(m) && feed!.messages.indexOf(m) > doneAt, 'the session to go idle');

    const list = await json<{ source: string; messages: { role: string; text: string }[] }>(url(`/api/sessions/${sessionId}/messages`));
    expect(list.body.source).toBe('opencode');
    expect(list.body.messages.map((m) => [m.role, m.text])).toEqual([
      ['user', 'say hi'],
      ['assistant', 'Hello from the stub model.'],
    ]);
  });

  it('shows a permission request in /api/attention, takes the answer through Flow, and the turn ends', async () => {
    const from = feed!.messages.length;
    await json(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: '[tool:bash] greet me' } });
    const waiting = await until(async () => {
      const a = await json<{ sessions: SessionView[] }>(url('/api/attention'));
      return a.body.sessions.find((s) => s.id === sessionId);
    }, 'the session to need attention', 60_000);
    expect(waiting.status).toBe('needs-attention');
    expect(waiting.permissions).toEqual([expect.objectContaining({ permission: 'bash', detail: 'echo hi-from-tool' })]);
    expect((await json(url(`/api/sessions/${sessionId}/permissions/per_nothere`), { method: 'POST', body: { reply: 'once' } })).status).toBe(404);
    expect((await json(url(`/api/sessions/${sessionId}/permissions/${waiting.permissions[0]!.id}`), { method: 'POST', body: { reply: 'perhaps' } })).status).toBe(400);

    const replied = await json(url(`/api/sessions/${sessionId}/permissions/${waiting.permissions[0]!.id}`), { method: 'POST', body: { reply: 'once' } });
    expect(replied.status).toBe(200);
    const final = await feed!.waitFor((m) => feed!.messages.indexOf(m) >= from && m.type === 'message.completed' && m.message?.text === 'The tool said hi-from-tool.', 'the reply after the tool');
    expect(final.message!.role).toBe('assistant');
    await until(async () => (await sessionOf(flow, sessionId)).status === 'idle', 'the turn to end');
    expect((await json<{ sessions: SessionView[] }>(url('/api/attention'))).body.sessions).toEqual([]);
  });

  it('aborts a running turn in the instance that owns it', async () => {
    const cancelledBefore = stub.cancelled;
    const from = feed!.messages.length;
    await json(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: '[slow] count' } });
    await until(() => feed!.messages.slice(from).filter((m) => m.type === 'delta').length >= 3, 'a few slow deltas', 60_000);
    expect((await json(url(`/api/sessions/${sessionId}/abort`), { method: 'POST' })).status).toBe(200);
    const s = await until(async () => {
      const v = await sessionOf(flow, sessionId);
      return v.status === 'idle' && v.lastError ? v : undefined;
    }, 'the aborted turn to settle');
    expect(s.lastError!.name).toBe('MessageAbortedError');
    await until(() => stub.cancelled > cancelledBefore, 'the model request to be cancelled');
  });

  it('stops: the process is gone, calls answer 409, sessions and history stay listed', async () => {
    const { pid } = await instance(flow, 'alpha');
    expect((await json(url('/api/instances/alpha/stop'), { method: 'POST' })).status).toBe(200);
    await waitInstance(flow, 'alpha', 'stopped');
    expect(isAlive(pid!)).toBe(false);
    const refused = await json<{ error: { code: string; message: string } }>(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: 'hello?' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/alpha is stopped/);
    expect((await json(url('/api/instances/alpha/sessions'), { method: 'POST', body: {} })).status).toBe(409);
    const sessions = await json<{ sessions: SessionView[] }>(url('/api/instances/alpha/sessions'));
    expect(sessions.body.sessions.map((s) => s.id)).toEqual([sessionId]);
    const history = await json<{ source: string; messages: { role: string; text: string }[] }>(url(`/api/sessions/${sessionId}/messages`));
    expect(history.body.source).toBe('log');
    expect(history.body.messages.map((m) => m.text)).toContain('Hello from the stub model.');
    expect(history.body.messages.map((m) => m.text)).toContain('The tool said hi-from-tool.');
  });

  it('kill -9 of opencode: the exit is recorded, its busy session interrupted, and Flow starts it again after the backoff', async () => {
    expect((await json(url('/api/instances/alpha/start'), { method: 'POST' })).status).toBe(200);
    const running = await waitInstance(flow, 'alpha', 'running', watch);
    const from = feed!.messages.length;
    await json(url(`/api/sessions/${sessionId}/messages`), { method: 'POST', body: { text: '[slow] again' } });
    await until(() => feed!.messages.slice(from).some((m) => m.type === 'delta'), 'the turn to stream', 60_000);
    process.kill(running.pid!, 'SIGKILL');
    await feed!.waitFor((m) => isSessionStatus('interrupted')(m), 'the feed to say interrupted');
    const back = await until(
      async () => {
        const v = await instance(flow, 'alpha');
        watch.note(v.pid);
        return v.status === 'running' && v.pid !== running.pid ? v : undefined;
      },
      'alpha to run again in a new process',
      90_000,
    );
    expect(back.lastExit).toMatchObject({ pid: running.pid, signal: 'SIGKILL', cause: 'exit' });
    expect(back.restarts).toBe(1);
    expect(back.restartReason).toMatch(/SIGKILL/);
    expect(isAlive(running.pid!)).toBe(false);
    // opencode says idle after the restart; Flow keeps what it concluded about the cut turn.
    expect((await sessionOf(flow, sessionId)).status).toBe('interrupted');
  });

  it('works from the CLI: instance ls/start, session new, chat streams the reply, attention, rm', async () => {
    const ls = await runF(['instance', 'ls'], env);
    expect(ls.stdout).toMatch(/alpha\s+running/);
    expect((await runF(['instance', 'stop', 'alpha'], env, 60_000)).code).toBe(0);
    expect((await runF(['instance', 'ls'], env)).stdout).toMatch(/alpha\s+stopped/);
    const start = await runF(['instance', 'start', 'alpha'], env, 100_000);
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^alpha: running \(pid \d+/);
    await waitInstance(flow, 'alpha', 'running', watch);
    const created = await runF(['session', 'new', 'alpha', '--title', 'from the cli'], env);
    expect(created.code).toBe(0);
    const sid = created.stdout.trim();
    expect(sid).toMatch(/^ses_/);
    const chat = await runF(['chat', sid, 'say', 'hi'], env, 60_000);
    expect(chat.stderr).toBe('');
    expect(chat.stdout).toBe('Hello from the stub model.\n');
    const sessions = await runF(['session', 'ls', 'alpha'], env);
    expect(sessions.stdout).toContain('from the cli');
    expect((await runF(['attention'], env)).stdout).toContain('nothing waits for you');
    const { pid } = await instance(flow, 'alpha');
    const rm = await runF(['instance', 'rm', 'alpha'], env);
    expect(rm.code).toBe(0);
    await until(async () => (await json(url('/api/instances/alpha'))).status === 404, 'alpha to be removed');
    expect(isAlive(pid!)).toBe(false);
    expect((await runF(['instance', 'ls'], env)).stdout).toContain('(none)');
  });
});
