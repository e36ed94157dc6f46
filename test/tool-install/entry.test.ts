import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kindFor } from '../../actors/index.js';
import { withToolInstall } from '../../infra/tool-install.js';
import { readHolder, tryLock } from '../../services/host/pid-lock.js';
import { isAlive } from '../../services/host/proc.js';
import { HOME_ID_ENV, homeIdOf } from '../../services/host/supervised-spawn.js';
import { EventStore } from '../../services/store/event-store.js';
import { toolPaths } from '../../services/tool-install/paths.js';
import { ActorProjector } from '../../services/store/projections.js';
import { copyFixture, ensureBuilt, f, FIXTURES, sandbox, startF, toolEvents, toolStatus, type Sandbox } from './helpers.js';

/**
 * How `f install` reaches the tool-install machine: with no `f up`, an ActorHost in-process for
 * the command (it takes the log's host lock and gives it back, and leaves this FLOW_HOME's
 * processes alone); while a host holds that lock, straight into the shared log through the same
 * writer. Either way the machine decides, and the files say what the stream says.
 */
let sb: Sandbox;
const types = (id: string) => toolEvents(sb.home, id).map((e) => e.type);

beforeAll(() => ensureBuilt(), 240_000);
afterEach(() => sb?.cleanup());

describe('the entry an install command gets', () => {
  it('given no host holds the log, it is a host of its own, holding the host lock while it runs; given one does, it writes into that log', async () => {
    sb = sandbox();
    const paths = toolPaths(sb.home);
    const lockFile = join(sb.home, 'host.lock');
    const own = await withToolInstall(paths, async (entry) => ({ via: entry.via, holder: readHolder(lockFile) }));
    expect(own).toMatchObject({ via: 'host', holder: { pid: process.pid, by: 'f install' } });
    expect(existsSync(lockFile)).toBe(false);
    const lock = tryLock(lockFile, { url: 'http://127.0.0.1:1' });
    try {
      expect(await withToolInstall(paths, async (entry) => entry.via)).toBe('log');
      expect(readHolder(lockFile)).toMatchObject({ url: 'http://127.0.0.1:1' });
    } finally {
      if (lock.taken) lock.release();
    }
  });
});

describe('f install with no f up running', () => {
  let stray: ChildProcess | undefined;
  afterAll(() => {
    if (stray?.pid && isAlive(stray.pid, null)) stray.kill('SIGKILL');
  });

  it('runs the host in-process for the command: the host lock is given back, and a process of this FLOW_HOME is left alone', async () => {
    sb = sandbox();
    // A process marked as this FLOW_HOME's that no log owns: `f up` would stop it; `f install` supervises nothing.
    stray = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { ...process.env, [HOME_ID_ENV]: homeIdOf(sb.home) }, stdio: 'ignore' });
    const r = await f(['install', join(FIXTURES, 'echo-args')], sb.env);
    expect(r.code, r.stderr).toBe(0);
    expect(types('echo-args')).toEqual(['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'REGISTER_REQUESTED', 'REGISTERED']);
    expect(existsSync(join(sb.home, 'host.lock'))).toBe(false);
    expect(isAlive(stray.pid!, null)).toBe(true);
    stray.kill('SIGKILL');
  });

  it('given a link whose stream is gone (a new log), the files decide: another source is refused, and FOUND says why', async () => {
    sb = sandbox();
    const a = copyFixture('echo-args', join(sb.dir, 'a'));
    const b = copyFixture('echo-args', join(sb.dir, 'b'));
    expect((await f(['install', a], sb.env)).code).toBe(0);
    const { rmSync } = await import('node:fs');
    for (const file of ['flow.db', 'flow.db-wal', 'flow.db-shm']) rmSync(join(sb.home, file), { force: true });
    const r = await f(['install', b], sb.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`echo-args is already linked to ${a}; use --force to link it to ${b} instead`);
    expect(types('echo-args')).toEqual(['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'FOUND', 'INSTALL_FAILED']);
    expect(toolStatus(sb.home, 'echo-args')).toBe('installed');
  });

  it('two f install of the same id at once stay one after the other: one links, the other is refused', async () => {
    sb = sandbox();
    const a = copyFixture('echo-args', join(sb.dir, 'a'));
    const b = copyFixture('echo-args', join(sb.dir, 'b'));
    const [ra, rb] = await Promise.all([startF(['install', a], sb.env).done, startF(['install', b], sb.env).done]);
    expect([ra.code, rb.code].sort()).toEqual([0, 1]);
    const loser = ra.code === 0 ? rb : ra;
    expect(loser.stderr).toMatch(/echo-args is already linked to .*; use --force to link it to .* instead/);
    const events = types('echo-args');
    expect(events.filter((t) => t === 'REGISTERED')).toHaveLength(1);
    expect(events.filter((t) => t === 'INSTALL_FAILED')).toHaveLength(1);
    const list = JSON.parse((await f(['cli', 'list', '--json'], sb.env)).stdout) as { tools: { id: string; root: string }[] };
    expect(list.tools.filter((t) => t.id === 'echo-args').map((t) => t.root)).toEqual([ra.code === 0 ? a : b]);
  });
});

describe('f install while a host holds the log (f up running)', () => {
  it('records into the shared log through the same judgement, and a reader of that log sees each event', async () => {
    sb = sandbox();
    // The lock `f up` takes: held here by this (live) process, as a running Flow would hold it.
    const lock = tryLock(join(sb.home, 'host.lock'), { url: 'http://127.0.0.1:1' });
    expect(lock.taken).toBe(true);
    const store = EventStore.open(join(sb.home, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 20 });
    const seen: string[] = [];
    const sub = store.subscribe({ filter: { streamType: 'tool-install' } }, (e) => seen.push(e.type));
    try {
      const a = copyFixture('echo-args', join(sb.dir, 'a'));
      const b = copyFixture('echo-args', join(sb.dir, 'b'));
      expect((await f(['install', a], sb.env)).code).toBe(0);
      const again = await f(['install', a], sb.env);
      expect(again.stderr).toContain('echo-args is already installed');
      const refused = await f(['install', b], sb.env);
      expect(refused.stderr).toContain(`echo-args is already linked to ${a}; use --force to link it to ${b} instead`);
      expect((await f(['install', b, '--force'], sb.env)).code).toBe(0);
      const expected = [
        ...['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'REGISTER_REQUESTED', 'REGISTERED'],
        ...['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'REGISTER_REQUESTED'],
        ...['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'INSTALL_FAILED'],
        ...['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'REGISTER_REQUESTED', 'REGISTERED'],
      ];
      expect(types('echo-args')).toEqual(expected);
      for (let i = 0; i < 100 && seen.length < expected.length; i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual(expected);
      // The lock is still the host's: f install neither took it nor removed it.
      expect(existsSync(join(sb.home, 'host.lock'))).toBe(true);
      const which = await f(['cli', 'which', 'echo-args'], sb.env);
      expect(which.stdout.trim()).toBe(b);
    } finally {
      sub.close();
      store.close();
      if (lock.taken) lock.release();
    }
  });
});
