import type { ActorKind } from '../../actors/kind.js';
import type { LiveBus } from '../bus/types.js';
import type { EventStore } from '../store/event-store.js';
import type { Snapshot } from './fold.js';

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
  /** Appends an observation (PROCESS_EXITED, ...) to this actor's stream, then applies it. */
  observe(type: string, data: Record<string, unknown>): void;
  readonly live: LiveBus;
  readonly clock: Clock;
}

/** The services side of an actor kind: how its named effects touch the world. */
export interface KindServices {
  readonly kind: ActorKind;
  /** Named actions of the machine, run after the event that asked for them is stored. */
  readonly effects: Readonly<Record<string, (ctx: EffectContext, params: unknown) => void>>;
  /** Called after every transition and at recovery: keep standing resources (watchers) in line with state. */
  sync?(ctx: EffectContext): void;
  /** At host start, after folding: look at the world (orphaned pids) and report what is true. */
  reconcile?(ctx: EffectContext): Promise<void>;
  /** At host start, after reconcile: events to send so interrupted actors carry on. */
  resumeEvent?(snapshot: Snapshot): { type: string; data: Record<string, unknown> } | null;
  /** Host shutdown: stop every process this kind runs, reporting each exit. */
  shutdown?(): Promise<void>;
  /** Store access for kinds that keep bounded side data (output lines). */
  attach?(store: EventStore): void;
}
