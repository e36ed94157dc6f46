import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { procInfo } from '../../services/host/proc.js';
import { readHolder, tryLock, updateLock } from '../../services/host/pid-lock.js';
import { tempDir } from '../support/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function lockPath(): string {
  const t = tempDir('flow-lock-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'x.lock');
}

/** A process that stays a zombie: its parent (exec'd into sleep) never reaps it. */
async function zombiePid(): Promise<number> {
  const p = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  cleanups.push(() => p.kill('SIGKILL'));
  const pid = await new Promise<number>((resolve) => p.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  for (let i = 0; i < 100 && procInfo(pid)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
  expect(procInfo(pid)?.state).toBe('Z');
  return pid;
}

describe('pid lock', () => {
  it('is taken once; a second attempt (even from the same process) names the holder; release frees it', () => {
    const path = lockPath();
    const first = tryLock(path, { url: 'http://x' });
    expect(first.taken).toBe(true);
    const second = tryLock(path);
    expect(second).toMatchObject({ taken: false, holder: { pid: process.pid, url: 'http://x' } });
    if (first.taken) first.release();
    expect(tryLock(path).taken).toBe(true);
  });

  it('takes over a lock whose holder is a zombie (kill(pid, 0) would call it alive)', async () => {
    const path = lockPath();
    const pid = await zombiePid();
    expect(() => process.kill(pid, 0)).not.toThrow();
    writeFileSync(path, JSON.stringify({ pid, startTicks: procInfo(pid)!.startTicks }));
    expect(tryLock(path).taken).toBe(true);
  });

  it('takes over a lock whose pid now belongs to another process (start time differs), and the old bare-pid format', () => {
    const path = lockPath();
    writeFileSync(path, JSON.stringify({ pid: process.pid, startTicks: procInfo(process.pid)!.startTicks + 1 }));
    expect(tryLock(path).taken).toBe(true);
    const old = lockPath();
    writeFileSync(old, '999999999');
    expect(readHolder(old)).toEqual({ pid: 999999999, startTicks: null });
    expect(tryLock(old).taken).toBe(true);
  });

  it('updateLock rewrites only a lock this process holds', () => {
    const path = lockPath();
    const l = tryLock(path, { url: 'a' });
    updateLock(path, { url: 'b' });
    expect(readHolder(path)).toMatchObject({ pid: process.pid, url: 'b' });
    if (l.taken) l.release();
    writeFileSync(path, JSON.stringify({ pid: 1, startTicks: null, url: 'theirs' }));
    updateLock(path, { url: 'mine' });
    expect(readHolder(path)).toMatchObject({ url: 'theirs' });
  });
});
