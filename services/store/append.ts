import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from './db.js';
import { UNKNOWN_EPOCH, type EventEnvelope, type ExpectedVersion, type NewEvent } from './envelope.js';
import { ConcurrencyError } from './errors.js';
import { applyProjectors, type Projector } from './projections.js';

/** What a replica does in the same transaction as an import: `before` the events are inserted, `after` the projections. */
export interface ImportHooks {
  before?: (db: Db) => void;
  after?: (db: Db) => void;
}

/**
 * The write side of the log. Every event enters through one insert (`write`), whether this host
 * appends it or a replica copies it from another host's log; they differ only in what they
 * check first: an append against the expected version of its stream, an import that each event
 * is its stream's next version. Each runs in one immediate transaction with the projections.
 */
export class LogWriter {
  private readonly stmt: {
    head: Statement<[string], { version: number; stream_type: string }>;
    insert: Statement<[string, string, string | null, number | null, string, string, number, string, string, string, string]>;
    upsertHead: Statement<[string, string, number]>;
  };
  private readonly appendTx: Transaction<(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], hint: unknown) => EventEnvelope[]>;
  private readonly importTx: Transaction<(events: readonly EventEnvelope[], hooks: ImportHooks) => EventEnvelope[]>;

  constructor(
    private readonly db: Db,
    private readonly self: { host: string; epoch: string },
    private readonly projectors: readonly Projector[],
  ) {
    this.stmt = {
      head: db.prepare(`SELECT version, stream_type FROM streams WHERE stream_id = ?`),
      insert: db.prepare(
        `INSERT INTO events (id, host, epoch, origin_position, stream_type, stream_id, version, type, data, meta, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      upsertHead: db.prepare(
        `INSERT INTO streams (stream_id, stream_type, version) VALUES (?, ?, ?)
         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version`,
      ),
    };
    // Built once: better-sqlite3 makes a new wrapper per transaction() call.
    this.appendTx = db.transaction((streamType, streamId, expected, events, hint) => this.appendNow(streamType, streamId, expected, events, hint));
    this.importTx = db.transaction((events, hooks) => this.importNow(events, hooks));
  }

  append(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], hint?: unknown): EventEnvelope[] {
    return this.appendTx.immediate(streamType, streamId, expected, events, hint);
  }

  /**
   * Copies events written by other hosts: id, host, epoch, stream version, time and data stay as
   * they were (the position in the host's log is kept alongside), the position is this log's own.
   */
  importBatch(events: readonly EventEnvelope[], hooks: ImportHooks = {}): EventEnvelope[] {
    return this.importTx.immediate(events, hooks);
  }

  private appendNow(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], hint: unknown): EventEnvelope[] {
    const current = this.stmt.head.get(streamId);
    const actual = current?.version ?? 0;
    if (current && current.stream_type !== streamType) {
      throw new Error(`stream ${streamId} is of type ${current.stream_type}, not ${streamType}`);
    }
    if (expected !== 'any' && expected !== actual) throw new ConcurrencyError(streamId, expected, actual);
    const { host, epoch } = this.self;
    const drafts = events.map((e, i): EventEnvelope => ({ id: e.id, position: 0, host, epoch, streamType, streamId, version: actual + i + 1, type: e.type, data: e.data, meta: e.meta ?? {}, at: e.at }));
    this.write(drafts, false);
    applyProjectors(this.projectors, this.db, drafts, hint);
    return drafts;
  }

  private importNow(events: readonly EventEnvelope[], hooks: ImportHooks): EventEnvelope[] {
    hooks.before?.(this.db);
    const next = new Map<string, number>();
    for (const e of events) {
      const actual = next.get(e.streamId) ?? this.stmt.head.get(e.streamId)?.version ?? 0;
      if (e.version !== actual + 1) throw new ConcurrencyError(e.streamId, e.version - 1, actual);
      next.set(e.streamId, e.version);
    }
    const copies = events.map((e) => ({ ...e }));
    this.write(copies, true);
    if (copies.length > 0) applyProjectors(this.projectors, this.db, copies);
    hooks.after?.(this.db);
    return copies;
  }

  /**
   * The one insert. Sets each event's position (the rowid: commit order is position order) and
   * moves its stream's head. A copy keeps its host log's epoch and position; this log's own
   * events store neither (their epoch is the file's, their position their own).
   */
  private write(events: EventEnvelope[], copies: boolean): void {
    const heads = new Map<string, EventEnvelope>();
    for (const e of events) {
      const epoch = copies ? e.epoch : null;
      // A log that did not say its epoch gives no way to tell its positions from another's.
      const origin = copies && e.epoch !== UNKNOWN_EPOCH ? e.position : null;
      const res = this.stmt.insert.run(e.id, e.host, epoch, origin, e.streamType, e.streamId, e.version, e.type, JSON.stringify(e.data), JSON.stringify(e.meta), e.at);
      e.position = Number(res.lastInsertRowid);
      heads.set(e.streamId, e);
    }
    for (const e of heads.values()) this.stmt.upsertHead.run(e.streamId, e.streamType, e.version);
  }
}
