import { LogWriter, type ImportHooks } from './append.js';
import { Checkpoints } from './checkpoints.js';
import { openDatabase, type Db } from './db.js';
import type { EventEnvelope, EventFilter, ExpectedVersion, NewEvent } from './envelope.js';
import { StoreClosedError } from './errors.js';
import { OutputLineTable } from './output-lines.js';
import { readActor, readActors, readTimers, type Projector } from './projections.js';
import { LogReader } from './read.js';
import { rebuildProjections, rebuildStreamProjections } from './rebuild.js';
import { readRecoveryHeads, type RecoveryHead } from './recovery.js';
import { SubscriptionHub } from './subscriptions.js';
import type { ActorRow, AppendOptions, CausedEvent, EventHandler, EventStore as EventStoreContract, StreamHead, Subscription, TimerRow } from './types.js';

export type { ImportHooks } from './append.js';
export type { Projector } from './projections.js';
export type { AppendOptions, EventHandler, Subscription } from './types.js';

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
 * The event log in SQLite: the EventStore over one file, made of its parts (append.ts,
 * read.ts, subscriptions.ts, rebuild.ts, projections.ts). Single writer per file at a time
 * (SQLite's lock), many readers; positions are the rowid, so commit order is position order.
 */
export class SqliteEventStore implements EventStoreContract {
  readonly db: Db;
  readonly host: string;
  readonly epoch: string;
  readonly output: OutputLineTable;
  private readonly projectors: readonly Projector[];
  private readonly reader: LogReader;
  private readonly writer: LogWriter;
  private readonly hub: SubscriptionHub;
  private readonly checkpoints: Checkpoints;
  private isClosed = false;

  static open(path: string, opts: EventStoreOptions): SqliteEventStore {
    return new SqliteEventStore(openDatabase(path, { readonly: opts.readonly ?? false }), opts);
  }

  constructor(db: Db, opts: EventStoreOptions) {
    this.db = db;
    this.host = opts.host;
    this.projectors = opts.projectors ?? [];
    this.epoch = (db.prepare(`SELECT value FROM store_meta WHERE key = 'epoch'`).get() as { value: string }).value;
    // The log's identity is (host, epoch): remember which host id last wrote it, so a writer that
    // is not the host (f install) names the same host (see logHost).
    if (!db.readonly) db.prepare(`INSERT INTO store_meta (key, value) VALUES ('host', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value <> excluded.value`).run(opts.host);
    this.reader = new LogReader(db, this.epoch);
    this.writer = new LogWriter(db, { host: this.host, epoch: this.epoch }, this.projectors);
    this.hub = new SubscriptionHub(db, this.reader, opts.pollMs ?? 100);
    this.checkpoints = new Checkpoints(db);
    this.output = new OutputLineTable(db);
  }

  get path(): string | null {
    return this.db.memory ? null : this.db.name;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  append(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], opts: AppendOptions = {}): EventEnvelope[] {
    if (this.isClosed) throw new StoreClosedError();
    if (events.length === 0) return [];
    const written = this.writer.append(streamType, streamId, expected, events, opts.hint);
    this.hub.committed(written[written.length - 1]!.position);
    return written;
  }

  /**
   * Copies events written by other hosts into this log (a gateway's replica): each must be its
   * stream's next version. The hooks run in the same transaction (a replica's renames before,
   * its checkpoint after); with no events it is a transaction of the hooks alone.
   */
  importBatch(events: readonly EventEnvelope[], hooks: ImportHooks = {}): EventEnvelope[] {
    if (this.isClosed) throw new StoreClosedError();
    const written = this.writer.importBatch(events, hooks);
    this.hub.committed(written[written.length - 1]?.position);
    return written;
  }

  streamVersion(streamId: string): number {
    return this.reader.streamVersion(streamId);
  }

  headPosition(): number {
    return this.reader.headPosition();
  }

  readStream(streamId: string, fromVersion?: number, limit?: number): EventEnvelope[] {
    return this.reader.readStream(streamId, fromVersion, limit);
  }

  readAll(fromPosition?: number, limit?: number, filter?: EventFilter): EventEnvelope[] {
    return this.reader.readAll(fromPosition, limit, filter);
  }

  iterateAll(fromPosition?: number, batch?: number): Generator<EventEnvelope> {
    return this.reader.iterateAll(fromPosition, batch);
  }

  readEvent(id: string): EventEnvelope | undefined {
    return this.reader.readEvent(id);
  }

  streams(): StreamHead[] {
    return this.reader.streams();
  }

  eventCausedBy(streamId: string, causationId: string): CausedEvent | undefined {
    return this.reader.eventCausedBy(streamId, causationId);
  }

  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription {
    if (this.isClosed) throw new StoreClosedError();
    return this.hub.subscribe(opts, handler);
  }

  poll(): void {
    if (!this.isClosed) this.hub.poll();
  }

  changeStamp(): string {
    return this.hub.changeStamp();
  }

  actor(streamId: string): ActorRow | undefined {
    return readActor(this.db, streamId);
  }

  actors(streamType?: string): ActorRow[] {
    return readActors(this.db, streamType);
  }

  timers(): TimerRow[] {
    return readTimers(this.db);
  }

  rebuild(): { events: number; streams: number } {
    const result = rebuildProjections(this.db, this.projectors, this.reader.iterateAll(0));
    this.hub.committed();
    return result;
  }

  rebuildStream(streamId: string): { events: number } {
    if (this.isClosed) throw new StoreClosedError();
    const result = rebuildStreamProjections(this.db, this.projectors, streamId, () => this.reader.readStream(streamId));
    this.hub.committed();
    return result;
  }

  recoveryHeads(): RecoveryHead[] {
    return readRecoveryHeads(this.db);
  }

  readCheckpoint(name: string): number {
    return this.checkpoints.get(name);
  }

  storeCheckpoint(name: string, position: number): void {
    this.checkpoints.set(name, position);
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.hub.close();
    this.db.close();
  }
}

/** The event store's contract (services/store/types.ts); its one implementation is SQLite's. */
export type EventStore = EventStoreContract;
/** Opens the SQLite event store at a path: `EventStore.open(path, { host })`. */
export const EventStore = {
  open: (path: string, opts: EventStoreOptions): SqliteEventStore => SqliteEventStore.open(path, opts),
};
