import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { passwordFile, setPassword } from '../../services/auth/password.js';
import { F_BIN, startFlow, stopStartedFlows, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

/** `f auth status` against a real `f up` (port 0) with a password, found by FLOW_HOME's lock file. */
const PASSWORD = 'a long enough password';
const t = tempDir();
let flow: FlowProcess;
const env = (extra: Record<string, string> = {}) => ({ FLOW_HOME: t.dir, FLOW_URL: '', FLOW_TOKEN: '', ...extra });

beforeAll(async () => {
  await setPassword(t.dir, PASSWORD);
  flow = await startFlow(t.dir);
});
afterAll(async () => {
  await stopStartedFlows();
  t.cleanup();
});

describe('f auth status', () => {
  it('given a password and no login, then it says so', async () => {
    const r = await runF(['auth', 'status'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${flow.url}: password set; not logged in\n`);
  });

  it('given a token from a login, then it says this machine is logged in', async () => {
    const res = await fetch(`${flow.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    const { token } = (await res.json()) as { token: string };
    const r = await runF(['auth', 'status'], env({ FLOW_TOKEN: token }));
    expect(r.stdout).toBe(`${flow.url}: password set; logged in\n`);
  });

  it('given no Flow at the URL, then it says Flow is not running and how to start it', async () => {
    const r = await runF(['auth', 'status'], env({ FLOW_URL: 'http://127.0.0.1:9' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Flow is not running — start it with `f up -d` \(nothing answers at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('f auth set-password', () => {
  it('given a password too short on stdin, then it says what is wrong in words (not zod\'s JSON) and keeps the old one', () => {
    const before = readFileSync(passwordFile(t.dir), 'utf8');
    const r = spawnSync(process.execPath, [F_BIN, 'auth', 'set-password'], { env: { ...process.env, ...env() }, input: 'short\n', encoding: 'utf8' });
    expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 1, stdout: '', stderr: 'f: a password has at least 8 characters\n' });
    expect(readFileSync(passwordFile(t.dir), 'utf8')).toBe(before);
  });
});
