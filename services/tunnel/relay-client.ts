import type { RelayConfig } from '../../actors/tunnel/index.js';
import type { TokenStore } from './tokens.js';

/**
 * The tunnel's side of the relay protocol (seed 002: register → PUT /api/tunnel → heartbeat
 * every 30 s with the tunnel URL → disconnect on shutdown). A relay that no longer knows our
 * token (its registry was reset) gets one fresh registration; a name taken by someone else is
 * an error, never an overwrite.
 */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  constructor(
    readonly stage: 'register' | 'tunnel' | 'heartbeat' | 'disconnect',
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

interface HandleView {
  url: string;
  tunnelUrl: string | null;
}

export class RelayClient {
  constructor(
    private readonly relay: RelayConfig,
    private readonly tokens: TokenStore,
  ) {}

  private async call<T>(stage: RelayError['stage'], method: string, path: string, body: unknown, token?: string): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.relay.url), { method, headers, body: JSON.stringify(body ?? {}), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new RelayError(stage, `relay ${this.relay.url} unreachable: ${cause ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    if (!res.ok) throw new RelayError(stage, (parsed as { message?: string }).message ?? `HTTP ${res.status}`, res.status);
    return parsed as T;
  }

  private async register(): Promise<string> {
    const r = await this.call<{ token: string }>('register', 'POST', '/api/register', { username: this.relay.username, tier: this.relay.tier });
    this.tokens.set(this.relay, r.token);
    return r.token;
  }

  /** Runs `fn` with our token, registering first if we have none, and once more if it is refused. */
  private async withToken<T>(fn: (token: string) => Promise<T>): Promise<T> {
    const existing = this.tokens.get(this.relay);
    const token = existing ?? (await this.register());
    try {
      return await fn(token);
    } catch (err) {
      if (!(err instanceof RelayError) || err.status !== 401 || existing === undefined) throw err;
      this.tokens.delete(this.relay);
      return fn(await this.register());
    }
  }

  /** Points the handle at this tunnel URL. Returns the public handle URL. */
  async announce(tunnelUrl: string): Promise<string> {
    const v = await this.withToken((t) => this.call<HandleView>('tunnel', 'PUT', '/api/tunnel', { tunnelUrl }, t));
    return v.url;
  }

  async heartbeat(tunnelUrl: string): Promise<string> {
    const v = await this.withToken((t) => this.call<HandleView>('heartbeat', 'POST', '/api/heartbeat', { tunnelUrl }, t));
    return v.url;
  }

  /** Marks the handle offline at once (graceful shutdown); nothing to do without a token. */
  async disconnect(): Promise<boolean> {
    const token = this.tokens.get(this.relay);
    if (!token) return false;
    await this.call('disconnect', 'POST', '/api/disconnect', {}, token);
    return true;
  }
}
