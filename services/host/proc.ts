import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process facts from /proc. PID 1 on these machines does not reap orphans, so a dead process
 * can linger as a zombie that `kill(pid, 0)` still reports alive; /proc's state says the truth.
 */
export interface ProcInfo {
  state: string;
  pgid: number;
  /** Start time in clock ticks since boot: with the pid, it names one process across pid reuse. */
  startTicks: number;
}

export function procInfo(pid: number): ProcInfo | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  const pgid = Number(rest[2]);
  const startTicks = Number(rest[19]);
  return { state, pgid, startTicks };
}

/** Alive and not a zombie; when `startTicks` is given, also the same process that was recorded. */
export function isAlive(pid: number, startTicks?: number | null): boolean {
  const info = procInfo(pid);
  if (!info || info.state === 'Z' || info.state === 'X') return false;
  return startTicks === undefined || startTicks === null || info.startTicks === startTicks;
}

/** Living (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info && info.pgid === pgid && info.state !== 'Z' && info.state !== 'X') out.push(Number(name));
  }
  return out;
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Waits until nothing of the group is alive, polling /proc; false if `timeoutMs` ran out. */
export async function waitGroupGone(pgid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (groupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** SIGTERM to the whole group, SIGKILL after the grace period; resolves when the group is gone. */
export async function stopGroup(pgid: number, graceMs: number): Promise<'SIGTERM' | 'SIGKILL' | null> {
  if (groupMembers(pgid).length === 0) return null;
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return 'SIGTERM';
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 5000);
  return 'SIGKILL';
}
