import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { EventEnvelope } from './envelope.js';
import { matchesFilter, type EventFilter } from './filter.js';
import type { CausedEvent, StreamHead } from './types.js';

/** A row of `events`. */
export interface EventRow {
  position: number;
  id: string;
  host: string;
  stream_type: string;
  stream_id: string;
  version: number;
  type: string;
  data: string;
  meta: string;
  at: string;
  /** NULL: this log's own event (its epoch is the file's); else the epoch of the host log it was copied from. */
  epoch: string | null;
}

export function toEnvelope(r: EventRow, epoch: string): EventEnvelope {
  return {
    id: r.id,
    position: r.position,
    host: r.host,
    epoch: r.epoch ?? epoch,
    streamType: r.stream_type,
    streamId: r.stream_id,
    version: r.version,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
    meta: JSON.parse(r.meta) as EventEnvelope['meta'],
    at: r.at,
  };
}

/** Reads of the log: by stream, by position, by id; all prepared once per connection. */
export class LogReader {
  private readonly stmt: {
    streamVersion: Statement<[string], { version: number }>;
    readStream: Statement<[string, number, number], EventRow>;
    readAll: Statement<[number, number], EventRow>;
    readAllByType: Statement<[number, string, number], EventRow>;
    readAllByStream: Statement<[number, string, number], EventRow>;
    head: Statement<[], { p: number | null }>;
    byId: Statement<[string], EventRow>;
    streams: Statement<[], { stream_id: string; stream_type: string; version: number }>;
    causedBy: Statement<[string, string], CausedEvent>;
  };

  constructor(
    db: Db,
    private readonly epoch: string,
  ) {
    this.stmt = {
      streamVersion: db.prepare(`SELECT version FROM streams WHERE stream_id = ?`),
      readStream: db.prepare(`SELECT * FROM events WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`),
      readAll: db.prepare(`SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?`),
      readAllByType: db.prepare(`SELECT * FROM events WHERE position > ? AND stream_type = ? ORDER BY position LIMIT ?`),
      readAllByStream: db.prepare(`SELECT * FROM events WHERE position > ? AND stream_id = ? ORDER BY position LIMIT ?`),
      head: db.prepare(`SELECT max(position) AS p FROM events`),
      byId: db.prepare(`SELECT * FROM events WHERE id = ?`),
      streams: db.prepare(`SELECT stream_id, stream_type, version FROM streams ORDER BY stream_id`),
      causedBy: db.prepare(`SELECT version, position FROM events WHERE stream_id = ? AND json_extract(meta, '$.causationId') = ? ORDER BY version LIMIT 1`),
    };
  }

  streamVersion(streamId: string): number {
    return this.stmt.streamVersion.get(streamId)?.version ?? 0;
  }

  headPosition(): number {
    return this.stmt.head.get()?.p ?? 0;
  }

  /** Raw rows after a position: subscriptions filter on them before paying for the JSON. */
  rowsAfter(position: number, limit: number): EventRow[] {
    return this.stmt.readAll.all(position, limit);
  }

  envelope(row: EventRow): EventEnvelope {
    return toEnvelope(row, this.epoch);
  }

  readStream(streamId: string, fromVersion = 1, limit = Number.MAX_SAFE_INTEGER): EventEnvelope[] {
    return this.stmt.readStream.all(streamId, fromVersion, limit).map((r) => toEnvelope(r, this.epoch));
  }

  readAll(fromPosition = 0, limit = 1000, filter?: EventFilter): EventEnvelope[] {
    let rows: EventRow[];
    if (filter?.streamId) rows = this.stmt.readAllByStream.all(fromPosition, filter.streamId, limit);
    else if (filter?.streamType) rows = this.stmt.readAllByType.all(fromPosition, filter.streamType, limit);
    else rows = this.stmt.readAll.all(fromPosition, limit);
    return rows.map((r) => toEnvelope(r, this.epoch)).filter((e) => matchesFilter(e, filter));
  }

  *iterateAll(fromPosition = 0, batch = 5000): Generator<EventEnvelope> {
    let cursor = fromPosition;
    for (;;) {
      const rows = this.stmt.readAll.all(cursor, batch);
      if (rows.length === 0) return;
      for (const r of rows) yield toEnvelope(r, this.epoch);
      cursor = rows[rows.length - 1]!.position;
    }
  }

  readEvent(id: string): EventEnvelope | undefined {
    const r = this.stmt.byId.get(id);
    return r && toEnvelope(r, this.epoch);
  }

  streams(): StreamHead[] {
    return this.stmt.streams.all().map((r) => ({ streamId: r.stream_id, streamType: r.stream_type, version: r.version }));
  }

  eventCausedBy(streamId: string, causationId: string): CausedEvent | undefined {
    const r = this.stmt.causedBy.get(streamId, causationId);
    return r && { version: r.version, position: r.position };
  }
}
