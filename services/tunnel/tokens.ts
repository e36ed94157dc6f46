import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RelayConfig } from '../../actors/tunnel/index.js';

/**
 * Relay tokens are secrets: they stay out of the event log (which the API serves) and live in
 * one 0600 JSON file, written atomically (temp file + rename) so a crash never leaves it empty.
 */
export interface TokenStore {
  get(relay: RelayConfig): string | undefined;
  set(relay: RelayConfig, token: string): void;
  delete(relay: RelayConfig): void;
}

export function tokenKey(relay: RelayConfig): string {
  return `${new URL(relay.url).origin}|${relay.tier}|${relay.username}`;
}

export function fileTokenStore(path: string): TokenStore {
  const read = (): Record<string, string> => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  const write = (all: Record<string, string>) => {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  };
  return {
    get: (relay) => read()[tokenKey(relay)],
    set: (relay, token) => write({ ...read(), [tokenKey(relay)]: token }),
    delete: (relay) => {
      const all = read();
      delete all[tokenKey(relay)];
      write(all);
    },
  };
}

export function memoryTokenStore(): TokenStore {
  const m = new Map<string, string>();
  return { get: (r) => m.get(tokenKey(r)), set: (r, t) => void m.set(tokenKey(r), t), delete: (r) => void m.delete(tokenKey(r)) };
}
