import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { isAlive, procInfo } from './proc.js';

/** Who holds a lock file: a process named by PID and start time, plus what it chose to say. */
export interface LockHolder {
  pid: number;
  startTicks: number | null;
  [detail: string]: unknown;
}

export type LockAttempt = { taken: true; release: () => void } | { taken: false; holder: LockHolder | null };

/**
 * Takes a lock file with O_EXCL, or says who holds it. A lock whose holder is gone is taken
 * over: liveness comes from /proc with the recorded start time (PID 1 here does not reap, so a
 * dead holder may linger as a zombie that kill(pid, 0) still reports alive).
 */
export function tryLock(path: string, detail: Record<string, unknown> = {}): LockAttempt {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      const holder: LockHolder = { ...detail, pid: process.pid, startTicks: procInfo(process.pid)?.startTicks ?? null };
      writeSync(fd, JSON.stringify(holder));
      closeSync(fd);
      return { taken: true, release: () => rmSync(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(path);
      if (holder && isAlive(holder.pid, holder.startTicks)) return { taken: false, holder };
      // Dead holder, or a file it had not finished writing: an unreadable lock older than a
      // moment is a crash's leftover; a fresh one gets the benefit of the doubt.
      if (!holder && attempt === 0 && recentlyWritten(path)) return { taken: false, holder: null };
      rmSync(path, { force: true });
    }
  }
  return { taken: false, holder: readHolder(path) };
}

export function readHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
  // Older tool locks held a bare PID.
  if (/^\d+$/.test(text)) return { pid: Number(text), startTicks: null };
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' ? { ...parsed, pid: parsed.pid, startTicks: parsed.startTicks ?? null } : null;
  } catch {
    return null;
  }
}

/** Rewrites what the holder says about itself (e.g. the URL once a port is bound); ours only. */
export function updateLock(path: string, detail: Record<string, unknown>): void {
  const holder = readHolder(path);
  if (!holder || holder.pid !== process.pid) return;
  const fd = openSync(path, 'w');
  writeSync(fd, JSON.stringify({ ...holder, ...detail }));
  closeSync(fd);
}

function recentlyWritten(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < 1000;
  } catch {
    return false;
  }
}
