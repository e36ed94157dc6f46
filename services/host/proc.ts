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

/**
 * The fields of /proc/<pid>/stat after the command name, from state (field 3) on, or null when
 * the process is gone. The command name may hold spaces and parentheses: split after the last ')'.
 */
function statFields(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

export function procInfo(pid: number): ProcInfo | null {
  const rest = statFields(pid);
  if (!rest) return null;
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

/** A process whose environment carries a given variable with a given value. */
export interface MarkedProcess extends ProcInfo {
  pid: number;
  env: ReadonlyMap<string, string>;
}

function parseEnviron(raw: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/**
 * Living processes whose environment (as they were started: /proc/<pid>/environ) has
 * `name=value`. Processes of other users cannot be read and are never listed; a zombie's
 * environment is empty.
 */
export function processesWithEnv(name: string, value: string): MarkedProcess[] {
  const out: MarkedProcess[] = [];
  const needle = `${name}=${value}\0`;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let raw: string;
    try {
      raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    // Most processes are not ours: a substring test before parsing anything.
    if (!raw.includes(needle)) continue;
    const env = parseEnviron(raw);
    if (env.get(name) !== value) continue;
    const info = procInfo(pid);
    if (!info || info.state === 'Z' || info.state === 'X') continue;
    out.push({ pid, env, ...info });
  }
  return out;
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

/**
 * Linux reports CPU times in USER_HZ ticks, which the kernel fixes at 100 for user space on
 * every architecture Node runs on (CONFIG_HZ may differ; /proc does not show it).
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** What a process group uses right now, summed over its living members. */
export interface GroupUsage {
  /** utime + stime of every member, in clock ticks (what they have used since they started). */
  cpuTicks: number;
  /** Resident memory of every member, in bytes (shared pages count once per member, as `ps` does). */
  rssBytes: number;
  processes: number;
}

function memberUsage(pid: number): { pgid: number; state: string; cpuTicks: number; rssPages: number } | null {
  // state(3) ppid pgrp ... utime(14) stime(15) ... rss(24).
  const rest = statFields(pid);
  if (!rest) return null;
  return { state: rest[0] ?? '?', pgid: Number(rest[2]), cpuTicks: Number(rest[11]) + Number(rest[12]), rssPages: Number(rest[21]) };
}

let pageBytes: number | null = null;
/** The page size, from our own /proc entry: statm counts pages, status says kB. */
function pageSize(): number {
  if (pageBytes !== null) return pageBytes;
  pageBytes = 4096;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    // Both are read a moment apart; a page size is a power of two of at least 4 KiB.
    if (kb && pages > 0) pageBytes = 2 ** Math.round(Math.log2((Number(kb) * 1024) / pages));
  } catch {
    // not Linux: keep the common 4 KiB
  }
  return pageBytes;
}

/**
 * CPU ticks and resident memory of each group's living members, in one pass over /proc however
 * many groups are asked for; a group with no living member is absent from the result.
 */
export function groupsUsage(pgids: ReadonlySet<number>): Map<number, GroupUsage> {
  const out = new Map<number, GroupUsage>();
  if (pgids.size === 0) return out;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  const pages = new Map<number, number>();
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const u = memberUsage(Number(name));
    if (!u || !pgids.has(u.pgid) || u.state === 'Z' || u.state === 'X') continue;
    const g = out.get(u.pgid) ?? { cpuTicks: 0, rssBytes: 0, processes: 0 };
    g.cpuTicks += u.cpuTicks;
    g.processes += 1;
    out.set(u.pgid, g);
    pages.set(u.pgid, (pages.get(u.pgid) ?? 0) + u.rssPages);
  }
  for (const [pgid, g] of out) g.rssBytes = pages.get(pgid)! * pageSize();
  return out;
}

/** One group's usage; null if none of it lives. */
export function groupUsage(pgid: number): GroupUsage | null {
  return groupsUsage(new Set([pgid])).get(pgid) ?? null;
}
