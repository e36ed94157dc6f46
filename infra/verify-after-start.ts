import { startBackgroundVerify, type BackgroundVerify } from '../services/host/background-verify.js';
import type { ActorHost } from '../services/host/actor-host.js';
import type { EventStore } from '../services/store/event-store.js';
import { parseEnv } from './config.js';

/** The background verification (services/host/background-verify.ts), unless FLOW_VERIFY_ON_START=0 or the log is in memory. */
export function verifyAfterStart(store: EventStore, host: ActorHost, log?: (line: string) => void): BackgroundVerify | null {
  if (parseEnv().FLOW_VERIFY_ON_START === '0' || store.path === null) return null;
  return startBackgroundVerify({ path: store.path, host, log: log ?? ((line) => process.stderr.write(`[flow] ${line}\n`)) });
}
