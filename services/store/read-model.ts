import { z } from 'zod';
import type { EventEnvelope, EventFilter } from './envelope.js';
import type { ActorRow, EventHandler, OutputLine, Subscription } from './types.js';

export type { OutputLine } from './types.js';

/** The log as the gateway reads it; the SQLite EventStore is one, a JetStream-fed read model another. */
export interface EventLog {
  readonly epoch: string;
  headPosition(): number;
  readAll(fromPosition: number, limit: number, filter?: EventFilter): EventEnvelope[];
  readStream(streamId: string, fromVersion?: number): EventEnvelope[];
  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription;
}

/**
 * Why an actor no longer counts as a live host's (status `retired`): its host restarted with a
 * new log (`new-log`: its FLOW_HOME was replaced), was forgotten (`forgotten`: f host forget),
 * or another host already owns that name (`duplicate`).
 */
export const RetirementSchema = z.object({
  reason: z.enum(['new-log', 'forgotten', 'duplicate']),
  /** What happened, in user words. */
  message: z.string(),
  /** When (null when not known). */
  at: z.string().nullable(),
});
export type Retirement = z.infer<typeof RetirementSchema>;

/**
 * An actor as the API lists it: its projected state, and which host log it belongs to (a read
 * model straight over one host's projection may leave these out: its own log, nothing retired).
 */
export interface ActorListing extends ActorRow {
  /** The epoch of the host log that wrote it. */
  epoch?: string;
  retired?: Retirement | null;
}

/** Current state, as the API lists it. */
export interface ReadModel {
  listActors(streamType: string): ActorListing[];
  getActor(streamId: string): ActorListing | undefined;
  outputLines(streamId: string, limit: number): OutputLine[];
}
