import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CRASHY } from '../support/host.js';
import { startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

const t = tempDir();
let flow: FlowProcess;
let env: Record<string, string>;

beforeAll(async () => {
  flow = await startFlow(t.dir);
  env = { FLOW_HOME: t.dir, FLOW_URL: flow.url };
});
afterAll(async () => {
  flow.proc.kill('SIGTERM');
  await flow.exited;
  t.cleanup();
});

describe('f backend against a running f up', () => {
  it('adds a backend with flags and a command after --, lists it, shows its logs, stops and removes it', async () => {
    const add = await runF(['backend', 'add', 'echo', '--cwd', t.dir, '--port', '4567', '--env', 'GREETING=hi', '--', process.execPath, CRASHY, '--lines', '3'], env);
    expect(add.stderr).toBe('');
    expect(add.stdout).toMatch(/added echo \(running\)/);
    const ls = await runF(['backend', 'ls', '--json'], env);
    const list = JSON.parse(ls.stdout) as { name: string; status: string; config: { port: number; env: Record<string, string>; cwd: string } }[];
    expect(list).toMatchObject([{ name: 'echo', status: 'running', config: { port: 4567, env: { GREETING: 'hi' }, cwd: t.dir } }]);
    await until(async () => (await runF(['backend', 'logs', 'echo'], env)).stdout.includes('line 3'), 'three lines of output');
    const logs = await runF(['backend', 'logs', 'echo', '-n', '50'], env);
    expect(logs.stdout).toMatch(/crashy up pid=\d+ port=4567/);
    expect(logs.stderr).toMatch(/crashy stderr/);
    const table = await runF(['backend', 'ls'], env);
    expect(table.stdout).toMatch(/^NAME\s+STATUS\s+PID/);
    expect((await runF(['backend', 'stop', 'echo'], env)).stdout).toMatch(/echo: stopping|echo: stopped/);
    await until(async () => (await runF(['backend', 'ls'], env)).stdout.includes('stopped'), 'stopped');
    expect((await runF(['backend', 'rm', 'echo'], env)).stdout).toMatch(/removed echo/);
    expect(JSON.parse((await runF(['backend', 'ls', '--json'], env)).stdout)).toEqual([]);
  });

  it('logs --follow streams lines as they are printed', async () => {
    await runF(['backend', 'add', 'talker', '--cwd', t.dir, '--', process.execPath, CRASHY, '--lines', '40'], env);
    const { spawn } = await import('node:child_process');
    const { F_BIN } = await import('../support/flow-process.js');
    const p = spawn(process.execPath, [F_BIN, 'backend', 'logs', 'talker', '--follow'], { env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('line 40'), 'line 40 through --follow');
    p.kill('SIGINT');
    const numbered = out.split('\n').filter((l) => l.startsWith('line ')).map((l) => Number(l.slice(5)));
    expect(numbered).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('bad input gets a clear error and a non-zero exit', async () => {
    const dup = await runF(['backend', 'add', 'talker', '--', 'true'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);
    const badName = await runF(['backend', 'add', 'Bad/Name', '--', 'true'], env);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/name/);
    const missing = await runF(['backend', 'start', 'ghost'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ghost/);
    const noCwd = await runF(['backend', 'add', 'x', '--cwd', join(t.dir, 'nope'), '--', 'true'], env);
    expect(noCwd.code).toBe(1);
    expect(noCwd.stderr).toMatch(/nope/);
  });

  it('says plainly when Flow is not running', async () => {
    const r = await runF(['backend', 'ls'], { FLOW_HOME: t.dir, FLOW_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Flow is not running — start it with `f up -d` \(nothing answers at http:\/\/127\.0\.0\.1:9/);
  });
});
