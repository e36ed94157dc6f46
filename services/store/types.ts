import type { ActionLike, Snapshot, StoredSnapshot } from '../../actors/fold.js';
import type { EventEnvelope, EventFilter, ExpectedVersion, NewEvent } from './envelope.js';
import type { RecoveryHead } from './recovery.js';

export type EventHandler = (event: EventEnvelope) => void;

export interface Subscription {
  close(): void;
  /** The position of the last event this subscription has passed (delivered or filtered out). */
  readonly position: number;
}

export interface AppendOptions {
  /** What the writer already computed for these events (see Projector.apply); never required. */
  hint?: unknown;
}

/** A stream's head: its type and its last version. */
export interface StreamHead {
  streamId: string;
  streamType: string;
  version: number;
}

/** Where an event a command caused sits in its stream. */
export interface CausedEvent {
  version: number;
  position: number;
}

/** An actor's row of the projection: its folded snapshot at `version`. */
export interface ActorRow {
  streamId: string;
  streamType: string;
  version: number;
  status: string;
  snapshot: StoredSnapshot;
  updatedAt: string;
  /** The host that wrote its latest event: the one that runs it. */
  host: string;
  /** The version of the machine that folded the snapshot (services/store/machine-version.ts); '' before it was recorded. */
  machine: string;
}

/** A delayed event a machine asked for, due at `dueAt` (epoch ms). */
export interface TimerRow {
  streamId: string;
  timerId: string;
  event: { type: string };
  dueAt: number;
}

/** What the host already computed for the events it appends, so the actor projection need not fold again. */
export interface FoldHint {
  streamId: string;
  steps: { snapshot: Snapshot; actions: ActionLike[] }[];
}

export interface OutputLine {
  seq: number;
  at: string;
  /** `flow`: a note of Flow's own about the process (started, reloading, cannot run ...). */
  fd: 'stdout' | 'stderr' | 'flow';
  line: string;
  /** Present (true) when the line was longer than the limit: this is its start, cut there. */
  truncated?: boolean;
}

/** An output line as stored: the line, and the stream of the process that printed it. */
export interface StoredOutputLine {
  seq: number;
  streamId: string;
  at: string;
  fd: OutputLine['fd'];
  line: string;
  truncated: boolean;
}

/** Bounded output history of supervised processes (not events: live lines are too many). */
export interface OutputHistory {
  /** The highest seq ever stored (0: none), so new lines continue the numbering. */
  lastSeq(): number;
  /** Stores lines in one transaction, then keeps only the last `keep` of each stream they touch. */
  append(lines: readonly StoredOutputLine[], keep: number): void;
  /** A stream's last `limit` lines, oldest first. */
  read(streamId: string, limit: number): OutputLine[];
  forget(streamId: string): void;
}

/**
 * The event log and what is kept in step with it (DESIGN.md › Events). Append is atomic and
 * checked against the expected version; reads are by stream or by position; a subscription
 * catches up from a position and goes live with no gap and no duplicate; the projections are
 * updated in the append's transaction and can be rebuilt from the log.
 */
export interface EventStore {
  /** This host's id, written into every event it appends. */
  readonly host: string;
  /** The log's identity: made when its file was created; a replaced FLOW_HOME has a new one. */
  readonly epoch: string;
  /** The file the log lives in; null for a log in memory. */
  readonly path: string | null;
  readonly closed: boolean;

  /**
   * Appends atomically: all events and every projection update, or nothing. A wrong expected
   * version throws ConcurrencyError and writes nothing.
   */
  append(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], opts?: AppendOptions): EventEnvelope[];
  /** The stream's current version; 0 when it has no events. */
  streamVersion(streamId: string): number;
  headPosition(): number;
  /** A stream's events from `fromVersion` on, in version order. */
  readStream(streamId: string, fromVersion?: number, limit?: number): EventEnvelope[];
  /** Events with position > fromPosition, oldest first. */
  readAll(fromPosition?: number, limit?: number, filter?: EventFilter): EventEnvelope[];
  /** Every event of the log from a position, in batches, without holding it all in memory. */
  iterateAll(fromPosition?: number, batch?: number): Generator<EventEnvelope>;
  readEvent(id: string): EventEnvelope | undefined;
  /** Every stream, in id order. */
  streams(): StreamHead[];
  /** The first event of a stream whose meta names `causationId` (a command already applied). */
  eventCausedBy(streamId: string, causationId: string): CausedEvent | undefined;

  /** Catch-up subscription: every event with position > `from` (default: now), history then live, each once, in order. */
  subscribe(opts: { from?: number; filter?: EventFilter }, handler: EventHandler): Subscription;
  /** Looks for commits by other processes now (the poller does it on its own). */
  poll(): void;
  /** Changes whenever the log or its projections may have changed, by this process or another. */
  changeStamp(): string;

  actor(streamId: string): ActorRow | undefined;
  actors(streamType?: string): ActorRow[];
  timers(): TimerRow[];
  /** Drops every projection and folds the whole log through the projectors again. */
  rebuild(): { events: number; streams: number };
  /** Drops one stream's projections and folds its events again (a repair from the log). */
  rebuildStream(streamId: string): { events: number };
  /** Every stream's head with its projection row, O(streams) rows: where recovery starts. */
  recoveryHeads(): RecoveryHead[];

  /** A consumer's position in the log (0 until it stores one), kept in the same file. */
  readCheckpoint(name: string): number;
  storeCheckpoint(name: string, position: number): void;

  readonly output: OutputHistory;

  close(): void;
}
