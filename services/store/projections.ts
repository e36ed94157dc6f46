import type { ActorKind } from '../../actors/kind.js';
import { fromStored, initialSnapshot, step, timerWork, toStored, type ActionLike, type Snapshot, type StoredSnapshot } from '../../actors/fold.js';
import type { Db } from './db.js';
import { machineVersion } from './machine-version.js';
import type { EventEnvelope } from './envelope.js';
import type { ActorRow, FoldHint, TimerRow } from './types.js';

export type { ActorRow, FoldHint, TimerRow } from './types.js';

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
  /** Drops what it derived from one stream, before that stream is folded again (f events rebuild --stream, a repair). */
  resetStream?(db: Db, streamId: string): void;
}

export function applyProjectors(projectors: readonly Projector[], db: Db, events: readonly EventEnvelope[], hint?: unknown): void {
  for (const p of projectors) p.apply(db, events, hint);
}

/**
 * The actor_state and timers projections: each actor's folded snapshot, and the delayed events
 * its machine is waiting for (derived from the same transitions, so a rebuild restores them).
 */
export class ActorProjector implements Projector {
  readonly name = 'actors';
  private readonly prepared = new WeakMap<Db, ReturnType<typeof prepare>>();
  constructor(private readonly kindFor: (streamType: string) => ActorKind | undefined) {}

  // Appends are the hot path: prepare once per connection, not once per event.
  private statements(db: Db): ReturnType<typeof prepare> {
    let s = this.prepared.get(db);
    if (!s) this.prepared.set(db, (s = prepare(db)));
    return s;
  }

  apply(db: Db, events: readonly EventEnvelope[], hint?: unknown): void {
    const h = hint as FoldHint | undefined;
    const { load, save, arm, cancel } = this.statements(db);
    const current = new Map<string, Snapshot>();
    events.forEach((e, i) => {
      const kind = this.kindFor(e.streamType);
      if (!kind) return;
      let snapshot: Snapshot;
      let actions: ActionLike[];
      const hinted = h && h.streamId === e.streamId ? h.steps[i] : undefined;
      if (hinted) {
        ({ snapshot, actions } = hinted);
      } else {
        let prev = current.get(e.streamId);
        if (!prev) {
          const row = load.get(e.streamId) as { snapshot: string } | undefined;
          prev = row ? fromStored(kind, JSON.parse(row.snapshot) as StoredSnapshot) : initialSnapshot(kind);
        }
        [snapshot, actions] = step(kind, prev, e);
      }
      current.set(e.streamId, snapshot);
      const work = timerWork(actions, Date.parse(e.at));
      for (const id of work.cancel) cancel.run(e.streamId, id);
      for (const t of work.arm) arm.run(e.streamId, t.timerId, JSON.stringify(t.event), t.dueAt);
      save.run(e.streamId, e.streamType, e.version, kind.status(snapshot as never), JSON.stringify(toStored(snapshot)), e.at, e.host, machineVersion(kind));
    });
  }

  reset(db: Db): void {
    db.exec(`DELETE FROM actor_state; DELETE FROM timers;`);
  }

  resetStream(db: Db, streamId: string): void {
    const { drop, dropTimers } = this.statements(db);
    drop.run(streamId);
    dropTimers.run(streamId);
  }
}

function prepare(db: Db) {
  return {
    load: db.prepare(`SELECT snapshot FROM actor_state WHERE stream_id = ?`),
    save: db.prepare(
      `INSERT INTO actor_state (stream_id, stream_type, version, status, snapshot, updated_at, host, machine) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, status = excluded.status, snapshot = excluded.snapshot, updated_at = excluded.updated_at, host = excluded.host, machine = excluded.machine`,
    ),
    arm: db.prepare(
      `INSERT INTO timers (stream_id, timer_id, event, due_at) VALUES (?, ?, ?, ?) ON CONFLICT (stream_id, timer_id) DO UPDATE SET event = excluded.event, due_at = excluded.due_at`,
    ),
    cancel: db.prepare(`DELETE FROM timers WHERE stream_id = ? AND timer_id = ?`),
    drop: db.prepare(`DELETE FROM actor_state WHERE stream_id = ?`),
    dropTimers: db.prepare(`DELETE FROM timers WHERE stream_id = ?`),
  };
}

interface StateRow {
  stream_id: string;
  stream_type: string;
  version: number;
  status: string;
  snapshot: string;
  updated_at: string;
  host: string;
  machine: string;
}

function toRow(r: StateRow): ActorRow {
  return {
    streamId: r.stream_id,
    streamType: r.stream_type,
    version: r.version,
    status: r.status,
    snapshot: JSON.parse(r.snapshot) as StoredSnapshot,
    updatedAt: r.updated_at,
    host: r.host,
    machine: r.machine,
  };
}

export function readActors(db: Db, streamType?: string): ActorRow[] {
  const rows = (
    streamType
      ? db.prepare(`SELECT * FROM actor_state WHERE stream_type = ? ORDER BY stream_id`).all(streamType)
      : db.prepare(`SELECT * FROM actor_state ORDER BY stream_id`).all()
  ) as StateRow[];
  return rows.map(toRow);
}

export function readActor(db: Db, streamId: string): ActorRow | undefined {
  const r = db.prepare(`SELECT * FROM actor_state WHERE stream_id = ?`).get(streamId) as StateRow | undefined;
  return r && toRow(r);
}

export function readTimers(db: Db): TimerRow[] {
  const rows = db.prepare(`SELECT * FROM timers ORDER BY due_at`).all() as { stream_id: string; timer_id: string; event: string; due_at: number }[];
  return rows.map((r) => ({ streamId: r.stream_id, timerId: r.timer_id, event: JSON.parse(r.event) as { type: string }, dueAt: r.due_at }));
}
