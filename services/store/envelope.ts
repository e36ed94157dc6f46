import { z } from 'zod';

/** Stream ids become NATS subject tokens and URL segments: no dots, spaces, slashes or wildcards. */
export const StreamIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'stream id must look like "<stream-type>:<name>" with letters, digits, "-" or "_"');

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
  streamType: z.string().min(1),
  streamId: StreamIdSchema,
  version: z.number().int().positive(),
  type: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  meta: EventMetaSchema,
  at: z.string().datetime({ offset: true }),
});
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** What a writer hands the store: the store assigns position, version and host. */
export interface NewEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  meta?: EventMeta;
  at: string;
}

export type ExpectedVersion = number | 'any';

export interface EventFilter {
  streamType?: string;
  streamId?: string;
}

export function matchesFilter(e: Pick<EventEnvelope, 'streamType' | 'streamId'>, f: EventFilter | undefined): boolean {
  if (!f) return true;
  if (f.streamType && e.streamType !== f.streamType) return false;
  if (f.streamId && e.streamId !== f.streamId) return false;
  return true;
}
