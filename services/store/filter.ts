/**
 * Which events a reader wants. Apart from envelope.ts (the zod schemas) so a reader of the log,
 * such as `f events tail`, does not load zod.
 */
export interface EventFilter {
  streamType?: string;
  streamId?: string;
  /** The event type (PROCESS_EXITED), not the stream's. */
  type?: string;
}

export function matchesFilter(e: { streamType: string; streamId: string; type: string }, f: EventFilter | undefined): boolean {
  if (!f) return true;
  if (f.streamType && e.streamType !== f.streamType) return false;
  if (f.streamId && e.streamId !== f.streamId) return false;
  if (f.type && e.type !== f.type) return false;
  return true;
}
