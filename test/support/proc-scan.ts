import { readdirSync, readFileSync } from 'node:fs';

/** A living process as /proc shows it, with the environment it was started with. */
export interface ScannedProcess {
  pid: number;
  ppid: number;
  command: string;
  env: Map<string, string>;
}

function environOf(pid: number): Map<string, string> | null {
  try {
    const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  } catch {
    return null; // gone, or not ours to read
  }
}

function statOf(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '?';
  }
}

/** Living processes (zombies are dead: PID 1 here does not reap) whose environment matches, this one excepted. */
export function processesWhere(match: (env: Map<string, string>) => boolean): ScannedProcess[] {
  const found: ScannedProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const stat = statOf(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') continue;
    const env = environOf(pid);
    if (!env || !match(env)) continue;
    found.push({ pid, ppid: stat.ppid, command: commandOf(pid), env });
  }
  return found;
}

/**
 * Kills (SIGKILL) every process started for this FLOW_HOME: `f` itself and whatever it ran
 * (children inherit FLOW_HOME), also one no event names, e.g. a child spawned in the instant
 * before a kill -9 of its host. For the cleanup of a test that kills Flow on purpose.
 */
export function killProcessesOfHome(home: string): ScannedProcess[] {
  const found = processesWhere((env) => env.get('FLOW_HOME') === home);
  for (const p of found) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * The last step of a cleanup that killed Flow on purpose: whatever of that FLOW_HOME still runs
 * is killed, and said so (it is a process the log did not name, or a test that stopped early).
 */
export function killLeftoversOfHome(home: string): void {
  const left = killProcessesOfHome(home);
  if (left.length > 0) console.warn(`killed ${left.length} process(es) left for ${home}:\n${left.map((p) => `  pid ${p.pid}: ${p.command}`).join('\n')}`);
}
