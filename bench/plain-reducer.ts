import { BACKEND_POLICY } from '../actors/backend-child/index.js';
import type { BenchEvent } from './workload.js';

export type Ev = Pick<BenchEvent, 'type' | 'data' | 'at'> & { streamId: string };

/**
 * Baseline: the backend-child rules as a plain switch, enough to follow this workload (the
 * transitions it exercises). Same inputs, same answers, none of XState's generality.
 */
export interface Plain {
  life: string;
  watch: 'quiet' | 'settling';
  restarts: number;
  exits: number;
  pid: number | null;
  startedAt: number;
  lastRanMs: number | null;
}

export function plainStep(s: Plain, e: Ev): void {
  const at = Date.parse(e.at);
  const d = e.data;
  switch (e.type) {
    case 'CREATED':
      s.life = d.autostart ? 'starting' : 'stopped';
      s.restarts = 0;
      s.pid = null;
      break;
    case 'PROCESS_STARTED':
      s.pid = d.pid as number;
      s.startedAt = at;
      if (s.life === 'starting') s.life = 'running';
      break;
    case 'PROCESS_EXITED': {
      if (d.pid !== s.pid) break;
      s.lastRanMs = at - s.startedAt;
      s.pid = null;
      s.exits += 1;
      if (s.life === 'stopping') s.life = 'stopped';
      else if (s.life === 'restarting') s.life = 'starting';
      else if (s.life === 'running' || s.life === 'starting') {
        if (d.code === 0 && d.signal === null) s.life = 'exited';
        else {
          const n = s.lastRanMs > BACKEND_POLICY.stableAfterMs ? 0 : s.restarts;
          if (n < BACKEND_POLICY.maxRestarts) {
            s.restarts = n + 1;
            s.life = 'backoff';
          } else s.life = 'failed';
        }
      }
      break;
    }
    case 'TIMER_FIRED': {
      const type = (d.event as { type: string }).type;
      if (type.includes('backoff')) {
        if (s.life === 'backoff') s.life = 'starting';
      } else if (s.watch === 'settling') {
        s.watch = 'quiet';
        if (s.life === 'running') {
          s.life = 'restarting';
          s.restarts = 0;
        }
      }
      break;
    }
    case 'FILES_CHANGED':
      s.watch = 'settling';
      break;
    case 'STOP_REQUESTED':
      s.life = s.life === 'running' || s.life === 'starting' ? 'stopping' : 'stopped';
      break;
    case 'START_REQUESTED':
      s.life = 'starting';
      s.restarts = 0;
      break;
  }
}

export function plainFold(events: Iterable<Ev>): Map<string, Plain> {
  const m = new Map<string, Plain>();
  for (const e of events) {
    let s = m.get(e.streamId);
    if (!s) m.set(e.streamId, (s = { life: 'new', watch: 'quiet', restarts: 0, exits: 0, pid: null, startedAt: 0, lastRanMs: null }));
    plainStep(s, e);
  }
  return m;
}

