import { z } from 'zod';

/**
 * Stream ids become NATS subject tokens and URL segments: no dots, spaces, slashes or wildcards.
 * Names have room for a per-host stream's `<name>_<host id>` (64 + 1 + 64) and a replica's
 * archive prefix. Actor names start with a lower-case letter or digit; a name that starts with
 * an upper-case letter is never an actor's own (services/store/replica.ts archives under such names).
 */
export const StreamIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9_-]{0,159}$/, 'stream id must look like "<stream-type>:<name>" with letters, digits, "-" or "_"');

/**
 * The epoch of an envelope that a Flow from before log epochs sent (it had no such field): the
 * replica treats it as the host's one log until it learns the real epoch.
 */
export const UNKNOWN_EPOCH = 'unknown';

export const EventMetaSchema = z
  .object({
    causationId: z.string().optional(),
    correlationId: z.string().optional(),
    by: z.string().optional(),
  })
  .strict();
export type EventMeta = z.infer<typeof EventMetaSchema>;

export const EventEnvelopeSchema = z.object({
  id: z.string().uuid(),
  position: z.number().int().positive(),
  host: z.string().min(1),
  /**
   * The host log's epoch: a random id made when its SQLite file was created. A host whose
   * FLOW_HOME was wiped writes a new log with the same host id and a new epoch; positions and
   * versions count again from 1, so (host, epoch, position) is what identifies an event's place.
   */
  epoch: z.string().min(1).max(100).default(UNKNOWN_EPOCH),
  streamType: z.string().min(1),
  streamId: StreamIdSchema,
  version: z.number().int().positive(),
  type: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  meta: EventMetaSchema,
  at: z.string().datetime({ offset: true }),
});
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** What a writer hands the store: the store assigns position, version, host and epoch. */
export interface NewEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  meta?: EventMeta;
  at: string;
}

export type ExpectedVersion = number | 'any';

export { matchesFilter, type EventFilter } from './filter.js';
