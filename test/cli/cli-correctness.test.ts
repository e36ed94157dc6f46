import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASHY } from '../support/host.js';
import { F_BIN, json, startFlow, stopStartedFlows, until, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

/**
 * Issue 14 item 10: what a new user typed and got wrong answers for. Each case runs the real
 * `f` against a real `f up` (port 0), found the way a user's shell finds it: by FLOW_HOME's
 * lock file, or by FLOW_PORT, with no FLOW_URL.
 */
const t = tempDir();
let flow: FlowProcess;
const env = () => ({ FLOW_HOME: t.dir, FLOW_URL: '' });

beforeAll(async () => {
  flow = await startFlow(t.dir);
});
afterAll(async () => {
  await stopStartedFlows();
  t.cleanup();
});

describe('the CLI finds the running Flow', () => {
  it('given f up on a port the CLI was not told, when FLOW_HOME is the same, then the lock file says where it is', async () => {
    const r = await runF(['backend', 'ls', '--json'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('given another FLOW_HOME with no Flow, when FLOW_PORT names the port of f up, then the CLI talks to it', async () => {
    const other = tempDir();
    try {
      const port = new URL(flow.url).port;
      const r = await runF(['backend', 'ls', '--json'], { FLOW_HOME: other.dir, FLOW_URL: '', FLOW_PORT: port });
      expect(r.code).toBe(0);
      const wrong = await runF(['backend', 'ls'], { FLOW_HOME: other.dir, FLOW_URL: '', FLOW_PORT: 'abc' });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/FLOW_PORT must be a port number/);
    } finally {
      other.cleanup();
    }
  });
});

describe('f tunnel start', () => {
  it('refuses --port abc and --port 0 saying what it takes (it said "not NaN"), and starts nothing', async () => {
    for (const port of ['abc', '0', '70000']) {
      const r = await runF(['tunnel', 'start', '--port', port], env());
      expect(r.code, port).toBe(1);
      expect(r.stderr, port).toContain(`--port must be a port number from 1 to 65535, not "${port}"`);
    }
    expect((await json(`${flow.url}/api/tunnels`)).body).toEqual({ tunnels: [] });
  });
});

describe('f backend add', () => {
  it('refuses --port abc (as f up --port abc is refused) and saves nothing', async () => {
    const r = await runF(['backend', 'add', 'x', '--port', 'abc', '--', 'true'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--port must be a port number from 1 to 65535, not "abc"/);
    expect((await json(`${flow.url}/api/backends/x`)).status).toBe(404);
  });

  it('warns about a --watch path that does not exist, and still adds the backend', async () => {
    const r = await runF(['backend', 'add', 'watcher', '--cwd', t.dir, '--no-start', '--watch', 'nosuchdir', '--', 'true'], env());
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: --watch nosuchdir: .*nosuchdir does not exist/);
    expect(r.stdout).toMatch(/added watcher/);
  });

  it('prints the server\'s own message when the host refuses a command', async () => {
    const r = await runF(['backend', 'stop', 'watcher'], env());
    const answer = await json<{ error: { message: string } }>(`${flow.url}/api/backends/watcher/stop`, { method: 'POST' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`f: ${answer.body.error.message}`);
  });
});

describe('f events', () => {
  it('tail --type filters by event type, --stream-type by stream type', async () => {
    const byType = await runF(['events', 'tail', '--type', 'CREATED', '--json'], env());
    expect(byType.code).toBe(0);
    const events = byType.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; streamType: string });
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['CREATED']));
    const byStream = await runF(['events', 'tail', '--stream-type', 'backend-child', '--json'], env());
    expect(new Set(byStream.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { streamType: string }).streamType))).toEqual(new Set(['backend-child']));
  });

  it('tail with a filter that names nothing in the log says so', async () => {
    const noType = await runF(['events', 'tail', '--type', 'NO_SUCH_EVENT'], env());
    expect(noType.code).toBe(1);
    expect(noType.stderr).toMatch(/NO_SUCH_EVENT is not an event type.*event types: .*PROCESS_EXITED/);
    const noStream = await runF(['events', 'tail', '--stream', 'backend-child:ghost'], env());
    expect(noStream.code).toBe(1);
    expect(noStream.stderr).toMatch(/no stream backend-child:ghost in the log/);
    const noStreamType = await runF(['events', 'tail', '--stream-type', 'nope'], env());
    expect(noStreamType.code).toBe(1);
    expect(noStreamType.stderr).toMatch(/nope is not a stream type; stream types: .*backend-child/);
    const none = await runF(['events', 'tail', '--type', 'PROCESS_EXITED', '--stream', 'backend-child:watcher'], env());
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/no PROCESS_EXITED events in backend-child:watcher in the log/);
  });

  it('replay --to abc says what is wrong with --to', async () => {
    const r = await runF(['events', 'replay', 'backend-child:watcher', '--to', 'abc'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--to must be a stream version \(a whole number from 1\), not "abc"/);
  });
});

describe('f install', () => {
  it('of a directory without a manifest says so, not a raw ENOENT', async () => {
    const empty = join(t.dir, 'emptydir');
    mkdirSync(empty);
    const r = await runF(['install', empty], env());
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/ENOENT|lstat/);
    expect(r.stderr).toMatch(/emptydir has no flow-tool\.toml/);
  });
});

describe('f backend logs --follow', () => {
  it('says that Flow stopped and exits non-zero when f up goes away', async () => {
    const own = tempDir();
    try {
      const f2 = await startFlow(own.dir);
      const e2 = { FLOW_HOME: own.dir, FLOW_URL: f2.url };
      expect((await runF(['backend', 'add', 'talker', '--cwd', own.dir, '--', process.execPath, CRASHY, '--lines', '3'], e2)).code).toBe(0);
      const p = spawn(process.execPath, [F_BIN, 'backend', 'logs', 'talker', '--follow'], { env: { ...process.env, ...e2 } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => p.once('exit', resolve));
      await until(() => out.includes('line 3'), 'the follow to print line 3');
      f2.proc.kill('SIGTERM');
      await f2.exited;
      expect(await exited).toBe(1);
      expect(err).toMatch(/Flow at http:\/\/127\.0\.0\.1:\d+ stopped: no more output of talker to follow/);
    } finally {
      own.cleanup();
    }
  });
});
