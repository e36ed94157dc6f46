import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { procInfo } from './proc.js';

/**
 * The one way the host starts a process (backend children, opencode, tunnels), so that no
 * process exists that the log cannot account for, whenever the host is killed.
 *
 * The intent is durable before the process exists: persist-then-act stores the event whose
 * transition asked for the spawn before the effect runs, and that event's id is the spawn id.
 * The child carries it, with a marker of this FLOW_HOME, in its environment (and so does
 * everything it starts); the start event records it next to the pid. A host killed between the
 * spawn and that record leaves a process whose spawn id no run in the log shows: the next
 * start finds it in /proc by the marker and stops it (services/host/orphans.ts).
 */
export const HOME_ID_ENV = 'FLOW_HOME_ID';
export const SPAWN_ID_ENV = 'FLOW_SPAWN_ID';

/** Marks the processes of one FLOW_HOME: a short hash of its real path (the same home reached by another path is the same home). */
export function homeIdOf(home: string): string {
  let real: string;
  try {
    real = realpathSync(home);
  } catch {
    real = resolve(home);
  }
  return createHash('sha256').update(real).digest('hex').slice(0, 16);
}

/** Who a spawn is for: this FLOW_HOME, and the stored event that asked for it. */
export interface SpawnIdentity {
  homeId: string;
  spawnId: string;
  /** The actor it runs for (the fault hook can name one). */
  streamId: string;
}

/** What a start event records about a run: the process (pid + start ticks) and its spawn id. */
export interface StartedRun {
  pid: number;
  startTicks: number | null;
  spawnId: string;
}

export type SupervisedSpawnOptions = Omit<SpawnOptions, 'detached' | 'env'> & { env: NodeJS.ProcessEnv };

export interface SupervisedChild {
  child: ChildProcess;
  /** Null when the spawn failed before a pid existed (the child's 'error' says why). */
  started: StartedRun | null;
}

/** How an effect spawns: the host binds the identity (EffectContext.spawn). */
export type Spawner = (program: string, args: readonly string[], options: SupervisedSpawnOptions) => SupervisedChild;

/**
 * Spawns in a process group (and session) of its own, the identity in its environment (it wins
 * over whatever the caller's env says).
 */
export function spawnSupervised(identity: SpawnIdentity, program: string, args: readonly string[], options: SupervisedSpawnOptions): SupervisedChild {
  faultPoint('before-spawn', identity.streamId);
  const env = { ...options.env, [HOME_ID_ENV]: identity.homeId, [SPAWN_ID_ENV]: identity.spawnId };
  const child = spawn(program, args, { ...options, env, detached: true });
  if (child.pid === undefined) return { child, started: null };
  faultPoint('after-spawn-before-record', identity.streamId);
  // Every kind records the start in the same turn as the spawn; by the next one it is stored.
  setImmediate(() => faultPoint('after-record', identity.streamId));
  return { child, started: { pid: child.pid, startTicks: procInfo(child.pid)?.startTicks ?? null, spawnId: identity.spawnId } };
}

/**
 * TEST FAULT POINTS. `FLOW_FAULT_KILL_AT=<point>[@<streamId>]` makes this process SIGKILL itself
 * at that point of a spawn (of that actor only, when one is named): the crash tests' way to hit
 * the instants between deciding, spawning and recording. Read once, at start.
 */
export const FAULT_POINTS = ['before-spawn', 'after-spawn-before-record', 'after-record'] as const;
type FaultPoint = (typeof FAULT_POINTS)[number];

function parseFault(raw: string | undefined): { point: FaultPoint; streamId: string | null } | null {
  if (!raw) return null;
  const at = raw.indexOf('@');
  const point = (at < 0 ? raw : raw.slice(0, at)) as FaultPoint;
  if (!FAULT_POINTS.includes(point)) throw new Error(`FLOW_FAULT_KILL_AT is ${JSON.stringify(raw)}: it must be <point>[@<streamId>], the point one of ${FAULT_POINTS.join(', ')} (a test fault hook: unset it to run normally)`);
  return { point, streamId: at < 0 ? null : raw.slice(at + 1) };
}

const FAULT = parseFault(process.env.FLOW_FAULT_KILL_AT);

function faultPoint(point: FaultPoint, streamId: string): void {
  if (FAULT && FAULT.point === point && (FAULT.streamId === null || FAULT.streamId === streamId)) process.kill(process.pid, 'SIGKILL');
}
