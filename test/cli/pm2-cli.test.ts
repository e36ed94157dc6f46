import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendView } from '../../gateway/backend-view.js';
import { CRASHY } from '../support/host.js';
import { F_BIN, json, startFlow, stopStartedFlows, until, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

const BURNER = join(process.cwd(), 'test/fixtures/burner.mjs');
const MiB = 1024 * 1024;

const t = tempDir();
let flow: FlowProcess;
let env: Record<string, string>;

beforeAll(async () => {
  flow = await startFlow(t.dir, { FLOW_LOG_MAX_BYTES: '2048', FLOW_LOG_FILES: '2' });
  env = { FLOW_HOME: t.dir, FLOW_URL: flow.url };
});
afterAll(async () => {
  await stopStartedFlows();
  t.cleanup();
});

/** Runs a long-lived `f` and collects its stdout/stderr until the test ends it. */
function startLong(args: string[]) {
  const p = spawn(process.execPath, [F_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  return { p, out, exited };
}

describe('f backend ls, like pm2 ls', () => {
  it('shows CPU, memory of the group, uptime, port and restarts; GET /api/backends carries the same figures', async () => {
    await runF(['backend', 'add', 'burn', '--cwd', t.dir, '--port', '4711', '--', process.execPath, BURNER, '--burn', '--mib', '48'], env);
    const b = await until(async () => {
      const list = (await json<{ backends: BackendView[] }>(`${flow.url}/api/backends`)).body.backends;
      const x = list.find((v) => v.name === 'burn');
      return x && x.cpuPercent !== null && x.cpuPercent > 0 && x.memoryBytes !== null && x.memoryBytes > 48 * MiB ? x : null;
    }, 'CPU and memory figures for burn');
    expect(b).toMatchObject({ status: 'running', port: 4711, restarts: 0 });
    expect(b.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(b.cpuPercent!).toBeLessThanOrEqual(150);
    const table = await runF(['backend', 'ls'], env);
    expect(table.stderr).toBe('');
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME\s+STATUS\s+PID\s+CPU\s+MEMORY\s+UPTIME\s+PORT\s+RESTARTS\s+LAST EXIT\s+COMMAND$/);
    const row = rows.find((r) => r.startsWith('burn '))!;
    expect(row).toMatch(/^burn\s+running\s+\d+\s+\d+\.\d%\s+\d+(\.\d)? MiB\s+\d+[smhD]\s+4711\s+0\s+-\s+/);
  });

  it('--watch prints the table again and again (into a pipe: one after the other, no escape codes)', async () => {
    const w = startLong(['backend', 'ls', '--watch', '--interval', '200']);
    await until(() => w.out.stdout.split('\n').filter((l) => l.startsWith('NAME')).length >= 3, 'three tables');
    w.p.kill('SIGINT');
    await w.exited;
    expect(w.out.stdout).not.toContain('\x1b[');
    expect(w.out.stdout).toMatch(/^burn\s+running/m);
  });

  it('a spawn failure is said in ls and in the logs, not only in --json', async () => {
    await runF(['backend', 'add', 'ghost', '--cwd', t.dir, '--', 'no-such-program-anywhere'], env);
    const ls = await until(async () => {
      const r = await runF(['backend', 'ls'], env);
      return /^ghost\s+(failed|backoff)/m.test(r.stdout) && r.stdout;
    }, 'ghost failed');
    expect(ls).toMatch(/^ghost\s+\S+\s+-\s+-\s+-\s+-\s+-\s+\d\s+spawn failed/m);
    expect(ls).toMatch(/^ghost: cannot run "no-such-program-anywhere" in .*: no such program/m);
    const logs = await runF(['logs', 'ghost'], env);
    expect(logs.stdout).toMatch(/^ghost ~ cannot run "no-such-program-anywhere"/m);
    await runF(['backend', 'rm', 'ghost'], env);
  });
});

describe('f logs, like pm2 logs', () => {
  it('merges backends, each line after its name; stderr is marked; --time adds the time', async () => {
    await runF(['backend', 'add', 'alpha', '--cwd', t.dir, '--', process.execPath, CRASHY, '--lines', '3'], env);
    await runF(['backend', 'add', 'beta-long', '--cwd', t.dir, '--', process.execPath, CRASHY, '--lines', '3'], env);
    const out = await until(async () => {
      const r = await runF(['logs', 'alpha', 'beta-long'], env);
      return r.stdout.includes('alpha     | line 3') && r.stdout.includes('beta-long | line 3') && r;
    }, 'both backends in f logs');
    expect(out.code).toBe(0);
    const lines = out.stdout.trimEnd().split('\n');
    expect(lines.every((l) => /^(alpha {4}|beta-long) [|!~] /.test(l))).toBe(true);
    expect(out.stdout).toMatch(/^alpha {5}! crashy stderr pid=\d+$/m);
    expect(out.stdout).toMatch(/^beta-long ~ started pid \d+: /m);
    // Merged: by the time each line was printed.
    const timed = (await runF(['logs', 'alpha', 'beta-long', '--time'], env)).stdout.trimEnd().split('\n');
    expect(timed.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (alpha {4}|beta-long) [|!~] /.test(l))).toBe(true);
    const times = timed.map((l) => l.slice(0, 24));
    expect(times).toEqual([...times].sort());
    expect(out.stdout).not.toContain('\x1b[');
    // No names: every backend.
    expect((await runF(['logs'], env)).stdout).toMatch(/^burn/m);
  });

  it('an unknown name says so, and prints nothing else', async () => {
    const r = await runF(['logs', 'alpha', 'nosuch'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no backend named nosuch/);
    expect(r.stdout).toBe('');
  });

  it('-n takes 0 (no history, as tail -n 0) to 5000 in f logs and f backend logs alike; more is refused naming --lines, not the API\'s query', async () => {
    for (const cmd of [['logs', 'alpha'], ['backend', 'logs', 'alpha']]) {
      const none = await runF([...cmd, '-n', '0'], env);
      expect(none.code, cmd.join(' ')).toBe(0);
      expect(none.stdout, cmd.join(' ')).toBe('');
      const many = await runF([...cmd, '-n', '6000'], env);
      expect(many.code, cmd.join(' ')).toBe(1);
      expect(many.stderr, cmd.join(' ')).toContain('--lines must be a whole number from 0 to 5000, not "6000"');
      expect(many.stderr).not.toContain('query.');
    }
  });

  it('each backend writes $FLOW_HOME/logs/<name>.log, rotated at FLOW_LOG_MAX_BYTES into FLOW_LOG_FILES files', async () => {
    await runF(['backend', 'add', 'chatty', '--cwd', t.dir, '--', process.execPath, CRASHY, '--lines', '100'], env);
    const logs = join(t.dir, 'logs');
    await until(() => existsSync(join(logs, 'chatty.log')) && readFileSync(join(logs, 'chatty.log'), 'utf8').includes('line 100'), 'line 100 in the file');
    expect(readdirSync(logs).filter((f) => f.startsWith('chatty')).sort()).toEqual(['chatty.log', 'chatty.log.1']);
    for (const f of ['chatty.log', 'chatty.log.1']) expect(readFileSync(join(logs, f)).length).toBeLessThanOrEqual(2048);
  });

  it('--follow streams new lines of several backends, then says so and fails when Flow stops', async () => {
    // `talk` exists (stopped) before f logs looks it up; it starts once the follow runs.
    await runF(['backend', 'add', 'talk', '--cwd', t.dir, '--no-start', '--', process.execPath, CRASHY, '--lines', '20'], env);
    const follow = startLong(['logs', 'alpha', 'talk', '--follow']);
    await until(() => follow.out.stdout.includes('alpha '), 'the history of alpha');
    await runF(['backend', 'start', 'talk'], env);
    await until(() => follow.out.stdout.includes('talk  | line 20'), 'line 20 of talk, live');
    const talk = follow.out.stdout.split('\n').filter((l) => l.startsWith('talk  | line ')).map((l) => Number(l.slice('talk  | line '.length)));
    expect(talk).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    flow.proc.kill('SIGTERM');
    await flow.exited;
    expect(await follow.exited).toBe(1);
    expect(follow.out.stderr).toMatch(/the log stream ended: Flow at .* stopped/);
  });
});

describe('the banner of f up', () => {
  it('names FLOW_HOME, the mode and what it resumed', async () => {
    const home = tempDir();
    try {
      const first = await startFlow(home.dir);
      expect(first.output()).toMatch(new RegExp(`FLOW_HOME {2}${home.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
      expect(first.output()).toMatch(/mode {7}embedded/);
      expect(first.output()).toMatch(/resumed {4}nothing/);
      const e = { FLOW_HOME: home.dir, FLOW_URL: first.url };
      await runF(['backend', 'add', 'one', '--cwd', home.dir, '--', process.execPath, CRASHY], e);
      await runF(['backend', 'add', 'two', '--cwd', home.dir, '--', process.execPath, CRASHY], e);
      await runF(['backend', 'add', 'off', '--cwd', home.dir, '--no-start', '--', process.execPath, CRASHY], e);
      first.proc.kill('SIGTERM');
      await first.exited;
      const second = await startFlow(home.dir);
      await until(() => second.output().includes('resumed'), 'the banner');
      expect(second.output()).toMatch(/resumed {4}2 backends restarted\n/);
      second.proc.kill('SIGTERM');
      await second.exited;
    } finally {
      home.cleanup();
    }
  });

  it('a log size below the minimum is refused at start, saying what is allowed', async () => {
    const home = tempDir();
    try {
      const r = await runF(['up', '--port', '0'], { FLOW_HOME: home.dir, FLOW_LOG_MAX_BYTES: '10' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('FLOW_LOG_MAX_BYTES must be at least 1024');
    } finally {
      home.cleanup();
    }
  });
});
