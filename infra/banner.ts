import type { RecoveryChange } from '../services/host/actor-host.js';

/** How a kind is named in the banner, one and many. */
const NOUNS: Record<string, [string, string]> = {
  'backend-child': ['backend', 'backends'],
  'opencode-instance': ['instance', 'instances'],
  tunnel: ['tunnel', 'tunnels'],
  'tool-install': ['install', 'installs'],
};

/** A status after recovery in user words: a process started again is "restarted". */
function outcome(after: string): string {
  if (after === 'starting' || after === 'running' || after === 'restarting' || after === 'backoff') return 'restarted';
  if (after === 'interrupted') return 'waiting to resume';
  return after;
}

/** "2 backends restarted, 1 instance stopped", or "nothing" when recovery changed nothing. */
export function describeRecovery(changes: readonly RecoveryChange[]): string {
  const counts = new Map<string, number>();
  for (const c of changes) {
    const key = `${c.streamType}\0${outcome(c.after)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  if (counts.size === 0) return 'nothing (no backend, instance or tunnel was running when Flow last stopped)';
  return [...counts]
    .map(([key, n]) => {
      const [type, what] = key.split('\0') as [string, string];
      const [one, many] = NOUNS[type] ?? [type, type];
      return `${n} ${n === 1 ? one : many} ${what}`;
    })
    .join(', ');
}

/**
 * What `f up` prints once it runs: the URL first (scripts and tests read it from the first
 * line), then where its state lives, how it runs and what it picked up from the last run.
 */
export function upBanner(info: { title: string; home: string; mode: string; recovered: readonly RecoveryChange[] }): string {
  return [info.title, `  FLOW_HOME  ${info.home}`, `  mode       ${info.mode}`, `  resumed    ${describeRecovery(info.recovered)}`].join('\n');
}
