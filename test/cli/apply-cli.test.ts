import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { F_BIN, json, until } from '../support/flow-process.js';
import { killLeftoversOfHome } from '../support/proc-scan.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

const t = tempDir('flow-apply-cli-');
afterAll(() => {
  killLeftoversOfHome(t.dir);
  t.cleanup();
});

describe('f apply: bad files and no Flow', () => {
  it('f --help lists apply, status, down and service once each (every group loads together)', async () => {
    const r = await runF(['--help'], { FLOW_HOME: t.dir });
    expect(r.code).toBe(0);
    for (const c of ['apply', 'status', 'down', 'service']) expect(r.stdout.match(new RegExp(`^  ${c} `, 'gm'))).toHaveLength(1);
  });

  it('a bad flow.toml is refused before anything is asked of Flow, naming file, line and field', async () => {
    const file = join(t.dir, 'bad', 'flow.toml');
    mkdirSync(join(t.dir, 'bad'), { recursive: true });
    writeFileSync(file, '[backends.api]\ncommand = ["node"]\nport = "abc"\nrestrat = {}\n');
    const r = await runF(['apply', join(t.dir, 'bad')], { FLOW_HOME: t.dir, FLOW_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`f: ${file}:3: backends.api.port: expected a port number from 1 to 65535 (got "abc")`);
    expect(r.stderr).toContain(`${file}:4: backends.api.restrat: unknown field (allowed here: command, cwd, env, port, watch, watch_extensions, stop_grace_ms, autostart, restart)`);
    const missing = await runF(['apply', join(t.dir, 'nope.toml')], { FLOW_HOME: t.dir });
    expect(missing.stderr).toMatch(/nope\.toml: does not exist/);
  });

  it('a good file with nothing answering says how to start Flow', async () => {
    const file = join(t.dir, 'ok.toml');
    writeFileSync(file, '[backends.api]\ncommand = ["node"]\n');
    const r = await runF(['apply', file, '--dry-run'], { FLOW_HOME: t.dir, FLOW_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^f: Flow is not running — start it with `f up -d`/);
  });
});

describe('f up in a directory with a flow.toml', { timeout: 90_000 }, () => {
  it('applies it once running', async () => {
    const proj = join(t.dir, 'proj');
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'flow.toml'), `[backends.sleeper]\ncommand = [${JSON.stringify(process.execPath)}, "-e", "setInterval(() => {}, 1000)"]\n\n[backends.sleeper.restart]\nmax_restarts = 1\n`);
    const home = join(t.dir, 'home');
    const proc = spawn(process.execPath, [F_BIN, 'up', '--port', '0'], { cwd: proj, env: { ...process.env, FLOW_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => proc.once('exit', r));
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => out.includes('[apply] created backend sleeper'), 'the apply after the start', 60_000);
      const url = /Flow is up at (\S+)/.exec(out)![1]!;
      const b = await json<{ config: { cwd: string; restart: { maxRestarts: number } } }>(`${url}/api/backends/sleeper`);
      expect(b.body.config).toMatchObject({ cwd: proj, restart: { maxRestarts: 1, backoffUnitMs: 1000, stableAfterMs: 30_000 } });
      expect(out).toContain(`[apply] Plan for ${join(proj, 'flow.toml')}:`);
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
  });
});
