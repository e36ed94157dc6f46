import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../services/host/proc.js';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { endSpec, Feed, type InstanceView, ProcessWatch, project, sessionOf, type SessionView, waitInstance } from './helpers.js';

/**
 * Three instances in three directories at once: each session's events reach only its own
 * subscribers, an abort reaches only the owner, and a Flow killed with -9 is followed by one
 * that finds the opencode processes it left, stops them (it cannot talk to them: their
 * passwords died with it) and starts each instance afresh, as it does backends.
 */
describe.sequential('three opencode instances at once', { timeout: 150_000 }, () => {
  let stub: StubModel;
  let flow: FlowProcess;
  let home: string;
  const cleanups: (() => void)[] = [];
  const watch = new ProcessWatch();
  const ids = ['one', 'two', 'three'] as const;
  const sessions = new Map<string, string>();
  const feeds = new Map<string, Feed>();
  const pids = new Map<string, number>();

  beforeAll(async () => {
    requireBuild();
    stub = await startStubModel();
    const h = tempDir('flow-oc-home-');
    cleanups.push(h.cleanup);
    home = h.dir;
    flow = await startFlow(home);
  });

  afterAll(async () => {
    for (const f of feeds.values()) f.close();
    await endSpec({ flow, watch, home, stub, cleanups });
  });

  it('runs three instances, and each session streams only to its own subscribers', async () => {
    await Promise.all(ids.map((id) => json(`${flow.url}/api/instances`, { method: 'POST', body: { directory: project(stub, cleanups), id } })));
    for (const id of ids) pids.set(id, (await waitInstance(flow, id, 'running', watch, 90_000)).pid!);
    expect(new Set(pids.values()).size).toBe(3);
    for (const id of ids) {
      const s = await json<SessionView>(`${flow.url}/api/instances/${id}/sessions`, { method: 'POST', body: { title: id } });
      expect(s.status).toBe(201);
      sessions.set(id, s.body.id);
      feeds.set(id, await Feed.open(flow, s.body.id));
    }
    // Isolated data directories: no instance lists another's session.
    for (const id of ids) {
      const listed = await json<{ sessions: SessionView[] }>(`${flow.url}/api/instances/${id}/sessions`);
      expect(listed.body.sessions.map((s) => s.id)).toEqual([sessions.get(id)]);
    }
    for (const id of ids) await json(`${flow.url}/api/sessions/${sessions.get(id)}/messages`, { method: 'POST', body: { text: `[slow] ${id}` } });
    for (const id of ids) await until(() => feeds.get(id)!.of('delta').length >= 3, `${id} to stream`, 90_000);
    for (const id of ids) {
      const mine = sessions.get(id)!;
      const feed = feeds.get(id)!;
      expect(feed.messages.every((m) => m.sessionId === mine)).toBe(true);
      expect(feed.of('delta').map((d) => d.delta).join('')).toMatch(/^tick0 tick1 tick2 /);
    }
  });

  it('an abort reaches the instance that owns the session, and only that turn stops', async () => {
    const two = sessions.get('two')!;
    expect((await json(`${flow.url}/api/sessions/${two}/abort`, { method: 'POST' })).status).toBe(200);
    await until(async () => (await sessionOf(flow, two)).status === 'idle', 'two to stop');
    expect((await sessionOf(flow, two)).lastError?.name).toBe('MessageAbortedError');
    const counts = new Map(['one', 'three'].map((id) => [id, feeds.get(id)!.of('delta').length]));
    for (const id of ['one', 'three']) {
      expect((await sessionOf(flow, sessions.get(id)!)).status).toBe('busy');
      // The machine is shared and loaded: "keeps streaming" is awaited, not timed.
      await until(() => feeds.get(id)!.of('delta').length > counts.get(id)!, `${id} to keep streaming`, 30_000);
    }
    const twoDeltas = feeds.get('two')!.of('delta').length;
    await until(() => feeds.get('one')!.of('delta').length > counts.get('one')! + 5, 'one to stream on', 30_000);
    expect(feeds.get('two')!.of('delta').length).toBe(twoDeltas);
  });

  it('kill -9 of Flow, then start: the processes it left are stopped, busy sessions interrupted, and the instances run again', async () => {
    flow.proc.kill('SIGKILL');
    await flow.exited;
    for (const f of feeds.values()) f.close();
    // Its children live on in their own process groups, as after any crash of Flow.
    for (const id of ids) expect(isAlive(pids.get(id)!)).toBe(true);

    flow = await startFlow(home);
    for (const id of ids) {
      const back = await waitInstance(flow, id, 'running', watch, 90_000);
      expect(back.pid).not.toBe(pids.get(id));
      expect(back.lastExit).toMatchObject({ pid: pids.get(id), cause: 'host-lost' });
    }
    for (const id of ids) expect(isAlive(pids.get(id)!)).toBe(false);
    expect(watch.alive().sort()).toEqual((await json<{ instances: InstanceView[] }>(`${flow.url}/api/instances`)).body.instances.map((i) => i.pid).sort());
    expect((await sessionOf(flow, sessions.get('one')!)).status).toBe('interrupted');
    expect((await sessionOf(flow, sessions.get('three')!)).status).toBe('interrupted');
    expect((await sessionOf(flow, sessions.get('two')!)).status).toBe('idle');
  });
});
