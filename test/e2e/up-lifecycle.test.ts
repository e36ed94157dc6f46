import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { kindFor } from '../../actors/index.js';
import { fold, toStored } from '../../actors/fold.js';
import { isAlive } from '../../services/host/proc.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { EventStore } from '../../services/store/event-store.js';
import { CRASHY } from '../support/host.js';
import { json, requireBuild, startFlow, stopStartedFlows, until, type FlowProcess } from '../support/flow-process.js';
import { killLeftoversOfHome } from '../support/proc-scan.js';
import { tempDir } from '../support/tmp.js';

interface BackendView {
  name: string;
  status: string;
  pid: number | null;
}

const running: FlowProcess[] = [];
const cleanups: (() => void)[] = [];
const strays: number[] = [];
const homes: string[] = [];

beforeAll(() => requireBuild());
afterEach(async () => {
  for (const f of running.splice(0)) {
    if (f.proc.exitCode === null && f.proc.signalCode === null) {
      f.proc.kill('SIGTERM');
      await f.exited;
    }
  }
  // One still starting when a test timed out is not in `running` yet.
  await stopStartedFlows();
  for (const pid of strays.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // kill -9 of f up in the middle of a spawn can leave a child no event names (issue 11, item 3).
  for (const home of homes.splice(0)) killLeftoversOfHome(home);
  while (cleanups.length) cleanups.pop()!();
});

async function up(home: string) {
  if (!homes.includes(home)) homes.push(home);
  const f = await startFlow(home);
  running.push(f);
  return f;
}

function add(f: FlowProcess, name: string, args: string[], extra: Record<string, unknown> = {}) {
  return json<BackendView>(`${f.url}/api/backends`, { method: 'POST', body: { name, command: [process.execPath, CRASHY, ...args], cwd: process.cwd(), stopGraceMs: 1000, ...extra } });
}

async function backends(f: FlowProcess): Promise<BackendView[]> {
  return (await json<{ backends: BackendView[] }>(`${f.url}/api/backends`)).body.backends;
}

function readLog(home: string): EventEnvelope[] {
  const store = EventStore.open(join(home, 'flow.db'), { host: 'check', pollMs: 0 });
  try {
    return store.readAll(0, 1_000_000);
  } finally {
    store.close();
  }
}

describe('f up as a real process', () => {
  it('SIGTERM stops every child (grandchildren too) and records each exit; the next start resumes them', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const f = await up(t.dir);
    expect((await add(f, 'web', ['--grandchild'])).status).toBe(201);
    expect((await add(f, 'stubborn', ['--ignore-term'], { stopGraceMs: 300 })).status).toBe(201);
    const list = await until(async () => {
      const l = await backends(f);
      return l.length === 2 && l.every((b) => b.status === 'running' && b.pid) && l;
    }, 'both backends running');
    const pids = list.map((b) => b.pid!);
    strays.push(...pids);
    const logs = await until(async () => {
      const r = await json<{ lines: { line: string }[] }>(`${f.url}/api/backends/web/logs`);
      return r.body.lines.find((l) => l.line.startsWith('grandchild pid='));
    }, 'the grandchild pid');
    const grandchild = Number(logs.line.split('=')[1]);

    f.proc.kill('SIGTERM');
    expect(await f.exited).toEqual({ code: 0, signal: null });
    for (const pid of [...pids, grandchild]) expect(isAlive(pid), `pid ${pid} still alive`).toBe(false);
    const exits = readLog(t.dir).filter((e) => e.type === 'PROCESS_EXITED');
    expect(exits.map((e) => e.data.cause).sort()).toEqual(['host-shutdown', 'host-shutdown']);

    const again = await up(t.dir);
    const resumed = await until(async () => {
      const l = await backends(again);
      return l.every((b) => b.status === 'running' && b.pid && !pids.includes(b.pid)) && l;
    }, 'backends resumed with new processes');
    strays.push(...resumed.map((b) => b.pid!));
    again.proc.kill('SIGINT');
    expect((await again.exited).code).toBe(0);
    for (const b of resumed) expect(isAlive(b.pid!)).toBe(false);
  }, 90_000);

  it('kill -9 mid-stream: the log is intact, state equals replay, a pending backoff still fires, orphans are stopped', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const f = await up(t.dir);
    // Two backends keep the log busy (restarted in a loop while the crash happens); two stay
    // up, so the crash certainly leaves orphans behind.
    const churning = ['a', 'b'];
    const steady = ['c', 'd'];
    const names = [...churning, ...steady];
    for (const n of names) expect((await add(f, n, [])).status).toBe(201);
    await until(async () => (await backends(f)).filter((b) => b.status === 'running').length === 4, 'four running');
    let stop = false;
    const churn = (async () => {
      while (!stop) {
        await Promise.all(churning.map((n) => fetch(`${f.url}/api/backends/${n}/restart`, { method: 'POST' }).catch(() => undefined)));
      }
    })();
    // One backend that crashes once, leaving a 1 s backoff restart pending at the kill.
    expect((await add(f, 'pending', ['--exit', '1', '--after', '100'])).status).toBe(201);
    await until(() => readLog(t.dir).some((e) => e.streamId === 'backend-child:pending' && e.type === 'PROCESS_EXITED'), 'the first crash');
    f.proc.kill('SIGKILL');
    await f.exited;
    stop = true;
    await churn;

    const before = readLog(t.dir);
    // Every stream's versions are contiguous from 1: no torn stream.
    const byStream = new Map<string, EventEnvelope[]>();
    for (const e of before) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
    for (const [, events] of byStream) expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    // The projection written with each append equals the fold of the log.
    const db = new Database(join(t.dir, 'flow.db'), { readonly: true });
    const rows = db.prepare(`SELECT stream_id, snapshot FROM actor_state`).all() as { stream_id: string; snapshot: string }[];
    db.close();
    for (const r of rows) expect(JSON.parse(r.snapshot)).toEqual(toStored(fold(kindFor('backend-child')!, byStream.get(r.stream_id)!)));
    // The processes of the dead host are still there: orphans.
    const lastPid = (id: string) => [...byStream.get(id)!].reverse().find((e) => e.type === 'PROCESS_STARTED')?.data.pid as number | undefined;
    const orphans = names.map((n) => lastPid(`backend-child:${n}`)).filter((p): p is number => p !== undefined && isAlive(p));
    strays.push(...orphans);
    for (const n of steady) expect(orphans).toContain(lastPid(`backend-child:${n}`));

    const again = await up(t.dir);
    await until(async () => (await backends(again)).filter((b) => names.includes(b.name) && b.status === 'running').length === 4, 'four running again');
    for (const pid of orphans) expect(isAlive(pid), `orphan ${pid} still alive`).toBe(false);
    const after = readLog(t.dir);
    const lost = after.filter((e) => e.position > before.length && e.type === 'PROCESS_EXITED' && e.data.cause === 'host-lost');
    expect(lost.map((e) => e.data.pid)).toEqual(expect.arrayContaining(orphans));
    // The backoff restart that was pending when the host died still happened.
    await until(() => readLog(t.dir).some((e) => e.streamId === 'backend-child:pending' && e.position > before.length && e.type === 'TIMER_FIRED'), 'the pending restart');
    const pending = readLog(t.dir).filter((e) => e.streamId === 'backend-child:pending');
    expect(pending.filter((e) => e.type === 'PROCESS_STARTED').length).toBeGreaterThanOrEqual(2);
    strays.push(...(await backends(again)).map((b) => b.pid!).filter(Boolean));
  }, 90_000);
});
