import { join } from 'node:path';
import { readHolder } from '../services/host/pid-lock.js';
import { isAlive } from '../services/host/proc.js';
import { DEFAULT_BIND, DEFAULT_PORT, flowHome } from './locations.js';

/**
 * Where the running Flow of this FLOW_HOME answers, for the CLI: FLOW_URL when set; else the
 * URL its lock file names (`f up` writes host.lock, `f gateway` gateway.lock, once the port is
 * bound, so `f up --port 0` or another shell's FLOW_PORT is found); else FLOW_PORT on loopback;
 * else the default port.
 */
export function flowUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOW_URL) return env.FLOW_URL.replace(/\/+$/, '');
  const running = runningFlowUrl(flowHome(env));
  if (running) return running;
  return `http://${DEFAULT_BIND}:${portFromEnv(env) ?? DEFAULT_PORT}`;
}

/** FLOW_PORT, checked; undefined when unset. */
export function portFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return checkedPort(env, 'FLOW_PORT');
}

/**
 * The port `f up` / `f gateway` listen on when --port is not given: FLOW_PORT, else seed 003's
 * plain PORT (an empty value counts as unset), checked, naming the variable that is wrong.
 * Only the servers read PORT: the CLI's fallback (flowUrl) does not, since in a backend's
 * environment PORT is the backend's own port, not Flow's.
 */
export function listenPortFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return checkedPort(env, 'FLOW_PORT') ?? checkedPort(env, 'PORT');
}

function checkedPort(env: NodeJS.ProcessEnv, name: 'FLOW_PORT' | 'PORT'): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new Error(`${name} must be a port number from 0 to 65535, not ${JSON.stringify(env[name])}`);
  return n;
}

/** The URL a live `f up` or `f gateway` of this FLOW_HOME recorded in its lock (null: none). */
export function runningFlowUrl(home: string): string | null {
  for (const file of ['host.lock', 'gateway.lock']) {
    const holder = readHolder(join(home, file));
    if (!holder || typeof holder.url !== 'string' || !URL.canParse(holder.url)) continue;
    const url = new URL(holder.url);
    // Still starting (port 0 not yet bound), or `f host`, which serves no gateway ("host <id>").
    if (url.port === '0' || !/^https?:$/.test(url.protocol) || !isAlive(holder.pid, holder.startTicks)) continue;
    // A gateway bound to every interface answers on loopback.
    if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
    if (url.hostname === '[::]') url.hostname = '[::1]';
    return url.origin;
  }
  return null;
}
