import type { Db } from '../store/db.js';
import type { EventEnvelope } from '../store/envelope.js';
import type { Projector } from '../store/projections.js';
import { FEATURE_STREAM_TYPE, FeatureCreatedSchema, FeatureSchema, FeatureUpdatedSchema, type Feature } from './events.js';

const ready = new WeakSet<Db>();

/** The table is this projector's own: made on first use, so a log from before features needs no migration. */
function ensureTable(db: Db): void {
  if (ready.has(db)) return;
  db.exec(`CREATE TABLE IF NOT EXISTS features (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    tasks TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`);
  ready.add(db);
}

interface Row {
  id: string;
  version: number;
  title: string;
  description: string;
  status: string;
  tasks: string;
  created_at: string;
  updated_at: string;
}

function fromRow(r: Row): Feature {
  return FeatureSchema.parse({ id: r.id, version: r.version, title: r.title, description: r.description, status: r.status, tasks: JSON.parse(r.tasks), createdAt: r.created_at, updatedAt: r.updated_at });
}

export function featureIdOf(streamId: string): string {
  return streamId.slice(FEATURE_STREAM_TYPE.length + 1);
}

/**
 * Each feature's current state, in the same transaction as its events (so never ahead of or
 * behind the log) and rebuilt from it by `f events rebuild`. A deleted feature has no row; its
 * stream remains, and the same id can be created again on it.
 */
export class FeatureProjector implements Projector {
  readonly name = 'features';

  apply(db: Db, events: readonly EventEnvelope[]): void {
    if (!events.some((e) => e.streamType === FEATURE_STREAM_TYPE)) return;
    ensureTable(db);
    for (const e of events) {
      if (e.streamType !== FEATURE_STREAM_TYPE) continue;
      const id = featureIdOf(e.streamId);
      if (e.type === 'FEATURE_CREATED') {
        const d = FeatureCreatedSchema.parse(e.data);
        db.prepare(
          `INSERT INTO features (id, version, title, description, status, tasks, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, title = excluded.title, description = excluded.description, status = excluded.status, tasks = excluded.tasks, created_at = excluded.created_at, updated_at = excluded.updated_at`,
        ).run(id, e.version, d.title, d.description, d.status, JSON.stringify(d.tasks), e.at, e.at);
      } else if (e.type === 'FEATURE_UPDATED') {
        const d = FeatureUpdatedSchema.parse(e.data);
        const row = db.prepare(`SELECT * FROM features WHERE id = ?`).get(id) as Row | undefined;
        if (!row) continue;
        db.prepare(`UPDATE features SET version = ?, title = ?, description = ?, status = ?, tasks = ?, updated_at = ? WHERE id = ?`).run(
          e.version,
          d.title ?? row.title,
          d.description ?? row.description,
          d.status ?? row.status,
          d.tasks ? JSON.stringify(d.tasks) : row.tasks,
          e.at,
          id,
        );
      } else if (e.type === 'FEATURE_DELETED') {
        db.prepare(`DELETE FROM features WHERE id = ?`).run(id);
      }
    }
  }

  reset(db: Db): void {
    ensureTable(db);
    db.exec(`DELETE FROM features`);
  }
}

export function readFeature(db: Db, id: string): Feature | undefined {
  ensureTable(db);
  const row = db.prepare(`SELECT * FROM features WHERE id = ?`).get(id) as Row | undefined;
  return row ? fromRow(row) : undefined;
}

/** Every feature, oldest first (the order they were made in). */
export function readFeatures(db: Db): Feature[] {
  ensureTable(db);
  return (db.prepare(`SELECT * FROM features ORDER BY created_at, id`).all() as Row[]).map(fromRow);
}
