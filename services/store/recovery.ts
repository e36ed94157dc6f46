import type { Statement } from 'better-sqlite3';
import type { StoredSnapshot } from '../../actors/fold.js';
import type { Db } from './db.js';

/** A stream's head with its stored projection row: what recovery starts an actor from. */
export interface RecoveryHead {
  streamId: string;
  streamType: string;
  /** The stream's last version. */
  version: number;
  /** The id of its last event (the spawn id of a spawn that event's transition asked for). */
  lastEventId: string;
  /** The projection row: the snapshot folded at `version` by machine `machine`; null if there is none. */
  row: { version: number; snapshot: StoredSnapshot; machine: string } | null;
}

interface HeadRow {
  stream_id: string;
  stream_type: string;
  version: number;
  last_id: string | null;
  row_version: number | null;
  snapshot: string | null;
  machine: string | null;
}

const statements = new WeakMap<Db, Statement<[], HeadRow>>();

/**
 * One row per stream, by primary keys only (streams, its last event, actor_state): start-up
 * reads O(actors) rows however long the log is.
 */
export function readRecoveryHeads(db: Db): RecoveryHead[] {
  let stmt = statements.get(db);
  if (!stmt) {
    stmt = db.prepare(
      `SELECT s.stream_id, s.stream_type, s.version, e.id AS last_id, a.version AS row_version, a.snapshot, a.machine
       FROM streams s
       LEFT JOIN events e ON e.stream_id = s.stream_id AND e.version = s.version
       LEFT JOIN actor_state a ON a.stream_id = s.stream_id
       ORDER BY s.stream_id`,
    );
    statements.set(db, stmt);
  }
  return stmt.all().map((r) => ({
    streamId: r.stream_id,
    streamType: r.stream_type,
    version: r.version,
    lastEventId: r.last_id ?? '',
    row: r.row_version === null || r.snapshot === null ? null : { version: r.row_version, snapshot: parseSnapshot(r.snapshot), machine: r.machine ?? '' },
  }));
}

/** A snapshot column that is not JSON (a file edited by hand) is a snapshot no one can trust: null. */
function parseSnapshot(text: string): StoredSnapshot {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && 'value' in v && 'context' in v) return v as StoredSnapshot;
  } catch {
    // fall through
  }
  return { value: null, context: null };
}
