import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendStreamId, type BackendContext } from '../../actors/backend-child.js';
import { kindFor } from '../../actors/index.js';
import { backendChildServices } from '../../services/backend-child/index.js';
import { BackendLogFiles } from '../../services/backend-child/log-file.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorHost } from '../../services/host/actor-host.js';
import { ActorProjector, readActor } from '../../services/host/actor-projection.js';
import { EventStore } from '../../services/store/event-store.js';
import { backendView } from '../../gateway/backend-view.js';
import { CRASHY } from '../support/host.js';
import { until } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function dir() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

const line = (n: number) => ({ at: '2026-01-01T00:00:00.000Z', fd: 'stdout', line: `line ${String(n).padStart(4, '0')} ${'x'.repeat(80)}` });

describe('backend log files ($FLOW_HOME/logs/<name>.log), rotated by size', () => {
  it('past maxBytes the file moves to .1, .1 to .2, and the oldest beyond `files` is dropped', () => {
    const logs = join(dir(), 'logs');
    const errors: string[] = [];
    const files = new BackendLogFiles({ dir: logs, maxBytes: 2048, files: 3, onError: (m) => errors.push(m) });
    for (let n = 1; n <= 200; n++) files.write('api', [line(n)]);
    files.close();
    expect(errors).toEqual([]);
    expect(readdirSync(logs).sort()).toEqual(['api.log', 'api.log.1', 'api.log.2']);
    for (const f of readdirSync(logs)) expect(readFileSync(join(logs, f)).length).toBeLessThanOrEqual(2048);
    const current = readFileSync(join(logs, 'api.log'), 'utf8');
    expect(current.trimEnd().split('\n').at(-1)).toBe(`2026-01-01T00:00:00.000Z stdout ${line(200).line}`);
    // Oldest first across the files, with nothing lost between them.
    const kept = ['api.log.2', 'api.log.1', 'api.log'].flatMap((f) => readFileSync(join(logs, f), 'utf8').trimEnd().split('\n'));
    const numbers = kept.map((l) => Number(/line (\d+)/.exec(l)![1]));
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => 201 - numbers.length + i));
  });

  it('FLOW_LOG_FILES=1 keeps only the current file', () => {
    const logs = join(dir(), 'logs');
    const files = new BackendLogFiles({ dir: logs, maxBytes: 1024, files: 1 });
    for (let n = 1; n <= 50; n++) files.write('api', [line(n)]);
    files.close();
    expect(readdirSync(logs)).toEqual(['api.log']);
  });

  it('a name that is not a plain file name is refused, and nothing is written outside the directory', () => {
    const home = dir();
    const logs = join(home, 'logs');
    const errors: string[] = [];
    const files = new BackendLogFiles({ dir: logs, onError: (m) => errors.push(m) });
    for (const bad of ['../escape', 'a/b', '.hidden', 'UPPER', '', 'x'.repeat(64)]) files.write(bad, [line(1)]);
    files.close();
    expect(errors).toHaveLength(6);
    expect(errors[0]).toMatch(/"\.\.\/escape" cannot name a log file/);
    expect(readdirSync(home)).toEqual([]);
  });

  it('a logs directory that is a symlink is refused, with what to do', () => {
    const home = dir();
    const elsewhere = join(home, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(home, 'logs'));
    const errors: string[] = [];
    const files = new BackendLogFiles({ dir: join(home, 'logs'), onError: (m) => errors.push(m) });
    files.write('api', [line(1)]);
    files.write('api', [line(2)]);
    files.close();
    expect(readdirSync(elsewhere)).toEqual([]);
    // Reported once, not once per line.
    expect(errors).toEqual([expect.stringMatching(/logs is a symbolic link; Flow writes backend logs only into a real directory \(remove the link\)/)]);
  });

  it('a log file that is a symlink is not followed', () => {
    const home = dir();
    const logs = join(home, 'logs');
    mkdirSync(logs);
    const target = join(home, 'precious');
    writeFileSync(target, 'keep me\n');
    symlinkSync(target, join(logs, 'api.log'));
    const errors: string[] = [];
    const files = new BackendLogFiles({ dir: logs, onError: (m) => errors.push(m) });
    files.write('api', [line(1)]);
    files.close();
    expect(readFileSync(target, 'utf8')).toBe('keep me\n');
    expect(errors).toEqual([expect.stringMatching(/api\.log is a symbolic link; not following it/)]);
  });

  it('a file rotated or removed by someone else (logrotate, a second writer) is noticed: the path is opened again', () => {
    const logs = join(dir(), 'logs');
    const files = new BackendLogFiles({ dir: logs, maxBytes: 1 << 20, files: 3 });
    files.write('api', [line(1)]);
    renameSync(join(logs, 'api.log'), join(logs, 'moved'));
    files.write('api', [line(2)]);
    // Another writer appended meanwhile: the size the rotation judges by is the file's.
    writeFileSync(join(logs, 'api.log'), 'y'.repeat(2000) + '\n', { flag: 'a' });
    files.write('api', [line(3)]);
    files.close();
    expect(readFileSync(join(logs, 'moved'), 'utf8')).toMatch(/line 0001/);
    const current = readFileSync(join(logs, 'api.log'), 'utf8');
    expect(current).toMatch(/line 0002/);
    expect(current).not.toMatch(/line 0001/);
    expect(current.trimEnd().split('\n').at(-1)).toMatch(/line 0003/);
  });
});

describe('a backend writes its output and Flow\'s notes into its log file', () => {
  async function host(home: string, historyLines = 1000) {
    const store = EventStore.open(join(home, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    const live = new InProcessLiveBus();
    const backends = backendChildServices({ live, historyLines, logFiles: { dir: join(home, 'logs'), maxBytes: 1 << 20, files: 3 } });
    const h = await ActorHost.start({ store, live, services: [backends], log: () => {} });
    cleanups.push(() => store.close(), () => h.stop());
    return { store, backends, host: h };
  }
  const cfg = (cwd: string, command: string[], extra: Record<string, unknown> = {}) => ({ command, cwd, env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 2000, ...extra });
  const logOf = (home: string, name: string) => (existsSync(join(home, 'logs', `${name}.log`)) ? readFileSync(join(home, 'logs', `${name}.log`), 'utf8') : '');

  it('history in the file outlives the lines the table keeps', async () => {
    const home = dir();
    const { host: h, backends } = await host(home, 5);
    await h.dispatch({ type: 'backend.create', name: 'talker', config: cfg(home, [process.execPath, CRASHY, '--lines', '40']), autostart: true });
    await until(() => logOf(home, 'talker').includes('line 40'), 'line 40 in the file');
    const file = logOf(home, 'talker');
    expect(file).toMatch(/^\S+Z flow started pid \d+: /m);
    expect(file).toMatch(/^\S+Z stderr crashy stderr pid=\d+$/m);
    for (let n = 1; n <= 40; n++) expect(file).toContain(` stdout line ${n}\n`);
    expect(backends.outputs()!.lines(backendStreamId('talker'), 100)).toHaveLength(5);
  });

  it('a spawn failure is in the log lines and the file, not only in the event', async () => {
    const home = dir();
    const { host: h, backends, store } = await host(home);
    await h.dispatch({ type: 'backend.create', name: 'ghost', config: cfg(home, ['no-such-program-here']), autostart: true });
    await until(() => logOf(home, 'ghost').includes('cannot run'), 'the failure in the file');
    expect(logOf(home, 'ghost')).toMatch(/flow cannot run "no-such-program-here" in .*: no such program/);
    const lines = backends.outputs()!.lines(backendStreamId('ghost'), 10);
    expect(lines[0]).toMatchObject({ fd: 'flow', line: expect.stringMatching(/^cannot run "no-such-program-here"/) });
    const row = readActor(store.db, backendStreamId('ghost'))!;
    expect(backendView({ ...row, host: 'test', retired: null } as never).lastExit?.summary).toBe('spawn failed');
  });

  it('a watch reload reads as a reload in the log and in the view, not as "killed by SIGTERM"', async () => {
    const home = dir();
    mkdirSync(join(home, 'src'));
    writeFileSync(join(home, 'src', 'app.js'), 'one');
    const { host: h, store } = await host(home);
    const id = backendStreamId('web');
    await h.dispatch({ type: 'backend.create', name: 'web', config: cfg(home, [process.execPath, CRASHY], { watch: [join(home, 'src')] }), autostart: true });
    await until(() => logOf(home, 'web').includes('crashy up'), 'the first run');
    const firstPid = (readActor(store.db, id)!.snapshot.context as BackendContext).run!.pid;
    // The watcher may need a moment to be up: touch once, and again if no reload followed
    // (touching more often would keep the 500 ms debounce from ever settling).
    const reloaded = () => {
      const run = (readActor(store.db, id)!.snapshot.context as BackendContext).run;
      return run !== null && run.pid !== firstPid;
    };
    for (let attempt = 0; attempt < 5 && !reloaded(); attempt++) {
      writeFileSync(join(home, 'src', 'app.js'), String(attempt));
      await until(reloaded, 'the reload', 3000).catch(() => undefined);
    }
    expect(reloaded()).toBe(true);
    await until(() => logOf(home, 'web').includes('stopped for reload'), 'the reload in the file');
    const file = logOf(home, 'web');
    expect(file).toMatch(/flow reloading: .*app\.js changed/);
    expect(file).toMatch(/flow stopped for reload \(SIGTERM\)/);
    expect(file).not.toMatch(/killed by/);
    const row = readActor(store.db, id)!;
    expect(backendView({ ...row, host: 'test', retired: null } as never).lastExit?.summary).toBe('reload (files changed)');
  });
});
