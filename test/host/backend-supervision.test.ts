import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { backendStreamId } from '../../actors/backend-child/index.js';
import { fold } from '../../actors/fold.js';
import { isAlive } from '../../services/host/proc.js';
import { readActor, readTimers } from '../../services/store/projections.js';
import { kindFor } from '../../actors/index.js';
import { tempDir } from '../support/tmp.js';
import { CRASHY, ShiftableClock, startHost, waitForEvents } from '../support/host.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(clock = new ShiftableClock()) {
  const t = tempDir();
  const h = await startHost(t.dir, clock);
  cleanups.push(t.cleanup, () => h.close());
  return { ...h, dir: t.dir, clock };
}

const cfg = (dir: string, args: string[], extra: Record<string, unknown> = {}) => ({
  command: [process.execPath, CRASHY, ...args],
  cwd: dir,
  env: {},
  port: null,
  watch: [],
  watchExtensions: ['.ts', '.js', '.json'],
  stopGraceMs: 2000,
  ...extra,
});

const types = (events: { type: string }[]) => events.map((e) => e.type);
const count = (events: { type: string }[], type: string) => events.filter((e) => e.type === type).length;

describe('backend-child supervision with real processes', () => {
  it('three crashes in a row restart after 1 s, 2 s and 3 s, then the backend is failed', async () => {
    const { host, store, dir } = await setup();
    const res = await host.dispatch({ type: 'backend.create', name: 'crash', config: cfg(dir, ['--exit', '3']), autostart: true });
    expect(res).toMatchObject({ ok: true, status: 'starting' });
    const id = backendStreamId('crash');
    const events = await waitForEvents(store, id, (ev) => readActor(store.db, id)?.status === 'failed' && ev.length > 0, 30_000);
    const exits = events.filter((e) => e.type === 'PROCESS_EXITED');
    const starts = events.filter((e) => e.type === 'PROCESS_STARTED');
    expect(exits).toHaveLength(4);
    expect(starts).toHaveLength(4);
    expect(exits.every((e) => e.data.code === 3 && e.data.cause === 'exit')).toBe(true);
    // Each restart waited at least 1000 ms × n after the crash that caused it.
    for (let n = 1; n <= 3; n++) {
      const gap = Date.parse(starts[n]!.at) - Date.parse(exits[n - 1]!.at);
      expect(gap).toBeGreaterThanOrEqual(1000 * n);
    }
    expect(count(events, 'TIMER_FIRED')).toBe(3);
    expect(readActor(store.db, id)?.snapshot.context).toMatchObject({ restarts: 3, exits: 4 });
    expect(readTimers(store.db)).toEqual([]);
  });

  it('a child that ran over 30 s before crashing restarts with its count reset', async () => {
    const { host, store, dir, clock } = await setup();
    // Crash at once twice, then a run that "lasts" 31 s (the clock is pushed), then crash.
    const res = await host.dispatch({ type: 'backend.create', name: 'stable', config: cfg(dir, ['--exit', '1', '--after', '300']), autostart: true });
    expect(res.ok).toBe(true);
    const id = backendStreamId('stable');
    await waitForEvents(store, id, (ev) => count(ev, 'PROCESS_EXITED') === 2 && count(ev, 'PROCESS_STARTED') === 3, 20_000);
    expect(readActor(store.db, id)?.snapshot.context).toMatchObject({ restarts: 2 });
    clock.offset += 31_000;
    const events = await waitForEvents(store, id, (ev) => count(ev, 'PROCESS_EXITED') === 3);
    const ctx = readActor(store.db, id)!.snapshot.context as { restarts: number; lastExit: { ranMs: number } };
    expect(ctx.lastExit.ranMs).toBeGreaterThan(30_000);
    expect(ctx.restarts).toBe(1);
    expect(readActor(store.db, id)!.status).toBe('backoff');
    expect(types(events)).toContain('TIMER_FIRED');
  });

  it('touching a watched file restarts the process, with the count reset', async () => {
    const { host, store, dir } = await setup();
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'app.ts'), 'one');
    const res = await host.dispatch({ type: 'backend.create', name: 'watched', config: cfg(dir, [], { watch: ['src'] }), autostart: true });
    expect(res.ok).toBe(true);
    const id = backendStreamId('watched');
    const first = await waitForEvents(store, id, (ev) => count(ev, 'PROCESS_STARTED') === 1);
    const firstPid = first.find((e) => e.type === 'PROCESS_STARTED')!.data.pid as number;
    await new Promise((r) => setTimeout(r, 300)); // let the watcher settle in
    writeFileSync(join(dir, 'src', 'app.ts'), 'two');
    writeFileSync(join(dir, 'src', 'notes.md'), 'ignored: not a watched extension');
    const events = await waitForEvents(store, id, (ev) => count(ev, 'PROCESS_STARTED') === 2);
    const changed = events.filter((e) => e.type === 'FILES_CHANGED');
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed.flatMap((e) => e.data.paths as string[]).every((p) => p.endsWith('app.ts'))).toBe(true);
    const exit = events.find((e) => e.type === 'PROCESS_EXITED')!;
    expect(exit.data).toMatchObject({ pid: firstPid, signal: 'SIGTERM', cause: 'exit' });
    expect(isAlive(firstPid)).toBe(false);
    expect(readActor(store.db, id)?.snapshot.context).toMatchObject({ restarts: 0 });
  });

  it('stop sends SIGTERM to the group, escalates to SIGKILL after the grace period, and kills grandchildren', async () => {
    const { host, store, dir, backends } = await setup();
    const res = await host.dispatch({ type: 'backend.create', name: 'stubborn', config: cfg(dir, ['--ignore-term', '--grandchild'], { stopGraceMs: 300 }), autostart: true });
    expect(res.ok).toBe(true);
    const id = backendStreamId('stubborn');
    await waitForEvents(store, id, () => (backends.outputs()?.lines(id, 10) ?? []).some((l) => l.line.startsWith('grandchild pid=')));
    const grandchild = Number(backends.outputs()!.lines(id, 10).find((l) => l.line.startsWith('grandchild'))!.line.split('=')[1]);
    const pid = store.readStream(id).find((e) => e.type === 'PROCESS_STARTED')!.data.pid as number;
    expect(await host.dispatch({ type: 'backend.stop', name: 'stubborn' })).toMatchObject({ ok: true, status: 'stopping' });
    const events = await waitForEvents(store, id, (ev) => ev.some((e) => e.type === 'PROCESS_EXITED'));
    expect(events.find((e) => e.type === 'PROCESS_EXITED')!.data).toMatchObject({ pid, signal: 'SIGKILL' });
    expect(readActor(store.db, id)?.status).toBe('stopped');
    expect(isAlive(pid)).toBe(false);
    for (let i = 0; i < 40 && isAlive(grandchild); i++) await new Promise((r) => setTimeout(r, 25));
    expect(isAlive(grandchild)).toBe(false);
  });

  it('keeps output lines (bounded) and publishes them live', async () => {
    const { host, store, dir, live, backends } = await setup();
    const seen: string[] = [];
    live.subscribe('flow.live.backend-child.talky.output', (m) => seen.push((m.data as { line: string }).line));
    await host.dispatch({ type: 'backend.create', name: 'talky', config: cfg(dir, ['--lines', '5', '--exit', '0', '--after', '200']), autostart: true });
    const id = backendStreamId('talky');
    await waitForEvents(store, id, (ev) => ev.some((e) => e.type === 'PROCESS_EXITED'));
    await new Promise((r) => setTimeout(r, 100));
    const lines = backends.outputs()!.lines(id, 100).map((l) => l.line);
    expect(lines).toEqual(expect.arrayContaining(['line 1', 'line 5']));
    expect(seen).toEqual(expect.arrayContaining(['line 1', 'line 5']));
    expect(lines.some((l) => l.startsWith('crashy stderr'))).toBe(true);
    expect(readActor(store.db, id)?.status).toBe('exited');
  });

  it('a command that does not apply is refused and writes nothing; unknown names are not found', async () => {
    const { host, store, dir } = await setup();
    await host.dispatch({ type: 'backend.create', name: 'api', config: cfg(dir, []), autostart: false });
    const before = store.headPosition();
    expect(await host.dispatch({ type: 'backend.stop', name: 'api' })).toMatchObject({ ok: false, error: { code: 'invalid_state' } });
    expect(await host.dispatch({ type: 'backend.create', name: 'api', config: cfg(dir, []), autostart: false })).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(await host.dispatch({ type: 'backend.start', name: 'nope' })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(store.headPosition()).toBe(before);
  });

  it('a program that does not exist fails to spawn with a clear error and ends failed after its restarts', async () => {
    const { host, store, dir } = await setup();
    await host.dispatch({ type: 'backend.create', name: 'ghost', config: { ...cfg(dir, []), command: ['/no/such/program'] }, autostart: true });
    const id = backendStreamId('ghost');
    await waitForEvents(store, id, () => readActor(store.db, id)?.status === 'failed', 20_000);
    const ctx = readActor(store.db, id)!.snapshot.context as { lastError: string };
    expect(ctx.lastError).toMatch(/no such program/);
  });

  it('the live state equals the fold of the log it wrote', async () => {
    const { host, store, dir } = await setup();
    await host.dispatch({ type: 'backend.create', name: 'r', config: cfg(dir, ['--exit', '1', '--after', '50']), autostart: true });
    const id = backendStreamId('r');
    await waitForEvents(store, id, (ev) => count(ev, 'PROCESS_EXITED') >= 2);
    await host.dispatch({ type: 'backend.stop', name: 'r' });
    const live = host.snapshotOf(id)!;
    const folded = fold(kindFor('backend-child')!, store.readStream(id));
    expect(folded.value).toEqual(live.snapshot.value);
    expect(folded.context).toEqual(live.snapshot.context);
  });
});
