import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/**
 * Positions consumers of the log have reached (the JetStream publisher's "acknowledged up to"),
 * in store_meta, in the log's own file: a checkpoint moves only once what it counts is done.
 */
export class Checkpoints {
  private readonly read: Statement<[string], { value: string }>;
  private readonly store: Statement<[string, string]>;

  constructor(db: Db) {
    this.read = db.prepare(`SELECT value FROM store_meta WHERE key = ?`);
    this.store = db.prepare(`INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  }

  get(name: string): number {
    return Number(this.read.get(name)?.value ?? 0);
  }

  set(name: string, position: number): void {
    this.store.run(name, String(position));
  }
}
