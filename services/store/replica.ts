import type { Statement } from 'better-sqlite3';
import { EventEnvelopeSchema, type EventEnvelope } from './envelope.js';
import type { EventStore } from './event-store.js';

const CHECKPOINT_KEY = 'replica.checkpoint';
const SOURCE_KEY = 'replica.source';

export interface Delivered {
  /** The message's sequence in the source (JetStream's stream sequence). */
  seq: number;
  /** The message body: an event envelope as its host wrote it (checked here). */
  body: unknown;
}

export interface IngestResult {
  applied: EventEnvelope[];
  duplicates: number;
  parked: number;
  rejected: number;
}

/**
 * A gateway's copy of every host's log, fed from JetStream into its own SQLite file. What was
 * applied and the source sequence it got to are committed together, so a restart resumes from
 * the checkpoint with nothing lost and nothing twice. A message delivered again (a host resent
 * it after a crash) is recognised by its event id and stream version; an event that arrives
 * ahead of a gap in its stream waits in replica_pending until the gap fills, so each stream is
 * applied in version order whatever order the network delivered it in.
 */
export class ReplicaLog {
  private readonly stmt: {
    hasId: Statement<[string], unknown>;
    pending: Statement<[string, number], { envelope: string }>;
    park: Statement;
    unpark: Statement;
    meta: Statement<[string], { value: string }>;
    setMeta: Statement;
    owner: Statement<[string], { host: string }>;
    hosts: Statement<[], { host: string }>;
  };
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly store: EventStore,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`[flow replica] ${line}\n`),
  ) {
    const db = store.db;
    this.stmt = {
      hasId: db.prepare(`SELECT 1 FROM events WHERE id = ?`),
      pending: db.prepare(`SELECT envelope FROM replica_pending WHERE stream_id = ? AND version = ?`),
      park: db.prepare(`INSERT OR IGNORE INTO replica_pending (stream_id, version, envelope) VALUES (?, ?, ?)`),
      unpark: db.prepare(`DELETE FROM replica_pending WHERE stream_id = ? AND version = ?`),
      meta: db.prepare(`SELECT value FROM store_meta WHERE key = ?`),
      setMeta: db.prepare(`INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
      owner: db.prepare(`SELECT host FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1`),
      hosts: db.prepare(`SELECT DISTINCT host FROM events`),
    };
  }

  /** The last source sequence applied (0: none yet). */
  get checkpoint(): number {
    return Number(this.stmt.meta.get(CHECKPOINT_KEY)?.value ?? 0);
  }

  /** Which source this replica was built from (a stream is identified by name and creation time). */
  get source(): string | undefined {
    return this.stmt.meta.get(SOURCE_KEY)?.value;
  }

  setSource(source: string): void {
    this.stmt.setMeta.run(SOURCE_KEY, source);
  }

  /** The host that wrote a stream's latest event: the one that owns the actor. */
  ownerOf(streamId: string): string | undefined {
    return this.stmt.owner.get(streamId)?.host;
  }

  hosts(): string[] {
    return this.stmt.hosts.all().map((r) => r.host);
  }

  /** Applies a batch of delivered messages, in delivery order, in one transaction. */
  ingest(batch: readonly Delivered[]): IngestResult {
    const result: IngestResult = { applied: [], duplicates: 0, parked: 0, rejected: 0 };
    if (batch.length === 0) return result;
    const versions = new Map<string, number>();
    const seen = new Set<string>();
    const parked = new Map<string, EventEnvelope>();
    const unparked: [string, number][] = [];
    const ready: EventEnvelope[] = [];
    const versionOf = (streamId: string) => versions.get(streamId) ?? this.store.streamVersion(streamId);
    const waiting = (streamId: string, version: number): EventEnvelope | undefined => {
      const key = `${streamId}\u0000${version}`;
      const inBatch = parked.get(key);
      if (inBatch) {
        parked.delete(key);
        return inBatch;
      }
      const row = this.stmt.pending.get(streamId, version);
      if (!row) return undefined;
      unparked.push([streamId, version]);
      return JSON.parse(row.envelope) as EventEnvelope;
    };
    for (const d of batch) {
      const parsed = EventEnvelopeSchema.safeParse(d.body);
      if (!parsed.success) {
        result.rejected += 1;
        this.log(`skipped message ${d.seq}: not an event envelope (${parsed.error.issues[0]?.message ?? 'invalid'})`);
        continue;
      }
      const e = parsed.data;
      const current = versionOf(e.streamId);
      if (seen.has(e.id) || e.version <= current || this.stmt.hasId.get(e.id)) {
        result.duplicates += 1;
        continue;
      }
      // Already held for a gap by an earlier batch: parking it again here would leave that row
      // behind (the gap, once filled, would take this batch's copy, not the row).
      if (e.version > current + 1 && this.stmt.pending.get(e.streamId, e.version)) {
        result.duplicates += 1;
        continue;
      }
      seen.add(e.id);
      if (e.version > current + 1) {
        parked.set(`${e.streamId}\u0000${e.version}`, e);
        result.parked += 1;
        continue;
      }
      ready.push(e);
      let v = e.version;
      for (let next = waiting(e.streamId, v + 1); next; next = waiting(e.streamId, v + 1)) {
        ready.push(next);
        v = next.version;
      }
      versions.set(e.streamId, v);
    }
    const last = batch[batch.length - 1]!.seq;
    result.applied = this.store.importBatch(ready, () => {
      for (const [streamId, version] of unparked) this.stmt.unpark.run(streamId, version);
      for (const e of parked.values()) this.stmt.park.run(e.streamId, e.version, JSON.stringify(e));
      this.stmt.setMeta.run(CHECKPOINT_KEY, String(last));
    });
    if (result.applied.length > 0) for (const l of this.listeners) l();
    return result;
  }

  /** The replica's copy of a stream's event at `version`, once it has arrived (undefined on timeout). */
  async waitFor(streamId: string, version: number, timeoutMs: number): Promise<EventEnvelope | undefined> {
    const look = () => (this.store.streamVersion(streamId) >= version ? this.store.readStream(streamId, version, 1)[0] : undefined);
    const now = look();
    if (now) return now;
    return new Promise((resolve) => {
      const done = (e: EventEnvelope | undefined) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      const listener = () => {
        const e = look();
        if (e) done(e);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.listeners.add(listener);
    });
  }
}
