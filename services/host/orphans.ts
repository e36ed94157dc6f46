import { groupMembers, isAlive, procInfo, processesWithEnv, signalGroup, type MarkedProcess } from './proc.js';
import { HOME_ID_ENV, SPAWN_ID_ENV } from './supervised-spawn.js';

/** A process of this FLOW_HOME (it carries the home's marker), with the spawn id it was started with. */
export interface HomeProcess {
  pid: number;
  pgid: number;
  startTicks: number;
  spawnId: string | null;
}

/** Every living process that carries this FLOW_HOME's marker, but this one. */
export function processesOfHome(homeId: string): HomeProcess[] {
  return processesWithEnv(HOME_ID_ENV, homeId)
    .filter((p) => p.pid !== process.pid)
    .map((p: MarkedProcess) => ({ pid: p.pid, pgid: p.pgid, startTicks: p.startTicks, spawnId: p.env.get(SPAWN_ID_ENV) ?? null }));
}

export interface SweepOptions {
  homeId: string;
  /** True when a run the log shows running (or a spawn of this host) accounts for the process. */
  owns(p: HomeProcess): boolean;
  /** SIGTERM, then SIGKILL after this long. */
  graceMs: number;
}

/**
 * Stops every process of this FLOW_HOME that the log does not own: the whole process group of
 * each, SIGTERM then SIGKILL. The spawn path gives every child a group (and session) of its
 * own, so a group holding a marked process holds only descendants of one of this home's spawns,
 * even those that scrubbed their environment. What to stop is decided in one synchronous pass
 * (the scan and `owns` together), so a spawn of this host and its record, which happen in one
 * turn, cannot fall between the look and the decision. Returns what it stopped.
 */
export async function stopUnowned(opts: SweepOptions): Promise<HomeProcess[]> {
  const unowned = processesOfHome(opts.homeId).filter((p) => !opts.owns(p));
  if (unowned.length === 0) return [];
  const ownGroup = procInfo(process.pid)?.pgid;
  // Each group with the members it had when it was judged: a signal goes to a group only while
  // one of those is still alive, never to a group id that a new process may have taken since.
  const groups = new Map<number, { pid: number; ticks: number }[]>();
  const singles: HomeProcess[] = [];
  for (const p of unowned) {
    if (p.pgid > 1 && p.pgid !== ownGroup) groups.set(p.pgid, groups.get(p.pgid) ?? membersOf(p.pgid));
    else singles.push(p);
  }
  const liveGroups = () => [...groups].filter(([, members]) => members.some((m) => isAlive(m.pid, m.ticks))).map(([g]) => g);
  const liveSingles = () => singles.filter((p) => isAlive(p.pid, p.startTicks));
  const signal = (sig: NodeJS.Signals) => {
    for (const g of liveGroups()) signalGroup(g, sig);
    for (const p of liveSingles()) signalQuietly(p.pid, sig);
  };
  const gone = () => liveGroups().length === 0 && liveSingles().length === 0;
  signal('SIGTERM');
  if (!(await waitUntil(gone, opts.graceMs))) {
    signal('SIGKILL');
    await waitUntil(gone, 5000);
  }
  return unowned;
}

function membersOf(pgid: number): { pid: number; ticks: number }[] {
  return groupMembers(pgid).flatMap((pid) => {
    const info = procInfo(pid);
    return info ? [{ pid, ticks: info.startTicks }] : [];
  });
}

function signalQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone meanwhile */
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
