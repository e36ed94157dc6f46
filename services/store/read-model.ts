import type { EventEnvelope, EventFilter } from './envelope.js';
import type { EventHandler, Subscription } from './event-store.js';
import type { ActorRow } from '../host/actor-projection.js';

/** The log as the gateway reads it; the SQLite EventStore is one, a JetStream-fed read model another. */
export interface EventLog {
  readonly epoch: string;
  headPosition(): number;
  readAll(fromPosition: number, limit: number, filter?: EventFilter): EventEnvelope[];
  readStream(streamId: string, fromVersion?: number): EventEnvelope[];
  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription;
}

export interface OutputLine {
  seq: number;
  at: string;
  fd: 'stdout' | 'stderr';
  line: string;
  /** Present (true) when the line was longer than the limit: this is its start, cut there. */
  truncated?: boolean;
}

/** Current state, as the API lists it. */
export interface ReadModel {
  listActors(streamType: string): ActorRow[];
  getActor(streamId: string): ActorRow | undefined;
  outputLines(streamId: string, limit: number): OutputLine[];
}
