import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isAlive } from '../../services/host/proc.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { EventStore } from '../../services/store/event-store.js';
import { CRASHY } from '../support/host.js';
import { F_BIN, json, requireBuild, until } from '../support/flow-process.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { killLeftoversOfHome, processesWhere } from '../support/proc-scan.js';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { project, ProcessWatch } from '../opencode/helpers.js';
import { tempDir } from '../support/tmp.js';

/**
 * However `f up` is ended — Ctrl+C with its output piped into a reader that died first, the
 * terminal closing (SIGHUP), a stray SIGPIPE, a bug (an uncaught exception or an unhandled
 * rejection) — no backend outlives it unrecorded: every process of every backend (grandchildren
 * too) is stopped and each exit is in the log with cause `host-shutdown`.
 */

const services = await serviceUrls();
const SCRIPT = '/usr/bin/script';
const FAULT = pathToFileURL(join(process.cwd(), 'test/fixtures/fault-on-signal.mjs')).href;

interface Up {
  proc: ChildProcess;
  home: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface BackendView {
  name: string;
  status: string;
  pid: number | null;
}

const procs: ChildProcess[] = [];
const groups: number[] = [];
const cleanups: (() => void)[] = [];

beforeAll(() => requireBuild());
afterEach(async () => {
  // SIGTERM first: an f up a failed test left running stops its own backends.
  await Promise.all(
    procs.splice(0).map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGTERM');
      const kill = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(kill);
    }),
  );
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone, as it should be */
    }
  }
  while (cleanups.length) cleanups.pop()!();
});

function home(): string {
  const t = tempDir();
  // Last: whatever a failed test left of this FLOW_HOME.
  cleanups.push(() => {
    killLeftoversOfHome(t.dir);
    t.cleanup();
  });
  return t.dir;
}

/** `f up --port 0` with the given stdout/stderr (and node flags, e.g. a preload). */
function startUp(dir: string, stdio: StdioOptions, opts: { nodeArgs?: string[]; env?: Record<string, string>; args?: string[] } = {}): Up {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), F_BIN, 'up', '--port', '0', ...(opts.args ?? [])], { env: { ...process.env, FLOW_HOME: dir, ...opts.env }, stdio });
  procs.push(proc);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, home: dir, exited };
}

/** Who holds a FLOW_HOME's lock and where it answers, once it listens. */
async function lockOf(dir: string, lockFile: string, starter: ChildProcess): Promise<{ pid: number; url: string }> {
  const lock = join(dir, lockFile);
  return until(() => {
    if (starter.exitCode !== null || starter.signalCode !== null) throw new Error(`f up exited early (${String(starter.exitCode ?? starter.signalCode)})`);
    if (!existsSync(lock)) return null;
    try {
      const held = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; url?: string };
      return held.url && !held.url.endsWith(':0') ? { pid: held.pid, url: held.url } : null;
    } catch {
      return null;
    }
  }, 'f up to listen');
}

/** Where f up answers, from its lock file (its own output may go nowhere). */
async function urlOf(up: Up, lockFile = 'host.lock'): Promise<string> {
  return (await lockOf(up.home, lockFile, up.proc)).url;
}

/** A reader of f up's output, like `tee`: it can be killed while f up still writes to it. */
function tee(logFile: string): ChildProcess {
  const reader = spawn('tee', [logFile], { stdio: ['pipe', 'ignore', 'ignore'] });
  procs.push(reader);
  return reader;
}

/**
 * Two real backends: a crashy child that starts a grandchild (with `stubborn`, it ignores
 * SIGTERM, so stopping it takes its whole grace period), and a plain sleeping node process.
 * Returns every PID they run (the grandchild's included).
 */
async function twoBackends(url: string, opts: { stubborn?: boolean } = {}): Promise<number[]> {
  const add = (name: string, command: string[]) =>
    json(`${url}/api/backends`, { method: 'POST', body: { name, command, cwd: process.cwd(), stopGraceMs: 2000 } });
  expect((await add('web', [process.execPath, CRASHY, '--grandchild', ...(opts.stubborn ? ['--ignore-term'] : [])])).status).toBe(201);
  expect((await add('sleeper', [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'])).status).toBe(201);
  const list = await until(async () => {
    const l = (await json<{ backends: BackendView[] }>(`${url}/api/backends`)).body.backends;
    return l.length === 2 && l.every((b) => b.status === 'running' && b.pid) && l;
  }, 'both backends running');
  const pids = list.map((b) => b.pid!);
  groups.push(...pids);
  const grandchild = await until(async () => {
    const r = await json<{ lines: { line: string }[] }>(`${url}/api/backends/web/logs`);
    const l = r.body.lines.find((x) => x.line.startsWith('grandchild pid='));
    return l && Number(l.line.split('=')[1]);
  }, 'the grandchild pid');
  for (const pid of [...pids, grandchild]) expect(isAlive(pid), `pid ${pid} alive before the test acts`).toBe(true);
  return [...pids, grandchild];
}

function readLog(dir: string): EventEnvelope[] {
  const store = EventStore.open(join(dir, 'flow.db'), { host: 'check', pollMs: 0 });
  try {
    return store.readAll(0, 1_000_000);
  } finally {
    store.close();
  }
}

/** Every process gone, and each backend's last run ended by the host's shutdown, in the log. */
function expectAllStoppedAndRecorded(dir: string, pids: number[]): void {
  for (const pid of pids) expect(isAlive(pid), `pid ${pid} outlived f up`).toBe(false);
  const log = readLog(dir);
  for (const name of ['web', 'sleeper']) {
    const stream = log.filter((e) => e.streamId === `backend-child:${name}`);
    const lastStart = stream.map((e) => e.type).lastIndexOf('PROCESS_STARTED');
    const exit = stream.slice(lastStart).find((e) => e.type === 'PROCESS_EXITED');
    expect(exit?.data.cause, `${name}: the exit of its last run`).toBe('host-shutdown');
  }
}

describe('f up stops every backend however it is ended', { timeout: 90_000 }, () => {
  it('Ctrl+C after the reader of its piped output died (f up 2>&1 | tee log): all stopped, exits recorded', async () => {
    const dir = home();
    const reader = tee(join(dir, 'tee.log'));
    const up = startUp(dir, ['ignore', reader.stdin!, reader.stdin!]);
    reader.stdin!.destroy(); // only tee reads the pipe now
    const url = await urlOf(up);
    const pids = await twoBackends(url);
    await until(() => readFileSync(join(dir, 'tee.log'), 'utf8').includes('Flow is up at'), 'the banner through tee');

    // Ctrl+C reaches the whole foreground group: tee dies, then f up gets SIGINT.
    reader.kill('SIGINT');
    await until(() => reader.exitCode !== null || reader.signalCode !== null, 'tee to die');
    up.proc.kill('SIGINT');

    expect(await up.exited).toEqual({ code: 0, signal: null });
    expectAllStoppedAndRecorded(dir, pids);
  });

  it('SIGHUP (the terminal closed), sent twice as the kernel and the shell both do: all stopped, exits recorded', async () => {
    const dir = home();
    const up = startUp(dir, ['ignore', 'pipe', 'pipe']);
    let err = '';
    up.proc.stdout!.resume();
    up.proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const pids = await twoBackends(await urlOf(up), { stubborn: true });

    up.proc.kill('SIGHUP');
    await until(() => err.includes('SIGHUP'), 'f up to take the first SIGHUP');
    up.proc.kill('SIGHUP');

    expect(await up.exited).toEqual({ code: 0, signal: null });
    expectAllStoppedAndRecorded(dir, pids);
  });

  it.skipIf(!existsSync(SCRIPT))('the terminal closed (its pty went away, under script(1)): SIGHUP, then EIO on every write; all stopped, exits recorded', async () => {
    const dir = home();
    // script(1) runs f up on a pseudo-terminal of its own; killing script closes the terminal.
    const terminal = spawn(SCRIPT, ['-qfec', `'${process.execPath}' '${F_BIN}' up --port 0`, '/dev/null'], {
      env: { ...process.env, FLOW_HOME: dir, SHELL: '/bin/sh' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    procs.push(terminal);
    terminal.stdout!.resume();
    terminal.stderr!.resume();
    const up = await lockOf(dir, 'host.lock', terminal);
    const pids = await twoBackends(up.url);

    terminal.kill('SIGKILL');

    await until(() => !isAlive(up.pid), 'f up to end', 60_000);
    expect(existsSync(join(dir, 'host.lock')), 'f up closed in order (its lock released)').toBe(false);
    expectAllStoppedAndRecorded(dir, pids);
  });

  it('SIGPIPE is ignored: f up neither dies nor stops supervising, and a later SIGTERM stops everything', async () => {
    const dir = home();
    const up = startUp(dir, ['ignore', 'pipe', 'pipe']);
    up.proc.stdout!.resume();
    up.proc.stderr!.resume();
    const url = await urlOf(up);
    const pids = await twoBackends(url);

    up.proc.kill('SIGPIPE');

    // Still supervising: a backend that crashes is restarted with a new process.
    const before = (await json<BackendView>(`${url}/api/backends/sleeper`)).body.pid!;
    process.kill(before, 'SIGKILL');
    const after = await until(async () => {
      const b = (await json<BackendView>(`${url}/api/backends/sleeper`)).body;
      return b.status === 'running' && b.pid && b.pid !== before && b.pid;
    }, 'the crashed backend restarted');
    groups.push(after);
    expect(up.proc.exitCode).toBeNull();
    for (const pid of pids.filter((p) => p !== before)) expect(isAlive(pid), `pid ${pid}`).toBe(true);

    up.proc.kill('SIGTERM');
    expect(await up.exited).toEqual({ code: 0, signal: null });
    expectAllStoppedAndRecorded(dir, [...pids, after]);
  });

  it('its output had no reader before it printed anything: it runs, and SIGINT stops everything', async () => {
    const dir = home();
    const reader = tee(join(dir, 'tee.log'));
    const up = startUp(dir, ['ignore', reader.stdin!, reader.stdin!]);
    reader.stdin!.destroy();
    reader.kill('SIGKILL');
    await until(() => reader.signalCode !== null, 'the reader to die');
    const pids = await twoBackends(await urlOf(up));
    expect(readFileSync(join(dir, 'tee.log'), 'utf8')).toBe(''); // nothing of f up's ever reached a reader

    up.proc.kill('SIGINT');

    expect(await up.exited).toEqual({ code: 0, signal: null });
    expectAllStoppedAndRecorded(dir, pids);
  });

  for (const fault of ['throw', 'reject'] as const) {
    it(`a bug (${fault === 'throw' ? 'an uncaught exception' : 'an unhandled rejection'}): the same orderly shutdown, then a non-zero exit`, async () => {
      const dir = home();
      const up = startUp(dir, ['ignore', 'pipe', 'pipe'], { nodeArgs: ['--import', FAULT], env: { FLOW_TEST_FAULT: fault } });
      let err = '';
      up.proc.stdout!.resume();
      up.proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const pids = await twoBackends(await urlOf(up));

      up.proc.kill('SIGUSR2');

      const exit = await up.exited;
      expect(exit.signal).toBeNull();
      expect(exit.code).not.toBe(0);
      expect(err).toContain(fault === 'throw' ? 'injected exception' : 'injected rejection');
      expectAllStoppedAndRecorded(dir, pids);
    });
  }
});

/**
 * Seed 004's verification step 7: stopping Flow leaves no `opencode` process. A real opencode
 * (opencode-ai from node_modules) against the stub model server; every process that carries this
 * FLOW_HOME in its environment (opencode's own children too) is looked for afterwards.
 */
describe('f up stops every OpenCode instance however it is ended', { timeout: 120_000 }, () => {
  let stub: StubModel;
  const watch = new ProcessWatch();
  const projects: (() => void)[] = [];
  beforeAll(async () => {
    stub = await startStubModel();
  });
  afterAll(async () => {
    watch.killAll();
    await stub?.close();
    while (projects.length) projects.pop()!();
  });

  const opencodeOf = (dir: string) => processesWhere((env) => env.get('FLOW_HOME') === dir).filter((p) => /opencode/.test(p.command));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: the instance's opencode (and what it started) is gone, its exit recorded as the host's shutdown`, async () => {
      const dir = home();
      const up = startUp(dir, ['ignore', 'pipe', 'pipe']);
      up.proc.stdout!.resume();
      up.proc.stderr!.resume();
      const url = await urlOf(up);
      const created = await json(`${url}/api/instances`, { method: 'POST', body: { id: 'oc', directory: project(stub, projects) } });
      expect(created.status).toBe(201);
      const running = await until(async () => {
        const v = (await json<{ status: string; pid: number | null; lastError: string | null }>(`${url}/api/instances/oc`)).body;
        if (v.status === 'error') throw new Error(`the instance failed: ${v.lastError}`);
        watch.note(v.pid);
        return v.status === 'running' && v.pid ? v : null;
      }, 'the instance to run', 90_000);
      const pid = running.pid!;
      expect(isAlive(pid)).toBe(true);
      expect(opencodeOf(dir).map((p) => p.pid)).toContain(pid);

      up.proc.kill(signal);

      expect(await up.exited).toEqual({ code: 0, signal: null });
      expect(isAlive(pid), `opencode ${pid} outlived f up`).toBe(false);
      expect(opencodeOf(dir), 'opencode processes of this FLOW_HOME').toEqual([]);
      const stream = readLog(dir).filter((e) => e.streamId === 'opencode-instance:oc');
      const exit = stream.filter((e) => e.type === 'PROCESS_EXITED').at(-1);
      expect(exit?.data).toMatchObject({ pid, cause: 'host-shutdown' });
    });
  }
});

describe.skipIf(!services)('f up --nats --redis stops every backend however it is ended (real NATS and Redis)', { timeout: 90_000 }, () => {
  const prefix = uniquePrefix('shutdown');
  afterEach(async () => {
    await cleanupPrefix(services!, prefix);
  });

  it('Ctrl+C after the reader of its piped output died: all stopped, exits recorded', async () => {
    const dir = home();
    const reader = tee(join(dir, 'tee.log'));
    const up = startUp(dir, ['ignore', reader.stdin!, reader.stdin!], {
      args: ['--nats', services!.natsUrl, '--redis', services!.redisUrl],
      env: { FLOW_NATS_PREFIX: prefix, FLOW_HOST_ID: 'shutdown' },
    });
    reader.stdin!.destroy();
    const pids = await twoBackends(await urlOf(up, 'gateway.lock'));
    await until(() => readFileSync(join(dir, 'tee.log'), 'utf8').includes('Flow is up at'), 'the banner through tee');

    reader.kill('SIGINT');
    await until(() => reader.exitCode !== null || reader.signalCode !== null, 'tee to die');
    up.proc.kill('SIGINT');

    expect(await up.exited).toEqual({ code: 0, signal: null });
    expectAllStoppedAndRecorded(dir, pids);
  });
});
