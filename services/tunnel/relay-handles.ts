import { RelayUsernameSchema, type RelayConfig, type RelayTier } from '../../actors/tunnel/index.js';
import type { TokenStore } from './tokens.js';

/**
 * Managing a relay handle from Flow (seed 002's /api/handle/*): check whether a name is free,
 * register it (the relay's token is kept in Flow's token store, where tunnels with --relay find
 * it), rename it and release it. Only the token from registration can rename or release, so both
 * need the token this Flow holds for the handle.
 */
export class HandleError extends Error {
  override readonly name = 'HandleError';
  constructor(
    message: string,
    readonly status: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export interface HandleView {
  username: string;
  tier: RelayTier;
  url: string;
  tunnelUrl: string | null;
  online: boolean;
}

const TIMEOUT_MS = 10_000;

/** The name as the relay will judge it; a bad one is refused here with the same words. */
export function checkHandleName(name: string): string {
  const r = RelayUsernameSchema.safeParse(name);
  if (!r.success) throw new HandleError(`"${name}" cannot be a handle: ${r.error.issues[0]!.message}`, 400, 'invalid');
  return r.data;
}

function relayOrigin(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HandleError(`the relay must be a URL such as https://relay.example.test, not "${url}"`, 400, 'invalid');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new HandleError(`the relay must be http(s), not ${u.protocol}`, 400, 'invalid');
  return u.origin;
}

async function call<T>(relay: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, relayOrigin(relay)), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    if (err instanceof HandleError) throw err;
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new HandleError(`relay ${relay} unreachable: ${cause ?? (err as Error).message}`);
  }
  const text = await res.text();
  let parsed: { message?: string; error?: string } & Record<string, unknown>;
  try {
    parsed = text ? (JSON.parse(text) as typeof parsed) : {};
  } catch {
    parsed = { message: text.slice(0, 200) };
  }
  if (!res.ok) throw new HandleError(parsed.message ?? `HTTP ${res.status}`, res.status, parsed.error ?? null);
  return parsed as T;
}

export type Availability = { username: string; tier: RelayTier; available: true } | { username: string; tier: RelayTier; available: false; reason: string; message: string };

export function checkHandle(relay: string, username: string, tier: RelayTier): Promise<Availability> {
  return call<Availability>(relay, 'GET', `/api/handle/check?username=${encodeURIComponent(username)}&tier=${tier}`);
}

const cfg = (url: string, username: string, tier: RelayTier): RelayConfig => ({ url, username, tier });

function tokenFor(tokens: TokenStore, relay: string, username: string, tier: RelayTier): string {
  const token = tokens.get(cfg(relay, username, tier));
  if (!token) throw new HandleError(`this Flow holds no token for ${username} (${tier}) on ${relay}: only the Flow that registered a handle can rename or release it`, 401, 'no_token');
  return token;
}

export async function registerHandle(relay: string, username: string, tier: RelayTier, tokens: TokenStore): Promise<HandleView> {
  const name = checkHandleName(username);
  if (tokens.get(cfg(relay, name, tier))) {
    // Already ours? Then registering again is a no-op, not a new token.
    try {
      const me = await call<HandleView>(relay, 'GET', '/api/me', undefined, tokens.get(cfg(relay, name, tier)));
      if (me.username === name && me.tier === tier) return me;
    } catch (err) {
      if (!(err instanceof HandleError) || err.status !== 401) throw err;
      tokens.delete(cfg(relay, name, tier));
    }
  }
  const r = await call<HandleView & { token: string }>(relay, 'POST', '/api/handle/register', { username: name, tier });
  tokens.set(cfg(relay, name, tier), r.token);
  const { token: _t, ...view } = r;
  return view;
}

/** Renames (or moves to another tier) a handle this Flow owns; the token moves with it. */
export async function renameHandle(relay: string, from: { username: string; tier: RelayTier }, to: { username: string; tier: RelayTier }, tokens: TokenStore): Promise<HandleView> {
  const name = checkHandleName(to.username);
  const token = tokenFor(tokens, relay, from.username, from.tier);
  const view = await call<HandleView>(relay, 'POST', '/api/handle/change', { username: name, tier: to.tier }, token);
  tokens.delete(cfg(relay, from.username, from.tier));
  tokens.set(cfg(relay, view.username, view.tier), token);
  return view;
}

export async function releaseHandle(relay: string, username: string, tier: RelayTier, tokens: TokenStore): Promise<{ released: true; username: string; tier: RelayTier }> {
  const token = tokenFor(tokens, relay, username, tier);
  const r = await call<{ released: true; username: string; tier: RelayTier }>(relay, 'POST', '/api/handle/release', {}, token);
  tokens.delete(cfg(relay, username, tier));
  return r;
}
