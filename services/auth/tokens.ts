import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/db.js';

/**
 * Bearer tokens for the gateway. A token is 32 random bytes; the database keeps only its
 * SHA-256 (a high-entropy secret needs no slow hash), so a copy of flow.db logs no one in.
 * Checks are cached for a minute (seed 002), which is why `revoke` also clears this process's
 * cache: a logout here takes effect at once, a revocation by another process within 60 s.
 */
export const TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const TOKEN_CACHE_MS = 60_000;
/** Bounds the cache against a flood of distinct valid tokens; cleared wholesale past it. */
const CACHE_MAX = 10_000;

export const TOKEN_PREFIX = 'flow_';
const TOKEN_SHAPE = /^flow_[A-Za-z0-9_-]{43}$/;

export type TokenCheck = { ok: true; expiresAt: number } | { ok: false; reason: 'malformed' | 'unknown' | 'expired' };

export interface TokenStoreOptions {
  /** Milliseconds since the epoch; tests move it to see a token expire. */
  now?: () => number;
  ttlMs?: number;
  cacheMs?: number;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenStore {
  private readonly now: () => number;
  readonly ttlMs: number;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, { expiresAt: number; checkedAt: number }>();
  private readonly insert;
  private readonly select;
  private readonly remove;
  private readonly removeAll;
  private readonly prune;

  constructor(db: Db, opts: TokenStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? TOKEN_TTL_MS;
    this.cacheMs = opts.cacheMs ?? TOKEN_CACHE_MS;
    this.insert = db.prepare<[string, string, number, number]>('INSERT INTO auth_tokens (hash, label, created_at, expires_at) VALUES (?, ?, ?, ?)');
    this.select = db.prepare<[string], { expires_at: number }>('SELECT expires_at FROM auth_tokens WHERE hash = ?');
    this.remove = db.prepare<[string]>('DELETE FROM auth_tokens WHERE hash = ?');
    this.removeAll = db.prepare('DELETE FROM auth_tokens');
    this.prune = db.prepare<[number]>('DELETE FROM auth_tokens WHERE expires_at <= ?');
  }

  issue(label: string): { token: string; expiresAt: number } {
    const now = this.now();
    this.prune.run(now);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.insert.run(hashToken(token), label.slice(0, 200), now, expiresAt);
    return { token, expiresAt };
  }

  check(token: string): TokenCheck {
    if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: 'malformed' };
    const now = this.now();
    // Keyed by the token itself (this process holds it anyway while serving the request): a
    // cached check costs no hashing.
    const cached = this.cache.get(token);
    // Expiry is checked on every request, cached or not: the cache saves the lookup, never the rule.
    if (cached && now - cached.checkedAt < this.cacheMs) {
      return now < cached.expiresAt ? { ok: true, expiresAt: cached.expiresAt } : { ok: false, reason: 'expired' };
    }
    this.cache.delete(token);
    const row = this.select.get(hashToken(token));
    if (!row) return { ok: false, reason: 'unknown' };
    if (now >= row.expires_at) return { ok: false, reason: 'expired' };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(token, { expiresAt: row.expires_at, checkedAt: now });
    return { ok: true, expiresAt: row.expires_at };
  }

  revoke(token: string): void {
    this.cache.delete(token);
    this.remove.run(hashToken(token));
  }

  /** Every session ends (a new password was set). */
  revokeAll(): void {
    this.cache.clear();
    this.removeAll.run();
  }
}
