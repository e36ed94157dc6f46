import type { Statement } from 'better-sqlite3';
import { openDatabase, type Db } from './db.js';
import { ConcurrencyError, StoreClosedError } from './errors.js';
import { matchesFilter, UNKNOWN_EPOCH, type EventEnvelope, type EventFilter, type ExpectedVersion, type NewEvent } from './envelope.js';

/**
 * Keeps a read model in step with the log. `apply` runs inside the append's transaction, so a
 * projection is never ahead of or behind the events it was built from. `hint` is whatever the
 * writer already computed for these events (the host passes the snapshot it folded) so the
 * work is not done twice; a projector must give the same result without it.
 */
export interface Projector {
  readonly name: string;
  apply(db: Db, events: readonly EventEnvelope[], hint?: unknown): void;
  /** Drops everything this projector derived, before a rebuild. */
  reset(db: Db): void;
}

export interface AppendOptions {
  hint?: unknown;
}

/** What a replica does in the same transaction as an import: `before` the events are inserted, `after` the projections. */
export interface ImportHooks {
  before?: (db: Db) => void;
  after?: (db: Db) => void;
}

export type EventHandler = (event: EventEnvelope) => void;

export interface Subscription {
  close(): void;
  readonly position: number;
}

interface Subscriber {
  cursor: number;
  filter: EventFilter | undefined;
  handler: EventHandler;
  live: boolean;
  closed: boolean;
}

interface Row {
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

const CATCH_UP_BATCH = 500;

function toEnvelope(r: Row, epoch: string): EventEnvelope {
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

export interface EventStoreOptions {
  /** This host's id, written into every event it appends. */
  host: string;
  projectors?: readonly Projector[];
  /** How often to look for commits made by other processes (ms); 0 turns it off. */
  pollMs?: number;
  readonly?: boolean;
}

/** The host id that last opened this log to write to it (undefined for a log no one has written). */
export function logHost(db: Db): string | undefined {
  return (db.prepare(`SELECT value FROM store_meta WHERE key = 'host'`).get() as { value: string } | undefined)?.value;
}

/**
 * The append-only log in SQLite. Single writer per file at a time (SQLite's lock), many
 * readers; positions are the rowid, so commit order is position order.
 */
export class EventStore {
  readonly db: Db;
  readonly host: string;
  readonly epoch: string;
  private readonly projectors: readonly Projector[];
  private readonly subscribers = new Set<Subscriber>();
  private dispatchedUpTo: number;
  private dataVersion: number;
  private localWrites = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly pollMs: number;
  private closed = false;
  private readonly appendTx: ReturnType<EventStore['buildAppendTx']>;
  private readonly importTx: ReturnType<EventStore['buildImportTx']>;
  private readonly stmt: {
    streamVersion: Statement<[string], { version: number; stream_type: string }>;
    insert: Statement;
    insertCopy: Statement;
    upsertStream: Statement;
    readStream: Statement<[string, number, number], Row>;
    readAll: Statement<[number, number], Row>;
    readAllByType: Statement<[number, string, number], Row>;
    readAllByStream: Statement<[number, string, number], Row>;
    head: Statement<[], { p: number | null }>;
    dataVersion: Statement<[], number>;
  };

  static open(path: string, opts: EventStoreOptions): EventStore {
    return new EventStore(openDatabase(path, { readonly: opts.readonly ?? false }), opts);
  }

  constructor(db: Db, opts: EventStoreOptions) {
    this.db = db;
    this.host = opts.host;
    this.projectors = opts.projectors ?? [];
    this.pollMs = opts.pollMs ?? 100;
    this.epoch = (db.prepare(`SELECT value FROM store_meta WHERE key = 'epoch'`).get() as { value: string }).value;
    // The log's identity is (host, epoch): remember which host id last wrote it, so a writer that
    // is not the host (f install) names the same host (see logHost).
    if (!db.readonly) db.prepare(`INSERT INTO store_meta (key, value) VALUES ('host', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value <> excluded.value`).run(opts.host);
    this.stmt = {
      streamVersion: db.prepare(`SELECT version, stream_type FROM streams WHERE stream_id = ?`),
      insert: db.prepare(
        `INSERT INTO events (id, host, stream_type, stream_id, version, type, data, meta, at)
         VALUES (@id, @host, @streamType, @streamId, @version, @type, @data, @meta, @at)`,
      ),
      insertCopy: db.prepare(
        `INSERT INTO events (id, host, epoch, origin_position, stream_type, stream_id, version, type, data, meta, at)
         VALUES (@id, @host, @epoch, @originPosition, @streamType, @streamId, @version, @type, @data, @meta, @at)`,
      ),
      upsertStream: db.prepare(
        `INSERT INTO streams (stream_id, stream_type, version) VALUES (?, ?, ?)
         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version`,
      ),
      readStream: db.prepare(`SELECT * FROM events WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`),
      readAll: db.prepare(`SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?`),
      readAllByType: db.prepare(`SELECT * FROM events WHERE position > ? AND stream_type = ? ORDER BY position LIMIT ?`),
      readAllByStream: db.prepare(`SELECT * FROM events WHERE position > ? AND stream_id = ? ORDER BY position LIMIT ?`),
      head: db.prepare(`SELECT max(position) AS p FROM events`),
      dataVersion: db.prepare(`PRAGMA data_version`).pluck() as Statement<[], number>,
    };
    this.appendTx = this.buildAppendTx();
    this.importTx = this.buildImportTx();
    this.dispatchedUpTo = this.headPosition();
    this.dataVersion = this.readDataVersion();
  }

  /** The stream's current version; 0 when it has no events. */
  streamVersion(streamId: string): number {
    return this.stmt.streamVersion.get(streamId)?.version ?? 0;
  }

  headPosition(): number {
    return this.stmt.head.get()?.p ?? 0;
  }

  /**
   * Appends atomically: all events and every projection update, or nothing. A wrong expected
   * version throws ConcurrencyError and writes nothing.
   */
  append(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], opts: AppendOptions = {}): EventEnvelope[] {
    if (this.closed) throw new StoreClosedError();
    if (events.length === 0) return [];
    const written = this.appendTx.immediate(streamType, streamId, expected, events, opts.hint);
    this.localWrites += 1;
    if (this.subscribers.size === 0) this.dispatchedUpTo = written[written.length - 1]!.position;
    else this.dispatch();
    return written;
  }

  /**
   * Copies events written by other hosts into this log: id, host, epoch, stream version, time
   * and data stay as they were (and the position in the host's log is kept alongside), the
   * position is this log's own. Each event must be its stream's next version. The hooks run in
   * the same transaction (a replica's renames before, its checkpoint after).
   */
  importBatch(events: readonly EventEnvelope[], hooks: ImportHooks = {}): EventEnvelope[] {
    if (this.closed) throw new StoreClosedError();
    const written = this.importTx.immediate(events, hooks);
    this.localWrites += 1;
    if (written.length > 0) {
      if (this.subscribers.size === 0) this.dispatchedUpTo = written[written.length - 1]!.position;
      else this.dispatch();
    }
    return written;
  }

  private buildImportTx() {
    return this.db.transaction((events: readonly EventEnvelope[], hooks: ImportHooks): EventEnvelope[] => {
      hooks.before?.(this.db);
      const out: EventEnvelope[] = [];
      for (const e of events) {
        const current = this.stmt.streamVersion.get(e.streamId);
        const actual = current?.version ?? 0;
        if (e.version !== actual + 1) throw new ConcurrencyError(e.streamId, e.version - 1, actual);
        const res = this.stmt.insertCopy.run({
          id: e.id,
          host: e.host,
          epoch: e.epoch,
          // A log that did not say its epoch gives no way to tell its positions from another's.
          originPosition: e.epoch === UNKNOWN_EPOCH ? null : e.position,
          streamType: e.streamType,
          streamId: e.streamId,
          version: e.version,
          type: e.type,
          data: JSON.stringify(e.data),
          meta: JSON.stringify(e.meta),
          at: e.at,
        });
        this.stmt.upsertStream.run(e.streamId, e.streamType, e.version);
        out.push({ ...e, position: Number(res.lastInsertRowid) });
      }
      if (out.length > 0) for (const p of this.projectors) p.apply(this.db, out);
      hooks.after?.(this.db);
      return out;
    });
  }

  // Built once (in the constructor): better-sqlite3 makes a new wrapper per transaction() call.
  private buildAppendTx() {
    return this.db.transaction(
      (streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], hint: unknown): EventEnvelope[] => {
        const current = this.stmt.streamVersion.get(streamId);
        const actual = current?.version ?? 0;
        if (current && current.stream_type !== streamType) {
          throw new Error(`stream ${streamId} is of type ${current.stream_type}, not ${streamType}`);
        }
        if (expected !== 'any' && expected !== actual) throw new ConcurrencyError(streamId, expected, actual);
        const out: EventEnvelope[] = [];
        let version = actual;
        for (const e of events) {
          version += 1;
          const meta = e.meta ?? {};
          const res = this.stmt.insert.run({
            id: e.id,
            host: this.host,
            streamType,
            streamId,
            version,
            type: e.type,
            data: JSON.stringify(e.data),
            meta: JSON.stringify(meta),
            at: e.at,
          });
          out.push({ id: e.id, position: Number(res.lastInsertRowid), host: this.host, epoch: this.epoch, streamType, streamId, version, type: e.type, data: e.data, meta, at: e.at });
        }
        this.stmt.upsertStream.run(streamId, streamType, version);
        for (const p of this.projectors) p.apply(this.db, out, hint);
        return out;
      },
    );
  }

  /** A stream's events from `fromVersion` on, in version order. */
  readStream(streamId: string, fromVersion = 1, limit = Number.MAX_SAFE_INTEGER): EventEnvelope[] {
    return this.stmt.readStream.all(streamId, fromVersion, limit).map((r) => toEnvelope(r, this.epoch));
  }

  /** Events with position > fromPosition, oldest first. */
  readAll(fromPosition = 0, limit = 1000, filter?: EventFilter): EventEnvelope[] {
    let rows: Row[];
    if (filter?.streamId) rows = this.stmt.readAllByStream.all(fromPosition, filter.streamId, limit);
    else if (filter?.streamType) rows = this.stmt.readAllByType.all(fromPosition, filter.streamType, limit);
    else rows = this.stmt.readAll.all(fromPosition, limit);
    return rows.map((r) => toEnvelope(r, this.epoch)).filter((e) => matchesFilter(e, filter));
  }

  /** Iterates every event of the log in batches, without holding it all in memory. */
  *iterateAll(fromPosition = 0, batch = 5000): Generator<EventEnvelope> {
    let cursor = fromPosition;
    for (;;) {
      const rows = this.stmt.readAll.all(cursor, batch);
      if (rows.length === 0) return;
      for (const r of rows) yield toEnvelope(r, this.epoch);
      cursor = rows[rows.length - 1]!.position;
    }
  }

  /**
   * Catch-up subscription: every event with position > `from` (history first, then live), each
   * exactly once and in position order. History is delivered in batches on later ticks so a
   * long log does not block the process; the switch to live happens inside one synchronous
   * step, so nothing can slip between the last history read and the first live event.
   */
  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription {
    if (this.closed) throw new StoreClosedError();
    const head = this.headPosition();
    // Other processes may have appended while nobody listened: the hub resumes from now.
    if (this.subscribers.size === 0) this.dispatchedUpTo = Math.max(this.dispatchedUpTo, head);
    const sub: Subscriber = { cursor: opts.from ?? head, filter: opts.filter, handler, live: false, closed: false };
    this.subscribers.add(sub);
    this.ensurePolling();
    const catchUp = (): void => {
      if (sub.closed || this.closed) return;
      const rows = this.stmt.readAll.all(sub.cursor, CATCH_UP_BATCH);
      for (const r of rows) {
        if (sub.closed) return;
        sub.cursor = r.position;
        if (matchesFilter({ streamType: r.stream_type, streamId: r.stream_id }, sub.filter)) sub.handler(toEnvelope(r, this.epoch));
      }
      if (rows.length === CATCH_UP_BATCH) setImmediate(catchUp);
      else sub.live = true;
    };
    catchUp();
    return {
      close: () => {
        sub.closed = true;
        this.subscribers.delete(sub);
        if (this.subscribers.size === 0) this.stopPolling();
      },
      get position() {
        return sub.cursor;
      },
    };
  }

  /** Looks for commits by other processes now (tests and the CLI call it; the poller too). */
  poll(): void {
    if (this.closed) return;
    const v = this.readDataVersion();
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.dispatch();
    }
  }

  /** Drops every projection and folds the whole log through the projectors again. */
  rebuild(): { events: number; streams: number } {
    let events = 0;
    const streams = new Set<string>();
    this.db
      .transaction(() => {
        for (const p of this.projectors) p.reset(this.db);
        let batch: EventEnvelope[] = [];
        const flush = () => {
          for (const p of this.projectors) p.apply(this.db, batch);
          batch = [];
        };
        for (const e of this.iterateAll(0)) {
          events++;
          streams.add(e.streamId);
          batch.push(e);
          if (batch.length >= 1000) flush();
        }
        flush();
      })
      .immediate();
    this.localWrites += 1;
    return { events, streams: streams.size };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    for (const s of this.subscribers) s.closed = true;
    this.subscribers.clear();
    this.db.close();
  }

  private dispatch(): void {
    if (this.subscribers.size === 0) return;
    for (;;) {
      const rows = this.stmt.readAll.all(this.dispatchedUpTo, CATCH_UP_BATCH);
      if (rows.length === 0) return;
      for (const r of rows) {
        this.dispatchedUpTo = r.position;
        let env: EventEnvelope | null = null;
        for (const s of this.subscribers) {
          if (!s.live || s.closed || s.cursor >= r.position) continue;
          s.cursor = r.position;
          if (!matchesFilter({ streamType: r.stream_type, streamId: r.stream_id }, s.filter)) continue;
          env ??= toEnvelope(r, this.epoch);
          try {
            s.handler(env);
          } catch (err) {
            // One subscriber's failure must not stop delivery to the others.
            process.emitWarning(`event subscriber failed at position ${r.position}: ${String(err)}`);
          }
        }
      }
    }
  }

  private readDataVersion(): number {
    return this.stmt.dataVersion.get()!;
  }

  /**
   * Changes whenever the log or its projections may have changed: after this connection's own
   * writes, and (through SQLite's data_version) after any other connection's commit. Cheap
   * enough to check on every read, so read models can cache between writes.
   */
  changeStamp(): string {
    return `${this.localWrites}:${this.readDataVersion()}`;
  }

  private ensurePolling(): void {
    if (this.pollTimer || this.pollMs <= 0) return;
    this.pollTimer = setInterval(() => this.poll(), this.pollMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
