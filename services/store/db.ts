import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, type Db } from './sqlite.js';

export type { Db };

/** The log and its stream heads (migration 1); the append benchmark's bare baseline uses it too. */
export const LOG_TABLES_DDL = `CREATE TABLE events (
     position    INTEGER PRIMARY KEY AUTOINCREMENT,
     id          TEXT NOT NULL UNIQUE,
     host        TEXT NOT NULL,
     stream_type TEXT NOT NULL,
     stream_id   TEXT NOT NULL,
     version     INTEGER NOT NULL,
     type        TEXT NOT NULL,
     data        TEXT NOT NULL,
     meta        TEXT NOT NULL,
     at          TEXT NOT NULL,
     UNIQUE (stream_id, version)
   );
   CREATE INDEX events_stream_type ON events (stream_type, position);
   CREATE TABLE streams (
     stream_id   TEXT PRIMARY KEY,
     stream_type TEXT NOT NULL,
     version     INTEGER NOT NULL
   );`;

/**
 * Versioned schema migrations, applied in order on open inside one immediate transaction;
 * `PRAGMA user_version` records how far a file has come. Append only: never edit a shipped step.
 */
const MIGRATIONS: readonly string[] = [
  // 1: the log, stream heads, store metadata
  `${LOG_TABLES_DDL}
   CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 2: projections: every actor's current state, and the durable timers its machine asked for
  `CREATE TABLE actor_state (
     stream_id   TEXT PRIMARY KEY,
     stream_type TEXT NOT NULL,
     version     INTEGER NOT NULL,
     status      TEXT NOT NULL,
     snapshot    TEXT NOT NULL,
     updated_at  TEXT NOT NULL
   );
   CREATE INDEX actor_state_type ON actor_state (stream_type, stream_id);
   CREATE TABLE timers (
     stream_id TEXT NOT NULL,
     timer_id  TEXT NOT NULL,
     event     TEXT NOT NULL,
     due_at    INTEGER NOT NULL,
     PRIMARY KEY (stream_id, timer_id)
   );`,
  // 3: bounded output history of supervised processes (not events: live lines are too many)
  `CREATE TABLE output_lines (
     seq       INTEGER PRIMARY KEY AUTOINCREMENT,
     stream_id TEXT NOT NULL,
     at        TEXT NOT NULL,
     fd        TEXT NOT NULL,
     line      TEXT NOT NULL
   );
   CREATE INDEX output_lines_stream ON output_lines (stream_id, seq);`,
  // 4: gateway login tokens, by SHA-256 of the token (the token itself is never stored)
  `CREATE TABLE auth_tokens (
     hash       TEXT PRIMARY KEY,
     label      TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);`,
  // 5: a gateway's replica of other hosts' logs: events that arrived ahead of a gap in their
  // stream wait here until the gap is filled (see services/store/replica.ts)
  `CREATE TABLE replica_pending (
     stream_id TEXT NOT NULL,
     version   INTEGER NOT NULL,
     envelope  TEXT NOT NULL,
     PRIMARY KEY (stream_id, version)
   );`,
  // 6: which host runs each actor (the host of its latest event), for listings in distributed mode
  `ALTER TABLE actor_state ADD COLUMN host TEXT NOT NULL DEFAULT '';
   UPDATE actor_state SET host = COALESCE((SELECT e.host FROM events e WHERE e.stream_id = actor_state.stream_id ORDER BY e.version DESC LIMIT 1), '');`,
  // 7: an output line longer than the limit is stored cut, and says so
  `ALTER TABLE output_lines ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;`,
  // 8: log epochs in a gateway's replica. An event copied from a host's log keeps that log's
  // epoch and its position there (NULL on a log's own events: its epoch is store_meta's, its
  // position its own). replica_epochs: every (host, epoch) seen, and whether it is retired;
  // replica_streams: which (host, epoch) wrote each stream, under which name in this file.
  // replica_parked replaces replica_pending: a gap is in one (host, epoch)'s stream.
  `ALTER TABLE events ADD COLUMN epoch TEXT;
   ALTER TABLE events ADD COLUMN origin_position INTEGER;
   CREATE UNIQUE INDEX events_origin ON events (host, epoch, origin_position) WHERE origin_position IS NOT NULL;
   CREATE TABLE replica_epochs (
     host        TEXT NOT NULL,
     epoch       TEXT NOT NULL,
     newest_id   TEXT,
     retired_at  TEXT,
     retired_why TEXT,
     PRIMARY KEY (host, epoch)
   );
   CREATE TABLE replica_streams (
     host      TEXT NOT NULL,
     epoch     TEXT NOT NULL,
     stream_id TEXT NOT NULL,
     local_id  TEXT NOT NULL UNIQUE,
     state     TEXT NOT NULL DEFAULT 'own',
     PRIMARY KEY (host, epoch, stream_id)
   );
   CREATE TABLE replica_parked (
     host      TEXT NOT NULL,
     epoch     TEXT NOT NULL,
     stream_id TEXT NOT NULL,
     version   INTEGER NOT NULL,
     position  INTEGER NOT NULL,
     id        TEXT NOT NULL,
     envelope  TEXT NOT NULL,
     PRIMARY KEY (host, epoch, stream_id, version)
   );
   CREATE INDEX replica_parked_id ON replica_parked (id);
   CREATE INDEX replica_parked_position ON replica_parked (host, epoch, position);
   INSERT OR IGNORE INTO replica_parked (host, epoch, stream_id, version, position, id, envelope)
     SELECT json_extract(envelope, '$.host'), 'unknown', stream_id, version, json_extract(envelope, '$.position'), json_extract(envelope, '$.id'), envelope FROM replica_pending;
   DROP TABLE replica_pending;
   UPDATE events SET epoch = 'unknown' WHERE EXISTS (SELECT 1 FROM store_meta WHERE key = 'replica.checkpoint');
   INSERT INTO replica_streams (host, epoch, stream_id, local_id)
     SELECT (SELECT e.host FROM events e WHERE e.stream_id = s.stream_id ORDER BY e.version DESC LIMIT 1), 'unknown', s.stream_id, s.stream_id
     FROM streams s WHERE EXISTS (SELECT 1 FROM store_meta WHERE key = 'replica.checkpoint');
   INSERT INTO replica_epochs (host, epoch) SELECT DISTINCT host, 'unknown' FROM replica_streams;`,
  // 9: the version (a hash of the definition) of the machine each snapshot was folded by:
  // recovery starts from a snapshot only if it matches (services/store/machine-version.ts).
  // '' (every row written before) matches nothing, so each stream is folded once from the start.
  `ALTER TABLE actor_state ADD COLUMN machine TEXT NOT NULL DEFAULT '';`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface OpenOptions {
  readonly?: boolean;
}

export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = openSqlite(path, { readonly: opts.readonly ?? false, timeout: 5000 });
  try {
    prepare(db, path, opts);
  } catch (err) {
    db.close();
    throw unreadable(path, err) ?? err;
  }
  return db;
}

/** SQLite's word for a file it cannot read as a database, told as what it means for Flow's log. */
function unreadable(path: string, err: unknown): Error | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'SQLITE_NOTADB' && code !== 'SQLITE_CORRUPT') return undefined;
  return new Error(`${path} is not a Flow event log that can be read (${(err as Error).message}): it is damaged, or another program's file; move it away (Flow then starts with an empty log) or put back a copy from a backup`, { cause: err });
}

function prepare(db: Db, path: string, opts: OpenOptions): void {
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: an acknowledged append survives a crash of the process (kill -9); a power
    // loss may drop the last transactions. Stated in the README.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } else {
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v < SCHEMA_VERSION) {
      throw new Error(`${path} has schema version ${v}, this Flow needs ${SCHEMA_VERSION}; run any f command that writes (e.g. f up) once to migrate it`);
    }
  }
}

function migrate(db: Db): void {
  const run = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`the database has schema version ${current}, newer than this Flow knows (${MIGRATIONS.length}); upgrade Flow`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
    const epoch = db.prepare(`SELECT value FROM store_meta WHERE key = 'epoch'`).get() as { value: string } | undefined;
    if (!epoch) db.prepare(`INSERT INTO store_meta (key, value) VALUES ('epoch', ?)`).run(crypto.randomUUID());
  });
  run.immediate();
}
