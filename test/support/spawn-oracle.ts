import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { kindFor } from '../../actors/index.js';
import { fold } from '../../actors/fold.js';
import { procInfo } from '../../services/host/proc.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { EventStore } from '../../services/store/event-store.js';

/**
 * The judge of "no process the log does not own", independent of how Flow marks its children:
 * a test starts a host with an environment variable of its own (a tag), which every process
 * the host starts inherits, and then compares what /proc shows carrying the tag with the runs
 * the host's log shows running.
 */
export const TAG_VAR = 'FLOW_TEST_DESCENT_TAG';

export function newTag(): string {
  return randomBytes(8).toString('hex');
}

export interface TaggedProcess {
  pid: number;
  pgid: number;
  startTicks: number;
  cmdline: string;
  spawnId: string | null;
}

function environ(pid: number): Map<string, string> | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return null;
  }
  const out = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) out.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return out;
}

/** Living (non-zombie) processes whose environment carries the tag. */
export function taggedProcesses(tag: string): TaggedProcess[] {
  const out: TaggedProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const env = environ(pid);
    if (env?.get(TAG_VAR) !== tag) continue;
    const info = procInfo(pid);
    if (!info || info.state === 'Z' || info.state === 'X') continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      /* gone meanwhile */
    }
    out.push({ pid, pgid: info.pgid, startTicks: info.startTicks, cmdline, spawnId: env.get('FLOW_SPAWN_ID') ?? null });
  }
  return out;
}

export interface LoggedRun {
  streamId: string;
  status: string;
  pid: number;
  startTicks: number | null;
}

export function readLog(home: string): EventEnvelope[] {
  const store = EventStore.open(join(home, 'flow.db'), { host: 'oracle', pollMs: 0, readonly: true });
  try {
    return store.readAll(0, 10_000_000);
  } finally {
    store.close();
  }
}

/** Every run the log shows as a process (the fold of each stream: its context's run). */
export function loggedRuns(home: string): { runs: LoggedRun[]; statuses: Map<string, string>; events: EventEnvelope[] } {
  const events = readLog(home);
  const byStream = new Map<string, EventEnvelope[]>();
  for (const e of events) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
  const runs: LoggedRun[] = [];
  const statuses = new Map<string, string>();
  for (const [streamId, stream] of byStream) {
    const kind = kindFor(stream[0]!.streamType);
    if (!kind) continue;
    const snapshot = fold(kind, stream);
    const status = kind.status(snapshot as never);
    statuses.set(streamId, status);
    const run = (snapshot.context as { run?: { pid: number; startTicks: number | null } | null }).run;
    if (run) runs.push({ streamId, status, pid: run.pid, startTicks: run.startTicks });
  }
  return { runs, statuses, events };
}

/** Every pid any event of the log names as started. */
export function loggedPids(events: EventEnvelope[]): Set<number> {
  return new Set(events.filter((e) => e.type === 'PROCESS_STARTED' || e.type === 'SPAWNED').map((e) => e.data.pid as number));
}

export interface Comparison {
  /** Runs the log shows whose process is not alive (pid + start ticks). */
  deadRuns: string[];
  /** Tagged processes outside every process group the log shows running. */
  unowned: string[];
}

/** The log against /proc; `hosts` are the Flow processes themselves (tagged, and no run). */
export function compareLogWithProc(home: string, tag: string, hosts: readonly number[]): Comparison {
  const { runs } = loggedRuns(home);
  const deadRuns: string[] = [];
  for (const r of runs) {
    const info = procInfo(r.pid);
    const alive = info !== null && info.state !== 'Z' && info.state !== 'X' && (r.startTicks === null || info.startTicks === r.startTicks);
    if (!alive) deadRuns.push(`${r.streamId} (${r.status}) is logged as pid ${r.pid}, which is not running`);
  }
  const leaders = new Set(runs.map((r) => r.pid));
  const unowned = taggedProcesses(tag)
    .filter((p) => !hosts.includes(p.pid) && !leaders.has(p.pgid))
    .map((p) => `pid ${p.pid} (group ${p.pgid}, spawn ${p.spawnId ?? '-'}: ${p.cmdline.slice(0, 120)}) is alive and no run in the log owns it`);
  return { deadRuns, unowned };
}

/** Cleanup whatever the assertions did not: every tagged process, and its group when it leads one. */
export function killTagged(tag: string): void {
  for (const p of taggedProcesses(tag)) {
    // A host started by a test shares the test's process group: signal it alone.
    const target = p.pgid === p.pid ? -p.pgid : p.pid;
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Fails with what disagrees, the last events of the streams concerned and the host's output. */
export function expectLogAgreesWithProc(home: string, tag: string, host: { pid: number; output: () => string }): void {
  const c = compareLogWithProc(home, tag, [host.pid]);
  if (c.deadRuns.length === 0 && c.unowned.length === 0) return;
  const events = readLog(home);
  const streams = new Set(events.map((e) => e.streamId));
  const recent = [...streams].map((s) => {
    const tail = events.filter((e) => e.streamId === s).slice(-6);
    return `${s}: ${tail.map((e) => `${e.type}${e.data.pid ? `(${String(e.data.pid)})` : ''}`).join(' → ')}`;
  });
  throw new Error(`the log and /proc disagree:\n${[...c.deadRuns, ...c.unowned].join('\n')}\n\nlast events:\n${recent.join('\n')}\n\nhost output:\n${host.output().slice(-4000)}`);
}
