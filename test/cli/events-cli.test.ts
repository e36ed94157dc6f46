import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { kindFor } from '../../actors/index.js';
import { ActorProjector } from '../../services/store/projections.js';
import { EventStore } from '../../services/store/event-store.js';
import { newEvent } from '../support/events.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

const t = tempDir();
const env = { FLOW_HOME: t.dir };
const at = (ms: number) => new Date(1_700_000_000_000 + ms).toISOString();
const config = { command: ['node', 'server.js'], cwd: '/srv', env: {}, port: 4000, watch: [], watchExtensions: ['.js'], stopGraceMs: 1000 };

beforeAll(() => {
  const store = EventStore.open(join(t.dir, 'flow.db'), { host: 'seed', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  store.append('backend-child', 'backend-child:api', 0, [
    newEvent('CREATED', { name: 'api', config, autostart: true }, at(0)),
    newEvent('PROCESS_STARTED', { pid: 4242, startTicks: 1 }, at(100)),
    newEvent('PROCESS_EXITED', { pid: 4242, code: 1, signal: null, cause: 'exit' }, at(900)),
  ]);
  store.append('backend-child', 'backend-child:web', 0, [newEvent('CREATED', { name: 'web', config, autostart: false }, at(50))]);
  store.close();
});
afterAll(() => t.cleanup());

describe('f events', () => {
  it('tail prints the latest events, oldest first, filtered by stream', async () => {
    const all = await runF(['events', 'tail', '-n', '2'], env);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[3])).toEqual(['PROCESS_EXITED', 'CREATED']);
    const one = await runF(['events', 'tail', '--stream', 'backend-child:api', '--json'], env);
    const lines = one.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; version: number });
    expect(lines.map((e) => [e.version, e.type])).toEqual([
      [1, 'CREATED'],
      [2, 'PROCESS_STARTED'],
      [3, 'PROCESS_EXITED'],
    ]);
  });

  it('replay folds a stream with its machine and shows the state after each event', async () => {
    const r = await runF(['events', 'replay', 'backend-child:api', '--json'], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { steps: { version: number; status: string; state: { context: { restarts: number } } }[]; projectionAgrees: boolean };
    expect(out.steps.map((s) => s.status)).toEqual(['starting', 'running', 'backoff']);
    expect(out.steps[2]!.state.context.restarts).toBe(1);
    expect(out.projectionAgrees).toBe(true);
    const to = await runF(['events', 'replay', 'backend-child:api', '--to', '2'], env);
    expect(to.stdout).toContain('→ running');
    expect(to.stdout).not.toContain('→ backoff');
  });

  it('replay of an unknown stream says so and fails', async () => {
    const r = await runF(['events', 'replay', 'backend-child:nope'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no stream backend-child:nope/);
  });

  it('rebuild recomputes projections that were damaged, and replay then agrees again', async () => {
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(t.dir, 'flow.db'));
    db.exec(`UPDATE actor_state SET snapshot = '{"value":{"life":"running","watch":"quiet"},"context":{}}' WHERE stream_id = 'backend-child:api'`);
    db.close();
    const bad = await runF(['events', 'replay', 'backend-child:api'], env);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/differs/);
    const r = await runF(['events', 'rebuild'], env);
    expect(r.stdout).toMatch(/from 4 events in 2 streams/);
    expect((await runF(['events', 'replay', 'backend-child:api'], env)).code).toBe(0);
  });

  it('show prints a stream and its current state', async () => {
    const r = await runF(['events', 'show', 'backend-child:web'], env);
    expect(r.stdout).toMatch(/CREATED/);
    expect(r.stdout).toMatch(/now: stopped \(version 1\)/);
  });

  it('schema prints JSON Schema for the envelope and every event type', async () => {
    const r = await runF(['events', 'schema'], env);
    const out = JSON.parse(r.stdout) as { envelope: { properties: Record<string, unknown> }; events: Record<string, Record<string, { type: string; properties?: Record<string, unknown> }>> };
    expect(Object.keys(out.envelope.properties)).toEqual(expect.arrayContaining(['id', 'position', 'streamId', 'version', 'data']));
    expect(Object.keys(out.events['backend-child']!)).toEqual(expect.arrayContaining(['CREATED', 'PROCESS_EXITED', 'TIMER_FIRED']));
    expect(out.events['backend-child']!.PROCESS_EXITED!.properties).toHaveProperty('signal');
  });

  it('says clearly when there is no log yet', async () => {
    const empty = tempDir();
    const r = await runF(['events', 'tail'], { FLOW_HOME: join(empty.dir, 'none') });
    empty.cleanup();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no event log at .*flow\.db yet/);
  });

  it('tail --follow prints events another process appends', async () => {
    const { spawn } = await import('node:child_process');
    const { F_BIN } = await import('../support/flow-process.js');
    const p = spawn(process.execPath, [F_BIN, 'events', 'tail', '-n', '1', '--follow', '--stream', 'backend-child:web'], { env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Its first line (the stream's latest event) means it is reading and subscribed.
    for (let i = 0; i < 200 && !out.includes('CREATED'); i++) await new Promise((r) => setTimeout(r, 50));
    const store = EventStore.open(join(t.dir, 'flow.db'), { host: 'other', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    store.append('backend-child', 'backend-child:web', 1, [newEvent('START_REQUESTED', {}, at(5000))]);
    store.close();
    for (let i = 0; i < 100 && !out.includes('START_REQUESTED'); i++) await new Promise((r) => setTimeout(r, 50));
    p.kill('SIGINT');
    expect(out).toMatch(/backend-child:web@2\s+START_REQUESTED/);
  });
});
