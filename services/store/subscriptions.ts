import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { EventEnvelope } from './envelope.js';
import { matchesFilter, type EventFilter } from './filter.js';
import type { EventRow } from './read.js';
import type { EventHandler, Subscription } from './types.js';

const CATCH_UP_BATCH = 500;

interface Subscriber {
  cursor: number;
  filter: EventFilter | undefined;
  handler: EventHandler;
  live: boolean;
  closed: boolean;
}

/** What the hub reads: rows after a position (filtered before their JSON is parsed), and their envelopes. */
export interface RowSource {
  rowsAfter(position: number, limit: number): EventRow[];
  envelope(row: EventRow): EventEnvelope;
  headPosition(): number;
}

/**
 * Catch-up subscriptions over one connection. History is delivered in batches on later ticks so
 * a long log does not block the process; the switch to live happens inside one synchronous step
 * (the last history read finds nothing more), so nothing can slip between it and the first live
 * event. Live delivery reads the log after the last dispatched position: after this
 * connection's own commits (`committed`), and after other processes' commits, which SQLite's
 * `data_version` reveals (`poll`, on a timer while anyone listens).
 */
export class SubscriptionHub {
  private readonly subscribers = new Set<Subscriber>();
  private dispatchedUpTo: number;
  private dataVersion: number;
  private localWrites = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly dataVersionStmt: Statement<[], number>;

  constructor(
    db: Db,
    private readonly log: RowSource,
    private readonly pollMs: number,
  ) {
    this.dataVersionStmt = db.prepare(`PRAGMA data_version`).pluck() as Statement<[], number>;
    this.dispatchedUpTo = log.headPosition();
    this.dataVersion = this.readDataVersion();
  }

  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription {
    const head = this.log.headPosition();
    // Other processes may have appended while nobody listened: the hub resumes from now.
    if (this.subscribers.size === 0) this.dispatchedUpTo = Math.max(this.dispatchedUpTo, head);
    const sub: Subscriber = { cursor: opts.from ?? head, filter: opts.filter, handler, live: false, closed: false };
    this.subscribers.add(sub);
    this.ensurePolling();
    const catchUp = (): void => {
      if (sub.closed || this.closed) return;
      const rows = this.log.rowsAfter(sub.cursor, CATCH_UP_BATCH);
      for (const r of rows) {
        if (sub.closed) return;
        sub.cursor = r.position;
        if (matchesFilter({ streamType: r.stream_type, streamId: r.stream_id, type: r.type }, sub.filter)) sub.handler(this.log.envelope(r));
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

  /** This connection committed a write; `upTo` is its last event's position, if it wrote events. */
  committed(upTo?: number): void {
    this.localWrites += 1;
    if (upTo === undefined) return;
    if (this.subscribers.size === 0) this.dispatchedUpTo = upTo;
    else this.dispatch();
  }

  poll(): void {
    if (this.closed) return;
    const v = this.readDataVersion();
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.dispatch();
    }
  }

  /**
   * Changes whenever the log or its projections may have changed: after this connection's own
   * writes, and (through SQLite's data_version) after any other connection's commit. Cheap
   * enough to check on every read, so read models can cache between writes.
   */
  changeStamp(): string {
    // Read once per turn of the event loop: the requests a poll phase serves share it. Another
    // connection's commit in that same turn is as concurrent as one a moment later, and this
    // connection's own writes still move the stamp at once.
    if (this.versionThisTurn === null) {
      this.versionThisTurn = this.readDataVersion();
      setImmediate(this.forgetVersion);
    }
    return `${this.localWrites}:${this.versionThisTurn}`;
  }

  private versionThisTurn: number | null = null;
  private readonly forgetVersion = (): void => {
    this.versionThisTurn = null;
  };

  close(): void {
    this.closed = true;
    this.stopPolling();
    for (const s of this.subscribers) s.closed = true;
    this.subscribers.clear();
  }

  private dispatch(): void {
    if (this.subscribers.size === 0) return;
    for (;;) {
      const rows = this.log.rowsAfter(this.dispatchedUpTo, CATCH_UP_BATCH);
      if (rows.length === 0) return;
      for (const r of rows) {
        this.dispatchedUpTo = r.position;
        let env: EventEnvelope | null = null;
        for (const s of this.subscribers) {
          if (!s.live || s.closed || s.cursor >= r.position) continue;
          s.cursor = r.position;
          if (!matchesFilter({ streamType: r.stream_type, streamId: r.stream_id, type: r.type }, s.filter)) continue;
          env ??= this.log.envelope(r);
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
    return this.dataVersionStmt.get()!;
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
