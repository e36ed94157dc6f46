import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RelayTier } from '../../actors/tunnel/index.js';
import { openSqlite, type Db } from '../store/sqlite.js';

/**
 * The relay's registry of handles, in SQLite so a restart loses none. A handle is unique per
 * (username, tier), as in seed 002's compound index. Only the SHA-256 of a token is stored: a
 * leaked database does not let anyone steer a handle.
 */
export interface Handle {
  username: string;
  tier: RelayTier;
  tunnelUrl: string | null;
  lastHeartbeatAt: number | null;
  /** False after a disconnect: the handle is offline until the next heartbeat or tunnel update. */
  connected: boolean;
  createdAt: number;
}

export class HandleTakenError extends Error {
  override readonly name = 'HandleTakenError';
}

interface Row {
  username: string;
  tier: RelayTier;
  tunnel_url: string | null;
  last_heartbeat_at: number | null;
  connected: number;
  created_at: number;
}

function toHandle(r: Row): Handle {
  return { username: r.username, tier: r.tier, tunnelUrl: r.tunnel_url, lastHeartbeatAt: r.last_heartbeat_at, connected: r.connected === 1, createdAt: r.created_at };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class RelayRegistry {
  private readonly db: Db;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = openSqlite(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS handles (
        username TEXT NOT NULL,
        tier TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        tunnel_url TEXT,
        last_heartbeat_at INTEGER,
        connected INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (username, tier)
      )`);
  }

  /** A new handle and its token (returned once, never stored). Taken → HandleTakenError. */
  register(username: string, tier: RelayTier, now: number): { token: string; handle: Handle } {
    const token = randomBytes(32).toString('base64url');
    try {
      this.db.prepare(`INSERT INTO handles (username, tier, token_hash, created_at) VALUES (?, ?, ?, ?)`).run(username, tier, hashToken(token), now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new HandleTakenError(`the username "${username}" is already taken on the ${tier} tier`);
      throw err;
    }
    return { token, handle: this.find(username, tier)! };
  }

  find(username: string, tier: RelayTier): Handle | undefined {
    const r = this.db.prepare(`SELECT * FROM handles WHERE username = ? AND tier = ?`).get(username, tier) as Row | undefined;
    return r && toHandle(r);
  }

  byToken(token: string): Handle | undefined {
    const r = this.db.prepare(`SELECT * FROM handles WHERE token_hash = ?`).get(hashToken(token)) as Row | undefined;
    return r && toHandle(r);
  }

  /** Points the handle at a tunnel and marks it online (a tunnel update is also a sign of life). */
  setTunnel(token: string, tunnelUrl: string, now: number): Handle | undefined {
    this.db.prepare(`UPDATE handles SET tunnel_url = ?, last_heartbeat_at = ?, connected = 1 WHERE token_hash = ?`).run(tunnelUrl, now, hashToken(token));
    return this.byToken(token);
  }

  heartbeat(token: string, tunnelUrl: string | undefined, now: number): Handle | undefined {
    const h = hashToken(token);
    if (tunnelUrl) this.db.prepare(`UPDATE handles SET tunnel_url = ?, last_heartbeat_at = ?, connected = 1 WHERE token_hash = ?`).run(tunnelUrl, now, h);
    else this.db.prepare(`UPDATE handles SET last_heartbeat_at = ?, connected = 1 WHERE token_hash = ?`).run(now, h);
    return this.byToken(token);
  }

  disconnect(token: string): Handle | undefined {
    this.db.prepare(`UPDATE handles SET connected = 0 WHERE token_hash = ?`).run(hashToken(token));
    return this.byToken(token);
  }

  /**
   * Renames the handle this token owns, keeping its token, tunnel and presence. The new name
   * taken (on that tier) → HandleTakenError, and nothing changes.
   */
  rename(token: string, username: string, tier: RelayTier): Handle | undefined {
    try {
      this.db.prepare(`UPDATE handles SET username = ?, tier = ? WHERE token_hash = ?`).run(username, tier, hashToken(token));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new HandleTakenError(`the username "${username}" is already taken on the ${tier} tier`);
      throw err;
    }
    return this.byToken(token);
  }

  /** Gives the username up; true if there was one. */
  release(token: string): boolean {
    return this.db.prepare(`DELETE FROM handles WHERE token_hash = ?`).run(hashToken(token)).changes > 0;
  }

  list(): Handle[] {
    return (this.db.prepare(`SELECT * FROM handles ORDER BY tier, username`).all() as Row[]).map(toHandle);
  }

  close(): void {
    this.db.close();
  }
}
