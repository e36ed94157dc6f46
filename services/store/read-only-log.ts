import type { Statement } from 'better-sqlite3';
import { openDatabase, type Db } from './db.js';
import type { EventEnvelope } from './envelope.js';
import { matchesFilter, type EventFilter } from './filter.js';
import { LogReader, toEnvelope, type EventRow } from './read.js';
import { SubscriptionHub } from './subscriptions.js';
import type { EventHandler, Subscription } from './types.js';

/**
 * The log opened read-only, for a process that only reads it (`f events tail`): no projections,
 * no migrations, nothing written, and none of the actor machines or zod loaded. Follows other
 * processes' commits like the full store does (SubscriptionHub over SQLite's data_version).
 */
export class ReadOnlyLog {
  private readonly epoch: string;
  private readonly reader: LogReader;
  private readonly hub: SubscriptionHub;
  private readonly stmt: {
    before: Statement<[number, number], EventRow>;
    beforeInStream: Statement<[number, string, number], EventRow>;
    beforeOfType: Statement<[number, string, number], EventRow>;
    stream: Statement<[string], { stream_type: string }>;
    streamType: Statement<[string], 1>;
    eventType: Statement<[string], 1>;
  };

  static open(path: string, pollMs = 100): ReadOnlyLog {
    return new ReadOnlyLog(openDatabase(path, { readonly: true }), pollMs);
  }

  private constructor(
    private readonly db: Db,
    pollMs: number,
  ) {
    const epoch = (db.prepare(`SELECT value FROM store_meta WHERE key = 'epoch'`).get() as { value: string }).value;
    this.reader = new LogReader(db, epoch);
    this.hub = new SubscriptionHub(db, this.reader, pollMs);
    this.stmt = {
      before: db.prepare(`SELECT * FROM events WHERE position < ? ORDER BY position DESC LIMIT ?`),
      beforeInStream: db.prepare(`SELECT * FROM events WHERE position < ? AND stream_id = ? ORDER BY position DESC LIMIT ?`),
      beforeOfType: db.prepare(`SELECT * FROM events WHERE position < ? AND stream_type = ? ORDER BY position DESC LIMIT ?`),
      stream: db.prepare(`SELECT stream_type FROM streams WHERE stream_id = ?`),
      streamType: db.prepare(`SELECT 1 FROM streams WHERE stream_type = ? LIMIT 1`).pluck() as Statement<[string], 1>,
      eventType: db.prepare(`SELECT 1 FROM events WHERE type = ? LIMIT 1`).pluck() as Statement<[string], 1>,
    };
    this.epoch = epoch;
  }

  headPosition(): number {
    return this.reader.headPosition();
  }

  /** The last `limit` events that match, oldest first, reading back from the head in batches. */
  latest(limit: number, filter: EventFilter = {}): EventEnvelope[] {
    const found: EventEnvelope[] = [];
    let before = this.headPosition() + 1;
    const batch = Math.max(limit * 4, 500);
    while (found.length < limit && before > 1) {
      const rows = filter.streamId
        ? this.stmt.beforeInStream.all(before, filter.streamId, batch)
        : filter.streamType
          ? this.stmt.beforeOfType.all(before, filter.streamType, batch)
          : this.stmt.before.all(before, batch);
      if (rows.length === 0) break;
      for (const r of rows) {
        if (found.length < limit && matchesFilter({ streamType: r.stream_type, streamId: r.stream_id, type: r.type }, filter)) found.push(toEnvelope(r, this.epoch));
      }
      before = rows[rows.length - 1]!.position;
    }
    return found.reverse();
  }

  /** The stream's type, or undefined when the log has no such stream. */
  streamTypeOf(streamId: string): string | undefined {
    return this.stmt.stream.get(streamId)?.stream_type;
  }

  hasStreamType(streamType: string): boolean {
    return this.stmt.streamType.get(streamType) !== undefined;
  }

  /** Whether any event of this type was ever recorded (a scan: ask only when nothing matched). */
  hasEventType(type: string): boolean {
    return this.stmt.eventType.get(type) !== undefined;
  }

  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription {
    return this.hub.subscribe(opts, handler);
  }

  close(): void {
    this.hub.close();
    this.db.close();
  }
}
