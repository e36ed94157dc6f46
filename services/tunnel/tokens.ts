import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RelayTierSchema, type RelayConfig, type RelayTier } from '../../actors/tunnel/index.js';

/**
 * Relay tokens are secrets: they stay out of the event log (which the API serves) and live in
 * one 0600 JSON file, written atomically (temp file + rename) so a crash never leaves it empty.
 */
export interface TokenStore {
  get(relay: RelayConfig): string | undefined;
  set(relay: RelayConfig, token: string): void;
  delete(relay: RelayConfig): void;
  /** The handles a token is held for (never the tokens): what this Flow may rename or release. */
  list(): HeldHandle[];
}

export interface HeldHandle {
  /** The relay's origin, as the key keeps it (https://relay.example.test). */
  relay: string;
  tier: RelayTier;
  username: string;
}

export function tokenKey(relay: RelayConfig): string {
  return `${new URL(relay.url).origin}|${relay.tier}|${relay.username}`;
}

/** A key back into its handle; a key of another shape (a hand-edited file) is no handle. */
export function parseTokenKey(key: string): HeldHandle | null {
  // An origin holds no "|", a tier and a username neither: the last two split it.
  const parts = key.split('|');
  if (parts.length !== 3) return null;
  const [relay, tier, username] = parts as [string, string, string];
  const t = RelayTierSchema.safeParse(tier);
  if (!t.success || !username || !URL.canParse(relay)) return null;
  return { relay, tier: t.data, username };
}

const byRelayThenName = (a: HeldHandle, b: HeldHandle) => a.relay.localeCompare(b.relay) || a.username.localeCompare(b.username) || a.tier.localeCompare(b.tier);

function heldHandles(keys: Iterable<string>): HeldHandle[] {
  return [...keys].map(parseTokenKey).filter((h): h is HeldHandle => h !== null).sort(byRelayThenName);
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
    list: () => heldHandles(Object.keys(read())),
  };
}

/** The one place Flow keeps relay tokens: tunnels with --relay, `f relay handle` and /api/relay/handles share it. */
export function relayTokenStore(home: string): TokenStore {
  return fileTokenStore(join(home, 'relay-tokens.json'));
}

export function memoryTokenStore(): TokenStore {
  const m = new Map<string, string>();
  return { get: (r) => m.get(tokenKey(r)), set: (r, t) => void m.set(tokenKey(r), t), delete: (r) => void m.delete(tokenKey(r)), list: () => heldHandles(m.keys()) };
}
