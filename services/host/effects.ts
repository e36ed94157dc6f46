import type { AnyKind, EffectsOf } from '../../actors/kind.js';
import type { LiveBus } from '../bus/types.js';
import type { EventStore } from '../store/event-store.js';
import type { Snapshot } from '../../actors/fold.js';
import type { Spawner } from './supervised-spawn.js';
import type { OutputLine } from '../store/types.js';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** What an effect may do: read the actor it acts for, and report what it observed. */
export interface EffectContext {
  readonly streamId: string;
  readonly name: string;
  /** The snapshot right after the transition that asked for this effect. */
  readonly snapshot: Snapshot;
  readonly version: number;
  /**
   * The only way an effect starts a process (supervised-spawn.ts): its own group, this
   * FLOW_HOME's marker, and as its spawn id the id of the stored event that asked for the effect.
   */
  readonly spawn: Spawner;
  /** Appends an observation (PROCESS_EXITED, ...) to this actor's stream, then applies it. */
  observe(type: string, data: Record<string, unknown>): void;
  readonly live: LiveBus;
  readonly clock: Clock;
}

/** One effect: a named action of the machine, carried out after the event that asked for it is stored. */
export type Effect = (ctx: EffectContext, params: unknown) => void;

/** What services/<kind> provides besides its effects: how its kind meets the world at start, in step, at stop. */
export interface KindHooks {
  /** Called after every transition and at recovery: keep standing resources (watchers) in line with state. */
  sync?(ctx: EffectContext): void;
  /**
   * The process the log shows running for this actor, if any. At host start, a process of this
   * FLOW_HOME that no actor's run accounts for is stopped (services/host/orphans.ts).
   */
  recordedRun?(snapshot: Snapshot): RecordedRun | null;
  /** At host start, after folding: look at the world (orphaned pids) and report what is true. */
  reconcile?(ctx: EffectContext): Promise<void>;
  /** At host start, after reconcile: events to send so interrupted actors carry on. */
  resumeEvent?(snapshot: Snapshot): { type: string; data: Record<string, unknown> } | null;
  /** Host shutdown: stop every process this kind runs, reporting each exit. */
  shutdown?(): Promise<void>;
  /** Store access for kinds that keep bounded side data (output lines). */
  attach?(store: EventStore): void;
  /** Output lines this kind keeps for one of its actors (newest last). */
  outputLines?(streamId: string, limit: number): OutputLine[];
}

/** The services side of an actor kind: how its named effects touch the world. */
export interface KindServices extends KindHooks {
  readonly kind: AnyKind;
  /** Named actions of the machine, run after the event that asked for them is stored. */
  readonly effects: Readonly<Record<string, Effect>>;
}

/** The services of kind K: one effect for each effect the kind names, no more, no fewer. */
export interface ServicesDef<K extends AnyKind> extends KindHooks {
  readonly effects: { readonly [E in EffectsOf<K>]: Effect };
}

/**
 * Binds a kind to the code that acts for it. The effects object must name exactly the kind's
 * `effects`: a missing or misspelt one is a compile error, not a log line at run time.
 */
export function defineServices<K extends AnyKind>(kind: K, def: NoInfer<ServicesDef<K>>): KindServices {
  return { ...def, kind, effects: def.effects as Readonly<Record<string, Effect>> };
}

/** A run as a start event recorded it; `spawnId` is null in logs written before spawn ids. */
export interface RecordedRun {
  pid: number;
  startTicks: number | null;
  spawnId: string | null;
}
