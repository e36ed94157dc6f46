import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { tryLock, updateLock } from '../services/host/pid-lock.js';

/**
 * One actor host per FLOW_HOME: two would both supervise the same processes. A lock left by a
 * crashed host is taken over (see tryLock).
 */
export function acquireHostLock(path: string, url: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  // `url` is written only once the port is bound (updateLockUrl): whoever finds it there (f status,
  // f up -d) knows this Flow answers at it, not some other server on the port it asked for.
  // startedAt and detached are for `f status` (uptime, how it was started).
  const lock = tryLock(path, { starting: url, startedAt: new Date().toISOString(), detached: process.env.FLOW_DETACHED === '1' });
  if (lock.taken) return lock.release;
  const who = lock.holder ? `pid ${lock.holder.pid}, ${String(lock.holder.url ?? lock.holder.starting ?? 'starting')}` : 'another f up is starting';
  throw new Error(`Flow is already running for this FLOW_HOME (${who}); stop it first or use another FLOW_HOME`);
}

/** The URL is known only once the port is bound; the lock then says where this Flow answers. */
export function updateLockUrl(path: string, url: string): void {
  updateLock(path, { url });
}
