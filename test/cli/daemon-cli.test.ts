import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { isAlive } from '../../services/host/proc.js';
import { CRASHY } from '../support/host.js';
import { json, until } from '../support/flow-process.js';
import { killLeftoversOfHome } from '../support/proc-scan.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
}, 60_000);

/** A FLOW_HOME whose detached Flow (if any) is stopped and whose processes are gone after the test. */
function home(): { dir: string; env: Record<string, string> } {
  const t = tempDir('flow-daemon-');
  cleanups.push(t.cleanup);
  cleanups.push(async () => {
    await runF(['down', '--timeout', '20'], { FLOW_HOME: t.dir }, 30_000);
    killLeftoversOfHome(t.dir);
  });
  return { dir: t.dir, env: { FLOW_HOME: t.dir } };
}

async function upDetached(env: Record<string, string>, args: string[] = []) {
  const r = await runF(['up', '-d', '--port', '0', ...args], env, 90_000);
  const url = /Flow is up at (\S+)/.exec(r.stdout)?.[1] ?? '';
  const pid = Number(/pid (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { ...r, url, pid };
}

describe('f up -d, f status, f down', { timeout: 120_000 }, () => {
  it('given f up -d, the parent exits 0 once health answers; status names pid, URL, uptime and mode; down stops it and releases the lock', async () => {
    const h = home();
    const up = await upDetached(h.env);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^Flow is up at http:\/\/127\.0\.0\.1:\d+ \(detached, pid \d+; log: .*flow\.log; f down stops it\)\n$/);
    expect((await json(`${up.url}/api/health`)).status).toBe(200);
    expect(readFileSync(join(h.dir, 'flow.log'), 'utf8')).toContain(`Flow is up at ${up.url}`);

    const status = await runF(['status'], h.env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^Flow is running: pid ${up.pid}, ${up.url.replace(/[.]/g, '\\.')}, up \\d+s, embedded, detached \\(log: `));
    const asJson = JSON.parse((await runF(['status', '--json'], h.env)).stdout) as Record<string, unknown>;
    expect(asJson).toMatchObject({ running: true, pid: up.pid, url: up.url, mode: 'embedded', detached: true, answering: true });

    const again = await runF(['up', '-d', '--port', '0'], h.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`Flow is already running for this FLOW_HOME \\(pid ${up.pid}`));

    const down = await runF(['down'], h.env, 40_000);
    expect(down.code).toBe(0);
    expect(down.stdout).toBe(`stopping Flow (pid ${up.pid})...\nFlow stopped\n`);
    expect(existsSync(join(h.dir, 'host.lock'))).toBe(false);
    expect(isAlive(up.pid)).toBe(false);

    const after = await runF(['status'], h.env);
    expect(after.code).toBe(3);
    expect(after.stdout).toMatch(/^Flow is not running — start it with `f up -d`/);
    const other = await runF(['backend', 'ls'], { ...h.env, FLOW_URL: up.url });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/Flow is not running — start it with `f up -d`/);
    expect((await runF(['down'], h.env)).stdout).toBe('Flow is not running (nothing to stop)\n');
  });

  it('a start that fails (port in use) prints the end of the log and exits non-zero', async () => {
    const h = home();
    const sockets = new Set<Socket>();
    const busy: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      busy.close(() => r());
    }));
    const port = (busy.address() as { port: number }).port;
    const r = await runF(['up', '-d', '--port', String(port)], h.env, 90_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^f up -d: Flow did not start \(exit code 1\)\. The end of .*flow\.log:\n/);
    expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
  });

  it('f down sends SIGKILL after --timeout when Flow does not stop, and says so', async () => {
    const h = home();
    const up = await upDetached(h.env);
    expect(up.code).toBe(0);
    // A child that ignores SIGTERM with a long grace keeps f up stopping for 60 s.
    const add = await json(`${up.url}/api/backends`, { method: 'POST', body: { name: 'stubborn', command: [process.execPath, CRASHY, '--ignore-term'], cwd: h.dir, stopGraceMs: 60_000 } });
    expect(add.status).toBe(201);
    // 'running' is recorded at spawn, before the child has armed its SIGTERM handler; its first line comes after.
    await until(async () => (await json<{ lines: { line: string }[] }>(`${up.url}/api/backends/stubborn/logs`)).body.lines.some((l) => l.line.startsWith('crashy up')), 'stubborn ignoring SIGTERM');
    const down = await runF(['down', '--timeout', '1'], h.env, 30_000);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain('Flow did not stop within 1 s: killed it (SIGKILL)');
    await until(() => !isAlive(up.pid), 'f up gone after SIGKILL');
  });
});

describe('f service install|uninstall', () => {
  it('writes a systemd user unit under XDG_CONFIG_HOME that systemd-analyze accepts, says how to enable it, and removes it', async () => {
    const h = home();
    const xdg = tempDir('flow-xdg-');
    cleanups.push(xdg.cleanup);
    const env = { ...h.env, XDG_CONFIG_HOME: xdg.dir };
    const unit = join(xdg.dir, 'systemd', 'user', 'flow.service');
    const r = await runF(['service', 'install', '--platform', 'linux'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Wrote ${unit}`);
    expect(r.stdout).toContain('systemctl --user enable --now flow.service');
    const text = readFileSync(unit, 'utf8');
    expect(text).toContain(`ExecStart=${process.execPath} ${join(process.cwd(), 'dist/cli/main.js')} up\n`);
    expect(text).toContain(`Environment=FLOW_HOME=${h.dir}\n`);
    expect(text).toContain('WantedBy=default.target');
    let analyze: string | null = null;
    try {
      analyze = execFileSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).trim();
    } catch {
      analyze = null;
    }
    if (analyze) {
      // Exits non-zero (and prints why) on a unit it rejects: a bad key, a program that is not there.
      const out = execFileSync(analyze, ['verify', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toBe('');
    } else {
      console.warn('systemd-analyze is not installed here: the unit was not verified by systemd');
    }
    const rm = await runF(['service', 'uninstall', '--platform', 'linux'], env);
    expect(rm.stdout).toContain(`Removed ${unit}`);
    expect(rm.stdout).toContain('systemctl --user disable --now flow.service');
    expect(existsSync(unit)).toBe(false);
    expect((await runF(['service', 'uninstall', '--platform', 'linux'], env)).stdout).toMatch(/^No Flow service installed/);
  });

  it('writes a launchd agent for macOS under ~/Library/LaunchAgents', async () => {
    const h = home();
    const fakeHome = tempDir('flow-mac-home-');
    cleanups.push(fakeHome.cleanup);
    const r = await runF(['service', 'install', '--platform', 'darwin'], { ...h.env, HOME: fakeHome.dir });
    const plist = join(fakeHome.dir, 'Library', 'LaunchAgents', 'dev.flow.agent.plist');
    expect(r.stdout).toContain(`Wrote ${plist}`);
    expect(r.stdout).toContain(`launchctl bootstrap gui/$(id -u) ${plist}`);
    const text = readFileSync(plist, 'utf8');
    expect(text).toContain('<key>Label</key><string>dev.flow.agent</string>');
    expect(text).toContain(`<string>${process.execPath}</string>`);
    expect(text).toContain(`<key>FLOW_HOME</key><string>${h.dir}</string>`);
    expect(text).toContain(`<key>StandardOutPath</key><string>${join(h.dir, 'flow.log')}</string>`);
  });
});
