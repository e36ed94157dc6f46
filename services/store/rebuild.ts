import type { Db } from './db.js';
import type { EventEnvelope } from './envelope.js';
import { applyProjectors, type Projector } from './projections.js';

const REBUILD_BATCH = 1000;

/**
 * Drops every projection and folds the whole log through the projectors again, in one
 * immediate transaction: a reader sees the old projections or the new ones, never half.
 */
export function rebuildProjections(db: Db, projectors: readonly Projector[], log: Iterable<EventEnvelope>): { events: number; streams: number } {
  let events = 0;
  const streams = new Set<string>();
  db.transaction(() => {
    for (const p of projectors) p.reset(db);
    let batch: EventEnvelope[] = [];
    for (const e of log) {
      events++;
      streams.add(e.streamId);
      batch.push(e);
      if (batch.length >= REBUILD_BATCH) {
        applyProjectors(projectors, db, batch);
        batch = [];
      }
    }
    if (batch.length > 0) applyProjectors(projectors, db, batch);
  }).immediate();
  return { events, streams: streams.size };
}

/**
 * Folds one stream's projections again from its events (a repair: a snapshot that disagreed
 * with the log, or one of an older machine), in one immediate transaction. A projector that
 * cannot drop one stream's part is rebuilt whole.
 */
export function rebuildStreamProjections(db: Db, projectors: readonly Projector[], streamId: string, events: () => readonly EventEnvelope[]): { events: number } {
  let n = 0;
  db.transaction(() => {
    const list = events();
    n = list.length;
    for (const p of projectors) {
      if (p.resetStream) {
        p.resetStream(db, streamId);
        if (list.length > 0) p.apply(db, list);
      }
    }
  }).immediate();
  return { events: n };
}
