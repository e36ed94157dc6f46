import { join } from 'node:path';
import { readHolder, type LockHolder } from '../services/host/pid-lock.js';
import { isAlive } from '../services/host/proc.js';
import { flowHome } from '../infra/locations.js';

/**
 * The `f up` (or `f host`) that runs for this FLOW_HOME, found as the next start would find it:
 * by the lock it holds (PID and start time, so a reused PID is not taken for it).
 */
export interface RunningFlow {
  pid: number;
  /** Where its gateway answers (null: a host without a gateway, or one still binding its port). */
  url: string | null;
  mode: 'embedded' | 'distributed' | 'host';
  startedAt: string | null;
  detached: boolean;
  lockPath: string;
  holder: LockHolder;
}

function live(path: string): LockHolder | null {
  const h = readHolder(path);
  return h && isAlive(h.pid, h.startTicks) ? h : null;
}

export function findRunningFlow(home = flowHome()): RunningFlow | null {
  const lockPath = join(home, 'host.lock');
  const host = live(lockPath);
  const gateway = live(join(home, 'gateway.lock'));
  if (!host) return null;
  const hostUrl = typeof host.url === 'string' && host.url.startsWith('http') ? host.url : null;
  // Distributed f up: the host's lock names the host; the gateway in the same process has the URL.
  const gatewayUrl = gateway && gateway.pid === host.pid && typeof gateway.url === 'string' ? gateway.url : null;
  return {
    pid: host.pid,
    url: hostUrl ?? gatewayUrl,
    mode: hostUrl ? 'embedded' : gatewayUrl ? 'distributed' : 'host',
    startedAt: typeof host.startedAt === 'string' ? host.startedAt : null,
    detached: host.detached === true,
    lockPath,
    holder: host,
  };
}

/** Whether the lock that `flow` held is still held by it. */
export function stillHolds(flow: RunningFlow): boolean {
  const h = live(flow.lockPath);
  return h !== null && h.pid === flow.pid && h.startTicks === flow.holder.startTicks;
}

export function logPath(home = flowHome()): string {
  return join(home, 'flow.log');
}
