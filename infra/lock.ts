import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { isAlive, procInfo } from '../services/host/proc.js';

interface LockInfo {
  pid: number;
  startTicks: number | null;
  url: string;
}

/**
 * One actor host per FLOW_HOME: two would both supervise the same processes. The lock file
 * names the owner by PID and start time, so a lock left by a crashed host is taken over.
 */
export function acquireHostLock(path: string, url: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      const info: LockInfo = { pid: process.pid, startTicks: procInfo(process.pid)?.startTicks ?? null, url };
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let held: LockInfo | null = null;
      try {
        held = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      } catch {
        held = null;
      }
      if (held && held.pid !== process.pid && isAlive(held.pid, held.startTicks)) {
        throw new Error(`Flow is already running for this FLOW_HOME (pid ${held.pid}, ${held.url}); stop it first or use another FLOW_HOME`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not take the host lock ${path}`);
}

export function updateLockUrl(path: string, url: string): void {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    info.url = url;
    const fd = openSync(path, 'w');
    writeSync(fd, JSON.stringify(info));
    closeSync(fd);
  } catch {
    /* the lock is advisory about the url */
  }
}
