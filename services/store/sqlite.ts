import type BetterSqlite3 from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The one place better-sqlite3 is opened. Loaded with require: an ESM import of a CommonJS
 * package first runs Node's export-name lexer over it. Its addon is named outright: without
 * that, better-sqlite3 finds it through the `bindings` package, which reads a stack trace and
 * tries a dozen paths on every start (both measurable in a short `f events tail`).
 */
const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as typeof BetterSqlite3;
const built = join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
// A build elsewhere (Debug, a prebuilt in another layout) is still found the usual way.
const nativeBinding = existsSync(built) ? built : undefined;

export type Db = BetterSqlite3.Database;

export function openSqlite(path: string, options: Omit<BetterSqlite3.Options, 'nativeBinding'> = {}): Db {
  return new Database(path, { ...options, nativeBinding });
}
