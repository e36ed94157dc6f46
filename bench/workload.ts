import { backendChildKind, backendStreamId } from '../actors/backend-child/index.js';
import type { ActorKind } from '../actors/kind.js';
import { initialSnapshot, step, timerWork, type TimerArm } from '../actors/fold.js';

/**
 * A realistic backend-child log: every stream is CREATED (autostart), then goes through cycles
 * of what a supervised process really does:
 *   A: start, crash, backoff timer fires, start, crash, timer, start, STOP, exit by SIGTERM, START
 *   B: start, a file change, the 500 ms debounce timer fires (restart), exit by SIGTERM
 *   C: start and crash four times (three backoff timers) → failed, then START by hand
 * Streams are interleaved round-robin, as many supervised processes write into one log.
 * The timer ids and payloads come from the machine itself, so TIMER_FIRED rows are the ones
 * the host would write.
 */

export const kind = backendChildKind as unknown as ActorKind;

export interface BenchEvent {
  streamId: string;
  type: string;
  data: Record<string, unknown>;
  /** Epoch milliseconds. */
  atMs: number;
  /** ISO time, as stored. */
  at: string;
}

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
/** Global clock step per event: with a few hundred streams a run lasts seconds, far under 30 s. */
const TICK_MS = 10;

interface Timers {
  backoff: (restarts: number) => { timerId: string; event: Record<string, unknown> };
  watch: { timerId: string; event: Record<string, unknown> };
}

let timers: Timers | null = null;

/** Learns the machine's timer ids by running a crash and a file change through it once. */
function learnTimers(): Timers {
  if (timers) return timers;
  const at = (ms: number) => new Date(T0 + ms).toISOString();
  const arms: TimerArm[] = [];
  let snap = initialSnapshot(kind);
  const apply = (type: string, data: Record<string, unknown>, ms: number) => {
    const [next, actions] = step(kind, snap, { type, data, at: at(ms) });
    snap = next;
    arms.push(...timerWork(actions, ms).arm);
  };
  apply('CREATED', createdData('probe'), 0);
  apply('PROCESS_STARTED', { pid: 1, startTicks: 1 }, 1);
  apply('PROCESS_EXITED', { pid: 1, code: 1, signal: null, cause: 'exit' }, 2);
  const backoff = arms.shift();
  apply('FILES_CHANGED', { paths: ['src/a.ts'] }, 3);
  const watch = arms.shift();
  if (!backoff || !watch) throw new Error('the backend-child machine no longer arms the timers this workload expects');
  timers = {
    backoff: () => ({ timerId: backoff.timerId, event: { ...backoff.event } }),
    watch: { timerId: watch.timerId, event: { ...watch.event } },
  };
  return timers;
}

function createdData(name: string): Record<string, unknown> {
  return {
    name,
    config: {
      command: ['node', 'server.js'],
      cwd: `/home/dev/code/${name}`,
      env: { PORT: '0', NODE_ENV: 'development' },
      port: null,
      watch: ['src'],
      watchExtensions: ['.ts', '.js', '.json'],
      stopGraceMs: 5000,
    },
    autostart: true,
  };
}

type Step = { type: string; data: (pid: number) => Record<string, unknown>; newPid?: true };

function cycles(t: Timers): Step[][] {
  const started: Step = { type: 'PROCESS_STARTED', data: (pid) => ({ pid, startTicks: pid * 7 }), newPid: true };
  const crashed: Step = { type: 'PROCESS_EXITED', data: (pid) => ({ pid, code: 1, signal: null, cause: 'exit' }) };
  const termed: Step = { type: 'PROCESS_EXITED', data: (pid) => ({ pid, code: null, signal: 'SIGTERM', cause: 'exit' }) };
  const backoffFired = (n: number): Step => ({ type: 'TIMER_FIRED', data: () => t.backoff(n) });
  const stop: Step = { type: 'STOP_REQUESTED', data: () => ({}) };
  const start: Step = { type: 'START_REQUESTED', data: () => ({}) };
  const changed: Step = { type: 'FILES_CHANGED', data: () => ({ paths: ['src/server.ts'] }) };
  const settled: Step = { type: 'TIMER_FIRED', data: () => ({ ...t.watch, event: { ...t.watch.event } }) };
  return [
    [started, crashed, backoffFired(1), started, crashed, backoffFired(2), started, stop, termed, start],
    [started, changed, settled, termed],
    [started, crashed, backoffFired(1), started, crashed, backoffFired(2), started, crashed, backoffFired(3), started, crashed, start],
  ];
}

/**
 * `total` events over `streams` streams, interleaved. Each stream is CREATED first, then walks its
 * cycles (mostly A, every fourth B, every seventh C). Deterministic.
 */
export function* backendWorkload(total: number, streams: number, prefix = 'svc'): Generator<BenchEvent> {
  const t = learnTimers();
  const cyc = cycles(t);
  const state = Array.from({ length: streams }, (_, i) => ({ id: backendStreamId(`${prefix}-${i}`), name: `${prefix}-${i}`, cycle: -1, pos: 0, steps: [] as Step[], pid: 0 }));
  let pid = 1000;
  let clock = T0;
  for (let n = 0; n < total; n++) {
    const s = state[n % streams]!;
    clock += TICK_MS;
    let type: string;
    let data: Record<string, unknown>;
    if (s.cycle < 0) {
      type = 'CREATED';
      data = createdData(s.name);
      s.cycle = 0;
      s.steps = cyc[0]!;
      s.pos = 0;
    } else {
      if (s.pos >= s.steps.length) {
        s.cycle += 1;
        s.steps = s.cycle % 7 === 6 ? cyc[2]! : s.cycle % 4 === 3 ? cyc[1]! : cyc[0]!;
        s.pos = 0;
      }
      const st = s.steps[s.pos++]!;
      if (st.newPid) s.pid = ++pid;
      type = st.type;
      data = st.data(s.pid);
    }
    yield { streamId: s.id, type, data, atMs: clock, at: new Date(clock).toISOString() };
  }
}

export function backendWorkloadArray(total: number, streams: number, prefix?: string): BenchEvent[] {
  return [...backendWorkload(total, streams, prefix)];
}
