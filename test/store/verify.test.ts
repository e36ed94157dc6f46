import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fold, toStored } from '../../actors/fold.js';
import { verifyLog } from '../../services/store/verify-log.js';
import { folder, verifyRange } from '../../services/store/verify.js';
import { kindFor } from '../../actors/index.js';
import { machineVersion } from '../../services/store/machine-version.js';
import { backendKind, backendLog, openTestStore, writeLogs } from '../support/history.js';
import { startFlow, stopStartedFlows } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import type { RecordedEvent as SimEvent } from '../../actors/fold.js';
import { tempDir } from '../support/tmp.js';

/**
 * The full fold is the judge of the stored snapshots recovery starts from: `f events verify`
 * folds every stream from its start and compares; `f events rebuild` repairs from the log; and
 * `f up` runs the same check in the background after start and repairs what disagrees.
 */

const config = { command: ['node', 'server.js'], cwd: '/srv', env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 1000 };
const at = (ms: number) => new Date(1_700_000_000_000 + ms).toISOString();

/** Backends that are stopped (no process for f up to start), and some with a history of crashes. */
function seed(path: string): string[] {
  const logs = new Map<string, SimEvent[]>();
  for (let i = 0; i < 6; i++) {
    logs.set(`backend-child:idle${i}`, [
      { type: 'CREATED', data: { name: `idle${i}`, config, autostart: false }, at: at(i) },
      { type: 'START_REQUESTED', data: {}, at: at(10 + i) },
      { type: 'SPAWN_FAILED', data: { error: 'no such command' }, at: at(20 + i) },
      { type: 'STOP_REQUESTED', data: {}, at: at(30 + i) },
    ]);
  }
  for (let i = 0; i < 4; i++) {
    logs.set(`backend-child:crashy${i}`, backendLog(`crashy${i}`, [{ t: 'started' }, { t: 'exited', code: 1 }, { t: 'wait', ms: 1500 }, { t: 'started' }, { t: 'changed' }, { t: 'wait', ms: 600 }, { t: 'exited', code: null }, { t: 'cmd', type: 'STOP_REQUESTED' }]));
  }
  const store = openTestStore(path);
  writeLogs(store, logs);
  store.close();
  return [...logs.keys()];
}

const homes: (() => void)[] = [];
function home(): { dir: string; path: string; env: Record<string, string> } {
  const t = tempDir('flow-verify-');
  homes.push(t.cleanup);
  return { dir: t.dir, path: join(t.dir, 'flow.db'), env: { FLOW_HOME: t.dir } };
}
afterEach(async () => {
  await stopStartedFlows();
  for (const c of homes.splice(0)) c();
});

function corrupt(path: string, streamId: string, sql = `UPDATE actor_state SET snapshot = json_set(snapshot, '$.context.restarts', 99) WHERE stream_id = ?`): void {
  const store = openTestStore(path);
  store.db.prepare(sql).run(streamId);
  store.close();
}

describe('verify', () => {
  it('given a log written with its projections, when verified in this thread or in worker threads, then every projection agrees', async () => {
    const { path } = home();
    const ids = seed(path);
    for (const threads of [0, 2]) {
      const r = await verifyLog(path, { threads });
      expect(r.differences).toEqual([]);
      expect(r.streams).toBe(ids.length);
      const store = openTestStore(path);
      expect(r.events).toBe(store.headPosition());
      store.close();
    }
  });

  it('given a snapshot edited by hand, when f events verify runs, then it names the stream and exits 2; f events rebuild repairs it from the log', async () => {
    const { path, env } = home();
    seed(path);
    corrupt(path, 'backend-child:crashy2');
    const found = await runF(['events', 'verify'], env);
    expect(found.code, found.stderr).toBe(2);
    expect(found.stdout).toContain('backend-child:crashy2: snapshot');
    expect(found.stdout).toMatch(/1 difference\(s\) in 1 stream\(s\)/);
    const json = await runF(['events', 'verify', '--json', '--threads', '2'], env);
    expect(json.code).toBe(2);
    expect((JSON.parse(json.stdout) as { differences: { streamId: string; problem: string }[] }).differences.map((d) => [d.streamId, d.problem])).toEqual([['backend-child:crashy2', 'snapshot']]);
    // --stream folds that stream alone.
    expect((await runF(['events', 'verify', '--stream', 'backend-child:idle1'], env)).code).toBe(0);
    expect((await runF(['events', 'verify', '--stream', 'backend-child:crashy2'], env)).code).toBe(2);

    const rebuilt = await runF(['events', 'rebuild', '--stream', 'backend-child:crashy2'], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const again = await runF(['events', 'verify'], env);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toMatch(/every projection agrees with the log/);
  }, 120_000);

  it('given lost timers, a row of another machine version and a row for no stream, when verified, then each is a difference, and f events rebuild repairs them all', async () => {
    const { path, env } = home();
    seed(path);
    const store = openTestStore(path);
    const timersBefore = store.db.prepare(`SELECT count(*) AS n FROM timers WHERE stream_id = 'backend-child:crashy0'`).get() as { n: number };
    store.db.prepare(`DELETE FROM timers WHERE stream_id = 'backend-child:crashy0'`).run();
    store.db.prepare(`UPDATE actor_state SET machine = 'older' WHERE stream_id = 'backend-child:idle3'`).run();
    store.db.prepare(`INSERT INTO actor_state (stream_id, stream_type, version, status, snapshot, updated_at, host, machine) SELECT 'backend-child:ghost', stream_type, version, status, snapshot, updated_at, host, machine FROM actor_state WHERE stream_id = 'backend-child:idle0'`).run();
    store.close();
    const r = await verifyLog(path, { threads: 2 });
    expect(r.differences.map((d) => [d.streamId, d.problem])).toEqual([
      ['backend-child:ghost', 'row without a stream'],
      ['backend-child:idle3', 'machine'],
      ...(timersBefore.n > 0 ? [['backend-child:crashy0', 'timers']] : []),
    ]);
    expect((await runF(['events', 'rebuild'], env)).code).toBe(0);
    expect((await verifyLog(path)).differences).toEqual([]);
  });

  it('given a snapshot edited by hand, when f up starts over it, then the background verifier logs the disagreement and repairs the actor from the log', async () => {
    const { path, dir } = home();
    const ids = seed(path);
    corrupt(path, 'backend-child:idle4');
    const flow = await startFlow(dir);
    const deadline = Date.now() + 30_000;
    while (!/1 actor\(s\) repaired from the log/.test(flow.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(flow.output()).toMatch(/verify: backend-child:idle4's stored projection disagrees with its log \(snapshot\)/);
    expect(flow.output()).toMatch(/1 actor\(s\) repaired from the log/);
    // What the API shows is the log's answer again.
    const res = await fetch(`${flow.url}/api/backends/idle4`);
    expect(res.status).toBe(200);
    const store = openTestStore(path);
    try {
      for (const id of ids) expect(store.actor(id)!.snapshot, id).toEqual(toStored(fold(backendKind, store.readStream(id))));
    } finally {
      store.close();
    }
  }, 90_000);

  it('given a fast fold that is wrong, when verified, then the fold through XState overrules it: a difference counts only if XState finds it too', () => {
    const { path } = home();
    const ids = seed(path);
    const kinds = { kindFor, versionOf: (t: string) => { const k = kindFor(t); return k && machineVersion(k); } };
    // A fast fold that forgets every stream's last event.
    const wrong = (kind: Parameters<typeof folder>[0]) => {
      const real = folder(kind);
      let held: Parameters<typeof real.step> | null = null;
      return { fast: true, step: (...a: Parameters<typeof real.step>) => { const out = held ? real.step(...held) : []; held = a; return out; }, stored: () => real.stored() };
    };
    const store = openTestStore(path);
    try {
      expect(verifyRange(store.db, kinds, {}, { folderFor: wrong }).differences.filter((d) => d.problem !== 'version')).toEqual([]);
      store.db.prepare(`UPDATE actor_state SET snapshot = json_set(snapshot, '$.context.restarts', 99) WHERE stream_id = ?`).run(ids[0]);
      const found = verifyRange(store.db, kinds, {}, { folderFor: wrong }).differences.filter((d) => d.problem === 'snapshot');
      expect(found.map((d) => d.streamId)).toEqual([ids[0]]);
    } finally {
      store.close();
    }
  });
});
