import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { tryLock, updateLock } from '../services/host/pid-lock.js';

/**
 * One actor host per FLOW_HOME: two would both supervise the same processes. A lock left by a
 * crashed host is taken over (see tryLock).
 */
export function acquireHostLock(path: string, url: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  // startedAt and detached are for `f status` (uptime, how it was started).
  const lock = tryLock(path, { url, startedAt: new Date().toISOString(), detached: process.env.FLOW_DETACHED === '1' });
  if (lock.taken) return lock.release;
  const who = lock.holder ? `pid ${lock.holder.pid}, ${String(lock.holder.url ?? 'starting')}` : 'another f up is starting';
  throw new Error(`Flow is already running for this FLOW_HOME (${who}); stop it first or use another FLOW_HOME`);
}

/** The URL is known only once the port is bound; the lock then says where this Flow answers. */
export function updateLockUrl(path: string, url: string): void {
  updateLock(path, { url });
}
