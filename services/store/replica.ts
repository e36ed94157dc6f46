import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { EventEnvelopeSchema, UNKNOWN_EPOCH, type EventEnvelope } from './envelope.js';
import type { SqliteEventStore } from './event-store.js';
import type { Retirement } from './read-model.js';

const CHECKPOINT_KEY = 'replica.checkpoint';
const SOURCE_KEY = 'replica.source';
const ARCHIVED_KEY = 'replica.archived';

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
  /** Streams this batch retired: the actors of a host log that a newer log of the same host replaced. */
  retired: number;
}

/** Why a host log no longer counts: its host started a new one, or the user said the host is gone. */
export type RetiredWhy = 'new-log' | 'forgotten';

/**
 * How the replica holds a stream that a host log wrote: `own` under its own name (an actor of
 * that host log, live unless the log is retired); `replaced` under an archive name because a
 * live log's stream of the same name took the name; `duplicate` under an archive name because
 * another live host already owned the name when it arrived; `dismissed` a retired actor the
 * user removed (f backend rm), still under its name until another owner takes it.
 */
export type Holding = 'own' | 'replaced' | 'duplicate' | 'dismissed';

export interface HostRecord {
  id: string;
  /** The log it writes now; null when none counts (forgotten). */
  epoch: string | null;
  /** Its live actors (removed ones not counted). */
  actors: number;
  /** Actors of its old or forgotten logs, still shown as retired. */
  retired: number;
  epochs: { epoch: string; retiredAt: string | null; reason: RetiredWhy | null }[];
}

/** A host as Redis shows it connected: its id, and the epoch of the log it runs (null: a host that does not say). */
export interface ConnectedHost {
  host: string;
  epoch: string | null;
}

/** What the read model needs to know of a stream it lists. */
export interface StreamHolding {
  host: string;
  epoch: string;
  /** The stream's id in its host's log (differs from the local one once archived). */
  streamId: string;
  state: Holding;
  /** Not listed at all: a retired stream whose name a newer owner has taken. */
  hidden: boolean;
  retired: Retirement | null;
}

interface EpochRow {
  host: string;
  epoch: string;
  newest_id: string | null;
  retired_at: string | null;
  retired_why: RetiredWhy | null;
}

interface StreamRow {
  host: string;
  epoch: string;
  stream_id: string;
  local_id: string;
  state: Holding;
}

interface HolderRow extends StreamRow {
  retired_at: string | null;
}

/** One host log's stream as a batch sees it. */
interface Slot {
  host: string;
  epoch: string;
  streamId: string;
  localId: string;
  state: Holding;
  /** Its name in the file when the batch began (its events are there); null for one new in this batch. */
  stored: string | null;
  /** The last version applied (in the file or earlier in this batch). */
  version: number;
  changed: boolean;
}

const slotKey = (host: string, epoch: string, streamId: string) => `${host}\u0000${epoch}\u0000${streamId}`;
const short = (epoch: string) => epoch.slice(0, 8);
const isLive = (h: { state: Holding; retired_at: string | null }) => h.state === 'own' && h.retired_at === null;

function retiredMessage(host: string, epoch: string, why: RetiredWhy): string {
  return why === 'forgotten'
    ? `host ${host} was forgotten (f host forget ${host}); this actor belonged to it`
    : `host ${host} restarted with a new log (its FLOW_HOME was replaced); this actor belonged to its old log (epoch ${short(epoch)}…)`;
}

function prepareStatements(db: Db) {
  return {
    hasId: db.prepare(`SELECT 1 FROM events WHERE id = ?`),
    hasPosition: db.prepare(`SELECT 1 FROM events WHERE host = ? AND epoch = ? AND origin_position = ?`),
    parkedId: db.prepare(`SELECT 1 FROM replica_parked WHERE id = ?`),
    parkedPosition: db.prepare(`SELECT 1 FROM replica_parked WHERE host = ? AND epoch = ? AND position = ?`),
    parkedAt: db.prepare(`SELECT envelope FROM replica_parked WHERE host = ? AND epoch = ? AND stream_id = ? AND version = ?`) as Statement<[string, string, string, number], { envelope: string }>,
    park: db.prepare(`INSERT OR IGNORE INTO replica_parked (host, epoch, stream_id, version, position, id, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    unpark: db.prepare(`DELETE FROM replica_parked WHERE host = ? AND epoch = ? AND stream_id = ? AND version = ?`),
    meta: db.prepare(`SELECT value FROM store_meta WHERE key = ?`) as Statement<[string], { value: string }>,
    setMeta: db.prepare(`INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
    epochsOf: db.prepare(`SELECT host, epoch, newest_id, retired_at, retired_why FROM replica_epochs WHERE host = ? ORDER BY rowid`) as Statement<[string], EpochRow>,
    upsertEpoch: db.prepare(
      `INSERT INTO replica_epochs (host, epoch, newest_id, retired_at, retired_why) VALUES (@host, @epoch, @newest_id, @retired_at, @retired_why)
       ON CONFLICT (host, epoch) DO UPDATE SET newest_id = excluded.newest_id, retired_at = excluded.retired_at, retired_why = excluded.retired_why`,
    ),
    slotOf: db.prepare(`SELECT * FROM replica_streams WHERE host = ? AND epoch = ? AND stream_id = ?`) as Statement<[string, string, string], StreamRow>,
    holder: db.prepare(
      `SELECT s.*, p.retired_at FROM replica_streams s JOIN replica_epochs p ON p.host = s.host AND p.epoch = s.epoch WHERE s.local_id = ?`,
    ) as Statement<[string], HolderRow>,
    insertSlot: db.prepare(`INSERT INTO replica_streams (host, epoch, stream_id, local_id, state) VALUES (@host, @epoch, @streamId, @localId, @state)`),
    updateSlot: db.prepare(`UPDATE replica_streams SET local_id = @localId, state = @state WHERE host = @host AND epoch = @epoch AND stream_id = @streamId`),
    countOwn: db.prepare(`SELECT count(*) AS n FROM replica_streams WHERE host = ? AND epoch = ? AND state = 'own'`) as Statement<[string, string], { n: number }>,
  };
}
type Statements = ReturnType<typeof prepareStatements>;

/**
 * A gateway's copy of every host's log, fed from JetStream into its own SQLite file. What was
 * applied and the source sequence it got to are committed together, so a restart resumes from
 * the checkpoint with nothing lost and nothing twice.
 *
 * Each host log has an epoch (a host whose FLOW_HOME was wiped writes a new log, with the same
 * host id, positions and versions from 1 again). So a message delivered again is recognised by
 * its event id, or by (host, epoch, position); never by stream version alone. Versions order a
 * stream within one host log: an event ahead of a gap waits in replica_parked until the gap
 * fills. When a host's newer log shows up (its events, ordered by their time-ordered ids, or
 * the host connected with it), the older log is retired: its actors stay visible as retired,
 * own nothing, and a stream of the same name from a live log replaces the retired one (which
 * moves to an archive name, its history kept). One name is never held by two live logs: a
 * second host's stream of a name already owned is kept apart as a duplicate.
 */
export class ReplicaLog {
  private readonly stmt: Statements;
  private readonly listeners = new Set<() => void>();
  /** Hosts already warned about (connected twice with two logs), so a sweep every few seconds does not repeat it. */
  private readonly warned = new Set<string>();

  constructor(
    readonly store: SqliteEventStore,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`[flow replica] ${line}\n`),
  ) {
    this.stmt = prepareStatements(store.db);
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

  /** The host that owns the actor now: the host whose live log holds the stream. A retired actor has none. */
  ownerOf(streamId: string): string | undefined {
    const h = this.stmt.holder.get(streamId);
    return h && isLive(h) ? h.host : undefined;
  }

  /** Whose the stream of that name is, and whether it is retired (and why). */
  holding(streamId: string): StreamHolding | undefined {
    return readHolding(this.store.db, streamId);
  }

  /** Where this replica keeps the stream `streamId` of one host log (its own name, or an archive name). */
  streamOf(host: string, epoch: string, streamId: string): string | undefined {
    return this.stmt.slotOf.get(host, epoch, streamId)?.local_id;
  }

  /** Every host whose log this replica has seen (or that was seen connected). */
  hosts(): string[] {
    return (this.store.db.prepare(`SELECT DISTINCT host FROM replica_epochs ORDER BY host`).all() as { host: string }[]).map((r) => r.host);
  }

  hostList(): HostRecord[] {
    const db = this.store.db;
    const epochs = db.prepare(`SELECT host, epoch, retired_at, retired_why FROM replica_epochs ORDER BY host, rowid`).all() as Omit<EpochRow, 'newest_id'>[];
    const counts = new Map(
      (
        db
          .prepare(
            `SELECT s.host,
               sum(CASE WHEN s.state = 'own' AND p.retired_at IS NULL THEN 1 ELSE 0 END) AS actors,
               sum(CASE WHEN (s.state = 'own' AND p.retired_at IS NOT NULL) OR s.state = 'duplicate' THEN 1 ELSE 0 END) AS retired
             FROM replica_streams s
             JOIN replica_epochs p ON p.host = s.host AND p.epoch = s.epoch
             LEFT JOIN actor_state a ON a.stream_id = s.local_id
             WHERE coalesce(a.status, '') <> 'removed'
             GROUP BY s.host`,
          )
          .all() as { host: string; actors: number; retired: number }[]
      ).map((r) => [r.host, r]),
    );
    const out = new Map<string, HostRecord>();
    for (const e of epochs) {
      let h = out.get(e.host);
      if (!h) out.set(e.host, (h = { id: e.host, epoch: null, actors: counts.get(e.host)?.actors ?? 0, retired: counts.get(e.host)?.retired ?? 0, epochs: [] }));
      if (e.retired_at === null) h.epoch = e.epoch;
      h.epochs.push({ epoch: e.epoch, retiredAt: e.retired_at, reason: e.retired_why });
    }
    return [...out.values()];
  }

  /**
   * A host gone for good: its live log is retired, so every actor it ran shows as retired and
   * owns nothing (its names can be used again). Undefined for a host this replica never saw.
   */
  forget(host: string, at = new Date()): { retired: number } | undefined {
    const epochs = this.stmt.epochsOf.all(host);
    if (epochs.length === 0) return undefined;
    let retired = 0;
    this.write(() => {
      for (const e of epochs) {
        if (e.retired_at !== null) continue;
        retired += this.stmt.countOwn.get(host, e.epoch)!.n;
        this.stmt.upsertEpoch.run({ ...e, retired_at: at.toISOString(), retired_why: 'forgotten' });
      }
    });
    if (retired > 0) this.log(`host ${host} forgotten: its ${retired} actor(s) are retired`);
    return { retired };
  }

  /** Takes a retired actor out of the view (`f backend rm` of one): false for an actor a live host owns. */
  dismiss(streamId: string): boolean {
    const h = this.stmt.holder.get(streamId);
    if (!h || isLive(h)) return false;
    if (h.state === 'own') this.write(() => this.stmt.updateSlot.run({ host: h.host, epoch: h.epoch, streamId: h.stream_id, localId: h.local_id, state: 'dismissed' }));
    return true;
  }

  /**
   * What Redis says is connected now. A host connected with a log this replica has not seen has
   * replaced its old one (its FLOW_HOME was wiped): the old log's actors are retired before the
   * new log has written anything. A host connected with a log that was retired (forgotten, or
   * judged older) is running it: it counts again.
   */
  observeConnected(connected: readonly ConnectedHost[], at = new Date()): void {
    const byHost = new Map<string, Set<string>>();
    for (const c of connected) if (c.epoch) byHost.set(c.host, (byHost.get(c.host) ?? new Set()).add(c.epoch));
    const changes: (() => void)[] = [];
    for (const [host, epochs] of byHost) {
      if (epochs.size > 1) {
        const key = `${host} ${[...epochs].sort().join(' ')}`;
        if (!this.warned.has(key)) {
          this.warned.add(key);
          this.log(`${epochs.size} hosts are connected as ${host}, each with its own log (${[...epochs].map(short).join(', ')}): give each FLOW_HOME its own host id (FLOW_HOST_ID or f host --id)`);
        }
        continue;
      }
      const [epoch] = epochs as unknown as [string];
      const rows = this.stmt.epochsOf.all(host);
      const row = rows.find((r) => r.epoch === epoch);
      const live = rows.find((r) => r.retired_at === null);
      if (row && row.retired_at === null) continue;
      if (!row && live?.epoch === UNKNOWN_EPOCH) {
        changes.push(() => this.adopt(host, epoch, null));
        continue;
      }
      changes.push(() => {
        if (live) {
          this.stmt.upsertEpoch.run({ ...live, retired_at: at.toISOString(), retired_why: 'new-log' });
          this.log(`host ${host} is connected with a new log (epoch ${short(epoch)}…): the ${this.stmt.countOwn.get(host, live.epoch)!.n} actor(s) of its old log are retired`);
        }
        if (row) this.log(`host ${host} is connected again with its log ${short(epoch)}…: its actors count again`);
        this.stmt.upsertEpoch.run({ host, epoch, newest_id: row?.newest_id ?? null, retired_at: null, retired_why: null });
      });
    }
    if (changes.length > 0) this.write(() => changes.forEach((c) => c()));
  }

  /** Applies a batch of delivered messages, in delivery order, in one transaction. */
  ingest(batch: readonly Delivered[]): IngestResult {
    const result: IngestResult = { applied: [], duplicates: 0, parked: 0, rejected: 0, retired: 0 };
    if (batch.length === 0) return result;
    const events: EventEnvelope[] = [];
    for (const d of batch) {
      const parsed = EventEnvelopeSchema.safeParse(d.body);
      if (parsed.success) events.push(parsed.data);
      else {
        result.rejected += 1;
        this.log(`skipped message ${d.seq}: not an event envelope (${parsed.error.issues[0]?.message ?? 'invalid'})`);
      }
    }
    this.adoptUnknownEpochs(events);
    const plan = new BatchPlan(this.store, this.stmt, this.log);
    const seenIds = new Set<string>();
    const seenPositions = new Set<string>();
    const parked = new Map<string, EventEnvelope>();
    const unparked: [string, string, string, number][] = [];
    const ready: { e: EventEnvelope; slot: Slot }[] = [];
    const waiting = (slot: Slot, version: number): EventEnvelope | undefined => {
      const key = `${slotKey(slot.host, slot.epoch, slot.streamId)}\u0000${version}`;
      const inBatch = parked.get(key);
      if (inBatch) {
        parked.delete(key);
        return inBatch;
      }
      const row = this.stmt.parkedAt.get(slot.host, slot.epoch, slot.streamId, version);
      if (!row) return undefined;
      unparked.push([slot.host, slot.epoch, slot.streamId, version]);
      // Parked by a replica from before epochs, it may not say its epoch: it did not have one.
      const e = JSON.parse(row.envelope) as EventEnvelope;
      return { ...e, epoch: e.epoch ?? UNKNOWN_EPOCH };
    };
    for (const e of events) {
      const positioned = e.epoch !== UNKNOWN_EPOCH;
      const at = `${e.host}\u0000${e.epoch}\u0000${e.position}`;
      if (
        seenIds.has(e.id) ||
        this.stmt.hasId.get(e.id) ||
        this.stmt.parkedId.get(e.id) ||
        (positioned && (seenPositions.has(at) || this.stmt.hasPosition.get(e.host, e.epoch, e.position) || this.stmt.parkedPosition.get(e.host, e.epoch, e.position)))
      ) {
        result.duplicates += 1;
        continue;
      }
      const slot = plan.slot(e.host, plan.epochFor(e), e.streamId);
      // Within one host log a version it already has is a repeat (with another id: a resend of the
      // same step cannot happen in one log, so it is taken as one rather than as a fork).
      if (e.version <= slot.version) {
        result.duplicates += 1;
        continue;
      }
      seenIds.add(e.id);
      if (positioned) seenPositions.add(at);
      if (e.version > slot.version + 1) {
        const key = `${slotKey(slot.host, slot.epoch, slot.streamId)}\u0000${e.version}`;
        if (parked.has(key) || this.stmt.parkedAt.get(slot.host, slot.epoch, slot.streamId, e.version)) {
          result.duplicates += 1;
          continue;
        }
        parked.set(key, e);
        result.parked += 1;
        continue;
      }
      ready.push({ e, slot });
      slot.version = e.version;
      for (let next = waiting(slot, slot.version + 1); next; next = waiting(slot, slot.version + 1)) {
        ready.push({ e: next, slot });
        slot.version = next.version;
      }
    }
    result.retired = plan.retired;
    const last = batch[batch.length - 1]!.seq;
    // Names are final only now (a stream may have been archived after its first events were planned).
    const toImport = ready.map(({ e, slot }) => (slot.localId === e.streamId ? e : { ...e, streamId: slot.localId }));
    result.applied = this.store.importBatch(toImport, {
      before: (db) => plan.commit(db),
      after: () => {
        for (const u of unparked) this.stmt.unpark.run(...u);
        for (const [key, e] of parked) {
          const [host, epoch, streamId] = key.split('\u0000') as [string, string, string];
          this.stmt.park.run(host, epoch, streamId, e.version, e.position, e.id, JSON.stringify(e));
        }
        this.stmt.setMeta.run(CHECKPOINT_KEY, String(last));
      },
    });
    if (result.applied.length > 0 || plan.changed) for (const l of this.listeners) l();
    return result;
  }

  /** The replica's copy of a live stream's event at `version`, once it has arrived (undefined on timeout). A retired stream of that name does not count. */
  async waitFor(streamId: string, version: number, timeoutMs: number): Promise<EventEnvelope | undefined> {
    const look = () => {
      const h = this.stmt.holder.get(streamId);
      if (!h || !isLive(h) || this.store.streamVersion(streamId) < version) return undefined;
      return this.store.readStream(streamId, version, 1)[0];
    };
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

  /** Writes bookkeeping in one transaction that read models notice (the store's change stamp moves). */
  private write(fn: () => void): void {
    this.store.importBatch([], { before: fn });
    for (const l of this.listeners) l();
  }

  /**
   * Envelopes from a Flow that did not send epochs leave their host's log as "unknown". The
   * first real epoch that host shows is that same log (the host was upgraded), so the unknown
   * one becomes it: its streams go on, in version order, with no retirement.
   */
  private adoptUnknownEpochs(events: readonly EventEnvelope[]): void {
    const first = new Map<string, EventEnvelope>();
    for (const e of events) {
      if (e.epoch === UNKNOWN_EPOCH) continue;
      const seen = first.get(e.host);
      if (!seen || e.id < seen.id) first.set(e.host, e);
    }
    for (const [host, e] of first) {
      const rows = this.stmt.epochsOf.all(host);
      const live = rows.find((r) => r.retired_at === null);
      if (live?.epoch === UNKNOWN_EPOCH && !rows.some((r) => r.epoch === e.epoch)) this.write(() => this.adopt(host, e.epoch, e.id));
    }
  }

  private adopt(host: string, epoch: string, newestId: string | null): void {
    const db = this.store.db;
    db.prepare(`UPDATE replica_epochs SET epoch = ?, newest_id = coalesce(?, newest_id) WHERE host = ? AND epoch = ?`).run(epoch, newestId, host, UNKNOWN_EPOCH);
    db.prepare(`UPDATE replica_streams SET epoch = ? WHERE host = ? AND epoch = ?`).run(epoch, host, UNKNOWN_EPOCH);
    db.prepare(`UPDATE replica_parked SET epoch = ? WHERE host = ? AND epoch = ?`).run(epoch, host, UNKNOWN_EPOCH);
    this.log(`host ${host} now says which log it writes (epoch ${short(epoch)}…): taken as the log it had`);
  }
}

/**
 * What one batch decides about host logs and stream names, read from the file as needed and
 * written in the batch's transaction (before its events, so renamed streams make room).
 */
class BatchPlan {
  retired = 0;
  changed = false;
  private readonly epochs = new Map<string, Map<string, EpochRow & { dirty?: boolean }>>();
  private readonly slots = new Map<string, Slot>();
  private readonly byLocal = new Map<string, Slot>();
  private readonly renames: [string, string][] = [];
  private archived: number | null = null;
  private readonly twins = new Set<string>();

  constructor(
    private readonly store: SqliteEventStore,
    private readonly stmt: Statements,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * The log an event belongs to, as the replica counts it. A log not seen before from this host
   * is newer than every log seen if its event is (event ids are UUIDv7: time-ordered), and then
   * retires the host's live log; else it is an old log, retired on arrival.
   */
  epochFor(e: EventEnvelope): string {
    const rows = this.epochsOf(e.host);
    const live = [...rows.values()].find((r) => r.retired_at === null);
    if (e.epoch === UNKNOWN_EPOCH && live) return live.epoch;
    const row = rows.get(e.epoch);
    if (row) {
      if (row.newest_id === null || e.id > row.newest_id) {
        row.newest_id = e.id;
        row.dirty = true;
      }
      if (row.retired_why === 'new-log' && live?.newest_id && e.id > live.newest_id && !this.twins.has(e.host)) {
        this.twins.add(e.host);
        this.log(`host ${e.host} is writing two logs at once (epochs ${short(row.epoch)}… and ${short(live.epoch)}…): give each FLOW_HOME its own host id (FLOW_HOST_ID or f host --id)`);
      }
      return row.epoch;
    }
    // A log known only from Redis (no event yet) is the one running now: anything else is older.
    const newer = [...rows.values()].every((r) => (r.newest_id === null ? r.retired_at !== null : e.id > r.newest_id));
    const fresh: EpochRow & { dirty?: boolean } = { host: e.host, epoch: e.epoch, newest_id: e.id, retired_at: null, retired_why: null, dirty: true };
    if (newer && live) this.retire(live, e.at);
    if (!newer) {
      fresh.retired_at = e.at;
      fresh.retired_why = 'new-log';
    }
    rows.set(e.epoch, fresh);
    return e.epoch;
  }

  /** The slot of one host log's stream: where its events go, and its last version. */
  slot(host: string, epoch: string, streamId: string): Slot {
    const key = slotKey(host, epoch, streamId);
    const known = this.slots.get(key) ?? this.load(this.stmt.slotOf.get(host, epoch, streamId));
    if (known) return known;
    const s: Slot = { host, epoch, streamId, localId: streamId, state: 'own', stored: null, version: 0, changed: true };
    const holder = this.holderAt(streamId);
    if (holder) {
      const live = !this.isRetired(host, epoch);
      if (live && !(holder.state === 'own' && !this.isRetired(holder.host, holder.epoch))) this.archive(holder, 'replaced');
      else {
        s.localId = this.archiveName(streamId);
        s.state = live ? 'duplicate' : 'replaced';
        if (live) this.log(`host ${host} also writes ${streamId}, which host ${holder.host} owns; its copy is kept apart as ${s.localId}`);
      }
    }
    this.register(s);
    return s;
  }

  /** Runs inside the import's transaction, before its events are inserted. */
  commit(db: Db): void {
    for (const rows of this.epochs.values()) for (const r of rows.values()) if (r.dirty) this.stmt.upsertEpoch.run(r);
    for (const [from, to] of this.renames) {
      for (const table of ['events', 'streams', 'actor_state', 'timers', 'output_lines']) db.prepare(`UPDATE ${table} SET stream_id = ? WHERE stream_id = ?`).run(to, from);
    }
    const changed = [...this.slots.values()].filter((s) => s.changed);
    // Renamed ones first: they make room for the new ones that take their names.
    for (const s of changed) if (s.stored !== null) this.stmt.updateSlot.run(s);
    for (const s of changed) if (s.stored === null) this.stmt.insertSlot.run(s);
    if (this.archived !== null) this.stmt.setMeta.run(ARCHIVED_KEY, String(this.archived));
    this.changed = this.renames.length > 0 || this.retired > 0;
  }

  private retire(row: EpochRow & { dirty?: boolean }, at: string): void {
    row.retired_at = at;
    row.retired_why = 'new-log';
    row.dirty = true;
    const inBatch = [...this.slots.values()].filter((s) => s.host === row.host && s.epoch === row.epoch && s.stored === null && s.state === 'own').length;
    const n = this.stmt.countOwn.get(row.host, row.epoch)!.n + inBatch;
    this.retired += n;
    this.log(`host ${row.host} has a new log: the ${n} actor(s) of its old log (epoch ${short(row.epoch)}…) are retired`);
  }

  private epochsOf(host: string): Map<string, EpochRow & { dirty?: boolean }> {
    let rows = this.epochs.get(host);
    if (!rows) this.epochs.set(host, (rows = new Map(this.stmt.epochsOf.all(host).map((r) => [r.epoch, r]))));
    return rows;
  }

  private isRetired(host: string, epoch: string): boolean {
    return (this.epochsOf(host).get(epoch)?.retired_at ?? null) !== null;
  }

  private holderAt(localId: string): Slot | undefined {
    return this.byLocal.get(localId) ?? this.load(this.stmt.holder.get(localId));
  }

  private load(row: StreamRow | undefined): Slot | undefined {
    if (!row) return undefined;
    const key = slotKey(row.host, row.epoch, row.stream_id);
    const cached = this.slots.get(key);
    if (cached) return cached;
    const s: Slot = { host: row.host, epoch: row.epoch, streamId: row.stream_id, localId: row.local_id, state: row.state, stored: row.local_id, version: this.store.streamVersion(row.local_id), changed: false };
    this.register(s);
    return s;
  }

  private register(s: Slot): void {
    this.slots.set(slotKey(s.host, s.epoch, s.streamId), s);
    this.byLocal.set(s.localId, s);
  }

  /** Moves a stream out of the way of a new owner of its name; its events go with it. */
  private archive(s: Slot, state: Holding): void {
    const to = this.archiveName(s.streamId);
    this.byLocal.delete(s.localId);
    if (s.stored !== null && s.stored === s.localId) this.renames.push([s.localId, to]);
    s.localId = to;
    s.state = state;
    s.changed = true;
    this.byLocal.set(to, s);
  }

  /** `<type>:Archived-<n>-<name>`: upper case, so never an actor's own name; numbered, so never taken twice. */
  private archiveName(streamId: string): string {
    this.archived = (this.archived ?? Number(this.stmt.meta.get(ARCHIVED_KEY)?.value ?? 0)) + 1;
    const colon = streamId.indexOf(':');
    const prefix = `Archived-${this.archived}-`;
    return `${streamId.slice(0, colon + 1)}${prefix}${streamId.slice(colon + 1, colon + 1 + 160 - prefix.length)}`;
  }
}

const HOLDINGS = `SELECT s.host, s.epoch, s.stream_id, s.local_id, s.state, p.retired_at, p.retired_why,
    (SELECT h.host FROM replica_streams h WHERE h.local_id = s.stream_id) AS holder
  FROM replica_streams s JOIN replica_epochs p ON p.host = s.host AND p.epoch = s.epoch`;

type HoldingRow = StreamRow & { retired_at: string | null; retired_why: RetiredWhy | null; holder: string | null };

function toHolding(r: HoldingRow): StreamHolding {
  let retired: Retirement | null = null;
  if (r.state === 'duplicate') {
    retired = { reason: 'duplicate', at: null, message: `host ${r.holder ?? 'another host'} owns ${r.stream_id}; host ${r.host}'s ${r.stream_id} is kept apart as ${r.local_id}` };
  } else if (r.retired_at !== null) {
    retired = { reason: r.retired_why ?? 'new-log', at: r.retired_at, message: retiredMessage(r.host, r.epoch, r.retired_why ?? 'new-log') };
  } else if (r.state === 'replaced') {
    retired = { reason: 'new-log', at: null, message: `${r.stream_id} of host ${r.host} was replaced by a newer actor of the same name` };
  }
  return { host: r.host, epoch: r.epoch, streamId: r.stream_id, state: r.state, hidden: r.state === 'replaced', retired };
}

/**
 * How the replica holds every stream it lists (host logs, archive names, retirements), for the
 * read model. Empty in a host's own log.
 */
export function readHoldings(db: Db): Map<string, StreamHolding> {
  return new Map((db.prepare(HOLDINGS).all() as HoldingRow[]).map((r) => [r.local_id, toHolding(r)]));
}

/** How the replica holds the stream named `streamId` in its file (undefined: not a stream it holds). */
export function readHolding(db: Db, streamId: string): StreamHolding | undefined {
  const r = db.prepare(`${HOLDINGS} WHERE s.local_id = ?`).get(streamId) as HoldingRow | undefined;
  return r && toHolding(r);
}
